"""tinygrad_dl1.testing: prove an op of your own with the gradient checks the project's ops pass.

The checks, for each input drawn (or given), on every backend the machine has (NumPy, and
each GPU that CuPy sees), all in float64:

1. the forward runs, returns a float64 Tensor on the inputs' device, and (when given a NumPy
   ``reference``) equals it;
2. a backward from a random upstream gradient gives every input a finite gradient of its
   shape, dtype and device;
3. central differences, entry by entry: dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / 2 eps;
4. the same along random unit directions v: dL/dx . v ~ (L(x + eps v) - L(x - eps v)) / 2 eps
   (it catches a gradient that is right entry by entry only by luck of the shapes drawn);
5. where PyTorch is installed and a ``torch_fn`` is given, the values and gradients of PyTorch's
   op on the same inputs.

Check one input in one call, or many drawn by hypothesis with the decorator::

    import torch                                   # optional: the comparison runs where it is installed
    from tinygrad_dl1 import testing

    testing.assert_gradients(MyTanh, np.array([0.5, -1.0]), torch_fn=torch.tanh)

    @testing.gradient_property(testing.arrays(testing.shapes()), torch_fn=torch.tanh)
    def test_my_tanh(x):                           # pytest runs it: 30 shapes and values drawn
        return MyTanh()(x)

``fn`` is a Function subclass (called as ``fn()(*tensors)``) or any function of Tensors.
The strategies keep inputs inside an op's domain and away from its kinks and ties, where a
derivative is not defined and central differences mislead: ``away_from_zero`` for relu or
abs, ``positive`` for log or sqrt, ``distinct`` for max, ``away_from`` for any other points.
Needs hypothesis (``pip install hypothesis``, or the ``testing`` extra).
"""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import backend
from .function import Function
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor

MAX_SIDE = 4
FORWARD_TOLERANCE = dict(rtol=1e-10, atol=1e-12)     # float64 against a NumPy reference
TORCH_TOLERANCE = dict(rtol=1e-7, atol=1e-10)        # float64 against PyTorch (another order of roundings)

__all__ = ["shapes", "broadcastable_shapes", "elements", "arrays", "away_from", "away_from_zero", "positive",
           "distinct", "axes", "tensors", "backends", "assert_gradients", "gradient_property", "check_gradients",
           "GradcheckError"]


# ----- hypothesis strategies -----

def shapes(min_dims=0, max_dims=4, min_side=1, max_side=MAX_SIDE):
    """Shapes of min_dims..max_dims dims, sides min_side..max_side: size-1 dims and 0-d shapes come up."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(draw, min_dims=0, max_dims=4, max_side=MAX_SIDE):
    """Two shapes that broadcast together: from a common shape, each drops some leading dims
    and sets some dims to 1 (so pairs like (1,) & (3, 1, 1), () & (2, 3), (3, 1) & (1, 4) occur)."""
    full = draw(shapes(min_dims, max_dims, max_side=max_side))
    pair = []
    for _ in range(2):
        lead = draw(st.integers(0, len(full)))
        ones = draw(st.lists(st.booleans(), min_size=len(full) - lead, max_size=len(full) - lead))
        pair.append(tuple(1 if one else n for one, n in zip(ones, full[lead:])))
    return tuple(pair)


def elements(lo, hi):
    """Finite float64 values in [lo, hi], no subnormals."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _arrays_of(shape, values):
    """float64 arrays of ``shape`` (a tuple, or a strategy of shapes) with entries drawn from ``values``."""
    if isinstance(shape, st.SearchStrategy):
        return shape.flatmap(lambda s: _arrays_of(s, values))
    return hnp.arrays(np.float64, shape, elements=values, fill=st.nothing())


def arrays(shape, lo=-3.0, hi=3.0):
    """float64 arrays of ``shape`` (a tuple or a strategy of shapes) with values in [lo, hi]."""
    return _arrays_of(shape, elements(lo, hi))


def away_from(shape, points, distance=0.1, lo=-3.0, hi=3.0):
    """float64 arrays with values in [lo, hi], each at least ``distance`` from every one of ``points``
    (an op's kinks: 0 for relu, the bounds for clamp)."""
    return _arrays_of(shape, elements(lo, hi).filter(lambda v: all(abs(v - p) >= distance for p in points)))


def away_from_zero(shape, low=0.1, high=3.0):
    """float64 arrays with low <= |x| <= high: no entry near the kink at 0."""
    return _arrays_of(shape, st.one_of(elements(low, high), elements(-high, -low)))


def positive(shape, low=0.2, high=3.0):
    """float64 arrays with values in [low, high] (log, sqrt, a fractional power)."""
    return arrays(shape, low, high)


@st.composite
def distinct(draw, shape, spacing=0.01):
    """float64 arrays whose values are pairwise at least ``spacing`` apart (no ties for max)."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    size = math.prod(shape)
    ints = draw(hnp.arrays(np.int64, (size,), elements=st.integers(-300, 300), unique=True))
    return (ints * spacing).reshape(shape).astype(np.float64)


@st.composite
def axes(draw, ndim, allow_none=True, allow_tuple=True, allow_empty=False):
    """A ``dim`` argument for a reduction over ``ndim`` dims: None, an int (maybe negative),
    or a tuple of distinct dims (each maybe negative, in any order)."""
    kinds = (["none"] if allow_none or ndim == 0 else []) + (["int", "tuple"] if ndim else [])
    if not allow_tuple and "tuple" in kinds:
        kinds.remove("tuple")
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True,
                           min_size=0 if allow_empty else 1, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


def tensors(shape, lo=-3.0, hi=3.0, requires_grad=True, device="cpu", values=None):
    """Tensors (float64, requiring grad) of ``shape``, with values in [lo, hi], or drawn by ``values``
    (another array strategy of this module, given the shape: ``values=positive``)."""
    drawn = arrays(shape, lo, hi) if values is None else values(shape)
    return drawn.map(lambda a: Tensor(a, requires_grad=requires_grad, device=device))


# ----- the gradient checks -----

def backends():
    """The devices this machine has: 'cpu', then 'cuda:0', 'cuda:1', ... for each GPU CuPy sees."""
    return ["cpu"] + [f"cuda:{i}" for i in range(backend.gpu_count())]


def _as_callable(fn):
    """A Function subclass as ``lambda *xs: fn()(*xs)``; any other callable as it is."""
    if isinstance(fn, type) and issubclass(fn, Function):
        return lambda *xs: fn()(*xs)
    return fn


def assert_gradients(fn, *inputs, reference=None, torch_fn=None, devices=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                     n_directions=4, seed=0):
    """Run the checks of this module's docstring on ``fn`` at ``inputs`` (arrays, each made a float64
    Tensor that requires grad); ``reference`` is a NumPy function of the arrays giving the expected
    output, ``torch_fn`` PyTorch's twin of ``fn``. True, or an AssertionError (a GradcheckError for
    a wrong gradient) naming the check, the device and the input."""
    call = _as_callable(fn)
    arrays_ = [np.asarray(a, dtype=np.float64) for a in inputs]
    expected = None if reference is None else np.asarray(reference(*arrays_))
    upstream, devices = None, devices or backends()
    for device in devices:
        xs = [Tensor(a, requires_grad=True, device=device) for a in arrays_]
        out = call(*xs)
        if not isinstance(out, Tensor):
            raise AssertionError(f"on {device}: fn must return a Tensor, got {type(out).__name__}")
        if out.dtype != np.float64 or out.device != device:
            raise AssertionError(f"on {device}: float64 inputs on {device} gave a {out.dtype} output on {out.device}")
        if expected is not None:
            if out.shape != expected.shape:
                raise AssertionError(f"on {device}: output shape {out.shape}, the reference's {expected.shape}")
            np.testing.assert_allclose(out.numpy(), expected, **FORWARD_TOLERANCE,
                                       err_msg=f"on {device}: the forward differs from the reference")
        if upstream is None:
            upstream = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(backend.to_device(upstream, device))
        for i, x in enumerate(xs):
            g = x.grad
            if g is None or g.shape != x.shape or g.dtype != np.float64 or backend.device_of(g) != device:
                got = "none" if g is None else f"{g.dtype} {g.shape} on {backend.device_of(g)}"
                raise AssertionError(f"on {device}: input {i} (shape {x.shape}) got a gradient of {got}")
            if not np.isfinite(backend.to_numpy(g)).all():
                raise AssertionError(f"on {device}: input {i} got a non-finite gradient {backend.to_numpy(g)}")
        for name, max_entries in (("entry by entry", math.inf), ("along random directions", 0)):
            try:
                gradcheck(call, xs, eps=eps, atol=atol, rtol=rtol, max_entries=max_entries,
                          n_directions=n_directions, seed=seed)
            except GradcheckError as error:
                raise GradcheckError(f"on {device}, {name}: {error}") from None
    if torch_fn is not None:
        _assert_matches_torch(call, torch_fn, arrays_, upstream, devices[0])
    return True


def _assert_matches_torch(call, torch_fn, arrays_, upstream, device):
    """Values and gradients of ``call`` (on ``device``) and PyTorch's ``torch_fn`` (on the CPU), in float64, agree."""
    try:
        import torch
    except ImportError:          # PyTorch is optional: the other checks stand on their own
        return
    xs = [Tensor(a, requires_grad=True, device=device) for a in arrays_]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays_]
    out, theirs = call(*xs), torch_fn(*ts)
    if tuple(theirs.shape) != out.shape:
        raise AssertionError(f"PyTorch's output has shape {tuple(theirs.shape)}, ours {out.shape}")
    np.testing.assert_allclose(out.numpy(), theirs.detach().numpy(), **TORCH_TOLERANCE,
                               err_msg="the forward differs from PyTorch's")
    out.backward(backend.to_device(upstream, device))
    theirs.backward(torch.from_numpy(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(backend.to_numpy(x.grad), expected, **TORCH_TOLERANCE,
                                   err_msg=f"the gradient of input {i} differs from PyTorch's")


def gradient_property(*strategies, reference=None, torch_fn=None, devices=None, max_examples=30, **tolerances):
    """A decorator: ``fn`` (a function of Tensors, or a Function subclass) becomes a test without
    arguments that runs ``assert_gradients`` on ``max_examples`` inputs drawn from ``strategies``
    (one strategy of arrays per input of fn). Name it ``test_...`` and pytest runs it."""
    def decorate(fn):
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.tuples(*strategies))
        def property_holds(arrays_):
            assert_gradients(fn, *arrays_, reference=reference, torch_fn=torch_fn, devices=devices, **tolerances)

        def test():                         # no arguments: pytest must not look for fixtures
            property_holds()
        test.__name__ = test.__qualname__ = getattr(fn, "__name__", "test_gradients")
        test.__doc__ = fn.__doc__
        return test
    return decorate


def check_gradients(fn, *strategies, **options):
    """One call: ``gradient_property(*strategies, **options)(fn)()`` (True, or the first failure)."""
    gradient_property(*strategies, **options)(fn)()
    return True
