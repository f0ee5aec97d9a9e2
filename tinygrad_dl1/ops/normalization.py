"""Batch normalization, two ways: one op with a backward derived by hand (``batch_norm``) and
the same formula composed of primitive ops, whose backward autograd derives
(``batch_norm_composed``, the teaching version). Both give the same values and gradients.

Statistics are per channel (axis 1), taken over the batch and any spatial axes, so inputs
of shape (N, C), (N, C, L) and (N, C, H, W) all work. In training mode the batch's
statistics normalise and, when given, ``running_mean`` / ``running_var`` are updated in
place; in eval mode the running statistics normalise.

With N entries per channel, mu and sigma^2 = var + eps their mean and variance (training mode):

    x_hat = (x - mu) / sigma        y = gamma * x_hat + beta
    dL/dbeta  = sum(dy)             dL/dgamma = sum(dy * x_hat)
    dL/dx     = gamma / (N sigma) * (N dy - sum(dy) - x_hat * sum(dy * x_hat))

(the last two terms are the paths through mu and through sigma). In eval mode mu and
sigma are constants and dL/dx = gamma / sigma * dy.
"""
from .. import backend, checks, kernels
from ..function import Function
from ..tensor import Tensor


class BatchNorm(Function):
    def __init__(self, axes, running_mean, running_var, training, momentum, eps):
        self.axes, self.training, self.eps = axes, training, eps
        self.running_mean, self.running_var, self.momentum = running_mean, running_var, momentum

    def forward(self, x, gamma, beta):  # y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps)
        shape = channel_shape(x)
        if self.training:
            mu = x.mean(axis=self.axes, keepdims=True)
            centred = x - mu
            centred *= centred
            var = centred.mean(axis=self.axes, keepdims=True)        # biased: divides by N
            if self.running_mean is not None:
                update_running_stats(self.running_mean, self.running_var, mu, var, entries_per_channel(x),
                                     self.momentum)
        else:
            mu = self.running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = self.running_var.reshape(shape).astype(x.dtype)     # a copy: backward may need it as it is now
        # the kernel wants one dtype: the per-channel parameters take x's (no copy when they have it)
        gamma, beta = (p.reshape(shape).astype(x.dtype, copy=False) for p in (gamma, beta))
        y, x_hat = map(channels_first, BATCH_NORM(*map(channels_last, (x, mu, var, gamma, beta)), self.eps))
        need_x, need_gamma, _ = self.needs_input_grad
        # dL/dgamma = sum(dy * x_hat) needs x_hat, and so does dL/dx in training mode
        self.x_hat = x_hat if need_gamma or (need_x and self.training) else None
        self.var, self.gamma = (var, gamma) if need_x else (None, None)     # dL/dx needs gamma / sigma
        self.running_mean = self.running_var = None          # already updated; backward needs neither
        return y

    def backward(self, gy):
        need_x, need_gamma, need_beta = self.needs_input_grad
        sum_dy = gy.sum(axis=self.axes, keepdims=True)
        sum_dy_xhat = None if self.x_hat is None else (gy * self.x_hat).sum(axis=self.axes, keepdims=True)
        gx = None
        if need_x and self.training:
            arrays = map(channels_last, (gy, self.x_hat, self.var, self.gamma))
            gx = channels_first(BATCH_NORM_BACKWARD(*arrays, self.eps, *map(channels_last, (sum_dy, sum_dy_xhat)),
                                                    entries_per_channel(gy)))
        elif need_x:
            gx = self.gamma / backend.array_module(gy).sqrt(self.var + self.eps) * gy   # eval: dx = gamma / sigma * dy
        ggamma = sum_dy_xhat.reshape(-1) if need_gamma else None  # dgamma = sum(dy * x_hat)
        gbeta = sum_dy.reshape(-1) if need_beta else None         # dbeta = sum(dy)
        return gx, ggamma, gbeta


def batch_norm_twin(x, mu, var, gamma, beta, eps):
    """BATCH_NORM with array ops: (y, x_hat)."""
    inv_sigma = 1 / backend.array_module(x).sqrt(var + eps)
    x_hat = (x - mu) * inv_sigma
    return x_hat * gamma + beta, x_hat


BATCH_NORM = kernels.Kernel(
    "batch_norm", "T x, T mu, T var, T gamma, T beta, T eps", "T y, T x_hat",
    """
    x_hat = (x - mu) * (1 / sqrt(var + eps));
    y = x_hat * gamma + beta;
    """, twin=batch_norm_twin)


def batch_norm_backward_twin(gy, x_hat, var, gamma, eps, sum_dy, sum_dy_xhat, count):
    """BATCH_NORM_BACKWARD with array ops: dx = gamma / (N sigma) * (N dy - sum(dy) - x_hat * sum(dy * x_hat)),
    N = ``count``, the entries per channel."""
    scale = gamma / (count * backend.array_module(gy).sqrt(var + eps))     # per channel
    return scale * (count * gy - sum_dy - x_hat * sum_dy_xhat)


BATCH_NORM_BACKWARD = kernels.Kernel(
    "batch_norm_backward", "T gy, T x_hat, T var, T gamma, T eps, T sum_dy, T sum_dy_xhat, T count", "T gx",
    "gx = gamma / (count * sqrt(var + eps)) * (count * gy - sum_dy - x_hat * sum_dy_xhat);",
    twin=batch_norm_backward_twin)


def channel_shape(x):
    """(1, C, 1, ...): a per-channel vector's shape for broadcasting against ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def channels_last(a):
    """An (N, H, W, C) view of an (N, C, H, W) array, other shapes as they are: the fused kernels write
    their outputs in this order, so that their 4-D results are channels-last, as conv2d wants them."""
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def channels_first(a):
    """The inverse of ``channels_last``."""
    return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a


def entries_per_channel(x):
    return x.size // x.shape[1]


def update_running_stats(running_mean, running_var, mean, var, n, momentum):
    """running = (1 - momentum) * running + momentum * batch, in place; the variance unbiased: var * n / (n - 1)."""
    RUNNING_STATS(mean.reshape(-1), var.reshape(-1), momentum, n / (n - 1), running_mean, running_var)


def running_stats_twin(mean, var, momentum, unbias, running_mean, running_var):
    """RUNNING_STATS with array ops."""
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * unbias) * var
    return running_mean, running_var


RUNNING_STATS = kernels.Kernel(
    "running_stats", "T mean, T var, float64 momentum, float64 unbias", "R running_mean, R running_var",
    """
    running_mean = (1 - momentum) * running_mean + momentum * mean;
    running_var = (1 - momentum) * running_var + momentum * unbias * var;
    """, twin=running_stats_twin)


def reduced_axes(x):
    """The axes a channel's statistics run over: the batch axis and any spatial axes, all but axis 1."""
    return (0,) + tuple(range(2, x.ndim))


def batch_norm(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """Batch normalization as one op with a hand-derived backward (see the module's docstring)."""
    running_mean, running_var = checks.check_batch_norm(x, gamma, beta, running_mean, running_var, training,
                                                         momentum, eps, "batch_norm")
    return BatchNorm(reduced_axes(x), running_mean, running_var, training, momentum, eps)(x, gamma, beta)


def batch_norm_composed(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1,
                        eps=1e-5):
    """Batch normalization composed of primitive ops (mean, sub, mul, pow, add), so autograd derives
    the backward. The teaching version of ``batch_norm``: same values and gradients, more memory and time."""
    running_mean, running_var = checks.check_batch_norm(x, gamma, beta, running_mean, running_var, training,
                                                         momentum, eps, "batch_norm_composed")
    axes, shape = reduced_axes(x), channel_shape(x)
    if training:
        mu = x.mean(axis=axes, keepdims=True)
        centred = x - mu
        var = (centred * centred).mean(axis=axes, keepdims=True)
        if running_mean is not None:
            with backend.device_scope(x.data):   # in place, on the statistics' GPU
                update_running_stats(running_mean, running_var, mu.data, var.data, entries_per_channel(x), momentum)
    else:
        with backend.device_scope(x.data):       # the running statistics as constants of x's dtype
            mu = Tensor(running_mean.reshape(shape), dtype=x.dtype)
            var = Tensor(running_var.reshape(shape), dtype=x.dtype)
        centred = x - mu
    x_hat = centred * (var + eps) ** -0.5
    return x_hat * gamma.reshape(shape) + beta.reshape(shape)
