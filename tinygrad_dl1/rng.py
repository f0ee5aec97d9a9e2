"""The random source of weight initialisations and dropout masks: one NumPy Generator.

``manual_seed(n)`` (also ``tinygrad_dl1.manual_seed``, as in PyTorch) makes every later
initialisation and dropout mask reproducible; a function that draws also takes
``generator=`` to use a Generator of its own instead.
"""
import numpy as np

_generator = np.random.default_rng()


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
    """Put the default generator back in a state from ``get_rng_state()``."""
    _generator.bit_generator.state = state
