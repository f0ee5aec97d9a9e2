"""Dropout's mask in one fused kernel (DROPOUT_MASK): each entry hashes its own index, compares and
scales, instead of the ~20 array ops of ``rng.keyed_bits`` and the comparison. The same masks as the
plain op's, bit for bit."""
from .. import backend, rng
from ..ops.regularization import Dropout
from . import register
from .kernel import Kernel


def dropout_mask_on_cpu(k1, k2, threshold, scale, mask):
    """DROPOUT_MASK with array ops: scale where the entry's bits are at least threshold (kept), else 0."""
    mask[...] = rng.keyed_bits(mask.shape, k1, k2, like=mask) >= threshold    # kept with probability 1 - p
    mask *= scale
    return mask


# thread i: the bits of entry i (rng.keyed_bits), then the mask entry
DROPOUT_MASK = Kernel(
    "dropout_mask", "uint32 k1, uint32 k2, uint32 threshold, T scale", "T mask",
    f"""
    unsigned int bits = (unsigned int)i ^ k1;
    {rng.mix_in_c("bits")}
    bits ^= k2;
    {rng.mix_in_c("bits")}
    mask = bits >= threshold ? scale : (T)0;
    """,
    cpu=dropout_mask_on_cpu)


def dropout_forward(op, x):
    """Dropout.forward with the mask made in one kernel."""
    if op.p == 1:
        return op.forward(x)
    mask = backend.array_module(x).empty(x.shape, x.dtype)
    DROPOUT_MASK(*op.keys, op.threshold, x.dtype.type(1 / (1 - op.p)), mask)
    op.save_for_backward(mask=mask)
    return x * mask


register(Dropout, forward=dropout_forward)
