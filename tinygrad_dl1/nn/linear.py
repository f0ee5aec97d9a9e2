"""Linear: y = x @ W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
import numpy as np

from ..checks import check_positive_int
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """weight (out_features, in_features) and bias (out_features,), PyTorch's default init
    (``reset_parameters``: kaiming uniform weights, uniform biases)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features", "Linear")
        self.out_features = check_positive_int(out_features, "out_features", "Linear")
        self.weight = Parameter(np.zeros((out_features, in_features)))
        self.bias = Parameter(np.zeros(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.default_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
