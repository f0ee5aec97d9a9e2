"""Weight initialisations, each filling a tensor in place (hence the trailing underscore, as in PyTorch).

Draws come from ``generator`` or, by default, ``tinygrad_dl1.rng.default_generator()``.
"""
import math

from .. import backend, rng


def fan_in(shape):
    """Inputs feeding one output unit: in_features for (out, in), in_channels * kh * kw for (out, in, kh, kw)."""
    if len(shape) < 2:
        raise ValueError(f"fan_in needs a weight with at least 2 dims, got shape {shape}")
    return math.prod(shape[1:])


def _fill(t, values):
    """Copy the NumPy array ``values`` into ``t`` in place, on t's device."""
    with backend.device_scope(t.data):              # on a GPU: write on the GPU that holds t
        t.data[...] = backend.to_device(values.astype(t.dtype), t.device)
    t._version += 1
    return t


def uniform_(t, low, high, generator=None):
    generator = rng.default_generator() if generator is None else generator
    return _fill(t, generator.uniform(low, high, t.shape))


def normal_(t, mean=0.0, std=1.0, generator=None):
    generator = rng.default_generator() if generator is None else generator
    return _fill(t, generator.normal(mean, std, t.shape))


def zeros_(t):
    with backend.device_scope(t.data):
        t.data[...] = 0
    t._version += 1
    return t


def kaiming_uniform_(t, a=5 ** 0.5, generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)).

    PyTorch's default a = sqrt(5) gives bound = 1 / sqrt(fan_in)."""
    bound = math.sqrt(2 / (1 + a * a)) * math.sqrt(3 / fan_in(t.shape))
    return uniform_(t, -bound, bound, generator)


def default_init_(weight, bias=None, generator=None):
    """PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) weights,
    biases ~ U(-1 / sqrt(fan_in), 1 / sqrt(fan_in))."""
    kaiming_uniform_(weight, generator=generator)
    if bias is not None:
        bound = 1 / math.sqrt(fan_in(weight.shape))
        uniform_(bias, -bound, bound, generator)
