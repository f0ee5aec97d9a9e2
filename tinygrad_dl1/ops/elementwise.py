"""Elementwise arithmetic: + - * / neg, powers, exp, log, sqrt, abs, clamp, where; comparisons (no grad).

For y = f(a, b) applied entry by entry, the chain rule is one product per entry:
dL/da = dL/dy * dy/da. So each backward multiplies the incoming gradient gy by the
local derivative written beside it:

    y = a + b    dy/da = 1        dy/db = 1
    y = a - b    dy/da = 1        dy/db = -1
    y = a * b    dy/da = b        dy/db = a
    y = a / b    dy/da = 1 / b    dy/db = -a / b^2 = -y / b
    y = x^p      dy/dx = p x^(p-1)
    y = c^x      dy/dx = c^x ln(c) = y ln(c)
    y = e^x      dy/dx = e^x = y
    y = ln(x)    dy/dx = 1 / x
    y = sqrt(x)  dy/dx = 1 / (2 sqrt(x)) = 1 / (2 y)
    y = |x|      dy/dx = sign(x)  (0 at x = 0, as in PyTorch)
    y = clamp(x, lo, hi) = min(max(x, lo), hi)    dy/dx = 1 if lo <= x <= hi else 0
    y = where(c, a, b)   = a where c, else b      dy/da = c, dy/db = not c
    y = x cast to another dtype    dL/dx = dL/dy cast back

Binary ops broadcast as NumPy does: an input of shape (3,) added to one of shape
(2, 3) is used by both rows, so its gradient is the sum of both rows' gradients
(``sum_to``). Forward saves an array only when a gradient that needs it is wanted.

Dtypes follow PyTorch's promotion, not NumPy's: an integer (or boolean) tensor meets a
float as that float's dtype (``int64 + float32`` is float32, ``int + 0.5`` float32), and the
ops whose results are not integers (``/``, exp, log, a float power, a float base) make it
float32 first, PyTorch's default (NumPy would give float64).
"""
import numpy as np

from .. import backend, checks
from ..function import Function
from ..tensor import DEFAULT_FLOAT, Tensor


def sum_to(g, shape):
    """Sum a broadcast gradient ``g`` back to ``shape`` (undo NumPy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


class Add(Function):
    def forward(self, a, b):            # y = a + b
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, gy):             # dL/da = gy, dL/db = gy (each summed to its input's shape)
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy, self.a_shape) if need_a else None,
                sum_to(gy, self.b_shape) if need_b else None)


class Sub(Function):
    def forward(self, a, b):            # y = a - b
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, gy):             # dL/da = gy, dL/db = -gy
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy, self.a_shape) if need_a else None,
                -sum_to(gy, self.b_shape) if need_b else None)


class Mul(Function):
    def forward(self, a, b):            # y = a * b
        need_a, need_b = self.needs_input_grad
        self.a_shape, self.b_shape = a.shape, b.shape
        self.save_for_backward(b=b if need_a else None,   # dL/da = gy * b needs b
                               a=a if need_b else None)   # dL/db = gy * a needs a
        return a * b

    def backward(self, gy):             # dL/da = gy * b, dL/db = gy * a
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy * self.b, self.a_shape) if need_a else None,
                sum_to(gy * self.a, self.b_shape) if need_b else None)


class Div(Function):
    def forward(self, a, b):            # y = a / b
        need_a, need_b = self.needs_input_grad
        self.a_shape, self.b_shape = a.shape, b.shape
        y = a / b
        self.save_for_backward(b=b if need_a or need_b else None,   # dL/da = gy / b and dL/db = -gy * y / b need b
                               y=y if need_b else None)             # dL/db = -gy * y / b needs y
        return y

    def backward(self, gy):             # dL/da = gy / b, dL/db = -gy * a / b^2 = -gy * y / b
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy / self.b, self.a_shape) if need_a else None,
                sum_to(-gy * self.y / self.b, self.b_shape) if need_b else None)


class Neg(Function):
    def forward(self, x):               # y = -x
        return -x

    def backward(self, gy):             # dL/dx = -gy
        return -gy


class Pow(Function):
    def __init__(self, p):
        self.p = p

    def forward(self, x):               # y = x^p
        self.save_for_backward(x=x if self.needs_input_grad[0] else None)   # dL/dx = gy * p * x^(p-1) needs x
        return x ** self.p

    def backward(self, gy):             # dL/dx = gy * p * x^(p-1), and 0 for p = 0 (even at x = 0)
        if self.p == 0:
            return backend.array_module(gy).zeros_like(gy)
        return gy * self.p * self.x ** (self.p - 1)


class RPow(Function):
    def __init__(self, c):
        self.c = c

    def forward(self, x):               # y = c^x
        y = self.c ** x
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy * y * ln(c) needs y
        return y

    def backward(self, gy):             # dL/dx = gy * c^x * ln(c) = gy * y * ln(c)
        return gy * self.y * float(np.log(self.c))


class Exp(Function):
    def forward(self, x):               # y = e^x
        y = backend.array_module(x).exp(x)
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy * y needs y
        return y

    def backward(self, gy):             # dL/dx = gy * e^x = gy * y
        return gy * self.y


class Log(Function):
    def forward(self, x):               # y = ln(x)
        self.save_for_backward(x=x if self.needs_input_grad[0] else None)   # dL/dx = gy / x needs x
        return backend.array_module(x).log(x)

    def backward(self, gy):             # dL/dx = gy / x
        return gy / self.x


class Sqrt(Function):
    def forward(self, x):               # y = sqrt(x)
        y = backend.array_module(x).sqrt(x)
        self.save_for_backward(y=y if self.needs_input_grad[0] else None)   # dL/dx = gy / (2 y) needs y
        return y

    def backward(self, gy):             # dL/dx = gy / (2 sqrt(x)) = gy / (2 y)
        return gy / (2 * self.y)


class Abs(Function):
    def forward(self, x):               # y = |x|
        xp = backend.array_module(x)
        self.save_for_backward(sign=xp.sign(x) if self.needs_input_grad[0] else None)   # dL/dx = gy sign(x)
        return xp.abs(x)

    def backward(self, gy):             # dL/dx = gy * sign(x), 0 at x = 0
        return gy * self.sign


class Clamp(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high     # None: no bound on that side

    def forward(self, x):               # y = min(max(x, low), high)
        xp = backend.array_module(x)
        inside = xp.ones(x.shape, bool) if self.needs_input_grad[0] else None
        if self.low is not None:
            inside = None if inside is None else inside & (x >= self.low)
            x = xp.maximum(x, self.low)
        if self.high is not None:
            inside = None if inside is None else inside & (x <= self.high)
            x = xp.minimum(x, self.high)
        self.save_for_backward(inside=inside)   # dL/dx = gy where low <= x <= high needs where
        return x

    def backward(self, gy):             # dL/dx = gy if low <= x <= high else 0
        return gy * self.inside


class Where(Function):
    def __init__(self, condition):
        self.condition = condition      # a boolean array, a constant of the graph

    def forward(self, a, b):            # y = a where condition, else b (all three broadcast)
        self.a_shape, self.b_shape = a.shape, b.shape
        return backend.array_module(a).where(self.condition, a, b)

    def backward(self, gy):             # dL/da = gy where condition, dL/db = gy elsewhere
        xp, (need_a, need_b) = backend.array_module(gy), self.needs_input_grad
        return (sum_to(xp.where(self.condition, gy, 0), self.a_shape) if need_a else None,
                sum_to(xp.where(self.condition, 0, gy), self.b_shape) if need_b else None)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):               # y = x in another dtype
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):             # dL/dx = dL/dy in x's dtype
        return gy.astype(self.x_dtype)


def cast(x, dtype):
    """x as ``dtype`` (``x.float()``, ``x.double()``, ``x.to(dtype)``); gradients flow back in x's dtype."""
    checks.check_tensor(x, "cast")
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    return Cast(dtype)(x)


def as_floating(x):
    """x, or an integer or boolean x as float32 (PyTorch's default float), for the ops whose
    results are not integers. An integer tensor never requires grad, so no graph is needed."""
    if x.dtype.kind in "biu":
        with backend.device_scope(x.data):
            return Tensor(x.data.astype(DEFAULT_FLOAT))
    return x


def promoted(a, b, op):
    """(a, b) in the dtypes PyTorch computes ``a op b`` in: an integer or boolean operand beside a
    floating one becomes the floating one's dtype (NumPy would make int64 + float32 float64);
    ``/`` of two integers is float32."""
    a_float, b_float = a.dtype.kind == "f", b.dtype.kind == "f"
    if a_float and not b_float:
        return a, cast(b, a.dtype)
    if b_float and not a_float:
        return cast(a, b.dtype), b
    if op == "div" and not a_float:
        return as_floating(a), as_floating(b)
    return a, b


def operand_as_tensor(x, like, op):
    """The operand ``x`` (a Tensor, an array or a Python number) as a Tensor beside the Tensor ``like``:
    a number takes ``like``'s floating dtype (so ``0.5 * t`` keeps a float32 ``t`` float32)."""
    if not isinstance(x, Tensor):
        checks.check_operand(x, op)
        if not backend.is_array(x):     # a number: an array on like's device
            floating = like.dtype.kind == "f" or isinstance(x, (float, np.floating))
            dtype = like.dtype if like.dtype.kind == "f" else (DEFAULT_FLOAT if floating else like.dtype)
            with backend.device_scope(like.data):
                return Tensor(backend.array_module(like.data).asarray(x, dtype=dtype))
        x = Tensor(x)
    checks.check_same_device(op, (like, x))
    return x


def operands_as_tensors(a, b, op):
    """Both operands of a binary op as Tensors (see ``operand_as_tensor``); one must be a Tensor already."""
    like = checks.check_tensor(a if isinstance(a, Tensor) else b, op, "one operand")
    return operand_as_tensor(a, like, op), operand_as_tensor(b, like, op)


def apply_binary(function, a, b, op):
    """``function(a, b)`` for a binary Function, with either operand maybe a number or an array,
    and an error naming both shapes when they do not broadcast."""
    a, b = promoted(*operands_as_tensors(a, b, op), op)
    try:
        return function(a, b)
    except ValueError:
        checks.check_broadcastable(a.shape, b.shape, op)   # the clearer message, when the shapes are the cause
        raise


def add(a, b):
    return apply_binary(Add(), a, b, "add")


def sub(a, b):
    return apply_binary(Sub(), a, b, "sub")


def mul(a, b):
    return apply_binary(Mul(), a, b, "mul")


def div(a, b):
    return apply_binary(Div(), a, b, "div")


def neg(x):
    return Neg()(checks.check_tensor(x, "neg"))


def _python_number(value):
    """A NumPy scalar as a Python number, so that (as in PyTorch) it keeps a float32 tensor float32."""
    return value.item() if isinstance(value, np.generic) else value


def pow(x, p):
    """x ** p for a scalar exponent p."""
    checks.check_tensor(x, "pow")
    checks.check_exponent(p)
    p = _python_number(p)
    return Pow(p)(as_floating(x) if isinstance(p, float) else x)   # int ** 0.5 is float32, int ** 2 an int


def rpow(c, x):
    """c ** x for a positive scalar base c."""
    checks.check_tensor(x, "pow", "exponent")
    checks.check_base(c)
    c = _python_number(c)
    return RPow(c)(as_floating(x) if isinstance(c, float) else x)   # 0.7 ** int is float32, 2 ** int an int


def exp(x):
    return Exp()(as_floating(checks.check_tensor(x, "exp")))


def log(x):
    return Log()(as_floating(checks.check_tensor(x, "log")))


def compare(name, a, b):
    """A boolean tensor from NumPy's comparison ``name`` ('less', 'equal', ...); no gradient."""
    a, b = operands_as_tensors(a, b, name)
    with backend.device_scope(a.data):
        return Tensor(getattr(backend.array_module(a.data), name)(a.data, b.data))


def sqrt(x):
    return Sqrt()(as_floating(checks.check_tensor(x, "sqrt")))


def abs(x):
    return Abs()(checks.check_tensor(x, "abs"))


def clamp(x, min=None, max=None):
    """x limited to [min, max] (either bound may be None), PyTorch's clamp; the gradient passes where
    min <= x <= max."""
    checks.check_tensor(x, "clamp")
    low, high = checks.check_clamp_bounds(min, max)
    floating = isinstance(low, float) or isinstance(high, float)
    return Clamp(low, high)(as_floating(x) if floating else x)   # int clamped to 0.5 is float32


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (PyTorch's torch.where): condition a boolean
    Tensor or array, input and other Tensors or numbers, all three broadcast together."""
    a, b = promoted(*operands_as_tensors(input, other, "where"), "where")
    condition = checks.check_condition(condition, a, "where")
    try:
        return Where(condition)(a, b)
    except ValueError:                  # the clearer message, when the shapes are the cause
        checks.check_broadcastable(a.shape, b.shape, "where")
        checks.check_broadcastable(np.broadcast_shapes(a.shape, b.shape), condition.shape, "where")
        raise
