"""Dropout: inverted dropout while training, the identity in eval mode."""
from ..checks import check_probability
from . import functional as F
from .module import Module


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = check_probability(p, "Dropout")

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
