"""Function: one op of the graph, with a forward and a hand-written backward.

A subclass implements ``forward(*arrays) -> array(s)`` and ``backward(*grads) ->
grad(s)`` on plain backend arrays. Calling an instance on Tensors runs forward and,
when a gradient is needed, links the outputs to this node so that
``Tensor.backward`` can find it. A node holds its inputs (to reach their nodes) and
what its forward saved, never its outputs, so a graph dies with its last tensor.
"""
from . import backend
from .grad_mode import _state
from .tensor import Tensor


class Function:
    inputs = None        # the input Tensors while the graph is alive
    generation = 0       # ordering for backward: consumers run before producers

    def __call__(self, *inputs):
        record = _state.grad_enabled and any(x.requires_grad for x in inputs)
        # forward reads this to save only what backward will need
        self.needs_input_grad = tuple(x.requires_grad for x in inputs) if record else (False,) * len(inputs)
        outputs = self.forward(*[x.data for x in inputs])
        single = type(outputs) is not tuple
        outputs = [backend.as_array(y) for y in ((outputs,) if single else outputs)]
        if record:
            self.inputs = inputs
            self.generation = max(x.generation for x in inputs)
            self.output_meta = [(y.shape, y.dtype) for y in outputs]
            outs = [Tensor._from_op(y, self, i) for i, y in enumerate(outputs)]
        else:
            outs = [Tensor._from_op(y, None, 0) for y in outputs]
        return outs[0] if single else tuple(outs)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    def release(self):
        """Free what backward needed; a second backward through this node then fails clearly."""
        self.__dict__ = {"generation": self.generation, "released": True}

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"
