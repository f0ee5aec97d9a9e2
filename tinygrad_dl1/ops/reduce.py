"""Reductions: sum, mean, max over an axis, a tuple of axes, or everything."""
import builtins

from .. import backend
from ..function import Function


def normalize_axes(axis, ndim, op):
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        out.append(a % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def expand_back(gy, shape, axes, keepdims):
    """Broadcast the gradient of a reduction over ``axes`` back to the input ``shape``."""
    xp = backend.array_module(gy)
    if not keepdims:
        gy = gy.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return xp.broadcast_to(gy, shape)


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = sum_i x_i
        self.shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):             # dy/dx_i = 1
        return expand_back(gy, self.shape, self.axes, self.keepdims).copy()


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = sum_i x_i / n
        self.shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):             # dy/dx_i = 1 / n
        n = 1
        for a in self.axes:
            n *= self.shape[a]
        return expand_back(gy / n, self.shape, self.axes, self.keepdims).copy()


class Max(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):               # y = max_i x_i
        y = x.max(axis=self.axes, keepdims=True)
        self.x, self.y = x, y
        return y if self.keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):             # dy/dx_i = 1 where x_i is the max, shared evenly between ties
        mask = self.x == self.y
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask * (expand_back(gy, self.x.shape, self.axes, self.keepdims) / count).astype(gy.dtype)


def sum(x, axis=None, keepdims=False):
    return Sum(normalize_axes(axis, x.ndim, "sum"), keepdims)(x)


def mean(x, axis=None, keepdims=False):
    return Mean(normalize_axes(axis, x.ndim, "mean"), keepdims)(x)


def max(x, axis=None, keepdims=False):
    axes = normalize_axes(axis, x.ndim, "max")
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"max: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return Max(axes, keepdims)(x)
