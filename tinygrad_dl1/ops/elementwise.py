"""Elementwise arithmetic: + - * / neg, powers, exp, log; comparisons (no grad).

Binary ops broadcast as NumPy does; each gradient is summed back to its input's
exact shape with ``sum_to``.
"""
import numbers

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor


def sum_to(g, shape):
    """Sum a broadcast gradient ``g`` back to ``shape`` (undo NumPy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def lift(x, like, op):
    """``x`` as a Tensor beside the Tensor ``like``: Python scalars take ``like``'s float dtype."""
    if isinstance(x, Tensor):
        if x.device != like.device:
            raise RuntimeError(f"{op}: tensors on different devices ({like.device} and {x.device}); "
                               "move one with .to(device)")
        return x
    if isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, complex):
        xp = backend.array_module(like.data)
        floating = like.dtype.kind == "f" or isinstance(x, (float, np.floating))
        dtype = like.dtype if like.dtype.kind == "f" else (None if floating else like.dtype)
        return Tensor(xp.asarray(x, dtype=dtype))
    if backend.is_array(x):
        if backend.device_of(x) != like.device:
            raise RuntimeError(f"{op}: an array on {backend.device_of(x)} and a tensor on {like.device}")
        return Tensor(x)
    raise TypeError(f"unsupported operand types for {op}: Tensor and {type(x).__name__}")


def binary(fn, a, b, op):
    """Apply the binary Function ``fn`` to ``a`` and ``b`` (Tensors or scalars), checking shapes."""
    like = a if isinstance(a, Tensor) else b
    a, b = lift(a, like, op), lift(b, like, op)
    try:
        return fn(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
        raise


class Add(Function):
    def forward(self, a, b):            # y = a + b
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):             # dy/da = dy/db = 1
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):            # y = a - b
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):             # dy/da = 1, dy/db = -1
        ga = sum_to(gy, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = -sum_to(gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    def forward(self, a, b):            # y = a * b
        self.a, self.b = (a if self.needs_input_grad[1] else None), (b if self.needs_input_grad[0] else None)
        self.shapes = a.shape, b.shape
        return a * b

    def backward(self, gy):             # dy/da = b, dy/db = a
        ga = sum_to(gy * self.b, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(gy * self.a, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):            # y = a / b
        self.b = b
        self.y = a / b
        self.shapes = a.shape, b.shape
        return self.y

    def backward(self, gy):             # dy/da = 1 / b, dy/db = -a / b^2 = -y / b
        ga = sum_to(gy / self.b, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * self.y / self.b, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, x):               # y = -x
        return -x

    def backward(self, gy):             # dy/dx = -1
        return -gy


class Pow(Function):
    def __init__(self, p):
        self.p = p

    def forward(self, x):               # y = x^p
        self.x = x
        return x ** self.p

    def backward(self, gy):             # dy/dx = p * x^(p-1), and 0 for p = 0 (even at x = 0)
        if self.p == 0:
            return backend.array_module(gy).zeros_like(gy)
        return gy * self.p * self.x ** (self.p - 1)


class RPow(Function):
    def __init__(self, c):
        self.c = c

    def forward(self, x):               # y = c^x
        self.y = self.c ** x
        return self.y

    def backward(self, gy):             # dy/dx = c^x * ln(c)
        return gy * self.y * float(np.log(self.c))


class Exp(Function):
    def forward(self, x):               # y = e^x
        self.y = backend.array_module(x).exp(x)
        return self.y

    def backward(self, gy):             # dy/dx = e^x = y
        return gy * self.y


class Log(Function):
    def forward(self, x):               # y = ln(x)
        self.x = x
        return backend.array_module(x).log(x)

    def backward(self, gy):             # dy/dx = 1 / x
        return gy / self.x


def add(a, b):
    return binary(Add(), a, b, "add")


def sub(a, b):
    return binary(Sub(), a, b, "sub")


def mul(a, b):
    return binary(Mul(), a, b, "mul")


def div(a, b):
    return binary(Div(), a, b, "div")


def neg(x):
    return Neg()(x)


def _check_scalar(value, op, role):
    if isinstance(value, Tensor) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: the {role} must be a Python number, got {type(value).__name__} "
                        "(for a tensor exponent use exp(b * log(a)))")


def _python_number(value):
    """A NumPy scalar as a Python number, so that (as in PyTorch) it keeps a float32 tensor float32."""
    return value.item() if isinstance(value, np.generic) else value


def pow(x, p):
    """x ** p for a scalar exponent p."""
    _check_scalar(p, "pow", "exponent")
    return Pow(_python_number(p))(x)


def rpow(c, x):
    """c ** x for a positive scalar base c."""
    _check_scalar(c, "pow", "base")
    if c <= 0:
        raise ValueError(f"pow: a scalar base of a tensor exponent must be positive, got {c}")
    return RPow(_python_number(c))(x)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def compare(name, a, b):
    """A boolean tensor from NumPy's comparison ``name`` ('less', 'equal', ...); no gradient."""
    like = a if isinstance(a, Tensor) else b
    a, b = lift(a, like, name), lift(b, like, name)
    return Tensor(getattr(backend.array_module(a.data), name)(a.data, b.data))
