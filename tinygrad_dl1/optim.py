"""Optimizers: SGD (with momentum) and Adam, with PyTorch's update rules.

``step()`` updates each parameter's array in place (never rebinding ``.data``) from its
``.grad``, which it never changes; parameters whose grad is None are skipped. Float32
parameters stay float32. ``state_dict()`` / ``load_state_dict()`` save and restore the
hyperparameters and the per-parameter state (as NumPy arrays, in PyTorch's layout), so a
checkpointed run resumes exactly.
"""
import numbers

import numpy as np

from . import backend, checks, fast_paths
from .tensor import Tensor


class Optimizer:
    hyperparameters = ()    # the attributes saved in state_dict

    def __init__(self, params):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors (model.parameters() "
                            f"or [tensor]), got one Tensor of shape {params.shape}")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty list of parameters")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: parameter {i} must be a Tensor that requires grad, "
                                f"got {p!r:.60}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once in the list")
        self.state = {}     # parameter index -> {name: array or number}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if backend.device_of(p.grad) != p.device:
                raise RuntimeError(f"{type(self).__name__}: parameter {i} is on {p.device} but its gradient "
                                   f"on {backend.device_of(p.grad)}")
            update = fast_paths.method(self, "update", fast_paths.lookup(self))    # see fast_paths/optimizers.py
            with backend.device_scope(p.data):
                g = p.grad if p.grad.dtype == p.dtype else p.grad.astype(p.dtype)    # the update keeps w's dtype
                update(p.data, g, self.state.setdefault(i, {}))
                p._version += 1             # changed in place: a graph that saved it can't backward

    def update(self, w, g, state):
        """Change the array ``w`` in place from its gradient ``g``; ``state`` persists between steps."""
        raise NotImplementedError

    def state_dict(self):
        group = {name: getattr(self, name) for name in self.hyperparameters}
        group["params"] = list(range(len(self.params)))
        state = {i: {k: np.array(backend.to_numpy(v)) if backend.is_array(v) else v for k, v in s.items()}
                 for i, s in self.state.items()}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            counts = [len(g["params"]) for g in groups]
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict has parameter groups of "
                             f"sizes {counts}, this optimizer one group of {len(self.params)} parameters")
        state = {}
        for i, saved in state_dict["state"].items():
            p = self.params[int(i)]
            state[int(i)] = {k: self._restore(v, p, f"state of parameter {i}, {k!r}") for k, v in saved.items()}
        for name in self.hyperparameters:
            value = groups[0][name]
            setattr(self, name, tuple(value) if isinstance(value, list) else value)
        self.state = state

    def _restore(self, value, p, where):
        if isinstance(value, numbers.Number):
            return value
        array = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
        if array.ndim == 0:
            return array.item()
        if array.shape != p.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: {where} has shape {array.shape}, "
                             f"the parameter {p.shape}")
        return backend.to_device(array.astype(p.dtype), p.device)


class SGD(Optimizer):
    """w -= lr * v, with v = momentum * v + g (v = g on the first step), g = grad + weight_decay * w."""

    hyperparameters = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr, momentum=0, weight_decay=0):
        checks.check_optimizer_settings("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    def update(self, w, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * w               # the L2 penalty's gradient
        if self.momentum:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = g.copy()     # v = g on the first step
            else:
                v[...] = self.momentum * v + g              # v = momentum * v + g
            g = v
        w -= self.lr * g                                # w = w - lr * v


class Adam(Optimizer):
    """Adam with bias correction; weight_decay is added to the gradient (L2), as in PyTorch's Adam.

    The textbook update, at step t with gradient g (``update`` below, line by line):

        m = b1 m + (1 - b1) g                   the mean of the gradients, decaying
        v = b2 v + (1 - b2) g^2                 the mean of their squares, decaying
        m_hat = m / (1 - b1^t)                  bias corrections: m and v start at 0
        v_hat = v / (1 - b2^t)
        w = w - lr m_hat / (sqrt(v_hat) + eps)
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        checks.check_optimizer_settings("Adam", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def update(self, w, g, state):
        xp, (b1, b2) = backend.array_module(w), self.betas
        t = state["step"] = state.get("step", 0) + 1
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(w), xp.zeros_like(w)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if self.weight_decay:
            g = g + self.weight_decay * w               # the L2 penalty's gradient
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        w -= self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)
