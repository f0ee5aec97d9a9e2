"""Module and Parameter: the building blocks of layers and models.

Nothing is registered by hand: a module's Parameters and sub-Modules are found by walking
its attributes (and lists, tuples and dicts of them) in the order they were set. Buffers,
state that is saved but not trained (batch norm's running statistics), are Tensors named
with ``register_buffer``. ``state_dict`` keys, shapes and layouts follow PyTorch's
(``0.weight`` inside a Sequential, ``running_mean``), so weights move both ways.
"""
from collections import namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module trains: requires_grad=True, and float32 unless ``dtype`` says otherwise.
    It holds a copy of ``data``: training never changes the caller's array."""

    def __init__(self, data, requires_grad=True, dtype=np.float32, device=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)
        with backend.device_scope(self.data):       # on a GPU: CuPy copies to the current GPU
            self.data = self.data.copy()

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """A layer or a model: subclasses set Parameters and sub-Modules as attributes and define ``forward``."""

    training = True
    _buffer_names = ()

    def __init__(self):
        self.training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def register_buffer(self, name, tensor):
        """Keep ``tensor`` as attribute ``name``: saved in state_dict and moved by to(), but not trained."""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor, got {type(tensor).__name__}")
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)
        setattr(self, name, tensor)

    # ----- what a module holds -----
    def _members(self):
        """(name, value) for each Parameter, buffer and Module held directly, in attribute order."""
        for name, value in vars(self).items():
            if name in self._buffer_names:
                yield name, value
            else:
                yield from _walk(name, value)

    def _own_parameters(self):
        """(name, Parameter) for the parameters held by this module itself, not by a sub-module."""
        return ((n, v) for n, v in self._members() if isinstance(v, Parameter) and n not in self._buffer_names)

    def _own_buffers(self):
        """(name, Tensor) for the buffers held by this module itself."""
        return ((n, v) for n, v in self._members() if n in self._buffer_names and v is not None)

    def named_children(self):
        seen = set()
        for name, value in self._members():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix=""):
        """(dotted name, module) for this module ('' by default) and every module inside it, each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            stack.extend(reversed([(_join(name, n), c) for n, c in module.named_children()]))

    def modules(self):
        return (m for _, m in self.named_modules())

    def _named_tensors(self, own):
        """(dotted name, tensor) for what ``own`` (a method) lists in every module, each tensor once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, t in own(module):
                if id(t) not in seen:
                    seen.add(id(t))
                    yield _join(prefix, name), t

    def named_parameters(self):
        """(dotted name, Parameter) for every parameter, each once, in definition order."""
        return self._named_tensors(Module._own_parameters)

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return self._named_tensors(Module._own_buffers)

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # ----- modes, gradients, devices -----
    def train(self, mode=True):
        """Set training mode (or eval mode with mode=False) on this module and every module inside it."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def to(self, device):
        """Move every parameter and buffer (and gradient) to ``device``, in place; returns self."""
        device = backend.parse_device(device)
        for t in [*self.parameters(), *self.buffers()]:
            t.data = backend.to_device(t.data, device)
            if t.grad is not None:
                t.grad = backend.to_device(t.grad, device)
        return self

    # ----- saving and loading -----
    def _state_tensors(self, prefix=""):
        """key -> Tensor for every parameter and buffer, named as in state_dict (a shared one under each name)."""
        out = {prefix + name: t for name, t in self._own_parameters()}
        out.update((prefix + name, t) for name, t in self._own_buffers())
        for name, value in self._members():
            if isinstance(value, Module):
                out.update(value._state_tensors(prefix + name + "."))
        return out

    def state_dict(self):
        """{key: NumPy array (a copy)} of every parameter and buffer, with PyTorch's keys and layouts."""
        return {key: np.array(backend.to_numpy(t.data)) for key, t in self._state_tensors().items()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays (NumPy, Tensors, or anything np.asarray takes, e.g. torch tensors) into the
        parameters and buffers, in place. Raises ValueError naming every missing, unexpected
        (strict only), mis-shaped or non-numeric key, before changing anything. Returns (missing_keys,
        unexpected_keys)."""
        targets = self._state_tensors()
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        values = {}
        for key, t in targets.items():
            if key in state:
                value = state[key]
                try:
                    values[key] = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
                except (TypeError, ValueError) as e:    # a ragged list, say
                    problems.append(f"{key}: {type(value).__name__} in the state dict is not an array ({e})")
                    continue
                if values[key].dtype.kind not in "biuf":
                    problems.append(f"{key}: dtype {values[key].dtype} in the state dict, not numbers")
                elif values[key].shape != t.shape:
                    problems.append(f"{key}: shape {values[key].shape} in the state dict, {t.shape} in the model")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}:\n  " + "\n  ".join(problems))
        for key, value in values.items():
            t = targets[key]
            with backend.device_scope(t.data):      # on a GPU: write on the GPU that holds t
                t.data[...] = backend.to_device(value.astype(t.dtype, copy=False), t.device)
            t._version += 1
        return IncompatibleKeys(missing, unexpected)

    # ----- printing -----
    def extra_repr(self):
        """The arguments shown between the parentheses of repr()."""
        return ""

    def __repr__(self):
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(children) + "\n)" if children else ")")


def _walk(name, value):
    """(dotted name, value) for the Parameters and Modules in ``value``, looking inside lists, tuples and dicts."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(f"{name}.{i}", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(f"{name}.{k}", v)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name

