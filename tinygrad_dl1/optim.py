"""Optimizers: SGD (with momentum) and Adam, with PyTorch's update rules.

``step()`` updates each parameter's array in place (never rebinding ``.data``) from its
``.grad``, which it never changes; parameters whose grad is None are skipped. Float32
parameters stay float32. ``state_dict()`` / ``load_state_dict()`` save and restore the
hyperparameters and the per-parameter state (as NumPy arrays, in PyTorch's layout), so a
checkpointed run resumes exactly.
"""
import math
import numbers

import numpy as np

from . import backend, kernels
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
            with backend.device_scope(p.data):
                g = p.grad if p.grad.dtype == p.dtype else p.grad.astype(p.dtype)    # the kernels want one dtype
                self.update(p.data, g, self.state.setdefault(i, {}))
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


def _check(condition, message):
    if not condition:
        raise ValueError(message)


class SGD(Optimizer):
    """w -= lr * v, with v = momentum * v + g (v = g on the first step), g = grad + weight_decay * w."""

    hyperparameters = ("lr", "momentum", "weight_decay")

    def __init__(self, params, lr, momentum=0, weight_decay=0):
        _check(lr >= 0, f"SGD: lr must be >= 0, got {lr}")
        _check(momentum >= 0, f"SGD: momentum must be >= 0, got {momentum}")
        _check(weight_decay >= 0, f"SGD: weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    def update(self, w, g, state):
        if not self.momentum:
            SGD_STEP(g, self.lr, self.weight_decay, w)
            return
        v = state.get("momentum_buffer")
        first = v is None
        if first:
            v = state["momentum_buffer"] = backend.array_module(w).empty_like(w)
        SGD_MOMENTUM_STEP(g, self.lr, self.momentum, self.weight_decay, first, w, v)


def sgd_step(g, lr, weight_decay, w):
    """w -= lr * (g + weight_decay * w), in place: SGD_STEP's twin."""
    if weight_decay:
        g = g + weight_decay * w
    w -= lr * g
    return w


def sgd_momentum_step(g, lr, momentum, weight_decay, first, w, v):
    """v = momentum * v + g (v = g when ``first``), w -= lr * v, in place: SGD_MOMENTUM_STEP's twin."""
    if weight_decay:
        g = g + weight_decay * w
    if first:
        v[...] = g
    else:
        v *= momentum
        v += g
    w -= lr * v
    return w, v


SGD_STEP = kernels.Kernel(
    "sgd_step", "T g, T lr, T weight_decay", "T w",
    "w -= lr * (g + weight_decay * w);",
    twin=sgd_step)

SGD_MOMENTUM_STEP = kernels.Kernel(
    "sgd_momentum_step", "T g, T lr, T momentum, T weight_decay, bool first", "T w, T v",
    """
    const T grad = g + weight_decay * w;
    v = first ? grad : momentum * v + grad;
    w -= lr * v;
    """,
    twin=sgd_momentum_step)


class Adam(Optimizer):
    """Adam with bias correction; weight_decay is added to the gradient (L2), as in PyTorch's Adam.

    The textbook update, at step t with gradient g:

        m = b1 m + (1 - b1) g                   the mean of the gradients, decaying
        v = b2 v + (1 - b2) g^2                 the mean of their squares, decaying
        m_hat = m / (1 - b1^t)                  bias corrections: m and v start at 0
        v_hat = v / (1 - b2^t)
        w = w - lr m_hat / (sqrt(v_hat) + eps)

    ``update`` computes exactly this in place, in one fused kernel per parameter on a GPU
    (ADAM_STEP below; tinygrad_dl1/kernels.py) and with array ops on a CPU (``adam_step``).
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        _check(lr >= 0, f"Adam: lr must be >= 0, got {lr}")
        _check(len(betas) == 2 and all(0 <= b < 1 for b in betas), f"Adam: betas must lie in [0, 1), got {betas}")
        _check(eps >= 0, f"Adam: eps must be >= 0, got {eps}")
        _check(weight_decay >= 0, f"Adam: weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def update(self, w, g, state):
        b1, b2 = self.betas
        t = state["step"] = state.get("step", 0) + 1
        if "exp_avg" not in state:
            xp = backend.array_module(w)
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(w), xp.zeros_like(w)
        # the bias corrections fold into two numbers: lr m_hat / (sqrt(v_hat) + eps)
        # = step_size m / (sqrt(v) root_scale + eps), with step_size = lr / (1 - b1^t), root_scale = 1 / sqrt(1 - b2^t)
        # 1 - b1 and 1 - b2 computed here, in float64: on a GPU the kernel gets b2 as a float32, whose 1 - b2 is off
        ADAM_STEP(g, b1, 1 - b1, b2, 1 - b2, self.lr / (1 - b1 ** t), 1 / math.sqrt(1 - b2 ** t), self.eps,
                  self.weight_decay, w, state["exp_avg"], state["exp_avg_sq"])


def adam_step(g, b1, one_minus_b1, b2, one_minus_b2, step_size, root_scale, eps, weight_decay, w, m, v):
    """Adam's update of w, m and v in place (ADAM_STEP's twin), with one scratch array: written as
    in the class docstring, its temporary arrays made a step of the better MLP (3.7M parameters) 15%
    slower on a CPU and one of the ConvNet (9.2M) 5% slower (bench_mlp.py, bench_convnet.py, 2026-11-28)."""
    xp = backend.array_module(w)
    if weight_decay:
        g = g + weight_decay * w
    scratch = xp.multiply(g, one_minus_b1)
    m *= b1
    m += scratch                            # m = b1 m + (1 - b1) g
    xp.multiply(g, g, out=scratch)
    scratch *= one_minus_b2
    v *= b2
    v += scratch                            # v = b2 v + (1 - b2) g^2
    xp.sqrt(v, out=scratch)
    scratch *= root_scale                   # sqrt(v_hat) = sqrt(v) / sqrt(1 - b2^t)
    scratch += eps
    xp.divide(m, scratch, out=scratch)
    scratch *= step_size                    # lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t)
    w -= scratch
    return w, m, v


ADAM_STEP = kernels.Kernel(
    "adam_step", "T g, T b1, T one_minus_b1, T b2, T one_minus_b2, T step_size, T root_scale, T eps, T weight_decay",
    "T w, T m, T v",
    """
    const T grad = g + weight_decay * w;
    m = b1 * m + one_minus_b1 * grad;
    v = b2 * v + one_minus_b2 * (grad * grad);
    w -= step_size * m / (sqrt(v) * root_scale + eps);
    """,
    twin=adam_step)
