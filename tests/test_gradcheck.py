"""gradcheck itself: it passes right gradients and catches wrong ones, saying where, on each device
(the ``device`` fixture of conftest.py): the function runs there, the comparison on the host."""
import numpy as np
import pytest

from tinygrad_dl1 import GradcheckError, Tensor, backend, gradcheck
from tinygrad_dl1.function import Function


class WrongSquare(Function):
    """y = x^2 with a backward off by a factor in one entry."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        g = 2 * self.x * gy
        g[(-1,) * g.ndim] *= 1.5
        return g


@pytest.mark.second_gpu
def test_passes_a_correct_gradient_and_runs_in_float64_on_the_inputs_device(device):
    seen = []

    def f(x):
        seen.append((x.dtype, x.device))
        return (x * x).sum()
    assert gradcheck(f, [device.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, dtype="float32")])
    assert set(seen) == {(np.dtype(np.float64), device.name)}


@pytest.mark.second_gpu
def test_names_the_input_and_worst_entry_of_a_wrong_gradient(device):
    x = device.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = device.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\): worst entry \(1, 2\).*analytic"):
        gradcheck(lambda a, b: a + WrongSquare()(b), [x, y])


@pytest.mark.second_gpu
def test_catches_a_wrong_gradient_along_random_directions_for_large_inputs(device):
    x = device.tensor(np.random.default_rng(0).standard_normal(5000), requires_grad=True)
    assert gradcheck(lambda a: (a * a).sum(), [x], max_entries=100)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda a: WrongSquare()(a * 30).sum(), [x], max_entries=100)


def test_an_input_the_output_does_not_depend_on_has_a_gradient_of_zero(device):
    a, b = device.tensor(np.ones(3), requires_grad=True), device.tensor(np.ones(3), requires_grad=True)
    assert gradcheck(lambda a, b: (b * 2).sum(), [a, b])          # a gets no .grad: zero is compared
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda a, b: (b * 2).sum() + a.detach().sum(), [a, b])   # numerically a counts


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda a: a.sum(), [Tensor(np.ones(3))])


class NanGradient(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy * np.nan


def test_a_nan_gradient_fails_in_both_modes(device):
    x = device.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(lambda a: NanGradient()(a), [x])
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(lambda a: NanGradient()(a), [x], max_entries=1)


def test_a_0d_leaf_used_twice_gets_an_array_gradient(device):
    t = device.tensor(np.array(2.0), requires_grad=True)
    (t * t).backward()
    assert backend.device_of(t.grad) == device.name and t.grad.shape == () and t.grad.item() == 4.0


def test_numerical_gradient_is_the_central_difference_of_each_entry():
    from tinygrad_dl1.gradcheck import numerical_gradient
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda a: float((a ** 3).sum()), x), 3 * x ** 2, rtol=1e-8)
