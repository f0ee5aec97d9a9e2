"""Reductions: sum, mean, max over a dim, a tuple of dims, or everything.

    y = sum_i x_i      dy/dx_i = 1
    y = mean_i x_i     dy/dx_i = 1 / n
    y = max_i x_i      dy/dx_i = 1 / (number of maxima) where x_i is a maximum, else 0

Each output entry gathers the entries of x along the reduced axes, so the gradient
of the output is spread back over those axes: ``expand_back`` puts the reduced axes
back (as size 1 when keepdims was False) and broadcasts. A tie in max shares the
gradient evenly between the maxima, as PyTorch's amax does.

The arguments are PyTorch's, ``dim`` and ``keepdim``; NumPy's ``axis`` and ``keepdims`` are
accepted as aliases (PyTorch accepts them too).
"""
import collections

from .. import backend, checks
from ..function import Function
from ..tensor import Tensor

# what x.max(dim) returns, as in PyTorch: the maxima and where they are
MaxResult = collections.namedtuple("max", ["values", "indices"])


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
        self.save_for_backward(is_max=x == y if self.needs_input_grad[0] else None)   # dL/dx needs where x is the max
        return y if self.keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):             # dL/dx_i = gy / (number of maxima) where x_i is a maximum, else 0
        count = self.is_max.sum(axis=self.axes, keepdims=True)
        return self.is_max * (expand_back(gy, self.shape, self.axes, self.keepdims) / count).astype(gy.dtype)


def dim_arguments(op, dim, keepdim, axis, keepdims):
    """(dim, keepdim) from PyTorch's names or NumPy's aliases ``axis`` / ``keepdims``; a TypeError for both."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim={dim!r} and its alias axis={axis!r}; pass one")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{op}: got both keepdim and its alias keepdims; pass one")
        keepdim = keepdims
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None                      # PyTorch reads dim=() as every dim (NumPy: none)
    return dim, bool(keepdim)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    checks.check_tensor(x, "sum")
    dim, keepdim = dim_arguments("sum", dim, keepdim, axis, keepdims)
    return Sum(checks.check_axes(dim, x.ndim, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    checks.check_tensor(x, "mean")
    checks.check_floating(x, "mean", "as in PyTorch; x.float().mean() for an integer x")
    dim, keepdim = dim_arguments("mean", dim, keepdim, axis, keepdims)
    return Mean(checks.check_axes(dim, x.ndim, "mean"), keepdim)(x)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The maxima over ``dim`` (an int, a tuple, or None for all): PyTorch's amax."""
    checks.check_tensor(x, "max")
    dim, keepdim = dim_arguments("max", dim, keepdim, axis, keepdims)
    axes = checks.check_axes(dim, x.ndim, "max")
    checks.check_reducible(x, axes, "max")
    return Max(axes, keepdim)(x)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The minima over ``dim``, PyTorch's amin: min(x) = -max(-x), so a tie splits the gradient as max's does."""
    checks.check_tensor(x, "min")
    dim, keepdim = dim_arguments("min", dim, keepdim, axis, keepdims)
    checks.check_reducible(x, checks.check_axes(dim, x.ndim, "min"), "min")     # errors under min's name
    return -max(-x, dim, keepdim)


def values_or_pair(op, x, dim=None, keepdim=False, **aliases):
    """``x.max(...)`` / ``x.min(...)`` (``op``) as in PyTorch: over every dim the extremum, with an int ``dim``
    the pair (values, indices) along it; ``aliases`` may hold NumPy's axis and keepdims."""
    dim, keepdim = dim_arguments(op, dim, keepdim, aliases.pop("axis", None), aliases.pop("keepdims", None))
    if aliases:
        raise TypeError(f"{op}() got an unexpected keyword argument {next(iter(aliases))!r}")
    reduce, along = (max, max_along) if op == "max" else (min, min_along)
    return reduce(x, keepdim=keepdim) if dim is None else along(x, dim, keepdim)


def min_along(x, dim, keepdim=False):
    """``x.min(dim)`` as in PyTorch: (values, indices) along one dim, the first minimum of a tie."""
    checks.check_tensor(x, "min")
    if not checks.is_int(dim):
        raise TypeError(f"min: dim must be an int when the indices come too, got {dim!r} (amin takes a tuple)")
    if x.ndim:
        checks.check_reducible(x, (checks.check_axis(dim, x.ndim, "min"),), "min")
    values, indices = max_along(-x, dim, keepdim)
    return MaxResult(-values, indices)


def argmin(x, dim=None, keepdim=False):
    """The indices of the minima along ``dim`` (the first of a tie), outside the graph."""
    checks.check_tensor(x, "argmin")
    if dim is not None and x.ndim:
        checks.check_axis(dim, x.ndim, "argmin")
    checks.check_reducible(x, tuple(range(x.ndim)) if dim is None else (dim,), "argmin")
    return argmax(-x, dim, keepdim)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The indices of the maxima along ``dim`` (of the flattened tensor for None), outside the graph."""
    checks.check_tensor(x, "argmax")
    dim, keepdim = dim_arguments("argmax", dim, keepdim, axis, keepdims)
    if dim is not None:
        dim = checks.check_axis(dim, x.ndim, "argmax") if x.ndim else None
    checks.check_reducible(x, tuple(range(x.ndim)) if dim is None else (dim,), "argmax")
    with backend.device_scope(x.data):       # on a GPU: run on the GPU that holds the data
        index = x.data.argmax(axis=dim)
        if keepdim:                          # the reduced dims back, as size 1
            index = index.reshape([1 if dim is None or i == dim else n for i, n in enumerate(x.shape)])
        return Tensor(index)


def max_along(x, dim, keepdim=False):
    """``x.max(dim)`` as in PyTorch: (values, indices) along one dim. The values are x picked at the
    indices, so (as in PyTorch, unlike amax) a tie sends the whole gradient to the first maximum."""
    if not checks.is_int(dim):
        raise TypeError(f"max: dim must be an int when the indices come too, got {dim!r} (amax takes a tuple)")
    checks.check_tensor(x, "max")
    indices = argmax(x, dim, keepdim=True)
    if x.ndim == 0:
        return MaxResult(x, indices)
    dim = dim % x.ndim
    xp = backend.array_module(x.data)
    with backend.device_scope(x.data):  # x[i0, ..., indices, ..., iN]: an arange along every other dim
        index = tuple(indices.data if d == dim else xp.arange(n).reshape([-1 if k == d else 1 for k in range(x.ndim)])
                      for d, n in enumerate(x.shape))
    values = x[index]                   # the shape of indices: the dim kept, as size 1
    if not keepdim:
        values, indices = values.reshape([n for d, n in enumerate(values.shape) if d != dim]), argmax(x, dim)
    return MaxResult(values, indices)
