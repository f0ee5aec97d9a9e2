"""Conv2d and MaxPool2d layers over (N, C, H, W) inputs."""
import numpy as np

from ..checks import as_pair, check_positive_int
from . import functional as F
from . import init
from .module import Module, Parameter


class Conv2d(Module):
    """weight (out_channels, in_channels, kh, kw) and bias (out_channels,), PyTorch's default init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = check_positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = as_pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride, self.padding = stride, padding
        self.weight = Parameter(np.zeros((out_channels, in_channels, *self.kernel_size)))
        self.bias = Parameter(np.zeros(out_channels)) if bias else None
        init.default_init_(self.weight, self.bias)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
