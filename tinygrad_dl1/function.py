"""Function: one op of the graph, with a forward and a hand-written backward.

A subclass implements ``forward(*arrays) -> array`` and ``backward(gy) -> gradient(s)``
on plain backend arrays (NumPy or CuPy), one gradient per input (None where none is
needed). In PyTorch's terms (``torch.autograd.Function``):
- ``forward`` keeps what backward needs with ``self.save_for_backward(name=array, ...)``
  (PyTorch's ``ctx.save_for_backward``), then reads it as ``self.name``; it saves exactly what
  backward needs, and only for the inputs whose ``needs_input_grad`` entry is True (the same
  name as PyTorch's). Other attributes it sets (shapes, flags) are plain attributes;
- an op's arguments that are not tensors (an axis, a stride) go to ``__init__``.

Calling an instance on Tensors runs forward and, when a gradient is needed, links the
output to this node, so that ``Tensor.backward`` can find it. A node holds its inputs
(to reach their nodes) and what its forward saved, never its output, so a graph dies
with its last tensor.

Which code runs: the subclass's own ``forward`` and ``backward``, unless a faster
implementation is registered for the op in ``tinygrad_dl1/fast_paths/`` (fused GPU kernels and
their CPU-tuned versions); ``fast_paths.lookup``, called by ``__call__`` below, makes that choice,
and ``with tinygrad_dl1.plain_ops():`` turns the fast paths off. To add an op, write its Function
and wrapper in a file of ``tinygrad_dl1/ops/`` (see its ``__init__.py``).
"""
from . import backend, checks, fast_paths
from .grad_mode import is_grad_enabled
from .tensor import Tensor


class Function:
    inputs = ()          # the input Tensors, while the graph is alive
    generation = 0       # one more than the newest input's node: backward runs consumers first
    released = False     # True once backward has run and freed what forward saved
    saved_names = ()     # the attributes that save_for_backward set
    fast_methods = None  # the fast path chosen at forward ({method name: function}), or None: this class's code

    def __call__(self, *inputs):
        checks.check_same_device(self.name, inputs)
        record = is_grad_enabled() and any(x.requires_grad for x in inputs)
        # forward reads needs_input_grad to save only what backward will need
        self.needs_input_grad = tuple(record and x.requires_grad for x in inputs)
        self.fast_methods = fast_paths.lookup(self)
        with backend.device_scope(inputs[0].data):
            y = backend.ensure_array(self.run("forward", *[x.data for x in inputs]))
        if not record:
            return Tensor(y)
        self.inputs = inputs
        self.input_versions = tuple(x._version for x in inputs)   # to catch in-place changes before backward
        self.generation = max(x.generation for x in inputs)
        return Tensor._made_by(self, y)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def run(self, name, *args):
        """``self.forward(*args)`` or ``self.backward(*args)``, or the fast path's, if one ran this node's forward."""
        return fast_paths.method(self, name, self.fast_methods)(*args)

    def save_for_backward(self, **arrays):
        """Keep ``arrays`` (None for one not needed) as attributes of this node, for backward."""
        for name, array in arrays.items():
            setattr(self, name, array)
        self.saved_names = (*self.saved_names, *arrays)

    def check_backward_possible(self):
        """Raise if backward already ran here and freed what forward saved, or if an input whose
        array forward saved was changed in place since (an optimizer step, say): backward would
        then silently compute the gradient at the new values, which PyTorch refuses too."""
        if self.released:
            raise RuntimeError(f"trying to backward through the graph a second time ({self.name} was already "
                               "run and its saved arrays freed); call backward(retain_graph=True) the first "
                               "time if you need to backward twice")
        saved = [getattr(self, name) for name in self.saved_names]
        for i, (x, version) in enumerate(zip(self.inputs, self.input_versions)):
            if x._version != version and any(backend.is_array(a) and backend.same_memory(a, x.data) for a in saved):
                raise RuntimeError(
                    f"{self.name}.backward needs input {i} (a tensor of shape {x.shape}) as it was in forward, "
                    f"but it was changed in place since (version {version} then, {x._version} now); "
                    "compute the loss again after the change, or change a copy")

    def release(self):
        """Free the inputs and every array forward saved (they are this node's attributes)."""
        generation = self.generation
        vars(self).clear()
        self.generation, self.released = generation, True

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"
