"""PyTorch's names that learners type without thinking: expand, min / amin / argmin (and min(dim) as
(values, indices)), view, dim(), numel(). Values and gradients against NumPy, float64 gradchecks
and PyTorch where it is installed (the public kit), on every backend; argument errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_dl1 import Tensor, testing

import strategies as S

try:
    import torch
except ImportError:
    torch = None


def check(device, fn, arrays, reference, torch_fn=None):
    assert testing.assert_gradients(fn, *arrays, reference=reference, torch_fn=torch_fn, devices=[device.name])


@given(shape=S.shapes(max_dims=3), data=st.data())
def test_expand_repeats_the_dims_of_size_one_and_sums_the_gradient_back(device, shape, data):
    x = data.draw(S.arrays(tuple(1 if data.draw(st.booleans()) else n for n in shape)))
    target = (2, *(n if n != 1 else data.draw(st.integers(1, 3)) for n in x.shape))
    sizes = (target[0], *(-1 if n == t else t for n, t in zip(x.shape, target[1:])))
    check(device, lambda t: t.expand(*sizes), [x], lambda a: np.broadcast_to(a, target),
          lambda t: t.expand(*sizes))


@given(shape=S.shapes(min_dims=1, max_dims=3), data=st.data())
def test_min_amin_and_min_dim(device, shape, data):
    x = data.draw(S.distinct(shape))                 # no ties: a gradcheck step cannot change the minimum
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(device, lambda t: t.min(), [x], np.min, lambda t: t.min())
    check(device, lambda t: t.amin(dim=dim, keepdim=True), [x], lambda a: a.min(axis=dim, keepdims=True),
          lambda t: t.amin(dim=dim, keepdim=True))
    check(device, lambda t: t.min(dim).values, [x], lambda a: a.min(axis=dim), lambda t: t.min(dim).values)
    got = device.tensor(x).min(dim)
    np.testing.assert_array_equal(device.to_host(got.indices), x.argmin(axis=dim))
    np.testing.assert_array_equal(device.to_host(device.tensor(x).argmin(dim).data), x.argmin(axis=dim))


def test_a_tie_in_min_dim_sends_the_gradient_to_the_first_minimum_and_amin_splits_it(device):
    x = device.tensor(np.array([[2.0, 1.0, 1.0]]), requires_grad=True)
    x.min(1).values.sum().backward()
    np.testing.assert_array_equal(device.to_host(x.grad), [[0, 1, 0]])
    x.grad = None
    x.amin().backward()
    np.testing.assert_array_equal(device.to_host(x.grad), [[0, 0.5, 0.5]])
    if torch is not None:
        t = torch.tensor([[2.0, 1.0, 1.0]], requires_grad=True)
        t.amin().backward()
        np.testing.assert_array_equal(t.grad.numpy(), [[0, 0.5, 0.5]])


def test_view_dim_and_numel_mean_what_they_mean_in_pytorch():
    x = Tensor(np.arange(6.0), requires_grad=True)
    y = x.view(2, 3)
    assert y.shape == (2, 3) and y.dim() == 2 and y.numel() == 6
    (y * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0))


@pytest.mark.parametrize("fn, error, match", [
    (lambda x: x.expand(3, 4), ValueError, r"expand: cannot expand shape \(2, 3\) to \(3, 4\)"),
    (lambda x: x.expand(3), ValueError, r"expand: 1 sizes for a tensor of 2 dims"),
    (lambda x: x.expand(-1, 2, 3), ValueError, r"-1 cannot be the size of a new leading dim"),
    (lambda x: x.expand(2, 3.0), ValueError, r"sizes must be ints"),
    (lambda x: x.min(dim=5), IndexError, r"min: axis 5 is out of range"),
    (lambda x: x.min(dim=(0, 1)), TypeError, r"min: dim must be an int when the indices come too"),
    (lambda x: x.argmin(4), IndexError, r"argmin: axis 4 is out of range"),
    (lambda x: Tensor(np.ones((0, 3))).amin(), ValueError, r"min: cannot reduce an empty axis"),
])
def test_clear_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn(Tensor(np.ones((2, 3))))
