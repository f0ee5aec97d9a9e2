"""Softmax cross-entropy with a fused backward; the mean squared error.

With p = softmax(logits) row by row and a target row t (one-hot for a class index, or any
non-negative weights), the loss of a batch of N rows is

    L = -1/N sum_n sum_c t_nc log p_nc

and, since d log p_c / d logit_k = delta_ck - p_k,

    dL/dlogits_nk = (p_nk * sum_c t_nc - t_nk) / N    (= (p - onehot) / N for a class index)
    dL/dt_nc      = -log p_nc / N

One op instead of log_softmax, a product and a mean: the gradient needs only p.

The mean squared error of an input x against a target t, both of one shape with N entries:

    L = 1/N sum_i (x_i - t_i)^2      dL/dx_i = 2 (x_i - t_i) / N,   dL/dt_i = -dL/dx_i

(``reduction='sum'`` drops the 1/N; ``'none'`` keeps every (x_i - t_i)^2, and dL/dx_i = 2 (x_i - t_i) gy_i.)
"""
from .. import backend, checks
from ..function import Function
from ..tensor import Tensor
from .activation import stable_log_softmax
from .elementwise import promoted


class CrossEntropyIndex(Function):
    """Mean over the batch of -log softmax(logits)[n, target[n]], target as class indices."""

    def __init__(self, target):
        self.target = target

    def forward(self, logits):          # L = -1/N sum_n log p[n, t_n]
        xp = backend.array_module(logits)
        logp = stable_log_softmax(logits, axis=1)
        self.save_for_backward(p=xp.exp(logp) if self.needs_input_grad[0] else None)   # dL/dlogits needs p
        picked = logp[xp.arange(len(logits)), self.target]
        # an index outside [0, C) (which a GPU's gather would wrap around) makes its row, and the loss, NaN
        valid = (self.target >= 0) & (self.target < logits.shape[1])
        return -xp.where(valid, picked, picked.dtype.type("nan")).mean()

    def backward(self, gy):             # dL/dlogits = (p - onehot(t)) / N
        g = self.p.copy()
        g[backend.array_module(g).arange(len(g)), self.target] -= 1
        return g * (gy / len(g))


class CrossEntropyProb(Function):
    """Mean over the batch of -sum_c target[n, c] log softmax(logits)[n, c]."""

    def forward(self, logits, target):  # L = -1/N sum_n sum_c t_nc log p_nc
        need_logits, need_target = self.needs_input_grad
        logp = stable_log_softmax(logits, axis=1)
        self.save_for_backward(logp=logp if need_logits or need_target else None,   # both gradients need log p
                               target=target if need_logits else None)   # dL/dlogits = (p * sum_c t_c - t) / N needs t
        return -(target * logp).sum(axis=1).mean()

    def backward(self, gy):             # dL/dlogits = (p * sum_c t_c - t) / N, dL/dt = -log p / N
        need_logits, need_target = self.needs_input_grad
        scale = gy / len(self.logp)
        g_logits = g_target = None
        if need_logits:
            total = self.target.sum(axis=1, keepdims=True)   # 1 for probability targets
            g_logits = (backend.array_module(gy).exp(self.logp) * total - self.target) * scale
        if need_target:
            g_target = -self.logp * scale
        return g_logits, g_target


def cross_entropy(logits, target):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or probabilities (N, C).

    Class indices must lie in [0, C). On the CPU an index out of range raises ValueError. On a
    GPU, finding one would read the labels back to the host, a sync that stalls every training
    step, so there the check runs on the device and an index out of range makes the loss NaN
    (PyTorch's CUDA cross_entropy fails asynchronously, with a device-side assert, for the same
    reason). ``train`` checks its labels once, on the host, before they go to the device.
    """
    checks.check_logits(logits)
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        checks.check_probability_target(target, logits)
        return CrossEntropyProb()(logits, target)
    with backend.device_scope(logits.data):    # a list target becomes an array there, and is checked there
        values = target.data if isinstance(target, Tensor) else backend.array_module(logits.data).asarray(target)
        if values.dtype.kind == "f":           # a float array: probabilities, held constant
            return cross_entropy(logits, Tensor(values, dtype=logits.dtype))
        checks.check_class_indices(values, logits.shape[1], "cross_entropy", n=len(logits), device=logits.device)
    return CrossEntropyIndex(values)(logits)


class MSELoss(Function):
    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):            # L = 1/N sum_i (x_i - t_i)^2 (or the sum, or each term)
        diff = x - t
        self.save_for_backward(diff=diff if any(self.needs_input_grad) else None)   # both gradients need x - t
        squares = diff * diff
        return {"mean": squares.mean, "sum": squares.sum}.get(self.reduction, lambda: squares)()

    def backward(self, gl):             # dL/dx = 2 (x - t) gl / N, dL/dt = -dL/dx
        need_x, need_t = self.needs_input_grad
        scale = 2 / max(self.diff.size, 1) if self.reduction == "mean" else 2
        gx = self.diff * (gl * scale)
        return (gx if need_x else None), (-gx if need_t else None)


def mse_loss(input, target, reduction="mean"):
    """The mean squared error of input against target (a Tensor, an array or a list of input's shape)."""
    if not isinstance(target, Tensor) and isinstance(input, Tensor):
        with backend.device_scope(input.data):       # a constant target, made on input's device
            target = Tensor(backend.array_module(input.data).asarray(target, dtype=input.dtype))
    checks.check_mse_loss(input, target, reduction)
    return MSELoss(reduction)(*promoted(input, target, "mse_loss"))   # dtypes as PyTorch promotes them
