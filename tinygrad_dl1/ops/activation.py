"""Activations: relu, leaky_relu, tanh, sigmoid, softmax, log_softmax (all stable for huge inputs).

    relu(x)          = max(x, 0)                 d/dx = 1 if x > 0 else 0
    leaky_relu(x)    = x if x > 0 else s * x     d/dx = 1 if x > 0 else s
    tanh(x)          = (e^x - e^-x) / (e^x + e^-x)   d/dx = 1 - tanh(x)^2
    sigmoid(x)       = 1 / (1 + e^-x)            d/dx = sigmoid(x) (1 - sigmoid(x))
    softmax(x)_i     = e^(x_i) / sum_j e^(x_j)   dy_i/dx_k = y_i (delta_ik - y_k)
    log_softmax(x)_i = x_i - log sum_j e^(x_j)   dy_i/dx_k = delta_ik - softmax(x)_k

Softmax's Jacobian is never built: dL/dx_k = sum_i gy_i y_i (delta_ik - y_k)
= y_k (gy_k - sum_i gy_i y_i), one product and one sum. Both are computed with the
largest entry subtracted first (softmax(x) = softmax(x - m)), so exp never overflows;
sigmoid takes e^-|x| only (at most 1), and writes 1 / (1 + z) or z / (1 + z) by the sign of x.
"""
from .. import backend, checks
from ..function import Function
from .elementwise import as_floating


def stable_log_softmax(x, axis):
    """log softmax(x) = (x - m) - log(sum(exp(x - m))), with m = max(x): exp never overflows."""
    xp = backend.array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class ReLU(Function):
    def forward(self, x):               # y = max(x, 0)
        self.save_for_backward(positive=x > 0 if self.needs_input_grad[0] else None)   # dL/dx = gy where x > 0
        return backend.array_module(x).maximum(x, 0)   # not x * mask: -inf * 0 is nan, -2 * 0 is -0.0

    def backward(self, gy):             # dL/dx = gy if x > 0 else 0
        return gy * self.positive


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.slope = negative_slope

    def forward(self, x):               # y = x if x > 0 else slope * x
        positive = x > 0
        self.save_for_backward(positive=positive if self.needs_input_grad[0] else None)   # dL/dx needs where x > 0
        return backend.array_module(x).where(positive, x, x * self.slope)

    def backward(self, gy):             # dL/dx = gy if x > 0 else slope * gy
        return backend.array_module(gy).where(self.positive, gy, gy * self.slope)


class Tanh(Function):
    def forward(self, x):               # y = tanh(x)
        y = backend.array_module(x).tanh(x)
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy (1 - y^2) needs y
        return y

    def backward(self, gy):             # dL/dx = gy * (1 - y^2)
        return gy * (1 - self.y * self.y)


class Sigmoid(Function):
    def forward(self, x):               # y = 1 / (1 + e^-x), computed from z = e^-|x| <= 1: no overflow
        xp = backend.array_module(x)
        z = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + z), z / (1 + z))
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy y (1 - y) needs y
        return y

    def backward(self, gy):             # dL/dx = gy * y * (1 - y)
        return gy * self.y * (1 - self.y)


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):               # y_i = e^(x_i) / sum_j e^(x_j)
        y = backend.array_module(x).exp(stable_log_softmax(x, self.axis))
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = y * (gy - sum(gy * y)) needs y
        return y

    def backward(self, gy):             # dL/dx_i = y_i * (gy_i - sum_j gy_j y_j)
        return self.y * (gy - (gy * self.y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):               # y_i = x_i - log sum_j e^(x_j)
        y = stable_log_softmax(x, self.axis)
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy - e^y * sum(gy) needs y
        return y

    def backward(self, gy):             # dL/dx_i = gy_i - softmax_i * sum_j gy_j, softmax = e^y
        return gy - backend.array_module(gy).exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x):
    return ReLU()(checks.check_tensor(x, "relu"))


def leaky_relu(x, negative_slope=0.01):
    checks.check_tensor(x, "leaky_relu")
    slope = checks.check_finite(negative_slope, "negative_slope", "leaky_relu")   # a float: NumPy's float64 upcasts
    return LeakyReLU(slope)(x)


def _softmax_dim(op, dim, axis, ndim):
    """softmax's dim (PyTorch's name), or its alias axis, checked."""
    if axis is not None:
        if dim != -1:
            raise TypeError(f"{op}: got both dim={dim!r} and its alias axis={axis!r}; pass one")
        dim = axis
    return checks.check_axis(dim, ndim, op)


def softmax(x, dim=-1, *, axis=None):
    checks.check_tensor(x, "softmax")
    checks.check_floating(x, "softmax", "as in PyTorch; x.float().softmax(dim) for an integer x")
    return Softmax(_softmax_dim("softmax", dim, axis, x.ndim))(x)


def log_softmax(x, dim=-1, *, axis=None):
    checks.check_tensor(x, "log_softmax")
    checks.check_floating(x, "log_softmax", "as in PyTorch; x.float().log_softmax(dim) for an integer x")
    return LogSoftmax(_softmax_dim("log_softmax", dim, axis, x.ndim))(x)


def tanh(x):
    return Tanh()(as_floating(checks.check_tensor(x, "tanh")))     # an integer x becomes float32


def sigmoid(x):
    return Sigmoid()(as_floating(checks.check_tensor(x, "sigmoid")))
