"""Hypothesis strategies for the op tests: the public kit's (``tinygrad_dl1.testing``: shapes,
broadcastable shapes, axes, arrays inside a domain and away from kinks and ties), and the ones
particular to the project's ops (reshape targets, flatten dims, indices, matmul shapes, soft labels).

Arrays are float64 and kept inside each op's domain and away from its kinks and ties,
so that central differences (eps = 1e-6) are a fair estimate of the derivative:
- ``arrays(shape, lo, hi)`` values in [lo, hi];
- ``away_from_zero(shape, low=0.1)``: |x| >= low (relu, leaky_relu, denominators);
- ``positive(shape)``: log, pow with a fractional or negative exponent;
- ``distinct(shape)``: every value at least 0.01 from every other (max: no ties).
Shapes are small (every side <= 4, at most 4 dims) so that a gradcheck entry by entry
stays cheap; size-1 dims and 0-d shapes are drawn on purpose.
"""
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_dl1.testing import (  # noqa: F401  (the public kit, used by the tests through this module)
    MAX_SIDE,
    arrays,
    away_from,
    away_from_zero,
    axes,
    broadcastable_shapes,
    distinct,
    elements,
    positive,
    shapes,
    tensors,
)


@st.composite
def reshape_targets(draw, shape):
    """A shape with the same number of entries as ``shape``, maybe with one -1."""
    size = int(np.prod(shape, dtype=np.int64))
    n_dims = draw(st.integers(0 if size == 1 else 1, 4))
    dims = [1] * n_dims
    for p in _prime_factors(size):
        dims[draw(st.integers(0, n_dims - 1))] *= p
    if n_dims and draw(st.booleans()):
        dims[draw(st.integers(0, n_dims - 1))] = -1
    return tuple(dims)


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def flatten_dims(draw, ndim):
    """(start_dim, end_dim) with start <= end once made non-negative; either may be negative."""
    if ndim == 0:
        return 0, -1
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start = start - ndim if draw(st.booleans()) else start
    end = end - ndim if draw(st.booleans()) else end
    return start, end


@st.composite
def basic_indices(draw, shape, steps=(1, 2, 3, -1, -2)):
    """An index of ints (maybe negative) and slices (any step, negative included), maybe
    with None and an Ellipsis, covering some leading (or, after an Ellipsis, trailing) dims.
    (PyTorch has no negative steps: its tests pass ``steps=(1, 2, 3)``.)"""
    n_parts = draw(st.integers(1, len(shape)))
    ellipsis = n_parts < len(shape) and draw(st.sampled_from([None, "front", "back"]))
    covered = shape[len(shape) - n_parts:] if ellipsis == "front" else shape[:n_parts]
    parts = []
    for n in covered:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.none() | st.integers(-n - 1, n))
            stop = draw(st.none() | st.integers(-n - 1, n))
            step = draw(st.none() | st.sampled_from(steps))
            parts.append(slice(start, stop, step))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if ellipsis == "front":
        parts.insert(0, Ellipsis)
    elif ellipsis == "back":
        parts.append(Ellipsis)
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


@st.composite
def advanced_indices(draw, shape, steps=(1, 2, -1), ints=True):
    """An index with integer arrays (repeated and negative entries on purpose), mixed with
    ints and slices: every integer array of one index has the same length. (NumPy reads
    x[0, :, [1]] unlike PyTorch and this library, counting the 0 as one more array index: a
    comparison with NumPy passes ``ints=False``.)"""
    k = draw(st.integers(1, 5))
    n_parts = draw(st.integers(1, len(shape)))
    array_dims = draw(st.lists(st.integers(0, n_parts - 1), min_size=1, max_size=n_parts, unique=True))
    parts = []
    for d, n in enumerate(shape[:n_parts]):
        if d in array_dims:
            parts.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)), dtype=np.int64))
        elif ints and draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            parts.append(slice(draw(st.none() | st.integers(0, n)), None, draw(st.sampled_from(steps))))
    return parts[0] if len(parts) == 1 else tuple(parts)


@st.composite
def mask_indices(draw, shape, steps=(1, 2, -1)):
    """A boolean mask over the first m dims of ``shape``, maybe followed by a slice."""
    m = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:m], elements=st.booleans(), fill=st.nothing()))
    if m < len(shape) and draw(st.booleans()):
        return (mask, slice(None, None, draw(st.sampled_from(steps))))
    return mask


MATMUL_KINDS = ("2d", "1d@2d", "2d@1d", "1d@1d", "batched", "1d@batched", "batched@1d")


@st.composite
def matmul_shapes(draw, kind=None):
    """Shapes (a, b) for a @ b of ``kind`` (any when None): 1-D on either side or both, 2-D,
    and batched with broadcast batch dims (one side's batch dims may be fewer, or 1)."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = kind or draw(st.sampled_from(MATMUL_KINDS))
    batch_a, batch_b = draw(broadcastable_shapes(min_dims=1, max_dims=3, max_side=3))
    return {
        "2d": ((n, k), (k, m)),
        "1d@2d": ((k,), (k, m)),
        "2d@1d": ((n, k), (k,)),
        "1d@1d": ((k,), (k,)),
        "batched": (batch_a + (n, k), batch_b + (k, m)),
        "1d@batched": ((k,), batch_b + (k, m)),
        "batched@1d": (batch_a + (n, k), (k,)),
    }[kind]


@st.composite
def probabilities(draw, n, c):
    """(n, c) rows of positive values summing to 1 (soft labels)."""
    raw = draw(arrays((n, c), 0.05, 1.0))
    return raw / raw.sum(axis=1, keepdims=True)


# tensor (op) tensor with broadcasting: name -> (function, strategy for the right operand)
BINARY_CASES = {
    "add": (lambda a, b: a + b, arrays),
    "sub": (lambda a, b: a - b, arrays),
    "mul": (lambda a, b: a * b, arrays),
    "div": (lambda a, b: a / b, lambda shape: away_from_zero(shape, low=0.5)),
}

# Python scalars on either side of an operator, powers, exp and log, one tensor used twice:
# name -> (function on a Tensor or an ndarray alike, strategy for x given its shape)
SCALAR_CASES = {
    "2 + t": (lambda t: 2 + t, arrays),
    "t + 2.5": (lambda t: t + 2.5, arrays),
    "2 - t": (lambda t: 2 - t, arrays),
    "t - 0.5": (lambda t: t - 0.5, arrays),
    "t * 3": (lambda t: t * 3, arrays),
    "-0.5 * t": (lambda t: -0.5 * t, arrays),
    "2 / t": (lambda t: 2 / t, lambda s: away_from_zero(s, low=0.5)),
    "t / 2.5": (lambda t: t / 2.5, arrays),
    "-t": (lambda t: -t, arrays),
    "t ** 2": (lambda t: t ** 2, arrays),
    "t ** 3": (lambda t: t ** 3, arrays),
    "t ** 2.0": (lambda t: t ** 2.0, arrays),
    "t ** 1": (lambda t: t ** 1, arrays),
    "t ** 0": (lambda t: t ** 0, arrays),
    "t ** 0.5": (lambda t: t ** 0.5, positive),
    "t ** -1": (lambda t: t ** -1, positive),
    "t ** -2.5": (lambda t: t ** -2.5, positive),
    "t ** 1.5": (lambda t: t ** 1.5, positive),
    "2 ** t": (lambda t: 2 ** t, arrays),
    "0.5 ** t": (lambda t: 0.5 ** t, arrays),
    "e ** t": (lambda t: math.e ** t, arrays),
    "10.0 ** t": (lambda t: 10.0 ** t, arrays),
    "1 ** t": (lambda t: 1 ** t, arrays),
    "t * t": (lambda t: t * t, arrays),
}
