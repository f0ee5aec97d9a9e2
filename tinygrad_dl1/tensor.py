"""Tensor: an array, the op that made it, and its gradient.

``backward()`` walks the graph iteratively (no recursion, so a chain of any
length works): each node runs once, after every node that consumed its output
(nodes are popped by decreasing generation), and the gradients of a tensor used
several times are summed before its node runs.
"""
import heapq
import itertools

import numpy as np

from . import backend
from .grad_mode import is_anomaly_enabled

DEFAULT_FLOAT = np.dtype(np.float32)


NUMERIC_KINDS = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "floating point",
                 "c": "complex"}


def _as_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None
    return _numeric(dtype)


def _numeric(dtype, what="dtype"):
    """``dtype`` if a tensor can hold it (booleans and numbers); a TypeError naming it otherwise
    (NumPy would hold strings, where ``+ 1`` concatenates, dates or Python objects)."""
    if dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"cannot make a Tensor of {what} {dtype} (kind {dtype.kind!r}): a tensor holds "
                        "booleans, integers or floating-point numbers")
    return dtype


def _tensor_data(data, dtype, device):
    """The backend array that ``Tensor(data, dtype, device)`` holds (``data`` itself when it is one)."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        _numeric(data.dtype, "data of dtype")
        if dtype is not None:
            with backend.device_scope(data):        # on a GPU: cast on the GPU that holds data
                data = data.astype(dtype, copy=False)
        return data if device is None else backend.to_device(data, device)
    if not isinstance(data, (int, float, bool, list, tuple, np.number, np.bool_)):
        raise TypeError(f"cannot make a Tensor from {type(data).__name__}")
    array = np.asarray(data)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif array.dtype == np.float64 and not isinstance(data, np.floating):
        array = array.astype(DEFAULT_FLOAT)  # Python floats become float32, as in PyTorch
    if array.dtype == object:
        raise TypeError(f"cannot make a Tensor from ragged or mixed data of type {type(data).__name__}")
    _numeric(array.dtype, "data of dtype")
    return backend.to_device(array, device or "cpu")


class Tensor:
    __array_ufunc__ = None     # make NumPy hand `array + tensor` over to Tensor.__radd__
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = _tensor_data(data, None if dtype is None else _as_dtype(dtype), device)
        self.grad = None
        self.grad_fn = None          # the Function that made this tensor (None for a leaf)
        self.generation = 0          # 0 for a leaf, one more than grad_fn's for an op's output
        self._version = 0            # bumped by every in-place change made through the library
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _made_by(cls, grad_fn, data):
        """The output of the op ``grad_fn``: a tensor that requires grad, linked into the graph."""
        t = cls(data)
        t.grad_fn, t.requires_grad, t.generation = grad_fn, True, grad_fn.generation + 1
        return t

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # ----- properties -----
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self.grad_fn is None)
    T = property(lambda self: _ops.matrix_transpose(self))   # a 2-D tensor's dims swapped

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        extra = f", grad_fn={self.grad_fn!r}" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        dev = "" if self.device == "cpu" else f", device='{self.device}'"
        return f"Tensor({backend.to_numpy(self.data)!r}{dev}{extra})"

    def numpy(self):
        """The data as a NumPy array (a copy from the GPU when on one)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def to(self, *args, device=None, dtype=None):
        """This tensor on ``device`` ('cpu', 'cuda', 'cuda:N') and/or in ``dtype``, as PyTorch's
        ``x.to("cuda")``, ``x.to(np.float64)``, ``x.to("cuda", "float32")``; gradients flow back."""
        for arg in args:                             # a device name, else a dtype
            if isinstance(arg, str) and (arg == "cpu" or arg.startswith("cuda")):
                device = arg
            else:
                dtype = arg
        out = self if dtype is None else _ops.cast(self, _as_dtype(dtype))
        if device is None or backend.parse_device(device) == out.device:
            return out
        return _ops.to_device(out, device)

    def float(self): return _ops.cast(self, np.float32)
    def double(self): return _ops.cast(self, np.float64)
    def long(self): return _ops.cast(self, np.int64)
    def int(self): return _ops.cast(self, np.int32)
    def bool(self): return _ops.cast(self, np.bool_)

    # ----- backward -----
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) * grad into the ``.grad`` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input of the ops that made it has requires_grad=True)")
        grad = self._seed_grad(grad)
        if self.grad_fn is None:                     # a leaf: its gradient is the seed itself
            _accumulate_leaf_grad(self, grad)
            return
        # pending[node]: the gradient of the loss w.r.t. the output of node, summed so far
        pending = {self.grad_fn: grad}
        queue = _NodeQueue(self.grad_fn)             # newest generation first: the topological order
        while queue:
            node = queue.pop()
            node.check_backward_possible()           # not freed by an earlier backward, inputs unchanged
            gy = pending.pop(node)
            input_grads = _input_grads(node, gy)     # the chain rule at this node: dL/dy in, dL/dx_i out
            for i, (x, g) in enumerate(zip(node.inputs, input_grads)):
                if g is None:                        # no gradient wanted for x
                    continue
                if x.grad_fn is None:                # a leaf: keep the gradient in .grad
                    _accumulate_leaf_grad(x, g, shared=_is_shared(i, input_grads, gy))
                elif x.grad_fn in pending:           # x feeds several ops: their gradients add up
                    pending[x.grad_fn] = _add_on_device(pending[x.grad_fn], g)
                else:                                # the first gradient to reach x: queue its node
                    pending[x.grad_fn] = g
                    queue.push(x.grad_fn)
            if not retain_graph:
                node.release()                       # free what forward saved for this node

    def _seed_grad(self, grad):
        """The gradient backward starts from: ones for a scalar, else ``grad`` copied, on self's device."""
        xp = backend.array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() without a grad needs a scalar output, got shape "
                                   f"{self.shape}; pass grad= of that shape")
            with backend.device_scope(self.data):    # on a GPU: make the seed on self's GPU
                return xp.ones(self.shape, self.dtype)
        grad = grad.data if isinstance(grad, Tensor) else grad
        if backend.is_array(grad) and backend.device_of(grad) != self.device:
            raise RuntimeError(f"grad is on {backend.device_of(grad)} but the tensor on {self.device}")
        with backend.device_scope(self.data):
            grad = xp.array(grad, dtype=self.dtype)  # a copy: the caller keeps theirs
        if grad.shape != self.shape:
            raise RuntimeError(f"grad has shape {grad.shape} but the tensor has shape {self.shape}")
        return grad

    # ----- operators (the ops live in tinygrad_dl1.ops) -----
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, exponent): return _ops.pow(self, exponent)
    def __rpow__(self, base): return _ops.rpow(base, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    # comparisons give boolean tensors outside the graph
    def __lt__(self, other): return _ops.compare("less", self, other)
    def __le__(self, other): return _ops.compare("less_equal", self, other)
    def __gt__(self, other): return _ops.compare("greater", self, other)
    def __ge__(self, other): return _ops.compare("greater_equal", self, other)
    def __eq__(self, other): return _ops.compare("equal", self, other)
    def __ne__(self, other): return _ops.compare("not_equal", self, other)
    __hash__ = object.__hash__

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    # reductions take PyTorch's dim / keepdim, and NumPy's axis / keepdims as aliases
    def sum(self, dim=None, keepdim=False, **aliases): return _ops.sum(self, dim, keepdim, **aliases)
    def mean(self, dim=None, keepdim=False, **aliases): return _ops.mean(self, dim, keepdim, **aliases)
    def amax(self, dim=None, keepdim=False, **aliases): return _ops.max(self, dim, keepdim, **aliases)

    def amin(self, dim=None, keepdim=False, **aliases): return _ops.min(self, dim, keepdim, **aliases)

    def max(self, dim=None, keepdim=False, **aliases):
        """The largest entry; with a ``dim``, as in PyTorch, the pair (values, indices) along it."""
        return _ops.values_or_pair("max", self, dim, keepdim, **aliases)

    def min(self, dim=None, keepdim=False, **aliases):
        """The smallest entry; with a ``dim``, as in PyTorch, the pair (values, indices) along it."""
        return _ops.values_or_pair("min", self, dim, keepdim, **aliases)

    def reshape(self, *shape): return _ops.reshape(self, *shape)
    view = reshape          # PyTorch's view; here a reshape, which copies only when it must (as NumPy's does)
    def expand(self, *sizes): return _ops.expand(self, *sizes)
    def transpose(self, dim0, dim1): return _ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return _ops.permute(self, *dims)
    def flatten(self, start_dim=0, end_dim=-1): return _ops.flatten(self, start_dim, end_dim)
    def squeeze(self, dim=None): return _ops.squeeze(self, dim)
    def unsqueeze(self, dim): return _ops.unsqueeze(self, dim)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    __abs__ = abs
    def relu(self): return _ops.relu(self)
    def leaky_relu(self, negative_slope=0.01): return _ops.leaky_relu(self, negative_slope)
    def softmax(self, dim=-1, **aliases): return _ops.softmax(self, dim, **aliases)
    def log_softmax(self, dim=-1, **aliases): return _ops.log_softmax(self, dim, **aliases)
    def argmax(self, dim=None, keepdim=False, **aliases): return _ops.argmax(self, dim, keepdim, **aliases)
    def argmin(self, dim=None, keepdim=False): return _ops.argmin(self, dim, keepdim)
    def dim(self): return self.ndim          # PyTorch's x.dim()
    def numel(self): return self.size        # PyTorch's x.numel(): the number of entries


class _NodeQueue:
    """The nodes waiting for backward, popped newest generation first: a node runs after every node
    that consumed its output, so its gradient is complete when it runs."""

    def __init__(self, first):
        self.heap, self.tie_breaker = [], itertools.count()     # never compare two nodes of one generation
        self.push(first)

    def push(self, node):
        heapq.heappush(self.heap, (-node.generation, next(self.tie_breaker), node))

    def pop(self):
        return heapq.heappop(self.heap)[2]

    def __bool__(self):
        return bool(self.heap)


def _input_grads(node, gy):
    """``node``'s backward (or its fast path's) on gy, run on the GPU that holds gy: one gradient per
    input, checked and of its input's dtype, None for an input that needs none."""
    with backend.device_scope(gy):
        grads = node.run("backward", gy)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return [_checked_grad(node, i, x, g) if g is not None and x.requires_grad else None
            for i, (x, g) in enumerate(zip(node.inputs, grads))]


def _add_on_device(a, b):
    """a + b on the GPU that holds b (a copy's node hands its input a gradient on the input's GPU)."""
    with backend.device_scope(b):
        return backend.ensure_array(a + b)


def _is_shared(i, input_grads, gy):
    """True when input i's gradient shares memory with the incoming gradient ``gy`` or with another
    input's gradient (``a + b`` returns gy for both): a leaf that keeps it must copy it."""
    others = [gy, *(h for j, h in enumerate(input_grads) if j != i and h is not None)]
    return any(backend.same_memory(input_grads[i], h) for h in others)


def _checked_grad(fn, i, x, g):
    """A gradient from ``fn.backward`` for its input ``i``, checked and cast to the input's dtype (on g's GPU)."""
    g = backend.ensure_array(g)
    if g.shape != x.shape:
        raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {g.shape} for input {i} "
                           f"of shape {x.shape}")
    with backend.device_scope(g):
        if g.dtype != x.dtype:
            g = g.astype(x.dtype)
        if is_anomaly_enabled() and not bool(backend.array_module(g).isfinite(g).all()):
            raise FloatingPointError(f"anomaly: {fn.name}.backward produced a NaN or inf in the gradient "
                                     f"of its input {i} (shape {x.shape})")
    return g


def _accumulate_leaf_grad(leaf, g, shared=False):
    """leaf.grad += g. Each leaf owns its ``.grad``: a first gradient that is ``shared`` (the
    op's incoming gradient or a view of it, or the memory of another input's gradient: ``a + b``
    returns gy for both) is copied; one that the op made for this input alone is kept as it is."""
    if leaf.grad is None:
        with backend.device_scope(g):
            leaf.grad = g.copy() if shared else g
    else:
        leaf.grad = _add_on_device(leaf.grad, g)


from . import ops as _ops  # noqa: E402  (the ops need Tensor defined first)
