"""Inverted dropout: zero each entry with probability p and scale the kept ones by 1 / (1 - p),
so the expected output equals the input and evaluation needs no rescaling.

    y = x * m,   m = 1 / (1 - p) where an entry is kept, 0 where it is dropped
    dL/dx = dL/dy * m

The mask m comes from two keys drawn before the op runs and given to it: an entry is dropped
when its 32 random bits (``rng.keyed_bits``: a hash of the entry's index and the keys), read as
an integer, fall below p * 2^32. So the op itself is a fixed elementwise product, and a gradient
check sees the same mask on every call.
"""
import numpy as np

from .. import backend, checks, rng
from ..function import Function


class Dropout(Function):
    def __init__(self, p, keys):
        self.p, self.keys = p, keys
        self.threshold = np.uint32(min(round(p * 2 ** 32), 2 ** 32 - 1))   # P(bits < threshold) = p

    def forward(self, x):               # y = x * mask
        if self.p == 1:                 # every entry dropped
            mask = backend.array_module(x).zeros_like(x)
        else:
            kept = rng.keyed_bits(x.shape, *self.keys, like=x) >= self.threshold    # with probability 1 - p
            mask = kept * x.dtype.type(1 / (1 - self.p))
        self.save_for_backward(mask=mask)                   # dL/dx = gy * mask needs the mask
        return x * mask

    def backward(self, gy):             # dL/dx = gy * mask
        return gy * self.mask


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout of ``x``; the identity when ``training`` is False or p is 0.

    The mask is made where ``x`` lives, from two keys drawn on the host from ``generator`` (a
    NumPy Generator; by default ``tinygrad_dl1.rng.default_generator()``): the same keys give
    the same mask on every device, and nothing is copied to or from a GPU.
    """
    checks.check_tensor(x, "dropout")
    checks.check_probability(p, "dropout")
    if not training or p == 0:
        return x
    checks.check_floating(x, "dropout", "the kept entries are scaled by 1 / (1 - p)")
    rng.check_hash_size(x.shape)
    return Dropout(p, rng.draw_keys(generator))(x)
