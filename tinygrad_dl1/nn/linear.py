"""Linear: y = x @ W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
import numpy as np

from . import functional as F
from . import init as initialisations
from .module import Module, Parameter


class Linear(Module):
    """init="default": PyTorch's (kaiming uniform weights, uniform biases);
    init="assignment": weights ~ N(0, 1e-4^2), biases 0."""

    def __init__(self, in_features, out_features, bias=True, init="default"):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.zeros((out_features, in_features)))
        self.bias = Parameter(np.zeros(out_features)) if bias else None
        if init == "default":
            initialisations.default_init_(self.weight, self.bias)
        elif init == "assignment":
            initialisations.assignment_init_(self.weight, self.bias)
        else:
            raise ValueError(f"Linear: init must be 'default' or 'assignment', got {init!r}")

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
