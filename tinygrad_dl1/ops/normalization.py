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
from .. import backend, checks
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
            var = ((x - mu) ** 2).mean(axis=self.axes, keepdims=True)      # biased: divides by N
            if self.running_mean is not None:
                update_running_stats(self.running_mean, self.running_var, mu, var, entries_per_channel(x),
                                     self.momentum)
        else:
            mu = self.running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = self.running_var.reshape(shape).astype(x.dtype)     # a copy: backward may need it as it is now
        gamma, beta = (p.reshape(shape).astype(x.dtype, copy=False) for p in (gamma, beta))
        x_hat = (x - mu) / backend.array_module(x).sqrt(var + self.eps)
        need_x, need_gamma, _ = self.needs_input_grad
        self.save_for_backward(
            # dL/dgamma = sum(dy * x_hat) needs x_hat, and so does dL/dx in training mode
            x_hat=x_hat if need_gamma or (need_x and self.training) else None,
            var=var if need_x else None, gamma=gamma if need_x else None)      # dL/dx needs gamma / sigma
        self.running_mean = self.running_var = None          # already updated; backward needs neither
        return gamma * x_hat + beta

    def backward(self, gy):
        need_x, need_gamma, need_beta = self.needs_input_grad
        sum_dy = gy.sum(axis=self.axes, keepdims=True)
        sum_dy_xhat = None if self.x_hat is None else (gy * self.x_hat).sum(axis=self.axes, keepdims=True)
        gx = None
        if need_x:
            sigma = backend.array_module(gy).sqrt(self.var + self.eps)
            if self.training:           # dx = gamma / (N sigma) * (N dy - sum(dy) - x_hat * sum(dy * x_hat))
                n = entries_per_channel(gy)
                gx = self.gamma / (n * sigma) * (n * gy - sum_dy - self.x_hat * sum_dy_xhat)
            else:                       # eval: mu and sigma are constants, dx = gamma / sigma * dy
                gx = self.gamma / sigma * gy
        ggamma = sum_dy_xhat.reshape(-1) if need_gamma else None  # dgamma = sum(dy * x_hat)
        gbeta = sum_dy.reshape(-1) if need_beta else None         # dbeta = sum(dy)
        return gx, ggamma, gbeta


def channel_shape(x):
    """(1, C, 1, ...): a per-channel vector's shape for broadcasting against ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def entries_per_channel(x):
    return x.size // x.shape[1]


def update_running_stats(running_mean, running_var, mean, var, n, momentum):
    """running = (1 - momentum) * running + momentum * batch, in place; the variance unbiased: var * n / (n - 1)."""
    running_mean[...] = (1 - momentum) * running_mean + momentum * mean.reshape(-1)
    running_var[...] = (1 - momentum) * running_var + momentum * (n / (n - 1)) * var.reshape(-1)


def reduced_axes(x):
    """The axes a channel's statistics run over: the batch axis and any spatial axes, all but axis 1."""
    return (0,) + tuple(range(2, x.ndim))


def batch_norm(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """Batch normalization as one op with a hand-derived backward (see the module's docstring)."""
    checks.check_same_dtype("batch_norm", (("the input", x), ("gamma", gamma), ("beta", beta)))
    running_mean, running_var = checks.check_batch_norm(x, gamma, beta, running_mean, running_var, training,
                                                         momentum, eps, "batch_norm")
    return BatchNorm(reduced_axes(x), running_mean, running_var, training, momentum, eps)(x, gamma, beta)


def batch_norm_composed(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1,
                        eps=1e-5):
    """Batch normalization composed of primitive ops (mean, sub, mul, pow, add), so autograd derives
    the backward. The teaching version of ``batch_norm``: same values and gradients, more memory and time."""
    checks.check_same_dtype("batch_norm_composed", (("the input", x), ("gamma", gamma), ("beta", beta)))
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
