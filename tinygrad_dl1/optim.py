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
    state_keys = ()         # what a parameter's state holds once it has taken a step (or nothing before)

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
        update = fast_paths.method(self, "update", fast_paths.lookup(self))    # see fast_paths/optimizers.py
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if backend.device_of(p.grad) != p.device:
                raise RuntimeError(f"{type(self).__name__}: parameter {i} is on {p.device} but its gradient "
                                   f"on {backend.device_of(p.grad)}")
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
        """Restore what ``state_dict()`` gave (or a checkpoint of it), once ``check_state_dict`` found
        every entry fit for this optimizer: nothing changes when one is not."""
        state, hyperparameters = self.check_state_dict(state_dict)
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.state = state

    def check_state_dict(self, state_dict):
        """(per-parameter state, hyperparameters) as ``load_state_dict`` would store them; a ValueError
        naming the entry unless the state dict has one group of this optimizer's parameter count, its
        hyperparameters pass the constructor's checks, and each parameter's state holds ``state_keys`` (or
        nothing), each a count, a finite number or a finite number array of the parameter's shape."""
        where = f"{type(self).__name__}.load_state_dict"
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        saved_state = state_dict.get("state") if isinstance(state_dict, dict) else None
        if not (isinstance(groups, list) and all(isinstance(g, dict) for g in groups)
                and isinstance(saved_state, dict)):
            raise ValueError(f"{where}: the state dict must hold 'state', a dict, and 'param_groups', a list "
                             f"of dicts, got {state_dict!r:.80}")
        counts = [len(g["params"]) if isinstance(g.get("params"), list) else None for g in groups]
        if counts != [len(self.params)] or groups[0]["params"] != list(range(len(self.params))):
            raise ValueError(f"{where}: the state dict has parameter groups of sizes {counts}, this optimizer "
                             f"one group of {len(self.params)} parameters")
        missing = [name for name in self.hyperparameters if name not in groups[0]]
        if missing:
            raise ValueError(f"{where}: the state dict lacks the hyperparameters {', '.join(missing)}")
        hyperparameters = {name: tuple(v) if isinstance(v, list) else v
                           for name, v in ((name, groups[0][name]) for name in self.hyperparameters)}
        checks.check_optimizer_settings(where, **hyperparameters)
        state = {}
        for i, saved in saved_state.items():
            index = int(i) if type(i) is int or (isinstance(i, str) and i.isdigit() and i.isascii()) else -1
            if not (0 <= index < len(self.params)) or not isinstance(saved, dict):
                raise ValueError(f"{where}: the state dict has state {saved!r:.40} for parameter {i!r:.40}, "
                                 f"not a dict for one of the {len(self.params)} parameters")
            p = self.params[index]
            saved = {k: v for k, v in saved.items() if v is not None}     # None: not made yet, as PyTorch saves it
            if saved and sorted(saved) != sorted(self.state_keys):
                raise ValueError(f"{where}: the state of parameter {i} holds {sorted(saved)!s:.100}; "
                                 f"{type(self).__name__} keeps {list(self.state_keys)} (or nothing before a step)")
            state[index] = {k: self._restore(v, p, f"state of parameter {i}, {k!r:.40}") for k, v in saved.items()}
        return state, hyperparameters

    def _restore(self, value, p, where):
        """A saved entry of a parameter's state as it is stored: a count, a finite number, or an array
        (a finite number array of ``p``'s shape) on ``p``'s device and of its dtype."""
        name = f"{type(self).__name__}.load_state_dict: {where}"
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, numbers.Number):     # an array, or what np.asarray takes (a torch tensor)
            array = backend.to_numpy(value)
            if array.dtype.kind not in "biuf":
                raise ValueError(f"{name} is {value!r:.40}, not a number or an array of numbers")
            if array.ndim == 0:
                value = array.item()
            else:
                if array.shape != p.shape:
                    raise ValueError(f"{name} has shape {array.shape}, the parameter {p.shape}")
                if not np.isfinite(array).all():
                    raise ValueError(f"{name} holds NaN or infinite values")
                return backend.to_device(array.astype(p.dtype), p.device)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} is {value!r:.40}, not a number or an array")
        if isinstance(value, numbers.Integral) and not 0 <= value < 2 ** 63:
            raise ValueError(f"{name} is {value}, not a count from 0 to 2^63")
        if not np.isfinite(value):
            raise ValueError(f"{name} is {value}, not a finite number")
        return value


class SGD(Optimizer):
    """w -= lr * v, with v = momentum * v + g (v = g on the first step), g = grad + weight_decay * w."""

    hyperparameters = ("lr", "momentum", "weight_decay")
    state_keys = ("momentum_buffer",)

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
    state_keys = ("step", "exp_avg", "exp_avg_sq")

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
