"""Batch norm two ways: the op with a hand-derived backward and the composed teaching version agree
with each other, with numerical gradients and with PyTorch, in training and in eval mode.
The computing tests run on each device (the ``device`` fixture of conftest.py)."""
import numpy as np
import pytest

from tinygrad_dl1 import GradcheckError, Tensor, gradcheck
from tinygrad_dl1.nn import functional as F
from tinygrad_dl1.ops.normalization import BatchNorm

BOTH = [F.batch_norm, F.batch_norm_composed]


def assignment_case(device, seed):
    """The assignment's own check: N in [64, 256), C in [4, 10),
    gamma = sqrt(10 * arange(C)), beta = 100 * arange(C), x = 2 * randn + 10, float64."""
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(64, 256)), int(rng.integers(4, 10))
    x = device.tensor(2 * rng.standard_normal((n, c)) + 10, requires_grad=True)
    gamma = device.tensor(np.sqrt(10 * np.arange(c, dtype=np.float64)), requires_grad=True)
    beta = device.tensor(100 * np.arange(c, dtype=np.float64), requires_grad=True)
    return x, gamma, beta


def random_case(device, shape, seed=0, dtype=np.float64):
    """x, gamma, beta (tensors on device) and the running statistics (float32 arrays there)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = device.tensor((3 * rng.standard_normal(shape) - 1).astype(dtype), requires_grad=True)
    gamma = device.tensor(rng.uniform(0.5, 2, c).astype(dtype), requires_grad=True)
    beta = device.tensor(rng.standard_normal(c).astype(dtype), requires_grad=True)
    running = (device.array(rng.standard_normal(c), np.float32), device.array(rng.uniform(0.5, 2, c), np.float32))
    return x, gamma, beta, running


def grads(device, fn, x, gamma, beta, seed=1, **kwargs):
    """Output and gradients of sum(r * fn(...)) for a fixed random r, as NumPy arrays."""
    for t in (x, gamma, beta):
        t.grad = None
    y = fn(x, gamma, beta, **kwargs)
    y.backward(device.array(np.random.default_rng(seed).standard_normal(y.shape), y.dtype))
    return [device.to_host(t) for t in (y, x.grad, gamma.grad, beta.grad)]


# ----- the two ways agree -----

@pytest.mark.parametrize("shape", [(50, 6), (4, 3, 5, 6), (8, 2, 7)])
@pytest.mark.parametrize("training", [True, False])
def test_the_op_and_the_composed_version_give_the_same_outputs_and_gradients(implementation, device, shape, training):
    x, gamma, beta, (rm, rv) = random_case(device, shape)
    stats = [(rm.copy(), rv.copy()) for _ in BOTH]
    results = [grads(device, fn, x, gamma, beta, running_mean=m, running_var=v, training=training)
               for fn, (m, v) in zip(BOTH, stats)]
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-10)
    for fused, composed in zip(*stats):
        np.testing.assert_allclose(device.to_host(fused), device.to_host(composed), rtol=1e-6)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_both_pass_gradcheck_on_the_assignments_case(implementation, device, fn, seed):
    if seed != 1 and not device.is_cpu:
        pytest.skip("off the CPU one seed (the smallest case) is enough: the seeds vary the shape, not the "
                    "code path, and each entry of x is checked (time)")
    x, gamma, beta = assignment_case(device, seed)
    assert gamma.numpy()[0] == 0                   # the first channel's output ignores x entirely
    assert gradcheck(fn, [x, gamma, beta], max_entries=x.size)     # every entry of x, not directions


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("training", [True, False])
def test_both_pass_gradcheck_on_a_small_4d_input(implementation, device, fn, training):
    x, gamma, beta, (rm, rv) = random_case(device, (3, 2, 4, 3))
    assert gradcheck(lambda *a: fn(*a, running_mean=rm.copy(), running_var=rv.copy(), training=training),
                     [x, gamma, beta])


def test_gradcheck_catches_a_backward_that_forgets_the_variance_term(device):
    class Forgetful(BatchNorm):
        def backward(self, gy):
            self.x_hat = self.x_hat * 0 if self.x_hat is not None else None
            return super().backward(gy)

    x, gamma, beta = assignment_case(device, 0)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda a, g, b: Forgetful((0,), None, None, True, 0.1, 1e-5)(a, g, b), [x, gamma, beta])


@pytest.mark.parametrize("fn", BOTH)
def test_only_the_inputs_that_require_grad_get_one(device, fn):
    x, gamma, beta, _ = random_case(device, (20, 3))
    reference = grads(device, fn, x, gamma, beta)
    for need in [(True, False, False), (False, True, False), (False, False, True), (False, True, True)]:
        args = [Tensor(t.data, requires_grad=r) for t, r in zip((x, gamma, beta), need)]
        y = fn(*args)
        y.backward(device.array(np.random.default_rng(1).standard_normal(y.shape)))
        for t, r, expected in zip(args, need, reference[1:]):
            if r:
                np.testing.assert_allclose(device.to_host(t.grad), expected, rtol=1e-12)
            else:
                assert t.grad is None


# ----- what the statistics do -----

@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("shape", [(300, 5), (40, 3, 6, 5)])
def test_training_output_has_zero_mean_and_unit_variance_per_feature(device, fn, shape):
    x = device.tensor((2 * np.random.default_rng(0).standard_normal(shape) + 10).astype(np.float32))
    c = shape[1]
    y = fn(x, device.tensor(np.ones(c, np.float32)), device.tensor(np.zeros(c, np.float32))).numpy()
    axes = (0,) + tuple(range(2, len(shape)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=axes), 1, atol=1e-4)


@pytest.mark.parametrize("fn", BOTH)
def test_training_updates_running_statistics_with_momentum_and_unbiased_variance(implementation, device, fn):
    x, gamma, beta, _ = random_case(device, (30, 4, 2, 3))
    rm, rv = device.array(np.zeros(4, np.float32)), device.array(np.ones(4, np.float32))
    for _ in range(2):
        fn(x, gamma, beta, running_mean=rm, running_var=rv, momentum=0.25)   # updates rm and rv in place
    mean = x.numpy().mean(axis=(0, 2, 3))
    var = x.numpy().var(axis=(0, 2, 3), ddof=1)              # unbiased, over the 180 entries per channel
    np.testing.assert_allclose(device.to_host(rm), (1 - 0.75 ** 2) * mean, rtol=1e-5)
    np.testing.assert_allclose(device.to_host(rv), 0.75 ** 2 + (1 - 0.75 ** 2) * var, rtol=1e-5)
    assert rm.dtype == np.float32


@pytest.mark.parametrize("fn", BOTH)
def test_eval_mode_normalises_with_the_running_statistics_and_leaves_them(device, fn):
    x, gamma, beta, (rm, rv) = random_case(device, (10, 3))
    x_, gamma_, beta_, rm_, rv_ = (device.to_host(a).copy() for a in (x, gamma, beta, rm, rv))   # before
    y = fn(x, gamma, beta, running_mean=Tensor(rm), running_var=Tensor(rv), training=False)
    expected = gamma_ * (x_ - rm_) / np.sqrt(rv_ + 1e-5) + beta_
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(device.to_host(rm), rm_)
    np.testing.assert_array_equal(device.to_host(rv), rv_)
    y.backward(device.array(np.ones(y.shape)))              # the affine map: dx = gamma / sigma
    np.testing.assert_allclose(device.to_host(x.grad), np.broadcast_to(gamma_ / np.sqrt(rv_ + 1e-5), x.shape),
                               rtol=1e-6)


@pytest.mark.parametrize("fn", BOTH)
def test_float32_in_float32_out_and_the_two_ways_agree(device, fn):
    x, gamma, beta, (rm, rv) = random_case(device, (64, 8), dtype=np.float32)
    out = grads(device, fn, x, gamma, beta, running_mean=rm, running_var=rv)
    reference = grads(device, F.batch_norm, *[Tensor(t, requires_grad=True, dtype=np.float64)
                                              for t in (x, gamma, beta)])
    for got, want in zip(out, reference):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ----- errors -----

@pytest.mark.parametrize("fn", BOTH)
def test_clear_errors(device, fn):
    x, gamma, beta, (rm, rv) = random_case(device, (5, 3))
    with pytest.raises(ValueError, match=r"shape \(N, C\).*got \(5,\)"):
        fn(device.tensor(np.ones(5)), gamma, beta)
    with pytest.raises(ValueError, match=r"gamma must be a tensor of shape \(3,\).*got \(4,\)"):
        fn(x, device.tensor(np.ones(4)), beta)
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\).*got \(2,\)"):
        fn(x, gamma, beta, running_mean=rm, running_var=device.array(np.ones(2)))
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        fn(x, gamma, beta, running_mean=rm)
    with pytest.raises(ValueError, match="eval mode"):
        fn(x, gamma, beta, training=False)
    with pytest.raises(ValueError, match="more than one value per channel"):
        fn(device.tensor(np.ones((1, 3))), gamma, beta)
    with pytest.raises(TypeError, match="updated in place"):
        fn(x, gamma, beta, running_mean=[0.0] * 3, running_var=[1.0] * 3)
    if not device.is_cpu:
        with pytest.raises(RuntimeError, match=f"running_mean is on cpu but the input on {device.name}"):
            fn(x, gamma, beta, running_mean=np.zeros(3, np.float32), running_var=rv)


# ----- PyTorch parity -----

@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 5)])
def test_matches_pytorch_in_training_and_eval(implementation, device, fn, shape):
    torch = pytest.importorskip("torch")
    x, gamma, beta, (rm, rv) = random_case(device, shape, dtype=np.float32)
    trm, trv = torch.tensor(device.to_host(rm)), torch.tensor(device.to_host(rv))
    for training in (True, True, False):
        ours = grads(device, fn, x, gamma, beta, running_mean=rm, running_var=rv, training=training, momentum=0.2)
        tx, tg, tb = (torch.tensor(t.numpy(), requires_grad=True) for t in (x, gamma, beta))
        ty = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.2, eps=1e-5)
        ty.backward(torch.tensor(np.random.default_rng(1).standard_normal(shape), dtype=torch.float32))
        for got, want in zip(ours, [ty, tx.grad, tg.grad, tb.grad]):
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(device.to_host(rm), trm.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(device.to_host(rv), trv.numpy(), rtol=1e-5, atol=1e-6)
