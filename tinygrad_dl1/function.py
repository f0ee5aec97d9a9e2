"""Function: one op of the graph, with a forward and a hand-written backward.

A subclass implements ``forward(*arrays) -> array`` and ``backward(gy) -> gradient(s)``
on plain backend arrays (NumPy or CuPy), one gradient per input (None where none is
needed). In PyTorch's terms (``torch.autograd.Function``):
- attributes that ``forward`` sets on ``self`` play the role of ``ctx.save_for_backward``:
  each op saves exactly what its backward needs, and only for the inputs whose
  ``needs_input_grad`` entry is True (the same name as PyTorch's);
- an op's arguments that are not tensors (an axis, a stride) go to ``__init__``.

Calling an instance on Tensors runs forward and, when a gradient is needed, links the
output to this node, so that ``Tensor.backward`` can find it. A node holds its inputs
(to reach their nodes) and what its forward saved, never its output, so a graph dies
with its last tensor.
"""
from . import backend
from .grad_mode import is_grad_enabled
from .tensor import Tensor


class Function:
    inputs = ()          # the input Tensors, while the graph is alive
    generation = 0       # one more than the newest input's node: backward runs consumers first
    released = False     # True once backward has run and freed what forward saved

    def __call__(self, *inputs):
        if len(inputs) > 1 and len({x.device for x in inputs}) > 1:
            devices = ", ".join(f"input {i} on {x.device}" for i, x in enumerate(inputs))
            raise RuntimeError(f"{self.name}: inputs on different devices ({devices}); move them with .to(device)")
        record = is_grad_enabled() and any(x.requires_grad for x in inputs)
        # forward reads needs_input_grad to save only what backward will need
        self.needs_input_grad = tuple(record and x.requires_grad for x in inputs)
        with backend.device_scope(inputs[0].data):
            y = backend.ensure_array(self.forward(*[x.data for x in inputs]))
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

    def check_can_backward(self):
        """Raise if backward already ran here and freed what forward saved, or if an input whose
        array forward saved was changed in place since (an optimizer step, say): backward would
        then silently compute the gradient at the new values, which PyTorch refuses too."""
        if self.released:
            raise RuntimeError(f"trying to backward through the graph a second time ({self.name} was already "
                               "run and its saved arrays freed); call backward(retain_graph=True) the first "
                               "time if you need to backward twice")
        for i, (x, version) in enumerate(zip(self.inputs, self.input_versions)):
            if x._version != version and any(backend.same_memory(saved, x.data) for saved in vars(self).values()):
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
