"""Ops that move entries around: reshape, transpose, flatten, indexing.

None of them computes anything: each output entry is one input entry, moved. So the
gradient is moved back the same way: reshaped to the input's shape, transposed by the
inverse permutation, or scattered into zeros at the indexed places (added up where an
index repeats, since that entry was used several times).
"""
import numpy as np

from .. import backend, checks
from ..function import Function
from ..tensor import Tensor


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):               # y = x viewed with another shape
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):             # dL/dx = dL/dy with the input's shape back
        return gy.reshape(self.x_shape)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):               # y = x with its axes permuted
        return x.transpose(self.axes)

    def backward(self, gy):             # dL/dx = dL/dy permuted back, with the inverse permutation
        return gy.transpose(np.argsort(self.axes))


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):               # y = x[index]
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):             # dL/dx = zeros with dL/dy added at the indexed places
        gx = backend.array_module(gy).zeros(self.shape, self.dtype)
        if _is_advanced(self.index):
            backend.scatter_add(gx, self.index, gy)   # a repeated index adds once per occurrence
        else:
            gx[self.index] = gy
        return gx


def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(p) for p in parts)


def reshape(x, *shape):
    checks.check_tensor(x, "reshape")
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Reshape(checks.check_reshape(shape, x.size, x.shape))(x)


def transpose(x, *axes):
    """x with its axes permuted (all of them reversed when no axes are given)."""
    checks.check_tensor(x, "transpose")
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    axes = axes or tuple(reversed(range(x.ndim)))
    return Transpose(checks.check_permutation(axes, x.ndim, "transpose"))(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (PyTorch's flatten)."""
    checks.check_tensor(x, "flatten")
    start, end = checks.check_flatten_dims(start_dim, end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(x, 1)
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def _as_index_part(part, device):
    """One part of an index, with Tensors, lists, tuples and arrays as arrays on ``device``
    (a tuple inside an index is an advanced index, as a list is, in NumPy and PyTorch alike)."""
    if isinstance(part, Tensor):
        part = part.data
    if isinstance(part, (list, tuple)):
        part = np.asarray(part)
        if part.size == 0:              # x[[]] picks nothing: an empty integer index, not a float one
            part = part.astype(np.int64)
    if backend.is_array(part):
        checks.check_index_array(part)
        part = backend.to_device(part, device)
    return part


def getitem(x, index):
    """x[index] for ints, slices, None, Ellipsis and integer or boolean arrays (or lists, or Tensors)."""
    checks.check_tensor(x, "getitem")
    parts = tuple(_as_index_part(p, x.device) for p in (index if isinstance(index, tuple) else (index,)))
    index = parts if isinstance(index, tuple) else parts[0]
    checks.check_index_in_range(index, x.shape)   # CuPy would wrap an integer index out of range around
    return GetItem(index)(x)
