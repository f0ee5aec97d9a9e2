"""Batch norm in fused kernels: the normalisation (BATCH_NORM), the input's gradient
(BATCH_NORM_BACKWARD) and the running statistics' update (RUNNING_STATS), one launch each on a
GPU instead of a dozen array ops. The per-channel sums of the backward stay array reductions.

The kernels write 4-D results channels-last, (N, H, W, C), as conv2d wants them; on a CPU the
same formulas run as array ops.
"""
from .. import backend
from ..ops.im2col import channels_first, channels_last
from ..ops.normalization import BatchNorm, channel_shape, entries_per_channel
from . import register
from .kernel import Kernel


def batch_norm_on_cpu(x, mu, var, gamma, beta, eps):
    """BATCH_NORM with array ops: (y, x_hat)."""
    inv_sigma = 1 / backend.array_module(x).sqrt(var + eps)
    x_hat = (x - mu) * inv_sigma
    return x_hat * gamma + beta, x_hat


BATCH_NORM = Kernel(
    "batch_norm", "T x, T mu, T var, T gamma, T beta, T eps", "T y, T x_hat",
    """
    x_hat = (x - mu) * (1 / sqrt(var + eps));
    y = x_hat * gamma + beta;
    """, cpu=batch_norm_on_cpu)


def batch_norm_backward_on_cpu(gy, x_hat, var, gamma, eps, sum_dy, sum_dy_xhat, count):
    """BATCH_NORM_BACKWARD with array ops: dx = gamma / (N sigma) * (N dy - sum(dy) - x_hat * sum(dy * x_hat)),
    N = ``count``, the entries per channel."""
    scale = gamma / (count * backend.array_module(gy).sqrt(var + eps))     # per channel
    return scale * (count * gy - sum_dy - x_hat * sum_dy_xhat)


BATCH_NORM_BACKWARD = Kernel(
    "batch_norm_backward", "T gy, T x_hat, T var, T gamma, T eps, T sum_dy, T sum_dy_xhat, T count", "T gx",
    "gx = gamma / (count * sqrt(var + eps)) * (count * gy - sum_dy - x_hat * sum_dy_xhat);",
    cpu=batch_norm_backward_on_cpu)


def running_stats_on_cpu(mean, var, momentum, unbias, running_mean, running_var):
    """RUNNING_STATS with array ops, in place."""
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * unbias) * var
    return running_mean, running_var


# Stat: the dtype of the running statistics, which may differ from the batch's (float32 buffers, float64 data)
RUNNING_STATS = Kernel(
    "running_stats", "T mean, T var, float64 momentum, float64 unbias", "Stat running_mean, Stat running_var",
    """
    running_mean = (1 - momentum) * running_mean + momentum * mean;
    running_var = (1 - momentum) * running_var + momentum * unbias * var;
    """, cpu=running_stats_on_cpu)


def batch_norm_forward(op, x, gamma, beta):
    """BatchNorm.forward with the normalisation and the running statistics' update in one kernel each."""
    shape = channel_shape(x)
    if op.training:
        mu = x.mean(axis=op.axes, keepdims=True)
        centred = x - mu
        centred *= centred
        var = centred.mean(axis=op.axes, keepdims=True)       # biased: divides by N
        if op.running_mean is not None:
            n = entries_per_channel(x)
            RUNNING_STATS(mu.reshape(-1), var.reshape(-1), op.momentum, n / (n - 1), op.running_mean, op.running_var)
    else:
        mu = op.running_mean.reshape(shape).astype(x.dtype, copy=False)
        var = op.running_var.reshape(shape).astype(x.dtype)
    gamma, beta = (p.reshape(shape).astype(x.dtype, copy=False) for p in (gamma, beta))   # the kernel: one dtype
    y, x_hat = map(channels_first, BATCH_NORM(*map(channels_last, (x, mu, var, gamma, beta)), op.eps))
    need_x, need_gamma, _ = op.needs_input_grad
    op.save_for_backward(x_hat=x_hat if need_gamma or (need_x and op.training) else None,
                         var=var if need_x else None, gamma=gamma if need_x else None)
    op.running_mean = op.running_var = None
    return y


def batch_norm_backward(op, gy):
    """BatchNorm.backward with dL/dx in one kernel (training mode; eval mode's is one product)."""
    if not (op.training and op.needs_input_grad[0]):
        return op.backward(gy)
    sum_dy = gy.sum(axis=op.axes, keepdims=True)
    sum_dy_xhat = (gy * op.x_hat).sum(axis=op.axes, keepdims=True)
    arrays = map(channels_last, (gy, op.x_hat, op.var, op.gamma, sum_dy, sum_dy_xhat))
    gy_cl, x_hat, var, gamma, sum_dy_cl, sum_dy_xhat_cl = arrays
    gx = channels_first(BATCH_NORM_BACKWARD(gy_cl, x_hat, var, gamma, op.eps, sum_dy_cl, sum_dy_xhat_cl,
                                            entries_per_channel(gy)))
    _, need_gamma, need_beta = op.needs_input_grad
    return gx, sum_dy_xhat.reshape(-1) if need_gamma else None, sum_dy.reshape(-1) if need_beta else None


register(BatchNorm, forward=batch_norm_forward, backward=batch_norm_backward)
