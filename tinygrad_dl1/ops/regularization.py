"""Inverted dropout: zero each entry with probability p and scale the kept ones by 1 / (1 - p),
so the expected output equals the input and evaluation needs no rescaling.

    y = x * m,   m = 1 / (1 - p) where an entry is kept, 0 where it is dropped
    dL/dx = dL/dy * m

The mask m is drawn before the op runs and given to it, so the op itself is a fixed
elementwise product, and a gradient check sees the same mask on every call.
"""
from .. import backend, checks, rng
from ..function import Function


class Dropout(Function):
    def __init__(self, mask):
        self.mask = mask                # 1 / (1 - p) where an entry is kept, 0 where it is dropped

    def forward(self, x):               # y = x * mask
        return x * self.mask

    def backward(self, gy):             # dL/dx = gy * mask
        return gy * self.mask


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout of ``x``; the identity when ``training`` is False or p is 0.

    The mask is made where ``x`` lives, from two keys drawn on the host from ``generator`` (a
    NumPy Generator; by default ``tinygrad_dl1.rng.default_generator()``): an entry is dropped
    when its 32 random bits (``rng.random_bits``), read as an integer, fall below p * 2^32. The
    same keys give the same mask on every device, and nothing is copied to or from a GPU.
    """
    checks.check_tensor(x, "dropout")
    checks.check_probability(p, "dropout")
    if not training or p == 0:
        return x
    checks.check_floating(x, "dropout", "the kept entries are scaled by 1 / (1 - p)")
    with backend.device_scope(x.data):
        if p == 1:
            return Dropout(backend.array_module(x.data).zeros(x.shape, x.dtype))(x)
        bits = rng.random_bits(x.shape, generator, like=x.data)
        threshold = bits.dtype.type(min(round(p * 2 ** 32), 2 ** 32 - 1))   # P(bits < threshold) = p
        mask = (bits >= threshold).astype(x.dtype)                          # kept with probability 1 - p
        mask *= x.dtype.type(1 / (1 - p))
    return Dropout(mask)(x)
