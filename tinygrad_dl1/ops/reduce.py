"""Reductions: sum, mean, max over an axis, a tuple of axes, or everything.

    y = sum_i x_i      dy/dx_i = 1
    y = mean_i x_i     dy/dx_i = 1 / n
    y = max_i x_i      dy/dx_i = 1 / (number of maxima) where x_i is a maximum, else 0

Each output entry gathers the entries of x along the reduced axes, so the gradient
of the output is spread back over those axes: ``expand_back`` puts the reduced axes
back (as size 1 when keepdims was False) and broadcasts. A tie in max shares the
gradient evenly between the maxima, as PyTorch's amax does.
"""
from .. import backend, checks
from ..function import Function


def expand_back(gy, shape, axes, keepdims):
    """Broadcast the gradient of a reduction over ``axes`` back to the input ``shape``."""
    if not keepdims:
        gy = gy.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return backend.array_module(gy).broadcast_to(gy, shape)


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = sum_i x_i
        self.shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):             # dL/dx_i = gy
        return expand_back(gy, self.shape, self.axes, self.keepdims).copy()


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = sum_i x_i / n
        self.shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):             # dL/dx_i = gy / n
        n = 1
        for a in self.axes:
            n *= self.shape[a]
        return expand_back(gy, self.shape, self.axes, self.keepdims) / n   # the division copies


class Max(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = max_i x_i
        y = x.max(axis=self.axes, keepdims=True)
        self.shape = x.shape
        self.is_max = x == y if self.needs_input_grad[0] else None   # dL/dx needs where x is the max
        return y if self.keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):             # dL/dx_i = gy / (number of maxima) where x_i is a maximum, else 0
        count = self.is_max.sum(axis=self.axes, keepdims=True)
        return self.is_max * (expand_back(gy, self.shape, self.axes, self.keepdims) / count).astype(gy.dtype)


def sum(x, axis=None, keepdims=False):
    checks.check_tensor(x, "sum")
    return Sum(checks.check_axes(axis, x.ndim, "sum"), keepdims)(x)


def mean(x, axis=None, keepdims=False):
    checks.check_tensor(x, "mean")
    return Mean(checks.check_axes(axis, x.ndim, "mean"), keepdims)(x)


def max(x, axis=None, keepdims=False):
    checks.check_tensor(x, "max")
    axes = checks.check_axes(axis, x.ndim, "max")
    checks.check_reducible(x, axes, "max")
    return Max(axes, keepdims)(x)
