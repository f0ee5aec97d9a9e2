"""The random source of weight initialisations and dropout masks: one NumPy Generator on the host.

``manual_seed(n)`` (also ``tinygrad_dl1.manual_seed``, as in PyTorch) makes every later
initialisation and dropout mask reproducible; a function that draws also takes
``generator=`` to use a Generator of its own instead. ``get_rng_state()`` is the
Generator's state as plain numbers, which checkpoints save.

Weight initialisations are drawn on the host and uploaded. Dropout masks are made where
their tensor lives, by ``random_bits``: the host draws two 32-bit keys k1, k2 from the
Generator (two numbers, whatever the mask's size), and the device computes the 32 bits of
entry i (its index in C order) from (k1, k2, i) alone, in uint32 arithmetic (mod 2^32):

    bits(i) = mix(mix(i ^ k1) ^ k2)
    mix(x):   x ^= x >> 16;  x *= 0x7feb352d;  x ^= x >> 15;  x *= 0x846ca68b;  x ^= x >> 16

``mix`` is "lowbias32", an integer hash with strong avalanche (C. Wellons, "Prospecting for
hash functions", 2018): flipping one input bit flips each output bit with probability close
to 1/2. One round keyed by k1 scrambles the index; the second, keyed by k2, makes the
masks of two calls unrelated (with one round, two keys that agree in their high bits would
give masks that are permutations of each other). NumPy and CuPy compute the same wrapping
uint32 products and shifts, so a CPU run and a GPU run draw the same masks; the keys come
from the Generator, so its saved state fixes every mask to come and a resumed run draws
exactly the masks of a run that never stopped.
"""
import copy

import numpy as np

from . import backend

_generator = np.random.default_rng()
_MULTIPLIERS = (np.uint32(0x7feb352d), np.uint32(0x846ca68b))
_SHIFTS = (np.uint32(16), np.uint32(15), np.uint32(16))


def manual_seed(n):
    """Restart the default generator from seed ``n``."""
    global _generator
    _generator = np.random.default_rng(n)


def default_generator():
    """The Generator that draws when no ``generator=`` is given."""
    return _generator


def get_rng_state():
    """The default generator's state (plain values), for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Put the default generator back in a state from ``get_rng_state()``; a ValueError, with the generator
    unchanged, for a state it does not take (see ``checked_state``)."""
    _generator.bit_generator.state = checked_state(_generator.bit_generator, state, "rng state")


def checked_state(bit_generator, state, what):
    """``state`` if a copy of ``bit_generator`` takes it and gives it back unchanged; a ValueError naming
    ``what`` otherwise (older NumPy takes an out-of-range integer, -1 say, and wraps it silently)."""
    trial = copy.deepcopy(bit_generator)
    try:
        trial.state = copy.deepcopy(state)
        taken = trial.state == state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise ValueError(f"{what} that {type(trial).__name__} refuses ({type(e).__name__}: {e})") from None
    if not taken:
        raise ValueError(f"{what} that {type(trial).__name__} refuses (a value out of its range)")
    return state


def random_bits(shape, generator=None, like=None):
    """A uint32 array of ``shape``, 32 random bits per entry, made where the array ``like`` lives
    (NumPy without it): ``bits(i) = mix(mix(i ^ k1) ^ k2)``, with two keys drawn from ``generator``
    (default: ``default_generator()``); see the module's docstring."""
    check_hash_size(shape)
    return keyed_bits(shape, *draw_keys(generator), like=like)


def check_hash_size(shape):
    """Refuse more entries than the 2^32 indices that the hash tells apart."""
    n = int(np.prod(shape, dtype=np.int64))
    if n > 2 ** 32:
        raise ValueError(f"random bits for {n} entries (shape {tuple(shape)}): more than the 2^32 indices the "
                         "hash tells apart")


def draw_keys(generator=None):
    """The two uint32 keys (k1, k2) of one call of the hash, drawn from ``generator`` (default:
    ``default_generator()``)."""
    generator = _generator if generator is None else generator
    k1, k2 = generator.integers(0, 2 ** 32, size=2, dtype=np.uint32)
    return k1, k2


def keyed_bits(shape, k1, k2, like=None):
    """``bits(i) = mix(mix(i ^ k1) ^ k2)`` for the entries i of ``shape``, with array ops, where ``like`` lives."""
    xp = backend.array_module(like)
    with backend.device_scope(like):
        x = xp.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint32)
        scratch = xp.empty_like(x)          # the shifted copy of each xorshift, in place: no new arrays
        x ^= k1
        _mix(xp, x, scratch)
        x ^= k2
        _mix(xp, x, scratch)
    return x.reshape(shape)


def _mix(xp, x, scratch):
    """lowbias32 applied in place to the uint32 array ``x``: xorshift, multiply, xorshift, multiply, xorshift."""
    for i, shift in enumerate(_SHIFTS):
        xp.right_shift(x, shift, out=scratch)
        x ^= scratch
        if i < len(_MULTIPLIERS):
            x *= _MULTIPLIERS[i]


def mix_in_c(name):
    """``_mix`` as C statements on the unsigned int variable ``name``, for the fused kernels (CUDA C)."""
    steps = []
    for i, shift in enumerate(_SHIFTS):
        steps.append(f"{name} ^= {name} >> {int(shift)};")
        if i < len(_MULTIPLIERS):
            steps.append(f"{name} *= {int(_MULTIPLIERS[i]):#x}u;")
    return " ".join(steps)
