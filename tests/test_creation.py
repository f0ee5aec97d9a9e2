"""zeros, ones, full, arange, rand, randn, zeros_like, ones_like: PyTorch's names, shapes and dtypes, on
every backend; rand and randn follow manual_seed; bad sizes refused."""
import numpy as np
import pytest

import tinygrad_dl1 as tg

try:
    import torch
except ImportError:
    torch = None


@pytest.mark.parametrize("make, expected, dtype", [
    (lambda d: tg.zeros(2, 3, device=d), np.zeros((2, 3)), np.float32),
    (lambda d: tg.zeros((2, 3), device=d), np.zeros((2, 3)), np.float32),
    (lambda d: tg.ones([4], dtype="float64", device=d), np.ones(4), np.float64),
    (lambda d: tg.full((2, 2), 1.5, device=d), np.full((2, 2), 1.5), np.float32),
    (lambda d: tg.full((3,), 7, device=d), np.full(3, 7), np.int64),
    (lambda d: tg.full((1,), True, device=d), np.ones(1, bool), np.bool_),
    (lambda d: tg.arange(5, device=d), np.arange(5), np.int64),
    (lambda d: tg.arange(1, 2, 0.25, device=d), np.arange(1, 2, 0.25), np.float32),
    (lambda d: tg.zeros_like(tg.arange(3, device=d)), np.zeros(3), np.int64),
    (lambda d: tg.ones_like(tg.zeros(2, 1, dtype="float64", device=d)), np.ones((2, 1)), np.float64),
])
def test_values_shapes_and_dtypes(device, make, expected, dtype):
    t = make(device.name)
    assert t.dtype == dtype and t.device == device.name
    np.testing.assert_array_equal(device.to_host(t), expected)


@pytest.mark.skipif(torch is None, reason="needs PyTorch")
def test_dtypes_are_pytorchs():
    pairs = [(tg.zeros(2), torch.zeros(2)), (tg.full((2,), 7), torch.full((2,), 7)), (tg.arange(3), torch.arange(3)),
             (tg.arange(0.5, 2), torch.arange(0.5, 2)), (tg.randn(2), torch.randn(2)), (tg.rand(2), torch.rand(2))]
    for ours, theirs in pairs:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_rand_and_randn_follow_manual_seed_and_take_a_generator():
    tg.manual_seed(0)
    a, b = tg.randn(3, 2).numpy(), tg.rand(4).numpy()
    tg.manual_seed(0)
    np.testing.assert_array_equal(tg.randn(3, 2).numpy(), a)
    np.testing.assert_array_equal(tg.rand(4).numpy(), b)
    assert b.min() >= 0 and b.max() < 1 and a.shape == (3, 2)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(tg.randn(3, generator=g1).numpy(), tg.randn(3, generator=g2).numpy())
    x = tg.randn(2, requires_grad=True)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 2])


@pytest.mark.parametrize("make, error, match", [
    (lambda: tg.zeros(2, -1), ValueError, r"zeros: a size must be ints >= 0, got \(2, -1\)"),
    (lambda: tg.ones(2.5), ValueError, r"ones: a size must be ints"),
    (lambda: tg.arange(0, 1, 0), ValueError, r"arange: step must not be 0"),
    (lambda: tg.arange(0, float("inf")), ValueError, r"arange: end must be a finite number"),
    (lambda: tg.arange(3, requires_grad=True), TypeError, r"only floating-point tensors can require grad"),
])
def test_bad_sizes_and_ranges_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()
