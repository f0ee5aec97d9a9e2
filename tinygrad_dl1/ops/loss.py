"""Softmax cross-entropy with a fused backward: d loss / d logits = (softmax - target) / N."""
from .. import backend
from ..function import Function
from ..tensor import Tensor
from .activation import stable_log_softmax


class CrossEntropyIndex(Function):
    """Mean over the batch of -log softmax(logits)[n, target[n]], target as class indices."""

    def __init__(self, target):
        self.target = target

    def forward(self, logits):          # L = -1/N sum_n log p[n, t_n]
        xp = backend.array_module(logits)
        logp = stable_log_softmax(logits, axis=1)
        rows = xp.arange(len(logits))
        self.p = xp.exp(logp)
        return -logp[rows, self.target].mean()

    def backward(self, gl):             # dL/dlogits = (p - onehot(t)) / N
        xp = backend.array_module(gl)
        g = self.p.copy()
        g[xp.arange(len(g)), self.target] -= 1
        return g * (gl / len(g))


class CrossEntropyProb(Function):
    """Mean over the batch of -sum_c target[n, c] log softmax(logits)[n, c]."""

    def forward(self, logits, target):  # L = -1/N sum_n sum_c t_nc log p_nc
        self.logp = stable_log_softmax(logits, axis=1)
        self.target = target
        return -(target * self.logp).sum(axis=1).mean()

    def backward(self, gl):             # dL/dlogits = (p * sum_c t_c - t) / N, dL/dt = -log p / N
        n = len(self.logp)
        xp = backend.array_module(gl)
        ga = gt = None
        if self.needs_input_grad[0]:
            total = self.target.sum(axis=1, keepdims=True)   # 1 for probability targets
            ga = (xp.exp(self.logp) * total - self.target) * (gl / n)
        if self.needs_input_grad[1]:
            gt = -self.logp * (gl / n)
        return ga, gt


def cross_entropy(logits, target):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or probabilities (N, C)."""
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}")
    n, c = logits.shape
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if target.shape != logits.shape:
            raise ValueError(f"cross_entropy: probability target of shape {target.shape} does not "
                             f"match logits of shape {logits.shape}")
        return CrossEntropyProb()(logits, target)
    xp = backend.array_module(logits.data)
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind == "f":
        return cross_entropy(logits, Tensor(t, dtype=logits.dtype))
    if t.dtype.kind not in "iu" or t.shape != (n,):
        raise ValueError(f"cross_entropy: target must be class indices of shape ({n},) or "
                         f"probabilities of shape {logits.shape}, got dtype {t.dtype} shape {t.shape}")
    if backend.array_module(t) is not xp:
        raise RuntimeError(f"cross_entropy: target on {backend.device_of(t)}, logits on {logits.device}")
    if n and (int(t.min()) < 0 or int(t.max()) >= c):
        raise ValueError(f"cross_entropy: class indices must lie in [0, {c}), got values in "
                         f"[{int(t.min())}, {int(t.max())}]")
    return CrossEntropyIndex(t)(logits)
