"""The ops learners reach for after the assignment's: tanh, sigmoid, sqrt, abs, clamp, squeeze,
unsqueeze, where, cat, stack, avg_pool2d, mse_loss, and their layers.

Each is checked by the public kit (``tinygrad_dl1.testing.assert_gradients``): forward against
NumPy, a finite gradient of the right shape, dtype and device, gradcheck in float64 entry by
entry and along random directions, and PyTorch's values and gradients where it is installed;
inputs drawn by hypothesis, every test on every backend (the ``device`` fixture). Below: float32
staying float32, huge inputs, integer inputs, argument errors, and the layers against PyTorch's.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_dl1 as tg
from tinygrad_dl1 import Tensor, nn, testing
from tinygrad_dl1.nn import functional as F

import strategies as S

try:
    import torch
except ImportError:      # the kit skips its PyTorch comparison then; the rest still runs
    torch = None

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def check(device, fn, arrays, reference, torch_fn=None):
    assert testing.assert_gradients(fn, *arrays, reference=reference, torch_fn=torch_fn, devices=[device.name])


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (ours, NumPy's, PyTorch's, the values to draw given a shape)
UNARY = {
    "tanh": (lambda t: t.tanh(), np.tanh, lambda t: torch.tanh(t), S.arrays),
    "F.tanh": (F.tanh, np.tanh, lambda t: torch.tanh(t), S.arrays),
    "nn.Tanh": (lambda t: nn.Tanh()(t), np.tanh, lambda t: torch.nn.Tanh()(t), S.arrays),
    "sigmoid": (lambda t: t.sigmoid(), np_sigmoid, lambda t: torch.sigmoid(t), lambda s: S.arrays(s, -8, 8)),
    "F.sigmoid": (F.sigmoid, np_sigmoid, lambda t: torch.sigmoid(t), S.arrays),
    "nn.Sigmoid": (lambda t: nn.Sigmoid()(t), np_sigmoid, lambda t: torch.nn.Sigmoid()(t), S.arrays),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, lambda t: torch.sqrt(t), S.positive),
    "abs": (lambda t: t.abs(), np.abs, lambda t: torch.abs(t), S.away_from_zero),
    "abs()": (lambda t: abs(t), np.abs, lambda t: abs(t), S.away_from_zero),
    "clamp(-1, 1.5)": (lambda t: t.clamp(-1, 1.5), lambda x: np.clip(x, -1, 1.5),
                       lambda t: torch.clamp(t, -1, 1.5), lambda s: S.away_from(s, (-1, 1.5))),
    "clamp(min=0.5)": (lambda t: t.clamp(min=0.5), lambda x: np.maximum(x, 0.5),
                       lambda t: t.clamp(min=0.5), lambda s: S.away_from(s, (0.5,))),
    "clamp(max=-0.5)": (lambda t: t.clamp(max=-0.5), lambda x: np.minimum(x, -0.5),
                        lambda t: t.clamp(max=-0.5), lambda s: S.away_from(s, (-0.5,))),
    "squeeze()": (lambda t: t.squeeze(), np.squeeze, lambda t: t.squeeze(), S.arrays),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=S.shapes(), data=st.data())
def test_unary(device, name, shape, data):
    ours, reference, theirs, values = UNARY[name]
    check(device, ours, [data.draw(values(shape), label="x")], reference, theirs)


@given(shape=S.shapes(), data=st.data())
def test_squeeze_dims_and_unsqueeze(device, shape, data):
    x = data.draw(S.arrays(shape), label="x")
    dim = data.draw(S.axes(len(shape), allow_none=False), label="dim") if shape else 0
    squeezed = tuple(n for d, n in enumerate(shape) if not (d in np.atleast_1d(np.array(dim) % max(len(shape), 1))
                                                            and n == 1))
    check(device, lambda t: t.squeeze(dim), [x], lambda a: a.reshape(squeezed),
          lambda t: t.squeeze(dim) if shape else t.squeeze())
    new = data.draw(st.integers(-len(shape) - 1, len(shape)), label="new dim")
    check(device, lambda t: t.unsqueeze(new), [x], lambda a: np.expand_dims(a, new), lambda t: t.unsqueeze(new))


@given(shapes=S.broadcastable_shapes(), data=st.data())
def test_where(device, shapes, data):
    a = data.draw(S.arrays(shapes[0]), label="a")
    b = data.draw(S.arrays(shapes[1]), label="b")
    full = np.broadcast_shapes(*shapes)
    cond_shape = full[data.draw(st.integers(0, len(full)), label="lead"):]
    cond = data.draw(st.lists(st.booleans(), min_size=int(np.prod(cond_shape)), max_size=int(np.prod(cond_shape))))
    cond = np.array(cond, dtype=bool).reshape(cond_shape)
    check(device, lambda x, y: tg.where(device.tensor(cond), x, y), [a, b], lambda x, y: np.where(cond, x, y),
          lambda x, y: torch.where(torch.from_numpy(cond), x, y))
    check(device, lambda x: tg.where(cond, x, 0.5), [a], lambda x: np.where(cond, x, 0.5),
          lambda x: torch.where(torch.from_numpy(cond), x, 0.5))


@given(shape=S.shapes(min_dims=1), n=st.integers(1, 3), data=st.data())
def test_cat_and_stack(device, shape, n, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n), label="sizes")
    pieces = [data.draw(S.arrays(shape[:dim % len(shape)] + (k,) + shape[dim % len(shape) + 1:])) for k in sizes]
    check(device, lambda *ts: tg.cat(ts, dim), pieces, lambda *xs: np.concatenate(xs, axis=dim),
          lambda *ts: torch.cat(ts, dim))
    same = [data.draw(S.arrays(shape)) for _ in range(n)]
    new = data.draw(st.integers(-len(shape) - 1, len(shape)), label="new dim")
    check(device, lambda *ts: tg.stack(list(ts), new), same, lambda *xs: np.stack(xs, axis=new),
          lambda *ts: torch.stack(ts, new))


@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height, width = (draw(st.integers(max(1, k - 2 * p), 6)) for k, p in zip(kernel, padding))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    x = draw(S.arrays((draw(st.integers(1, 2)), draw(st.integers(1, 3)), height, width)))
    return x, kernel, stride, padding


def np_avg_pool2d(x, kernel, stride, padding):
    (kh, kw), (ph, pw) = kernel, padding
    sh, sw = stride or kernel
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    return np.stack([np.stack([xp[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw].mean(axis=(2, 3))
                               for s in range(ow)], axis=-1) for r in range(oh)], axis=-2)


@given(case=pool_cases())
def test_avg_pool2d(device, case):
    x, kernel, stride, padding = case
    check(device, lambda t: F.avg_pool2d(t, kernel, stride, padding), [x],
          lambda a: np_avg_pool2d(a, kernel, stride, padding),
          lambda t: torch.nn.functional.avg_pool2d(t, kernel, stride, padding))
    check(device, lambda t: nn.AvgPool2d(kernel, stride, padding)(t), [x],
          lambda a: np_avg_pool2d(a, kernel, stride, padding),
          lambda t: torch.nn.AvgPool2d(kernel, stride, padding)(t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(shape=S.shapes(), data=st.data())
def test_mse_loss(device, reduction, shape, data):
    x, t = data.draw(S.arrays(shape), label="input"), data.draw(S.arrays(shape), label="target")
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    check(device, lambda a, b: F.mse_loss(a, b, reduction), [x, t], lambda a, b: reduce((a - b) ** 2),
          lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction))
    check(device, lambda a: nn.MSELoss(reduction)(a, t), [x], lambda a: reduce((a - t) ** 2),   # an array target
          lambda a: torch.nn.MSELoss(reduction=reduction)(a, torch.from_numpy(t)))


def test_cross_entropy_loss_layer_takes_labels_as_an_array_a_list_or_a_tensor(device):
    logits = np.random.default_rng(0).standard_normal((4, 3))
    labels = np.array([2, 0, 1, 2])
    for target in (labels, labels.tolist(), device.tensor(labels)):
        check(device, lambda a, target=target: nn.CrossEntropyLoss()(a, target), [logits],
              lambda a: F.cross_entropy(Tensor(a), labels).numpy(),
              lambda a: torch.nn.CrossEntropyLoss()(a, torch.from_numpy(labels)))


# ----- float32, huge inputs, integers -----

FLOAT32 = {
    "tanh": lambda t: t.tanh(), "sigmoid": lambda t: t.sigmoid(), "sqrt": lambda t: (t * t + 1).sqrt(),
    "abs": lambda t: t.abs(), "clamp": lambda t: t.clamp(-0.5, 0.5), "squeeze": lambda t: t.squeeze(0),
    "unsqueeze": lambda t: t.unsqueeze(-1), "where": lambda t: tg.where(t > 0, t, 2.0),
    "cat": lambda t: tg.cat([t, t * 2], 1), "stack": lambda t: tg.stack([t, t], 0),
    "avg_pool2d": lambda t: F.avg_pool2d(t.reshape(1, 1, 2, 6), 2, padding=1),
    "mse_loss": lambda t: F.mse_loss(t, np.zeros(t.shape)),
}


@pytest.mark.parametrize("name", FLOAT32)
def test_float32_stays_float32(device, name):
    t = device.tensor(np.random.default_rng(0).standard_normal((1, 12)), dtype=np.float32, requires_grad=True)
    out = FLOAT32[name](t)
    assert out.dtype == np.float32, f"{name}: output {out.dtype}"
    out.sum().backward()
    assert t.grad.dtype == np.float32


def test_sigmoid_and_tanh_of_huge_inputs_neither_overflow_nor_lose_their_gradient(device):
    t = device.tensor([-1000.0, -40.0, 0.0, 40.0, 1000.0], requires_grad=True, dtype=np.float64)
    with device.errstate(over="raise", invalid="raise", divide="raise"):   # e^-1000 underflows to 0: harmless
        y = t.sigmoid()
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), np_sigmoid(np.array([-np.inf, -40.0, 0.0, 40.0, np.inf])), rtol=1e-12)
    assert np.isfinite(device.to_host(t.grad)).all()
    np.testing.assert_array_equal(t.tanh().numpy()[[0, -1]], [-1.0, 1.0])


@pytest.mark.parametrize("op", ["sqrt", "tanh", "sigmoid"])
def test_integer_inputs_become_float32_as_in_pytorch(device, op):
    out = getattr(device.tensor([1, 4]), op)()
    assert out.dtype == np.float32
    if torch is not None:
        expected = getattr(torch.tensor([1, 4]), op)()
        assert expected.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    assert device.tensor([1, 4]).clamp(0, 2).dtype == np.int64 and device.tensor([1, 4]).clamp(0.5).dtype == np.float32


# ----- argument errors: one line naming what is wrong -----

ERRORS = {
    "clamp without bounds": (lambda: Tensor([1.0]).clamp(), ValueError, "clamp: give min, max or both"),
    "clamp by a tensor": (lambda: Tensor([1.0]).clamp(Tensor(0.0)), TypeError, "clamp: min must be a Python number"),
    "where of floats": (lambda: tg.where(Tensor([1.0]), Tensor([1.0]), 0.0), TypeError,
                        "where: condition must be boolean, got dtype float32"),
    "where, shapes": (lambda: tg.where(np.array([True, False, True]), Tensor(np.ones(2)), 0.0), ValueError,
                      r"where: shapes \(2,\) and \(3,\) cannot be broadcast"),
    "cat of nothing": (lambda: tg.cat([]), ValueError, "cat: expected at least one Tensor"),
    "cat of a tensor": (lambda: tg.cat(Tensor([1.0])), TypeError, "cat: expected a list or tuple of Tensors"),
    "cat, shapes": (lambda: tg.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]), ValueError,
                    r"cat: tensor 1 has shape \(2, 4\) but tensor 0 has shape \(2, 3\)"),
    "cat, dim": (lambda: tg.cat([Tensor(np.ones((2, 3)))], dim=2), IndexError, "cat: axis 2 is out of range"),
    "cat of 0-d": (lambda: tg.cat([Tensor(1.0)]), ValueError, "cat: zero-dimensional"),
    "stack, shapes": (lambda: tg.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]), ValueError,
                      r"stack: tensor 1 has shape \(3,\) but tensor 0 has shape \(2,\)"),
    "stack of an array": (lambda: tg.stack([np.ones(2)]), TypeError, "stack: tensor 0 must be a Tensor"),
    "unsqueeze dim": (lambda: Tensor(np.ones(2)).unsqueeze(3), IndexError, "unsqueeze: axis 3 is out of range"),
    "avg_pool2d of 3-D": (lambda: F.avg_pool2d(Tensor(np.ones((1, 4, 4))), 2), ValueError,
                          r"avg_pool2d: input must be 4-D \(N, C, H, W\), got shape \(1, 4, 4\)"),
    "avg_pool2d of ints": (lambda: F.avg_pool2d(Tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2), TypeError,
                           "avg_pool2d: input must be floating point"),
    "avg_pool2d padding": (lambda: F.avg_pool2d(Tensor(np.ones((1, 1, 4, 4))), 2, padding=2), ValueError,
                           "must be at most half of kernel_size"),
    "mse_loss shapes": (lambda: F.mse_loss(Tensor(np.ones(3)), Tensor(np.ones((3, 1)))), ValueError,
                        r"mse_loss: input of shape \(3,\) and target of shape \(3, 1\)"),
    "mse_loss reduction": (lambda: F.mse_loss(Tensor(np.ones(3)), np.ones(3), "avg"), ValueError,
                           "reduction must be 'mean', 'sum' or 'none'"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_bad_arguments_are_one_clear_error(name):
    fn, error, match = ERRORS[name]
    with pytest.raises(error, match=match):
        fn()


def test_a_wrong_new_backward_is_caught(monkeypatch):
    """The checks above can fail: a sigmoid whose backward forgets the factor (1 - y) is caught."""
    from tinygrad_dl1.ops import activation
    monkeypatch.setattr(activation.Sigmoid, "backward", lambda self, gy: gy * self.y)
    with pytest.raises(testing.GradcheckError, match="entry by entry"):
        testing.assert_gradients(lambda t: t.sigmoid(), np.array([0.5, -1.0]), devices=["cpu"])


def test_a_model_with_the_new_layers_matches_its_pytorch_twin(device):
    """nn.Tanh, nn.Sigmoid and nn.AvgPool2d in a model: the same outputs and weight gradients as PyTorch's."""
    if torch is None:
        pytest.skip("needs PyTorch")
    from torch_reference import torch_twin
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(12, 4), nn.Sigmoid())
    twin = torch_twin(torch, model)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    ours = model.to(device.name)(device.tensor(x))
    theirs = twin(torch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(device.to_host(model[0].weight.grad), twin[0].weight.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("target_dtype", [np.float64, np.int64])
def test_mse_loss_promotes_a_target_of_another_dtype_as_pytorch_does(device, target_dtype):
    x = device.tensor(np.array([0.5, 1.5, -1.0]), dtype=np.float32, requires_grad=True)
    loss = F.mse_loss(x, device.tensor(np.array([1, 0, 2]), dtype=target_dtype))
    assert loss.dtype == (np.float64 if target_dtype == np.float64 else np.float32)
    loss.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(device.to_host(x.grad), 2 * (np.array([0.5, 1.5, -1.0]) - [1, 0, 2]) / 3, rtol=1e-6)
    if torch is not None:
        theirs = torch.nn.functional.mse_loss(torch.tensor([0.5, 1.5, -1.0]),
                                              torch.tensor([1, 0, 2], dtype=torch.float64))
        assert theirs.dtype == torch.float64
