"""Inverted dropout: zero each entry with probability p and scale the kept ones by 1 / (1 - p),
so the expected output equals the input and evaluation needs no rescaling.

    y = x * m,   m = 1 / (1 - p) where an entry is kept, 0 where it is dropped
    dL/dx = dL/dy * m

The mask m is drawn before the op runs and given to it, so the op itself is a fixed
elementwise product, and a gradient check sees the same mask on every call. On a GPU the mask
is one fused kernel (DROPOUT_MASK, see tinygrad_dl1/kernels.py): each entry hashes its own
index, compares and scales, instead of the ~20 array ops of ``rng.random_bits``.
"""
import numpy as np

from .. import backend, checks, kernels, rng
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
    when its 32 random bits (``rng.keyed_bits``), read as an integer, fall below p * 2^32. The
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
        rng.check_hash_size(x.shape)
        k1, k2 = rng.draw_keys(generator)
        threshold = np.uint32(min(round(p * 2 ** 32), 2 ** 32 - 1))          # P(bits < threshold) = p
        mask = DROPOUT_MASK(k1, k2, threshold, x.dtype.type(1 / (1 - p)),
                            backend.array_module(x.data).empty(x.shape, x.dtype))
    return Dropout(mask)(x)


def dropout_mask_twin(k1, k2, threshold, scale, mask):
    """DROPOUT_MASK with array ops: scale where the entry's bits are at least threshold (kept), else 0."""
    mask[...] = rng.keyed_bits(mask.shape, k1, k2, like=mask) >= threshold    # kept with probability 1 - p
    mask *= scale
    return mask


# thread i: the bits of entry i (rng.keyed_bits), then the mask entry
DROPOUT_MASK = kernels.Kernel(
    "dropout_mask", "uint32 k1, uint32 k2, uint32 threshold, T scale", "T mask",
    f"""
    unsigned int bits = (unsigned int)i ^ k1;
    {rng.mix_in_c("bits")}
    bits ^= k2;
    {rng.mix_in_c("bits")}
    mask = bits >= threshold ? scale : (T)0;
    """,
    twin=dropout_mask_twin)
