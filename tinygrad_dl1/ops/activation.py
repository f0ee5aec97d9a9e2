"""Activations: relu, leaky_relu, softmax, log_softmax (both stable for huge logits)."""
from .. import backend
from ..function import Function


def stable_log_softmax(x, axis):
    """log softmax(x) = (x - m) - log(sum(exp(x - m))), with m = max(x): exp never overflows."""
    xp = backend.array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class ReLU(Function):
    def forward(self, x):               # y = max(x, 0)
        self.mask = x > 0
        return backend.array_module(x).maximum(x, 0)   # not x * mask: -inf * 0 is nan, -2 * 0 is -0.0

    def backward(self, gy):             # dy/dx = 1 if x > 0 else 0
        return gy * self.mask


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.slope = negative_slope

    def forward(self, x):               # y = x if x > 0 else slope * x
        xp = backend.array_module(x)
        self.mask = x > 0
        return xp.where(self.mask, x, x * self.slope)

    def backward(self, gy):             # dy/dx = 1 if x > 0 else slope
        xp = backend.array_module(gy)
        return xp.where(self.mask, gy, gy * self.slope)


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):               # y_i = exp(x_i) / sum_j exp(x_j)
        self.y = backend.array_module(x).exp(stable_log_softmax(x, self.axis))
        return self.y

    def backward(self, gy):             # dx_i = y_i * (gy_i - sum_j gy_j y_j)
        return self.y * (gy - (gy * self.y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):               # y_i = x_i - log sum_j exp(x_j)
        self.y = stable_log_softmax(x, self.axis)
        return self.y

    def backward(self, gy):             # dx_i = gy_i - softmax_i * sum_j gy_j
        xp = backend.array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def _check_axis(x, axis, op):
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of shape {x.shape}")


def relu(x):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(float(negative_slope))(x)   # a NumPy float64 slope would upcast float32


def softmax(x, axis=-1):
    _check_axis(x, axis, "softmax")
    return Softmax(axis)(x)


def log_softmax(x, axis=-1):
    _check_axis(x, axis, "log_softmax")
    return LogSoftmax(axis)(x)
