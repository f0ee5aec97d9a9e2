"""tinygrad_dl1.testing, the kit a learner points at an op of their own: it passes a right op and
fails each kind of wrong one with a message naming the check and the device; its strategies draw
what they promise; the decorator makes a test pytest can run."""
import inspect

import numpy as np
import pytest
from hypothesis import given, settings

from tinygrad_dl1 import Tensor, backend, testing
from tinygrad_dl1.function import Function

try:
    import torch
except ImportError:
    torch = None


class Cube(Function):
    def forward(self, x):               # y = x^3
        self.save_for_backward(x=x)
        return x * x * x

    def backward(self, gy):             # dL/dx = 3 x^2 gy
        return 3 * self.x * self.x * gy


class CubeMissingThree(Cube):
    def backward(self, gy):
        return self.x * self.x * gy


class CubeInFloat32(Cube):
    def forward(self, x):
        return super().forward(x).astype(np.float32)


class CubeWithNaNGradient(Cube):
    def backward(self, gy):
        return gy * np.nan


X = np.array([[0.5, -1.5, 2.0], [1.0, -0.25, 0.75]])


def test_a_right_op_passes_as_a_class_and_as_a_function(device):
    assert testing.assert_gradients(Cube, X, reference=lambda a: a ** 3, devices=[device.name],
                                    torch_fn=lambda t: t ** 3)
    assert testing.assert_gradients(lambda t: Cube()(t) * 2, X, devices=[device.name])


@pytest.mark.parametrize("op, error, match", [
    (CubeMissingThree, testing.GradcheckError, r"on \S+, entry by entry: gradcheck: input 0 \(shape \(2, 3\)\)"),
    (CubeInFloat32, AssertionError, r"float64 inputs on \S+ gave a float32 output"),
    (CubeWithNaNGradient, AssertionError, "non-finite gradient"),
])
def test_a_wrong_op_fails_naming_the_check_and_the_device(device, op, error, match):
    with pytest.raises(error, match=match) as caught:
        testing.assert_gradients(op, X, devices=[device.name])
    assert device.name in str(caught.value)


def test_a_wrong_forward_fails_against_the_reference():
    with pytest.raises(AssertionError, match="the forward differs from the reference"):
        testing.assert_gradients(Cube, X, reference=lambda a: a ** 2, devices=["cpu"])


@pytest.mark.skipif(torch is None, reason="needs PyTorch")
def test_an_op_unlike_pytorchs_fails_the_comparison():
    with pytest.raises(AssertionError, match="differs from PyTorch's"):
        testing.assert_gradients(Cube, X, torch_fn=lambda t: t ** 2, devices=["cpu"])


def test_the_decorator_makes_a_test_without_arguments_that_draws_inputs():
    seen = []

    @testing.gradient_property(testing.arrays(testing.shapes(min_dims=1)), max_examples=7, devices=["cpu"])
    def test_cube(x):
        seen.append(x.shape)
        return Cube()(x)

    assert test_cube.__name__ == "test_cube" and not inspect.signature(test_cube).parameters
    test_cube()
    assert len(seen) >= 7 and len(set(seen)) > 1, seen
    with pytest.raises(testing.GradcheckError):
        testing.check_gradients(CubeMissingThree, testing.arrays(testing.shapes()), max_examples=5, devices=["cpu"])


def test_backends_name_the_cpu_and_each_gpu():
    assert testing.backends() == ["cpu"] + [f"cuda:{i}" for i in range(backend.gpu_count())]


@settings(max_examples=30, deadline=None)
@given(a=testing.away_from(testing.shapes(min_dims=1), (0.0, 1.0), distance=0.2),
       d=testing.distinct(testing.shapes(min_dims=1)), t=testing.tensors((2, 3), values=testing.positive))
def test_the_strategies_keep_their_promises(a, d, t):
    assert a.dtype == np.float64 and (np.abs(a) >= 0.2).all() and (np.abs(a - 1) >= 0.2).all()
    gaps = np.abs(d.reshape(-1, 1) - d.reshape(1, -1)) + np.eye(d.size)
    assert (gaps >= 0.01 - 1e-12).all()
    assert isinstance(t, Tensor) and t.requires_grad and t.shape == (2, 3) and (t.numpy() >= 0.2).all()
