"""Tensors made from a shape, under PyTorch's names: zeros, ones, full, arange, rand, randn, zeros_like,
ones_like. Floating ones are float32 unless asked otherwise, as in PyTorch; rand and randn draw from the
generator that ``manual_seed`` seeds (``tinygrad_dl1.rng``), or from ``generator=``."""
import numpy as np

from . import checks, rng
from .tensor import Tensor


def _shape(size, op):
    """``size`` given as ints or as one tuple or list of ints, checked."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    if not all(checks.is_int(n) and n >= 0 for n in shape):
        raise ValueError(f"{op}: a size must be ints >= 0, got {shape}")
    return tuple(int(n) for n in shape)


def _made(array, dtype, device, requires_grad):
    return Tensor(array, requires_grad=requires_grad, dtype=np.float32 if dtype is None else dtype, device=device)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _made(np.zeros(_shape(size, "zeros")), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _made(np.ones(_shape(size, "ones")), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere: int64 for an int, bool for a bool, float32 for a float (PyTorch's dtypes)."""
    if dtype is None and isinstance(fill_value, (bool, int, np.integer, np.bool_)):
        dtype = np.bool_ if isinstance(fill_value, (bool, np.bool_)) else np.int64
    return _made(np.full(_shape((size,), "full"), fill_value), dtype, device, requires_grad)


def zeros_like(x, dtype=None, requires_grad=False):
    return zeros(x.shape, dtype=x.dtype if dtype is None else dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return ones(x.shape, dtype=x.dtype if dtype is None else dtype, device=x.device, requires_grad=requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform in [0, 1)."""
    generator = rng.default_generator() if generator is None else generator
    return _made(generator.random(_shape(size, "rand")), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal."""
    generator = rng.default_generator() if generator is None else generator
    return _made(generator.standard_normal(_shape(size, "randn")), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... below end (0 to start with one argument); int64 from ints, float32 otherwise."""
    start, end = (0, start) if end is None else (start, end)
    for name, value in (("start", start), ("end", end), ("step", step)):
        checks.check_finite(value, name, "arange")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    values = np.arange(start, end, step)
    if dtype is None and values.dtype.kind == "i":
        dtype = np.int64
    return _made(values, dtype, device, requires_grad)
