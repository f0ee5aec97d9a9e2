"""Argument checks (tinygrad_dl1.checks): each op refuses what it cannot compute with an error that
names the op and what it got, before any computing; axes out of range are refused, never wrapped."""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, checks, models, nn, ops
from tinygrad_dl1.nn import functional as F


def t(*shape, dtype=np.float64):
    return Tensor(np.arange(1, 1 + int(np.prod(shape)), dtype=dtype).reshape(shape))


# ----- axes: out of range is an error (an IndexError as in PyTorch, a ValueError as in NumPy) -----

AXIS_ERRORS = {
    "transpose 2-D dims (2, 1)": (lambda: t(2, 3).transpose(2, 1), "transpose: axis 2"),
    "permute 3-D by (0, 1, -4)": (lambda: t(2, 3, 4).permute(0, 1, -4), "permute: axis -4"),
    "sum axis 2": (lambda: t(2, 3).sum(axis=2), "sum: axis 2"),
    "mean axis -3": (lambda: t(2, 3).mean(axis=-3), "mean: axis -3"),
    "max axes (0, 2)": (lambda: t(2, 3).amax(dim=(0, 2)), "max: axis 2"),
    "max dim 2": (lambda: t(2, 3).max(dim=2), "max: axis 2"),
    "argmax dim -3": (lambda: t(2, 3).argmax(dim=-3), "argmax: axis -3"),
    "sum of a 0-d tensor, axis 1": (lambda: t().sum(axis=1), "sum: axis 1"),
    "softmax axis 2": (lambda: t(2, 3).softmax(axis=2), "softmax: axis 2"),
    "log_softmax axis -3": (lambda: t(2, 3).log_softmax(axis=-3), "log_softmax: axis -3"),
    "flatten start 3": (lambda: t(2, 3).flatten(3), "flatten: axis 3"),
    "flatten end 2": (lambda: t(2, 3).flatten(0, 2), "flatten: axis 2"),
    "Flatten layer": (lambda: nn.Flatten(start_dim=2)(t(2, 3)), "flatten: axis 2"),
}


@pytest.mark.parametrize("name", AXIS_ERRORS)
def test_an_axis_out_of_range_is_an_error_naming_the_op_and_the_axis(name):
    fn, match = AXIS_ERRORS[name]
    with pytest.raises(IndexError, match=match + r" is out of range for a tensor with \d dims") as error:
        fn()
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("fn, error, match", [
    (lambda: t(2, 3).permute(0, 0), ValueError, r"permute: axes \(0, 0\) are not a permutation"),
    (lambda: t(2, 3, 4).permute(0, 1), ValueError, r"permute: axes \(0, 1\) are not a permutation"),
    (lambda: t(2, 3, 4).T, ValueError, r"T: a tensor of 3 dims \(shape \(2, 3, 4\)\) has no \.T; use x\.permute"),
    (lambda: t(2, 3).sum(axis=(1, -1)), ValueError, r"sum: axis \(1, -1\) names an axis twice"),
    (lambda: t(2, 3).sum(axis=1.0), TypeError, "sum: an axis must be an int, got 1.0"),
    (lambda: t(2, 3).softmax(dim=None), TypeError, "softmax: an axis must be an int, got None"),
    (lambda: t(2, 3, 4).flatten(2, 1), ValueError, "flatten: start_dim 2 comes after end_dim 1"),
    (lambda: t(2, 3).reshape(4, -1), ValueError, r"cannot reshape a tensor of shape \(2, 3\) \(6 entries\)"),
    (lambda: t(2, 3).reshape(-1, -1), ValueError, r"into shape \(-1, -1\)"),
    (lambda: t(2, 3).reshape(2, 3.0), TypeError, r"reshape: a shape must be ints"),
])
def test_other_axis_and_shape_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


def test_numpy_integers_and_the_axes_of_a_0d_tensor_are_accepted_as_in_pytorch():
    np.testing.assert_array_equal(t(2, 3).sum(axis=np.int64(1)).numpy(), [6, 15])
    np.testing.assert_array_equal(t(2, 3).transpose(np.int64(-1), 0).numpy(), [[1, 4], [2, 5], [3, 6]])
    for axis in (0, -1):
        assert t().sum(axis=axis).item() == 1 and t().softmax(axis=axis).item() == 1
    assert t().flatten(0, -1).shape == (1,)


# ----- arrays where a Tensor is needed: a TypeError naming the op and the argument -----

x4 = np.ones((2, 3, 4, 4))
ARRAY_INPUTS = {
    "relu": lambda: ops.relu(x4),
    "leaky_relu": lambda: ops.leaky_relu(x4),
    "softmax": lambda: ops.softmax(x4),
    "log_softmax": lambda: ops.log_softmax(x4),
    "exp": lambda: ops.exp(x4),
    "log": lambda: ops.log(x4),
    "neg": lambda: ops.neg(x4),
    "pow": lambda: ops.pow(x4, 2),
    "sum": lambda: ops.sum(x4),
    "mean": lambda: ops.mean(x4),
    "max": lambda: ops.max(x4),
    "reshape": lambda: ops.reshape(x4, -1),
    "transpose": lambda: ops.transpose(x4, 0, 1),
    "permute": lambda: ops.permute(x4, 0, 1, 2, 3),
    "flatten": lambda: ops.flatten(x4),
    "getitem": lambda: ops.getitem(x4, 0),
    "add": lambda: ops.add(x4, x4),
    "matmul": lambda: ops.matmul(x4, x4),
    "linear": lambda: F.linear(np.ones((2, 3)), Tensor(np.ones((4, 3)))),
    "cross_entropy": lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 1])),
    "conv2d": lambda: F.conv2d(x4, Tensor(np.ones((2, 3, 3, 3)))),
    "max_pool2d": lambda: F.max_pool2d(x4, 2),
    "batch_norm": lambda: F.batch_norm(x4, Tensor(np.ones(3)), Tensor(np.zeros(3))),
    "dropout": lambda: F.dropout(x4, 0.5),
    "to_device": lambda: ops.to_device(x4, "cpu"),
}


@pytest.mark.parametrize("op", ARRAY_INPUTS)
def test_an_array_instead_of_a_tensor_is_a_type_error_naming_the_op(op):
    with pytest.raises(TypeError, match=f"{op}: .* must be a Tensor, got ndarray"):
        ARRAY_INPUTS[op]()


def test_layers_given_an_array_say_so():
    with pytest.raises(TypeError, match="linear: input must be a Tensor, got ndarray: wrap it as Tensor"):
        nn.Linear(3, 2)(np.ones((1, 3)))


# ----- dropout: only floating-point tensors can be rescaled -----

def test_dropout_of_an_integer_tensor_is_an_error_as_in_pytorch():
    x = Tensor(np.ones((4, 5), np.int64))
    with pytest.raises(TypeError, match=r"dropout: input must be floating point \(the kept entries are scaled "
                                        r"by 1 / \(1 - p\)\), got dtype int64"):
        F.dropout(x, 0.5)
    with pytest.raises(TypeError, match="dropout: input must be floating point"):
        nn.Dropout(0.2)(x)
    assert F.dropout(x, 0.5, training=False) is x and F.dropout(x, 0.0) is x   # nothing dropped: as PyTorch


# ----- the checks themselves -----

def test_as_pair():
    assert checks.as_pair(3, "stride", "op", 1) == (3, 3)
    assert checks.as_pair((2, np.int64(1)), "stride", "op", 1) == (2, 1)
    for bad in (True, 1.5, (1, 2, 3), "2", (1, None)):
        with pytest.raises(ValueError, match="op: stride must be an int or a pair of ints"):
            checks.as_pair(bad, "stride", "op", 1)
    with pytest.raises(ValueError, match=r"op: padding must be >= 0, got \(0, -1\)"):
        checks.as_pair((0, -1), "padding", "op", 0)


def test_check_axis_and_check_axes():
    assert checks.check_axis(-1, 3, "op") == 2
    assert checks.check_axes(None, 3, "op") == (0, 1, 2)
    assert checks.check_axes((-1, 0), 3, "op") == (0, 2)
    assert checks.check_axes(0, 0, "op") == ()
    with pytest.raises(checks.AxisError, match=r"op: axis 3 is out of range for a tensor with 3 dims "
                                               r"\(expected an int from -3 to 2\)"):
        checks.check_axis(3, 3, "op")


def test_check_index_in_range_finds_the_axis_each_integer_array_indexes():
    shape = (2, 3, 4)
    assert checks.check_index_in_range((np.array([0, -2]), slice(None), np.array([3, -4])), shape) is None
    assert checks.check_index_in_range((np.ones((2, 3), bool), np.array([3])), shape) is None
    for index, message in [
        (np.array([0, 2]), "index 2 is out of range for axis 0 with size 2"),
        (np.array([-3]), "index -3 is out of range for axis 0 with size 2"),
        ((Ellipsis, np.array([4])), "index 4 is out of range for axis 2 with size 4"),
        ((None, 0, np.array([-4])), "index -4 is out of range for axis 1 with size 3"),
        ((np.ones((2, 3), bool), np.array([5])), "index 5 is out of range for axis 2 with size 4"),
        ((slice(None), Ellipsis, np.array([[1], [9]])), "index 9 is out of range for axis 2 with size 4"),
        ((0, np.array([1, 3]), slice(None)), "index 3 is out of range for axis 1 with size 3"),
    ]:
        with pytest.raises(IndexError, match=f"getitem: {message}"):
            checks.check_index_in_range(index, shape)
    with pytest.raises(IndexError, match="getitem: index 0 is out of range for axis 0 with size 0"):
        checks.check_index_in_range(np.array([0]), (0, 3))


@pytest.mark.parametrize("make, match", [
    (lambda: nn.LeakyReLU(float("nan")), r"LeakyReLU: negative_slope must be a finite number, got nan"),
    (lambda: models.MLP(4, [3], 2, neg_slope=float("inf")), r"LeakyReLU: negative_slope must be a finite number"),
    (lambda: nn.BatchNorm1d(3, eps=float("nan")), r"BatchNorm1d: eps must be a finite number, got nan"),
    (lambda: nn.BatchNorm2d(3, eps=0), r"BatchNorm2d: eps must be positive, got 0"),
    (lambda: nn.BatchNorm1d(3, momentum=float("nan")), r"BatchNorm1d: momentum must be a finite number in \[0, 1\]"),
    (lambda: nn.BatchNorm1d(3, momentum=1.5), r"momentum must be a finite number in \[0, 1\], got 1.5"),
    (lambda: F.leaky_relu(Tensor(np.ones(2)), float("inf")), r"leaky_relu: negative_slope must be a finite number"),
    (lambda: F.batch_norm(Tensor(np.ones((4, 3))), Tensor(np.ones(3)), Tensor(np.zeros(3)), eps=float("inf")),
     r"batch_norm: eps must be a finite number, got inf"),
])
def test_settings_that_would_train_into_nan_are_refused_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    assert nn.BatchNorm1d(3, momentum=None).momentum is None        # None: the plain average, as in PyTorch
