"""Ops that move entries around: reshape (and squeeze, unsqueeze, flatten), permute (and
transpose, which swaps two dims), expand, indexing, cat and stack.

None of them computes anything: each output entry is one input entry, moved. So the
gradient is moved back the same way: reshaped to the input's shape, permuted by the
inverse permutation, scattered into zeros at the indexed places (added up where an
index repeats, since that entry was used several times), summed over the copies that
expand made of an entry, or cut back into the pieces that cat and stack joined.
"""
import numpy as np

from .. import backend, checks
from ..function import Function
from ..tensor import Tensor
from .elementwise import cast, sum_to


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):               # y = x viewed with another shape
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):             # dL/dx = dL/dy with the input's shape back
        return gy.reshape(self.x_shape)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):               # y = x with its dims permuted: y's dim i is x's dim dims[i]
        return x.transpose(self.dims)

    def backward(self, gy):             # dL/dx = dL/dy permuted back, with the inverse permutation
        return gy.transpose(np.argsort(self.dims))


class Expand(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):               # y = x repeated along its dims of size 1 and new leading dims (a view)
        self.x_shape = x.shape
        return backend.array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):             # dL/dx = dL/dy summed over the copies of each entry
        return sum_to(gy, self.x_shape)


class Cat(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):             # y = x_0, x_1, ... one after the other along dim
        self.sizes = [x.shape[self.dim] for x in xs]
        return backend.array_module(*xs).concatenate(xs, axis=self.dim)

    def backward(self, gy):             # dL/dx_k = the slice of dL/dy that x_k filled
        ends = np.cumsum(self.sizes)
        lead = (slice(None),) * self.dim
        return tuple(gy[lead + (slice(end - size, end),)] if need else None
                     for end, size, need in zip(ends, self.sizes, self.needs_input_grad))


class Stack(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):             # y[..., k, ...] = x_k, along a new dim
        return backend.array_module(*xs).stack(xs, axis=self.dim)

    def backward(self, gy):             # dL/dx_k = dL/dy[..., k, ...]
        lead = (slice(None),) * self.dim
        return tuple(gy[lead + (k,)] if need else None for k, need in enumerate(self.needs_input_grad))


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


def permute(x, *dims):
    """x with its dims reordered: dim i of the result is dim ``dims[i]`` of x (PyTorch's permute)."""
    checks.check_tensor(x, "permute")
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return Permute(checks.check_permutation(dims, x.ndim, "permute"))(x)


def transpose(x, dim0, dim1):
    """x with the dims ``dim0`` and ``dim1`` swapped (PyTorch's transpose; ``permute`` for any order)."""
    checks.check_tensor(x, "transpose")
    dims = list(range(x.ndim))
    a, b = checks.check_axis(dim0, x.ndim, "transpose"), checks.check_axis(dim1, x.ndim, "transpose")
    if x.ndim:
        dims[a], dims[b] = dims[b], dims[a]
    return Permute(tuple(dims))(x)


def matrix_transpose(x):
    """``x.T``: a 2-D tensor with its two dims swapped; a 0-D or 1-D tensor as it is (as in PyTorch,
    which no longer reverses more dims than two: use ``permute`` for those)."""
    checks.check_tensor(x, "T")
    if x.ndim > 2:
        raise ValueError(f"T: a tensor of {x.ndim} dims (shape {x.shape}) has no .T; use "
                         f"x.permute({', '.join(map(str, reversed(range(x.ndim))))}) to reverse its dims, "
                         "or x.transpose(-2, -1) to swap the last two")
    return Permute(tuple(reversed(range(x.ndim))))(x)


def expand(x, *sizes):
    """x repeated along its dims of size 1 (and new leading dims) to ``sizes``, PyTorch's expand: -1 keeps
    a dim's size; no copy."""
    checks.check_tensor(x, "expand")
    return Expand(checks.check_expand(x.shape, sizes))(x)


def squeeze(x, dim=None):
    """x without its size-1 dims (all of them, or those of ``dim``, an int or a tuple; a dim whose
    size is not 1 stays, as in PyTorch)."""
    checks.check_tensor(x, "squeeze")
    dims = range(x.ndim) if dim is None else checks.check_axes(dim, x.ndim, "squeeze")
    return reshape(x, *[n for d, n in enumerate(x.shape) if not (d in dims and n == 1)])


def unsqueeze(x, dim):
    """x with a size-1 dim inserted at ``dim`` (from -x.ndim - 1 to x.ndim, as in PyTorch)."""
    checks.check_tensor(x, "unsqueeze")
    dim = checks.check_axis(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


def _one_dtype(tensors):
    """The tensors cast to one dtype, PyTorch's promotion: the widest float if any is floating, else
    the widest integer type."""
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.result_type(*[t.dtype for t in tensors])
    return [cast(t, dtype) for t in tensors]


def cat(tensors, dim=0):
    """The tensors joined along ``dim`` (PyTorch's torch.cat): they agree in every other dim."""
    tensors = checks.check_tensor_list(tensors, "cat")
    dim = checks.check_cat_shapes(tensors, dim, "cat")
    return Cat(dim)(*_one_dtype(tensors))


def stack(tensors, dim=0):
    """The tensors, all of one shape, stacked along a new dim ``dim`` (PyTorch's torch.stack)."""
    tensors = checks.check_tensor_list(tensors, "stack")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {tensors[0].shape}: "
                             "stacked tensors must have one shape")
    return Stack(checks.check_axis(dim, tensors[0].ndim + 1, "stack"))(*_one_dtype(tensors))


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
    if any(checks.is_int(p) for p in parts) and any(backend.is_array(p) for p in parts):
        # PyTorch applies the ints first, then the arrays: x[0, :, [1, 2]] has shape (3, 2) for x of
        # shape (2, 3, 4), where NumPy counts the 0 as one more array index and gives (2, 3)
        ints_only = tuple(p if checks.is_int(p) or p is Ellipsis else slice(None)
                          for p in parts for _ in range(_dims_taken(p)))
        return GetItem(tuple(p for p in parts if not checks.is_int(p)))(GetItem(ints_only)(x))
    return GetItem(index)(x)


def _dims_taken(part):
    """How many dims of x an index part consumes: none for None and True / False (they add one), a
    boolean mask its own, anything else one (Ellipsis too: it is kept as it is)."""
    if part is None or isinstance(part, (bool, np.bool_)):
        return 0
    return part.ndim if backend.is_array(part) and part.dtype.kind == "b" else 1
