"""Batch norm two ways: the op with a hand-derived backward and the composed teaching version agree
with each other, with numerical gradients and with PyTorch, in training and in eval mode."""
import numpy as np
import pytest

from tinygrad_dl1 import GradcheckError, Tensor, gradcheck
from tinygrad_dl1.nn import functional as F
from tinygrad_dl1.ops.normalization import BatchNorm

BOTH = [F.batch_norm, F.batch_norm_composed]


def assignment_case(seed):
    """The assignment's own check: N in [64, 256), C in [4, 10),
    gamma = sqrt(10 * arange(C)), beta = 100 * arange(C), x = 2 * randn + 10, float64."""
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(64, 256)), int(rng.integers(4, 10))
    x = Tensor(2 * rng.standard_normal((n, c)) + 10, requires_grad=True)
    gamma = Tensor(np.sqrt(10 * np.arange(c, dtype=np.float64)), requires_grad=True)
    beta = Tensor(100 * np.arange(c, dtype=np.float64), requires_grad=True)
    return x, gamma, beta


def random_case(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = Tensor((3 * rng.standard_normal(shape) - 1).astype(dtype), requires_grad=True)
    gamma = Tensor(rng.uniform(0.5, 2, c).astype(dtype), requires_grad=True)
    beta = Tensor(rng.standard_normal(c).astype(dtype), requires_grad=True)
    running = (rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32))
    return x, gamma, beta, running


def grads(fn, x, gamma, beta, seed=1, **kwargs):
    """Output and gradients of sum(r * fn(...)) for a fixed random r."""
    for t in (x, gamma, beta):
        t.grad = None
    y = fn(x, gamma, beta, **kwargs)
    y.backward(np.random.default_rng(seed).standard_normal(y.shape))
    return [y.data] + [t.grad for t in (x, gamma, beta)]


# ----- the two ways agree -----

@pytest.mark.parametrize("shape", [(50, 6), (4, 3, 5, 6), (8, 2, 7)])
@pytest.mark.parametrize("training", [True, False])
def test_the_op_and_the_composed_version_give_the_same_outputs_and_gradients(shape, training):
    x, gamma, beta, (rm, rv) = random_case(shape)
    stats = [(rm.copy(), rv.copy()) for _ in BOTH]
    results = [grads(fn, x, gamma, beta, running_mean=m, running_var=v, training=training)
               for fn, (m, v) in zip(BOTH, stats)]
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-6)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-6)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_both_pass_gradcheck_on_the_assignments_case(fn, seed):
    x, gamma, beta = assignment_case(seed)
    assert gamma.data[0] == 0                      # the first channel's output ignores x entirely
    assert gradcheck(fn, [x, gamma, beta], max_entries=x.size)     # every entry of x, not directions


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("training", [True, False])
def test_both_pass_gradcheck_on_a_small_4d_input(fn, training):
    x, gamma, beta, (rm, rv) = random_case((3, 2, 4, 3))
    assert gradcheck(lambda *a: fn(*a, running_mean=rm.copy(), running_var=rv.copy(), training=training),
                     [x, gamma, beta])


def test_gradcheck_catches_a_backward_that_forgets_the_variance_term():
    class Forgetful(BatchNorm):
        def backward(self, gy):
            self.x_hat = self.x_hat * 0 if self.x_hat is not None else None
            return super().backward(gy)

    x, gamma, beta = assignment_case(0)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda a, g, b: Forgetful((0,), None, None, True, 0.1, 1e-5)(a, g, b), [x, gamma, beta])


@pytest.mark.parametrize("fn", BOTH)
def test_only_the_inputs_that_require_grad_get_one(fn):
    x, gamma, beta, _ = random_case((20, 3))
    reference = grads(fn, x, gamma, beta)
    for need in [(True, False, False), (False, True, False), (False, False, True), (False, True, True)]:
        args = [Tensor(t.data, requires_grad=r) for t, r in zip((x, gamma, beta), need)]
        y = fn(*args)
        y.backward(np.random.default_rng(1).standard_normal(y.shape))
        for t, r, expected in zip(args, need, reference[1:]):
            if r:
                np.testing.assert_allclose(t.grad, expected, rtol=1e-12)
            else:
                assert t.grad is None


# ----- what the statistics do -----

@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("shape", [(300, 5), (40, 3, 6, 5)])
def test_training_output_has_zero_mean_and_unit_variance_per_feature(fn, shape):
    x = Tensor((2 * np.random.default_rng(0).standard_normal(shape) + 10).astype(np.float32))
    c = shape[1]
    y = fn(x, Tensor(np.ones(c, np.float32)), Tensor(np.zeros(c, np.float32))).data
    axes = (0,) + tuple(range(2, len(shape)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=axes), 1, atol=1e-4)


@pytest.mark.parametrize("fn", BOTH)
def test_training_updates_running_statistics_with_momentum_and_unbiased_variance(fn):
    x, gamma, beta, _ = random_case((30, 4, 2, 3))
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    ids = id(rm), id(rv)
    for _ in range(2):
        fn(x, gamma, beta, running_mean=rm, running_var=rv, momentum=0.25)
    mean = x.data.mean(axis=(0, 2, 3))
    var = x.data.var(axis=(0, 2, 3), ddof=1)                 # unbiased, over the 180 entries per channel
    np.testing.assert_allclose(rm, (1 - 0.75 ** 2) * mean, rtol=1e-5)
    np.testing.assert_allclose(rv, 0.75 ** 2 + (1 - 0.75 ** 2) * var, rtol=1e-5)
    assert (id(rm), id(rv)) == ids and rm.dtype == np.float32


@pytest.mark.parametrize("fn", BOTH)
def test_eval_mode_normalises_with_the_running_statistics_and_leaves_them(fn):
    x, gamma, beta, (rm, rv) = random_case((10, 3))
    before = rm.copy(), rv.copy()
    y = fn(x, gamma, beta, running_mean=Tensor(rm), running_var=Tensor(rv), training=False)
    expected = gamma.data * (x.data - rm) / np.sqrt(rv + 1e-5) + beta.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(rv, before[1])
    y.backward(np.ones(y.shape))                             # the affine map: dx = gamma / sigma
    np.testing.assert_allclose(x.grad, np.broadcast_to(gamma.data / np.sqrt(rv + 1e-5), x.shape), rtol=1e-6)


@pytest.mark.parametrize("fn", BOTH)
def test_float32_in_float32_out_and_the_two_ways_agree(fn):
    x, gamma, beta, (rm, rv) = random_case((64, 8), dtype=np.float32)
    out = grads(fn, x, gamma, beta, running_mean=rm, running_var=rv)
    reference = grads(F.batch_norm, *[Tensor(t.data.astype(np.float64), requires_grad=True)
                                      for t in (x, gamma, beta)])
    for got, want in zip(out, reference):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ----- errors -----

@pytest.mark.parametrize("fn", BOTH)
def test_clear_errors(fn):
    x, gamma, beta, (rm, rv) = random_case((5, 3))
    with pytest.raises(ValueError, match=r"shape \(N, C\).*got \(5,\)"):
        fn(Tensor(np.ones(5)), gamma, beta)
    with pytest.raises(ValueError, match=r"gamma must be a tensor of shape \(3,\).*got \(4,\)"):
        fn(x, Tensor(np.ones(4)), beta)
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\).*got \(2,\)"):
        fn(x, gamma, beta, running_mean=rm, running_var=np.ones(2))
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        fn(x, gamma, beta, running_mean=rm)
    with pytest.raises(ValueError, match="eval mode"):
        fn(x, gamma, beta, training=False)
    with pytest.raises(ValueError, match="more than one value per channel"):
        fn(Tensor(np.ones((1, 3))), gamma, beta)
    with pytest.raises(TypeError, match="updated in place"):
        fn(x, gamma, beta, running_mean=[0.0] * 3, running_var=[1.0] * 3)


# ----- PyTorch parity -----

@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 5)])
def test_matches_pytorch_in_training_and_eval(fn, shape):
    torch = pytest.importorskip("torch")
    x, gamma, beta, (rm, rv) = random_case(shape, dtype=np.float32)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    for training in (True, True, False):
        ours = grads(fn, x, gamma, beta, running_mean=rm, running_var=rv, training=training, momentum=0.2)
        tx, tg, tb = (torch.tensor(t.data, requires_grad=True) for t in (x, gamma, beta))
        ty = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.2, eps=1e-5)
        ty.backward(torch.tensor(np.random.default_rng(1).standard_normal(shape), dtype=torch.float32))
        for got, want in zip(ours, [ty, tx.grad, tg.grad, tb.grad]):
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-5, atol=1e-6)
