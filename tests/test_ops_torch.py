"""Every core op, forward and backward, against PyTorch.

float64 for all ops (values and gradients to ~1e-10), and float32 for the ops of an MLP
(linear, relu, leaky_relu, softmax, log_softmax, cross_entropy, matmul, +, sum, mean, and a
whole MLP step): the dtype stays float32 and values match PyTorch's to ~1e-5 relative.
The upstream gradient is random, so every entry of the Jacobian-vector product counts.
Ours runs on each device (the ``device`` fixture of conftest.py), PyTorch on the CPU.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_dl1 import ops

import strategies as S

torch = pytest.importorskip("torch")
F = torch.nn.functional

# inputs are kept inside each op's domain: any NumPy overflow / invalid-value warning is a bug
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def compare(device, ours, theirs, arrays, dtype=np.float64, upstream_seed=0):
    """ours(*Tensors on device) and theirs(*torch tensors) agree in shape, dtype, value and in the
    gradient of every input for one random upstream gradient."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    xs = [device.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert y.dtype == dtype, f"output dtype {y.dtype}"
    assert ty.dtype == TORCH_DTYPE[dtype]
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(upstream_seed).standard_normal(y.shape).astype(dtype)
    y.backward(device.array(g))
    ty.backward(torch.from_numpy(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected = np.zeros_like(arrays[i]) if t.grad is None else t.grad.numpy()
        assert x.grad is not None, f"input {i}: no gradient"
        assert x.grad.dtype == dtype and x.grad.shape == x.shape, f"input {i}: {x.grad.dtype} {x.grad.shape}"
        np.testing.assert_allclose(device.to_host(x.grad), expected, **TOL[dtype], err_msg=f"gradient of input {i}")


def to_torch_index(index):
    if isinstance(index, tuple):
        return tuple(to_torch_index(p) for p in index)
    return torch.from_numpy(index) if isinstance(index, np.ndarray) else index


def all_axes(axis, ndim):
    """NumPy's axis=None as a PyTorch dim (which reads dim=() as 'all' too)."""
    return tuple(range(ndim)) if axis is None else axis


# ----- elementwise -----

BINARY = S.BINARY_CASES


@pytest.mark.parametrize("name", BINARY)
@given(shapes=S.broadcastable_shapes(), data=st.data())
def test_binary_broadcast(device, name, shapes, data):
    fn, denominator = BINARY[name]
    a = data.draw(S.arrays(shapes[0]), label="a")
    b = data.draw(denominator(shapes[1]), label="b")
    compare(device, fn, fn, [a, b])


SCALAR = {**S.SCALAR_CASES,
          "exp": (lambda t: t.exp(), S.arrays),
          "log": (lambda t: t.log(), lambda s: S.positive(s, low=0.1, high=10.0))}


@pytest.mark.parametrize("name", SCALAR)
@given(shape=S.shapes(), data=st.data())
def test_unary_and_scalar_operand(device, name, shape, data):
    fn, values = SCALAR[name]
    compare(device, fn, fn, [data.draw(values(shape))])


# ----- reductions -----

@pytest.mark.parametrize("name", ["sum", "mean"])
@given(shape=S.shapes(), keepdims=st.booleans(), data=st.data())
def test_sum_mean(device, name, shape, keepdims, data):
    x = data.draw(S.arrays(shape))
    axis = data.draw(S.axes(len(shape)), label="axis")
    compare(device, lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
            lambda t: getattr(torch, name)(t, dim=all_axes(axis, t.ndim), keepdim=keepdims), [x])


@given(shape=S.shapes(), keepdims=st.booleans(), data=st.data())
def test_max(device, shape, keepdims, data):
    x = data.draw(S.distinct(shape))
    axis = data.draw(S.axes(len(shape)), label="axis")
    compare(device, lambda t: t.amax(dim=axis, keepdim=keepdims),
            lambda t: torch.amax(t, dim=all_axes(axis, t.ndim), keepdim=keepdims), [x])


def test_max_ties_like_amax(device):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.0]])
    compare(device, lambda t: t.amax(dim=1), lambda t: torch.amax(t, dim=1), [x])
    compare(device, lambda t: t.max(), lambda t: torch.amax(t), [x])


# ----- shape ops -----

@given(shape=S.shapes(), data=st.data())
def test_reshape(device, shape, data):
    x = data.draw(S.arrays(shape))
    target = data.draw(S.reshape_targets(shape), label="target")
    compare(device, lambda t: t.reshape(*target), lambda t: t.reshape(target), [x])


@given(shape=S.shapes(), data=st.data())
def test_permute(device, shape, data):
    x = data.draw(S.arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape))), label="perm"))
    compare(device, lambda t: t.permute(*perm), lambda t: t.permute(perm), [x])


@given(shape=S.shapes(), data=st.data())
def test_transpose_and_T(device, shape, data):
    x = data.draw(S.arrays(shape))
    dim0, dim1 = (data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label=name) for name in ("dim0", "dim1"))
    compare(device, lambda t: t.transpose(dim0, dim1), lambda t: t.transpose(dim0, dim1), [x])
    if x.ndim == 2:     # PyTorch warns on .T of other dims (ours: 0-D and 1-D as they are, more refused)
        compare(device, lambda t: t.T, lambda t: t.T, [x])


@given(shape=S.shapes(), data=st.data())
def test_flatten(device, shape, data):
    x = data.draw(S.arrays(shape))
    start, end = data.draw(S.flatten_dims(len(shape)), label="dims")
    compare(device, lambda t: t.flatten(start, end), lambda t: torch.flatten(t, start, end), [x])


INDEX_KINDS = {
    "basic": lambda shape: S.basic_indices(shape, steps=(1, 2, 3)),
    "int arrays": lambda shape: S.advanced_indices(shape, steps=(1, 2)),
    "mask": lambda shape: S.mask_indices(shape, steps=(1, 2)),
}


@pytest.mark.parametrize("kind", INDEX_KINDS)
@given(shape=S.shapes(min_dims=1), data=st.data())
def test_getitem(device, kind, shape, data):
    x = data.draw(S.arrays(shape))
    index = data.draw(INDEX_KINDS[kind](shape), label="index")
    compare(device, lambda t: t[index], lambda t: t[to_torch_index(index)], [x])


# ----- matmul, linear -----

@pytest.mark.parametrize("kind", S.MATMUL_KINDS)
@given(data=st.data())
def test_matmul(device, kind, data):
    shapes = data.draw(S.matmul_shapes(kind), label="shapes")
    a = data.draw(S.arrays(shapes[0]), label="a")
    b = data.draw(S.arrays(shapes[1]), label="b")
    compare(device, lambda x, y: x @ y, torch.matmul, [a, b])


@given(n_in=st.integers(1, 4), n_out=st.integers(1, 4), lead=S.shapes(0, 2), bias=st.booleans(), data=st.data())
def test_linear(device, n_in, n_out, lead, bias, data):
    arrays = [data.draw(S.arrays(lead + (n_in,)), label="x"), data.draw(S.arrays((n_out, n_in)), label="w")]
    if bias:
        arrays.append(data.draw(S.arrays((n_out,)), label="b"))
    compare(device, ops.linear, F.linear, arrays)


# ----- activations and loss -----

@given(shape=S.shapes(), data=st.data())
def test_relu(device, shape, data):
    compare(device, lambda t: t.relu(), torch.relu, [data.draw(S.away_from_zero(shape))])


@given(shape=S.shapes(), slope=st.sampled_from([0.01, 0.02, 0.2]) | st.floats(0.0, 1.0), data=st.data())
def test_leaky_relu(device, shape, slope, data):
    compare(device, lambda t: t.leaky_relu(slope), lambda t: F.leaky_relu(t, slope),
            [data.draw(S.away_from_zero(shape))])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=S.shapes(min_dims=1), data=st.data())
def test_softmax(device, name, shape, data):
    x = data.draw(S.arrays(shape, -5.0, 5.0))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    compare(device, lambda t: getattr(t, name)(axis), lambda t: getattr(torch, name)(t, dim=axis), [x])


@given(n=st.integers(1, 5), c=st.integers(1, 6), data=st.data())
def test_cross_entropy_integer_targets(device, n, c, data):
    logits = data.draw(S.arrays((n, c), -5.0, 5.0), label="logits")
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    compare(device, lambda t: ops.cross_entropy(t, target), lambda t: F.cross_entropy(t, torch.from_numpy(target)),
            [logits])


@given(n=st.integers(1, 5), c=st.integers(1, 6), normalized=st.booleans(), data=st.data())
def test_cross_entropy_probability_targets(device, n, c, normalized, data):
    logits = data.draw(S.arrays((n, c), -5.0, 5.0), label="logits")
    target = data.draw(S.probabilities(n, c) if normalized else S.arrays((n, c), 0.0, 2.0), label="target")
    compare(device, ops.cross_entropy, F.cross_entropy, [logits, target])


# ----- float32: the ops of an MLP -----

def _rng_arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


F32_CASES = {
    "linear": (ops.linear, F.linear, [(32, 20), (10, 20), (10,)]),
    "linear 3-D": (ops.linear, F.linear, [(4, 8, 20), (10, 20), (10,)]),
    "matmul": (lambda a, b: a @ b, torch.matmul, [(32, 20), (20, 10)]),
    "add bias": (lambda a, b: a + b, lambda a, b: a + b, [(32, 10), (10,)]),
    "mul scalar": (lambda a: a * 0.02, lambda a: a * 0.02, [(32, 10)]),
    "sum": (lambda a: a.sum(axis=0), lambda a: a.sum(dim=0), [(32, 10)]),
    "mean": (lambda a: a.mean(), lambda a: a.mean(), [(32, 10)]),
    "relu": (lambda a: a.relu(), torch.relu, [(32, 10)]),
    "leaky_relu": (lambda a: a.leaky_relu(0.02), lambda a: F.leaky_relu(a, 0.02), [(32, 10)]),
    "softmax": (lambda a: a.softmax(axis=1), lambda a: torch.softmax(a, dim=1), [(32, 10)]),
    "log_softmax": (lambda a: a.log_softmax(axis=1), lambda a: torch.log_softmax(a, dim=1), [(32, 10)]),
    "cross_entropy int": (lambda a: ops.cross_entropy(a, np.arange(32) % 10),
                          lambda a: F.cross_entropy(a, torch.arange(32) % 10), [(32, 10)]),
    "cross_entropy prob": (lambda a, p: ops.cross_entropy(a, p.softmax(axis=1)),
                           lambda a, p: F.cross_entropy(a, torch.softmax(p, dim=1)), [(32, 10), (32, 10)]),
}


@pytest.mark.parametrize("name", F32_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_float32_mlp_ops(device, name, seed):
    ours, theirs, shapes = F32_CASES[name]
    compare(device, ours, theirs, _rng_arrays(seed, *shapes), dtype=np.float32, upstream_seed=seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_step_matches_torch(device, dtype):
    """linear -> leaky_relu -> linear -> cross_entropy, the assignment's MLP, grads of every parameter."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 30)).astype(dtype)
    labels = rng.integers(0, 10, 64)
    params = [rng.standard_normal(s) * 0.3 for s in [(20, 30), (20,), (10, 20), (10,)]]

    def ours(w1, b1, w2, b2):
        return ops.cross_entropy(ops.linear(ops.linear(device.tensor(x), w1, b1).leaky_relu(0.02), w2, b2), labels)

    def theirs(w1, b1, w2, b2):
        h = F.leaky_relu(F.linear(torch.from_numpy(x), w1, b1), 0.02)
        return F.cross_entropy(F.linear(h, w2, b2), torch.from_numpy(labels))

    compare(device, ours, theirs, params, dtype=dtype)
