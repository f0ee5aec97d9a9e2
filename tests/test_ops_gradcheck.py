"""Every core op, forward against NumPy and backward against central differences (float64).

One hypothesis property per op: shapes of 0 to 4 dims with size-1 dims, broadcasting
pairs, axes, indices and values drawn by ``strategies``; inputs kept inside each op's
domain and away from kinks and ties. Below: numerical stability at huge logits, float32
staying float32 through forward and backward, and a check that these very tests catch
a wrong backward. Every test runs on each device (the ``device`` fixture of conftest.py).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_dl1.tensor as tensor_module
from tinygrad_dl1 import GradcheckError, Tensor, backend, no_grad, ops, testing
from tinygrad_dl1.ops import activation, elementwise, loss, products, reduce
from tinygrad_dl1.ops import shape as shape_ops  # "shape" is a parameter of many tests below

import strategies as S

# inputs are kept inside each op's domain: any NumPy overflow / invalid-value warning is a bug
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def check(device, fn, arrays, expected):
    """fn(*tensors) on ``device`` equals ``expected`` (shape, float64, values), gives every input a finite
    gradient, and passes gradcheck entry by entry and along random directions: the public kit's checks
    (``tinygrad_dl1.testing.assert_gradients``), which a learner runs on an op of their own.

    ``arrays`` are the float64 inputs that require grad; anything else fn needs it closes over."""
    assert testing.assert_gradients(fn, *arrays, reference=lambda *_: expected, devices=[device.name])


def np_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ----- elementwise: tensor (op) tensor, with broadcasting -----

BINARY = S.BINARY_CASES


@pytest.mark.parametrize("name", BINARY)
@given(shapes=S.broadcastable_shapes(), data=st.data())
def test_binary_broadcast(device, name, shapes, data):
    fn, denominator = BINARY[name]
    a = data.draw(S.arrays(shapes[0]), label="a")
    b = data.draw(denominator(shapes[1]), label="b")
    check(device, fn, [a, b], fn(a, b))


@pytest.mark.parametrize("wrapper, name", [(ops.add, "add"), (ops.sub, "sub"), (ops.mul, "mul"), (ops.div, "div")])
def test_binary_wrappers_match_operators(device, wrapper, name):
    a, b = np.array([[1.5, -2.0, 3.0]]), np.array([[0.5], [-4.0]])
    fn = BINARY[name][0]
    check(device, wrapper, [a, b], fn(a, b))


def _self_binary(t):
    return t * t + t / t - (t - t) + (t + t)


@given(shape=S.shapes(min_dims=1), data=st.data())
def test_same_tensor_on_both_sides(device, shape, data):
    """a * a, a - a, a / a, a + a: one input used twice; its gradients add up."""
    a = data.draw(S.away_from_zero(shape, low=0.5))
    check(device, _self_binary, [a], a * a + 1 + 2 * a)


def test_same_0d_tensor_on_both_sides(device):
    check(device, _self_binary, [np.array(1.5)], 1.5 * 1.5 + 1 + 2 * 1.5)


# ----- elementwise with a Python scalar on either side; pow and rpow -----

# name -> (function on a Tensor or an ndarray alike, strategy for x)
SCALAR = S.SCALAR_CASES


@pytest.mark.parametrize("name", SCALAR)
@given(shape=S.shapes(), data=st.data())
def test_scalar_operand(device, name, shape, data):
    fn, values = SCALAR[name]
    x = data.draw(values(shape))
    check(device, fn, [x], fn(x))


def test_pow_and_rpow_wrappers(device):
    x = np.array([0.5, 1.5, 2.5])
    check(device, lambda t: ops.pow(t, 3), [x], x ** 3)
    check(device, lambda t: ops.rpow(3.0, t), [x], 3.0 ** x)


def test_pow_zero_exponent_at_zero_has_zero_gradient(device):
    """d(x^0)/dx = 0 everywhere, x = 0 included (it was 0 * 0^-1 = nan)."""
    t = device.tensor(np.array([0.0, 2.0]), requires_grad=True)
    with device.errstate(all="raise"):
        (t ** 0).sum().backward()
    np.testing.assert_array_equal(device.to_host(t.grad), [0.0, 0.0])


@given(shape=S.shapes(), data=st.data())
def test_exp(device, shape, data):
    x = data.draw(S.arrays(shape))
    check(device, lambda t: t.exp(), [x], np.exp(x))
    check(device, ops.exp, [x], np.exp(x))


@given(shape=S.shapes(), data=st.data())
def test_log(device, shape, data):
    x = data.draw(S.positive(shape, low=0.1, high=10.0))
    check(device, lambda t: t.log(), [x], np.log(x))
    check(device, ops.log, [x], np.log(x))


@given(shape=S.shapes(), data=st.data())
def test_neg(device, shape, data):
    x = data.draw(S.arrays(shape))
    check(device, ops.neg, [x], -x)


# ----- reductions -----

@pytest.mark.parametrize("name", ["sum", "mean"])
@given(shape=S.shapes(), keepdims=st.booleans(), data=st.data())
def test_sum_mean(device, name, shape, keepdims, data):
    x = data.draw(S.arrays(shape))
    axis = data.draw(S.axes(len(shape), allow_empty=True), label="axis")
    # dim=() is every dim, as in PyTorch (NumPy's axis=() is none)
    expected = getattr(np, name)(x, axis=None if axis == () else axis, keepdims=keepdims)
    check(device, lambda t: getattr(t, name)(dim=axis, keepdim=keepdims), [x], expected)
    check(device, lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x], expected)   # NumPy's names
    check(device, lambda t: getattr(ops, name)(t, axis, keepdims), [x], expected)


@given(shape=S.shapes(), keepdims=st.booleans(), data=st.data())
def test_max(device, shape, keepdims, data):
    x = data.draw(S.distinct(shape))
    axis = data.draw(S.axes(len(shape)), label="axis")
    check(device, lambda t: t.amax(dim=axis, keepdim=keepdims), [x], np.max(x, axis=axis, keepdims=keepdims))
    check(device, lambda t: ops.max(t, axis=axis, keepdims=keepdims), [x], np.max(x, axis=axis, keepdims=keepdims))


def test_max_shares_the_gradient_evenly_between_ties(device):
    t = device.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    t.amax(dim=1).backward(device.array([6.0, 3.0]))
    np.testing.assert_array_equal(device.to_host(t.grad), [[0.0, 3.0, 3.0], [1.0, 1.0, 1.0]])


# ----- shape ops -----

@given(shape=S.shapes(), data=st.data())
def test_reshape(device, shape, data):
    x = data.draw(S.arrays(shape))
    target = data.draw(S.reshape_targets(shape), label="target")
    check(device, lambda t: t.reshape(*target), [x], x.reshape(target))
    check(device, lambda t: t.reshape(target), [x], x.reshape(target))


@given(shape=S.shapes(), data=st.data())
def test_permute(device, shape, data):
    x = data.draw(S.arrays(shape))
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    signed = tuple(p - len(shape) if data.draw(st.booleans()) else p for p in perm)
    check(device, lambda t: t.permute(*signed), [x], x.transpose(perm))
    check(device, lambda t: t.permute(signed), [x], x.transpose(perm))
    check(device, lambda t: ops.permute(t, signed), [x], x.transpose(perm))


@given(shape=S.shapes(), data=st.data())
def test_transpose_swaps_two_dims(device, shape, data):
    x = data.draw(S.arrays(shape))
    dim0, dim1 = (data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label=name) for name in ("dim0", "dim1"))
    check(device, lambda t: t.transpose(dim0, dim1), [x], np.swapaxes(x, dim0, dim1) if x.ndim else x)
    if x.ndim <= 2:
        check(device, lambda t: t.T, [x], x.T)


@given(shape=S.shapes(), data=st.data())
def test_flatten(device, shape, data):
    x = data.draw(S.arrays(shape))
    start, end = data.draw(S.flatten_dims(len(shape)), label="dims")
    if x.ndim == 0:
        expected = x.reshape(1)
    else:
        s, e = start % x.ndim, end % x.ndim
        expected = x.reshape(shape[:s] + (-1,) + shape[e + 1:])
    check(device, lambda t: t.flatten(start, end), [x], expected)


@given(shape=S.shapes(min_dims=1), data=st.data())
def test_getitem_basic(device, shape, data):
    x = data.draw(S.arrays(shape))
    index = data.draw(S.basic_indices(shape), label="index")
    check(device, lambda t: t[index], [x], x[index])


@given(shape=S.shapes(min_dims=1), data=st.data())
def test_getitem_integer_arrays_accumulate(device, shape, data):
    x = data.draw(S.arrays(shape))
    index = data.draw(S.advanced_indices(shape, ints=False), label="index")   # NumPy reads ints beside arrays otherwise
    check(device, lambda t: t[index], [x], x[index])


@given(shape=S.shapes(min_dims=1), data=st.data())
def test_getitem_boolean_mask(device, shape, data):
    x = data.draw(S.arrays(shape))
    index = data.draw(S.mask_indices(shape), label="mask")
    check(device, lambda t: t[index], [x], x[index])


def test_getitem_repeated_index_counts_each_time(device):
    t = device.tensor(np.arange(4.0), requires_grad=True)
    t[np.array([1, 1, 3, 1, -1])].backward(device.array([1.0, 2.0, 3.0, 4.0, 5.0]))   # a NumPy index
    np.testing.assert_array_equal(device.to_host(t.grad), [0.0, 7.0, 0.0, 8.0])
    t.grad = None
    t[[0, 0], ].backward(device.array([1.0, 1.0]))       # a list index, inside a tuple
    np.testing.assert_array_equal(device.to_host(t.grad), [2.0, 0.0, 0.0, 0.0])
    for index in (Tensor(np.array([2, 2])), device.tensor(np.array([2, 2]))):   # integer Tensors, anywhere
        t.grad = None
        t[index].sum().backward()
        np.testing.assert_array_equal(device.to_host(t.grad), [0.0, 0.0, 2.0, 0.0])


# ----- matmul, linear -----

@pytest.mark.parametrize("kind", S.MATMUL_KINDS)
@given(data=st.data())
def test_matmul(device, kind, data):
    shapes = data.draw(S.matmul_shapes(kind), label="shapes")
    a = data.draw(S.arrays(shapes[0]), label="a")
    b = data.draw(S.arrays(shapes[1]), label="b")
    check(device, lambda x, y: x @ y, [a, b], a @ b)
    check(device, ops.matmul, [a, b], a @ b)


@given(n_in=st.integers(1, 4), n_out=st.integers(1, 4), lead=S.shapes(0, 2), bias=st.booleans(), data=st.data())
def test_linear(device, n_in, n_out, lead, bias, data):
    x = data.draw(S.arrays(lead + (n_in,)), label="x")
    w = data.draw(S.arrays((n_out, n_in)), label="w")
    if bias:
        b = data.draw(S.arrays((n_out,)), label="b")
        check(device, ops.linear, [x, w, b], x @ w.T + b)
    else:
        check(device, ops.linear, [x, w], x @ w.T)


def test_linear_with_constant_input(device):
    """Only w and b need grad (an MLP's first layer): x's gradient is skipped, the rest is right."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    w, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    check(device, lambda w_, b_: ops.linear(device.tensor(x), w_, b_), [w, b], x @ w.T + b)


# ----- activations -----

@given(shape=S.shapes(), data=st.data())
def test_relu(device, shape, data):
    x = data.draw(S.away_from_zero(shape))
    check(device, lambda t: t.relu(), [x], np.maximum(x, 0))


@given(shape=S.shapes(), slope=st.sampled_from([0.0, 0.01, 0.02, 0.2, 1.0]) | st.floats(0.0, 1.0), data=st.data())
def test_leaky_relu(device, shape, slope, data):
    x = data.draw(S.away_from_zero(shape))
    expected = np.where(x > 0, x, slope * x)
    check(device, lambda t: t.leaky_relu(slope), [x], expected)
    check(device, lambda t: ops.leaky_relu(t, negative_slope=slope), [x], expected)


def test_relu_of_infinities(device):
    """relu(-inf) = 0 and relu of a negative is +0 (it was -inf * 0 = nan and -0.0)."""
    t = device.tensor(np.array([-np.inf, -2.0, np.inf]), requires_grad=True)
    with device.errstate(all="raise"):
        y = t.relu()
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, np.inf])
    assert not np.signbit(y.numpy()).any()


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=S.shapes(min_dims=1), data=st.data())
def test_softmax(device, name, shape, data):
    x = data.draw(S.arrays(shape, -5.0, 5.0))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    expected = np_log_softmax(x, axis)
    expected = np.exp(expected) if name == "softmax" else expected
    check(device, lambda t: getattr(t, name)(axis), [x], expected)
    check(device, lambda t: getattr(ops, name)(t, axis=axis), [x], expected)


# ----- cross-entropy -----

@given(n=st.integers(1, 5), c=st.integers(1, 6), data=st.data())
def test_cross_entropy_integer_targets(device, n, c, data):
    logits = data.draw(S.arrays((n, c), -5.0, 5.0), label="logits")
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    expected = -np_log_softmax(logits, 1)[np.arange(n), target].mean()
    check(device, lambda t: ops.cross_entropy(t, target), [logits], expected)     # a NumPy target, uploaded
    check(device, lambda t: ops.cross_entropy(t, device.tensor(target)), [logits], expected)
    check(device, lambda t: ops.cross_entropy(t, list(target)), [logits], expected)


@given(n=st.integers(1, 5), c=st.integers(1, 6), normalized=st.booleans(), data=st.data())
def test_cross_entropy_probability_targets(device, n, c, normalized, data):
    """Gradients w.r.t. the logits and w.r.t. the target, for soft labels and for any
    non-negative weights (rows not summing to 1, as PyTorch allows)."""
    logits = data.draw(S.arrays((n, c), -5.0, 5.0), label="logits")
    target = data.draw(S.probabilities(n, c) if normalized else S.arrays((n, c), 0.0, 2.0), label="target")
    expected = -(target * np_log_softmax(logits, 1)).sum(axis=1).mean()
    check(device, ops.cross_entropy, [logits, target], expected)
    check(device, lambda t: ops.cross_entropy(t, device.tensor(target)), [logits], expected)   # constant target
    check(device, lambda p: ops.cross_entropy(device.tensor(logits), p), [target], expected)   # only the target


# ----- stability at huge logits -----

def _no_fp_trouble(device):
    """Overflow, division by zero and invalid values raise (on the CPU); underflow to 0 (exp of a
    very negative number, the whole point of the max shift) is expected and allowed."""
    return device.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


HUGE = [(np.float64, 1e4), (np.float64, 1e300), (np.float32, 1e4), (np.float32, 1e30)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype, big", HUGE)
def test_softmax_stable_at_huge_logits(device, dtype, big):
    x = np.array([[big, 0.0, -big], [-big, -big, big], [0.5 * big, big, 0.0]], dtype=dtype)
    upstream = np.array([[1.0, 2.0, 3.0], [-1.0, 4.0, 0.5], [2.0, -3.0, 1.0]], dtype=dtype)
    winner = np.array([0, 2, 1])
    onehot = np.eye(3, dtype=dtype)[winner]
    with _no_fp_trouble(device):
        t = device.tensor(x, requires_grad=True)
        y = t.softmax(axis=1)
        y.backward(device.array(upstream))
    assert y.dtype == dtype and t.grad.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), onehot)
    # dx = y * (g - sum(g * y)) = 0 for a one-hot y
    np.testing.assert_array_equal(device.to_host(t.grad), np.zeros_like(x))

    with _no_fp_trouble(device):
        t = device.tensor(x, requires_grad=True)
        y = t.log_softmax(axis=1)
        y.backward(device.array(upstream))
    expected = x - x[np.arange(3), winner][:, None]    # exact: the other terms underflow to 0
    grad = device.to_host(t.grad)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    # dx = g - softmax * sum(g)
    np.testing.assert_allclose(grad, upstream - onehot * upstream.sum(axis=1, keepdims=True), rtol=1e-6)
    assert np.isfinite(y.numpy()).all() and np.isfinite(grad).all()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype, big", HUGE)
def test_cross_entropy_stable_at_huge_logits(device, dtype, big):
    x = np.array([[big, 0.0, -big], [-big, -big, big], [0.5 * big, big, 0.0]], dtype=dtype)
    winner = np.array([0, 2, 1])
    onehot = np.eye(3, dtype=dtype)[winner]
    # integer targets: the right class (loss 0) and a wrong one (loss = the logit gap)
    for target, gap in [(winner, np.zeros(3)), (np.array([2, 0, 0]), np.array([2 * big, 2 * big, 0.5 * big]))]:
        with _no_fp_trouble(device):
            t = device.tensor(x, requires_grad=True)
            loss_ = ops.cross_entropy(t, device.array(target))
            loss_.backward()
        assert loss_.dtype == dtype and t.grad.dtype == dtype
        np.testing.assert_allclose(loss_.item(), gap.mean(), rtol=1e-6)
        np.testing.assert_allclose(device.to_host(t.grad), (onehot - np.eye(3, dtype=dtype)[target]) / 3,
                                   rtol=1e-6, atol=1e-7)
    # probability targets (the one-hot of a wrong class, and a soft label) with grad for the target too
    soft = np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5], [0.0, 1.0, 0.0]], dtype=dtype)
    with _no_fp_trouble(device):
        t, p = device.tensor(x, requires_grad=True), device.tensor(soft, requires_grad=True)
        loss_ = ops.cross_entropy(t, p)
        loss_.backward()
    logp = x - x[np.arange(3), winner][:, None]
    np.testing.assert_allclose(loss_.item(), -(soft * logp).sum(axis=1).mean(), rtol=1e-6)
    np.testing.assert_allclose(device.to_host(t.grad), (onehot - soft) / 3, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(device.to_host(p.grad), -logp / 3, rtol=1e-6)
    assert t.grad.dtype == dtype and p.grad.dtype == dtype


# ----- dtypes: float32 in, float32 out and float32 gradients, in every backward -----

def _f32(rng, *shape, positive=False, distinct=False):
    if distinct:
        return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1).astype(np.float32)
    x = rng.uniform(0.2, 2.0, shape) if positive else rng.uniform(-2, 2, shape)
    if not positive:
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    return x.astype(np.float32)


# name -> (fn, input shapes, input options); scalars are Python (and NumPy) floats and ints
F32_CASES = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)], {}),
    "sub": (lambda a, b: a - b, [(2, 1), (1, 3)], {}),
    "mul": (lambda a, b: a * b, [(2, 3), (2, 1)], {}),
    "div": (lambda a, b: a / b, [(2, 3), (3,)], {}),
    "float + t": (lambda a: 0.5 + a, [(2, 3)], {}),
    "t - float": (lambda a: a - 0.5, [(2, 3)], {}),
    "float - t": (lambda a: 0.5 - a, [(2, 3)], {}),
    "t * float": (lambda a: a * 0.3, [(2, 3)], {}),
    "int * t": (lambda a: 3 * a, [(2, 3)], {}),
    "float / t": (lambda a: 2.0 / a, [(2, 3)], {}),
    "t / float": (lambda a: a / 3.0, [(2, 3)], {}),
    "t / int": (lambda a: a / 3, [(2, 3)], {}),
    "np.float64 * t": (lambda a: np.float64(0.3) * a, [(2, 3)], {}),
    "t + np.float64": (lambda a: a + np.float64(0.3), [(2, 3)], {}),
    "neg": (lambda a: -a, [(2, 3)], {}),
    "t ** 2": (lambda a: a ** 2, [(2, 3)], {}),
    "t ** 2.0": (lambda a: a ** 2.0, [(2, 3)], {}),
    "t ** 0.5": (lambda a: a ** 0.5, [(2, 3)], {"positive": True}),
    "t ** -1": (lambda a: a ** -1, [(2, 3)], {"positive": True}),
    "t ** 0": (lambda a: a ** 0, [(2, 3)], {}),
    "t ** np.float64": (lambda a: a ** np.float64(1.5), [(2, 3)], {"positive": True}),
    "t ** np.int64": (lambda a: a ** np.int64(3), [(2, 3)], {}),
    "2 ** t": (lambda a: 2 ** a, [(2, 3)], {}),
    "2.5 ** t": (lambda a: 2.5 ** a, [(2, 3)], {}),
    "np.float64 ** t": (lambda a: ops.rpow(np.float64(2.5), a), [(2, 3)], {}),
    "exp": (lambda a: a.exp(), [(2, 3)], {}),
    "log": (lambda a: a.log(), [(2, 3)], {"positive": True}),
    "sum": (lambda a: a.sum(), [(2, 3)], {}),
    "sum axis": (lambda a: a.sum(axis=(0, -1), keepdims=True), [(2, 3, 2)], {}),
    "mean": (lambda a: a.mean(), [(2, 3)], {}),
    "mean axis": (lambda a: a.mean(axis=1), [(2, 3)], {}),
    "max": (lambda a: a.max(), [(2, 3)], {"distinct": True}),
    "max axis": (lambda a: a.amax(dim=-1, keepdim=True), [(2, 3)], {"distinct": True}),
    "max dim values": (lambda a: a.max(dim=0).values, [(2, 3)], {"distinct": True}),
    "reshape": (lambda a: a.reshape(3, -1), [(2, 3)], {}),
    "permute": (lambda a: a.permute(2, 0, 1), [(2, 3, 4)], {}),
    "transpose": (lambda a: a.transpose(0, -1), [(2, 3, 4)], {}),
    "flatten": (lambda a: a.flatten(1), [(2, 3, 4)], {}),
    "getitem basic": (lambda a: a[1:, ::-2], [(3, 4)], {}),
    "getitem ints": (lambda a: a[np.array([0, 0, 2])], [(3, 4)], {}),
    "getitem mask": (lambda a: a[a.data > 0], [(3, 4)], {}),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)], {}),
    "matmul 1-D": (lambda a, b: a @ b, [(3,), (3,)], {}),
    "matmul batched": (lambda a, b: a @ b, [(2, 1, 2, 3), (3, 3, 2)], {}),
    "linear": (lambda x, w, b: ops.linear(x, w, b), [(4, 3), (2, 3), (2,)], {}),
    "linear 3-D no bias": (lambda x, w: ops.linear(x, w), [(2, 4, 3), (2, 3)], {}),
    "relu": (lambda a: a.relu(), [(2, 3)], {}),
    "leaky_relu": (lambda a: a.leaky_relu(0.02), [(2, 3)], {}),
    "leaky_relu np.float64": (lambda a: ops.leaky_relu(a, np.float64(0.02)), [(2, 3)], {}),
    "softmax": (lambda a: a.softmax(axis=0), [(2, 3)], {}),
    "log_softmax": (lambda a: a.log_softmax(), [(2, 3)], {}),
    "cross_entropy int": (lambda a: ops.cross_entropy(a, np.array([2, 0])), [(2, 3)], {}),
    "cross_entropy prob": (lambda a, p: ops.cross_entropy(a, p.softmax()), [(2, 3), (2, 3)], {}),
    "cross_entropy float array": (lambda a: ops.cross_entropy(a, np.eye(3)[[2, 0]]), [(2, 3)], {}),
}


@pytest.mark.parametrize("name", F32_CASES)
def test_float32_stays_float32(device, name, monkeypatch):
    """No silent upcast to float64: the output, every gradient any backward returns (before
    the engine would cast it back) and every leaf's .grad stay float32."""
    fn, input_shapes, options = F32_CASES[name]
    seen = []
    check_grad = tensor_module._checked_grad

    def recording_check_grad(fn_, i, x, g):
        seen.append((fn_.name, i, backend.ensure_array(g).dtype))
        return check_grad(fn_, i, x, g)

    monkeypatch.setattr(tensor_module, "_checked_grad", recording_check_grad)
    rng = np.random.default_rng(0)
    inputs = [device.tensor(_f32(rng, *shape, **options), requires_grad=True) for shape in input_shapes]
    out = fn(*inputs)
    assert out.dtype == np.float32, f"{name}: output is {out.dtype}"
    out.backward(device.array(np.ones(out.shape, np.float32)))
    assert seen, "no backward ran"
    upcast = [s for s in seen if s[2] != np.float32]
    assert not upcast, f"{name}: backward returned {upcast}"
    for i, t in enumerate(inputs):
        assert t.grad is not None and t.grad.dtype == np.float32, f"{name}: input {i} grad {t.grad}"


# ----- what forward saves: only what a wanted gradient needs; None for an input that needs none -----

# name -> (fn, input shapes, the attributes kept when only input 0 needs a gradient, those dropped)
SAVED = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)], [], []),
    "sub": (lambda a, b: a - b, [(2, 3), (3,)], [], []),
    "mul": (lambda a, b: a * b, [(2, 3), (3,)], ["b"], ["a"]),
    "div": (lambda a, b: a / b, [(2, 3), (3,)], ["b"], ["y"]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)], ["b"], ["a"]),
    "linear": (ops.linear, [(2, 3), (4, 3), (4,)], ["weight"], ["x"]),
    "cross_entropy prob": (ops.cross_entropy, [(2, 3), (2, 3)], ["logp", "target"], []),
    "batch_norm": (ops.batch_norm, [(4, 3), (3,), (3,)], ["x_hat", "var", "gamma"], []),
}


@pytest.mark.parametrize("name", SAVED)
def test_forward_saves_only_what_a_wanted_gradient_needs(device, name):
    fn, shapes, kept, dropped = SAVED[name]
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 2, shape) for shape in shapes]
    for wanted in range(len(arrays)):                   # one input at a time needs a gradient
        inputs = [device.tensor(a, requires_grad=i == wanted) for i, a in enumerate(arrays)]
        y = fn(*inputs)
        grads = y.grad_fn.backward(device.array(np.ones(y.shape)))
        assert [g is not None for g in grads] == [i == wanted for i in range(len(arrays))], grads
        if wanted == 0:
            assert all(getattr(y.grad_fn, a) is not None for a in kept)
            assert all(getattr(y.grad_fn, a) is None for a in dropped)
    with no_grad():
        y = fn(*[device.tensor(a, requires_grad=True) for a in arrays])
    assert y.grad_fn is None


# ----- these tests can fail: a wrong backward is caught -----

def _swap_mul(self, gy):
    ga, gb = gy * self.a, gy * self.b        # the two gradients swapped
    return elementwise.sum_to(ga, self.a_shape), elementwise.sum_to(gb, self.b_shape)


def _sub_no_negation(self, gy):
    return elementwise.sum_to(gy, self.a_shape), elementwise.sum_to(gy, self.b_shape)


def _max_every_entry(self, gy):
    return reduce.expand_back(gy, self.shape, self.axes, self.keepdims).copy()


def _softmax_diagonal_only(self, gy):
    return self.y * (1 - self.y) * gy


def _getitem_no_accumulate(self, gy):
    gx = backend.array_module(gy).zeros(self.shape, self.dtype)
    gx[self.index] = gy                      # repeated indices keep only the last write
    return gx


_LINEAR_BACKWARD = products.Linear.backward
_CE_PROB_BACKWARD = loss.CrossEntropyProb.backward


def _linear_bias_doubled(self, gy):
    gx, gw, gb = _LINEAR_BACKWARD(self, gy)
    return gx, gw, gb * 2


def _ce_prob_target_halved(self, gl):
    ga, gt = _CE_PROB_BACKWARD(self, gl)
    return ga, gt * 0.5


MUTANTS = {
    "Mul": (elementwise.Mul, _swap_mul,
            lambda a, b: a * b, [np.array([[1.0, 2.0, -0.5]]), np.array([[3.0], [-1.5]])]),
    "Sub": (elementwise.Sub, _sub_no_negation,
            lambda a, b: a - b, [np.array([1.0, 2.0]), np.array([0.5, 0.25])]),
    "Max": (reduce.Max, _max_every_entry,
            lambda a: a.amax(dim=1), [np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.25]])]),
    "Softmax": (activation.Softmax, _softmax_diagonal_only,
                lambda a: a.softmax(), [np.array([[1.0, 2.0, 0.5]])]),
    "GetItem": (shape_ops.GetItem, _getitem_no_accumulate,
                lambda a: a[np.array([0, 1, 1])], [np.array([1.0, 2.0, 3.0])]),
    "Linear": (products.Linear, _linear_bias_doubled,
               ops.linear, [np.ones((2, 3)), np.ones((2, 3)), np.ones(2)]),
    "CrossEntropyProb": (loss.CrossEntropyProb, _ce_prob_target_halved,
                         ops.cross_entropy, [np.array([[1.0, 2.0, 0.0]]), np.array([[0.2, 0.3, 0.5]])]),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_a_wrong_backward_is_caught(device, name, monkeypatch):
    cls, wrong, fn, arrays = MUTANTS[name]
    monkeypatch.setattr(cls, "backward", wrong)
    with pytest.raises(GradcheckError):
        check(device, fn, arrays, fn(*[Tensor(a) for a in arrays]).numpy())   # expected: the (wrong) op on the CPU
