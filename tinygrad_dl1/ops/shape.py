"""Ops that move entries around: reshape, transpose, flatten, indexing."""
import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):               # y = x viewed with another shape
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):             # the gradient gets the input's shape back
        return gy.reshape(self.in_shape)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):               # y = x with its axes permuted
        return x.transpose(self.axes)

    def backward(self, gy):             # permute back with the inverse permutation
        return gy.transpose(np.argsort(self.axes))


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):               # y = x[index]
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):             # scatter gy back, adding where an index repeats
        xp = backend.array_module(gy)
        gx = xp.zeros(self.shape, self.dtype)
        if _is_advanced(self.index):
            backend.scatter_add(gx, self.index, gy)
        else:
            gx[self.index] = gy
        return gx


def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(p) for p in parts)


def reshape(x, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    free = shape.count(-1)
    if free > 1 or any(s < -1 for s in shape) or (
            known * (x.size // known if free and known else 1) != x.size):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} entries) into shape {shape}")
    return Reshape(shape)(x)


def transpose(x, *axes):
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    axes = axes or tuple(reversed(range(x.ndim)))
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} dims "
                         f"of a tensor of shape {x.shape}")
    return Transpose(tuple(a % x.ndim for a in axes))(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (PyTorch's flatten)."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def _as_index_part(p, xp):
    if isinstance(p, Tensor):
        p = p.data
    if isinstance(p, list):
        p = xp.asarray(p)
    if backend.is_array(p) and p.dtype.kind not in "iub":
        raise IndexError(f"tensors used as indices must be integer or boolean, got dtype {p.dtype}")
    return p


def getitem(x, index):
    """x[index] for ints, slices, None, Ellipsis and integer or boolean arrays."""
    xp = backend.array_module(x.data)
    index = tuple(_as_index_part(p, xp) for p in index) if isinstance(index, tuple) else _as_index_part(index, xp)
    return GetItem(index)(x)
