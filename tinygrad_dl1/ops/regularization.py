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

    The mask is drawn on the CPU from ``generator`` (a NumPy Generator; by default
    ``tinygrad_dl1.rng.default_generator()``), so a seed gives the same mask on every device.
    """
    checks.check_tensor(x, "dropout")
    checks.check_probability(p, "dropout")
    if not training or p == 0:
        return x
    checks.check_floating(x, "dropout", "the kept entries are scaled by 1 / (1 - p)")
    if p == 1:
        with backend.device_scope(x.data):
            return Dropout(backend.array_module(x.data).zeros(x.shape, x.dtype))(x)
    generator = rng.default_generator() if generator is None else generator
    keep = generator.random(x.shape) >= p                    # kept with probability 1 - p
    mask = backend.to_device(keep.astype(x.dtype) * x.dtype.type(1 / (1 - p)), x.device)
    return Dropout(mask)(x)
