"""Fast paths: faster implementations of some ops and optimizer steps, kept apart from the math.

Each op file in ``tinygrad_dl1/ops/`` (and ``optim.py``) is the readable implementation: array
ops that run on NumPy and CuPy alike, a formula beside each step. This package holds, for a few
of them, a faster implementation of the same computation, registered for the op's class:

    register(MaxPool2d, forward=max_pool_forward, backward=max_pool_backward)

A fast ``forward(op, *arrays)`` / ``backward(op, gy)`` / ``update(optimizer, w, g, state)`` takes
the op (or optimizer) as its first argument, as the method it replaces takes ``self``, and returns
what that method returns. When the fast forward of an op ran, the engine runs the fast backward
registered with it (what it saved is its own), or the op's own backward when none is.

Most fast paths are fused kernels (``kernel.py``): on a GPU, one CuPy ``ElementwiseKernel``
launch instead of many array ops; on a CPU, a version of the same computation tuned for NumPy
(buffers reused, fewer passes over memory). The choice is made in one place, ``lookup`` below,
which ``Function.__call__`` and ``Optimizer.step`` call: by default the fast path runs where one is
registered; inside ``with plain_ops():`` every op runs its own readable code, on every backend.
That is the reference the tests compare each fast path with (tests/test_fast_paths.py), and what
a tutorial uses when it shows an op at work.

To add a fast path: write it in a module of this package, register it there, name the module in
``load()`` below, and add a case to tests/test_fast_paths.py that compares it with ``plain_ops()``,
gradients included, on every backend.
"""
import contextlib
import functools

_registered = {}            # an op's or optimizer's class -> {method name: its faster implementation}
_fast_paths_on = [True]     # False inside plain_ops()


def register(cls, **methods):
    """Make ``methods`` (forward=, backward=, update=) the fast implementations of ``cls``'s methods."""
    _registered[cls] = methods


def lookup(obj):
    """The fast methods registered for ``obj``'s class ({name: function}), or None: inside ``plain_ops()``,
    and for a class without a fast path (a subclass does not inherit its parent's: it may change the math)."""
    return _registered.get(type(obj)) if _fast_paths_on[-1] else None


def method(obj, name, fast_methods):
    """``obj``'s method ``name``, or its fast implementation from ``fast_methods`` (what ``lookup`` gave)."""
    fast = fast_methods.get(name) if fast_methods else None
    return getattr(obj, name) if fast is None else functools.partial(fast, obj)


@contextlib.contextmanager
def plain_ops():
    """Run every op and optimizer step as its own readable code, the fast paths off, on every backend."""
    _fast_paths_on.append(False)
    try:
        yield
    finally:
        _fast_paths_on.pop()


def registered():
    """The classes that have a fast path, for the tests."""
    return set(_registered)


def load():
    """Import the modules of this package, each of which registers its fast paths."""
    from . import batch_norm, conv, dropout, max_pool, optimizers  # noqa: F401
