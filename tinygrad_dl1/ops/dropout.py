"""Inverted dropout: zero each entry with probability p and scale the kept ones by 1 / (1 - p),
so the expected output equals the input and evaluation needs no rescaling."""
import numbers

from .. import backend, rng
from ..function import Function


class Dropout(Function):
    def __init__(self, mask):
        self.mask = mask                # 1 / (1 - p) where an entry is kept, 0 where it is dropped

    def forward(self, x):               # y = x * mask / (1 - p)
        return x * self.mask

    def backward(self, gy):             # dx = dy * mask / (1 - p)
        return gy * self.mask


def check_probability(p, op):
    """``p`` if it is a number in [0, 1]; a ValueError naming ``op`` otherwise."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")
    return p


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout of ``x``; the identity when ``training`` is False or p is 0.

    The mask is drawn on the CPU from ``generator`` (a NumPy Generator; by default
    ``tinygrad_dl1.rng.default_generator()``), so a seed gives the same mask on every device.
    """
    check_probability(p, "dropout")
    if not training or p == 0:
        return x
    xp = backend.array_module(x.data)
    if p == 1:
        return Dropout(xp.zeros(x.shape, x.dtype))(x)
    generator = rng.default_generator() if generator is None else generator
    keep = generator.random(x.shape) >= p                    # kept with probability 1 - p
    mask = backend.to_device(keep.astype(x.dtype) * x.dtype.type(1 / (1 - p)), x.device)
    return Dropout(mask)(x)
