"""Where PyTorch's meaning is the one a learner expects: each test here failed before the library followed it.

Indices holding tuples, transpose / permute / .T, dim / keepdim, integer tensors becoming
float32, non-numeric data refused, mixed float dtypes refused, indexing where NumPy and
PyTorch differ. PyTorch is the oracle where it is installed; every test runs on each backend.
"""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, nn
from tinygrad_dl1.nn import functional as F

# ----- an index holding tuples is an advanced index, as a list would be -----

@pytest.mark.parametrize("index, expected", [
    ((slice(None), (2, 1, 2)), [[0, 1, 2], [0, 1, 2]]),     # x[:, (2, 1, 2)]: column 2 used twice
    (((1, 1), (2, 2)), [[0, 0, 0], [0, 0, 2]]),             # x[(1, 1), (2, 2)]: entry (1, 2) twice
])
def test_tuple_inside_an_index_adds_up_repeated_entries(device, index, expected):
    t = device.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.numpy(), np.arange(6.0).reshape(2, 3)[index])
    out.sum().backward()
    np.testing.assert_array_equal(device.to_host(t.grad), expected)


def test_tuple_inside_an_index_is_range_checked(device):
    t = device.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match="index 3 is out of range for axis 1 with size 3"):
        t[:, (0, 3)]


def test_an_empty_list_index_picks_nothing(device):
    t = device.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = t[[]]
    assert out.shape == (0, 3)
    out.sum().backward()
    np.testing.assert_array_equal(device.to_host(t.grad), np.zeros((2, 3)))


# ----- transpose swaps two dims, permute reorders them all, .T swaps a matrix's -----

def test_transpose_of_a_matrix_swaps_its_dims(device):
    x = np.arange(6.0).reshape(2, 3)
    for swapped in (device.tensor(x).transpose(0, 1), device.tensor(x).transpose(1, 0), device.tensor(x).T):
        np.testing.assert_array_equal(swapped.numpy(), x.T)
    np.testing.assert_array_equal(device.tensor(np.zeros((2, 3, 4))).transpose(0, 2).shape, (4, 3, 2))
    np.testing.assert_array_equal(device.tensor(np.zeros((2, 3, 4))).permute(1, 2, 0).shape, (3, 4, 2))
    with pytest.raises(TypeError):
        device.tensor(np.zeros((2, 3, 4))).transpose(2, 0, 1)      # three dims: that is permute


# ----- reductions and softmaxes take PyTorch's dim / keepdim (NumPy's axis / keepdims as aliases) -----

def test_reductions_take_dim_and_keepdim(device):
    x = np.arange(6.0).reshape(2, 3)
    t = device.tensor(x)
    np.testing.assert_array_equal(t.sum(dim=1, keepdim=True).numpy(), x.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(t.sum(1, True).numpy(), x.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(t.mean(dim=(0, 1)).numpy(), x.mean())
    np.testing.assert_array_equal(t.sum(axis=0, keepdims=True).numpy(), x.sum(axis=0, keepdims=True))
    np.testing.assert_array_equal(t.amax(dim=0).numpy(), x.max(axis=0))
    np.testing.assert_array_equal(t.softmax(dim=0).numpy(), t.softmax(axis=0).numpy())
    np.testing.assert_array_equal(t.log_softmax(dim=0).numpy(), t.log_softmax(axis=0).numpy())
    np.testing.assert_array_equal(t.argmax(dim=1, keepdim=True).numpy(), [[2], [2]])


def test_max_along_a_dim_gives_values_and_indices_as_in_pytorch(device):
    t = device.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]), requires_grad=True)
    values, indices = t.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert t.max(1, keepdim=True).values.shape == (2, 1) and t.max(1, keepdim=True).indices.shape == (2, 1)
    assert t.max().shape == ()
    values.sum().backward()
    np.testing.assert_array_equal(device.to_host(t.grad), [[0, 1, 0], [1, 0, 0]])


@pytest.mark.parametrize("call", [
    lambda t: t.sum(dim=1, axis=1), lambda t: t.mean(keepdim=True, keepdims=True),
    lambda t: t.softmax(dim=0, axis=0), lambda t: t.max(dim=0, axis=0), lambda t: t.argmax(dim=0, axis=0),
])
def test_a_name_and_its_alias_together_are_refused(call):
    with pytest.raises(TypeError, match="alias"):
        call(Tensor(np.ones((2, 3))))


# ----- integer tensors become float32 where PyTorch's do -----

try:
    import torch
except ImportError:      # the expected dtypes below are PyTorch's; with it installed they are checked against it
    torch = None

PROMOTIONS = {   # name -> (expression on a tensor library, our expected dtype)
    "int + 0.5": (lambda T: T([1, 2]) + 0.5, "float32"),
    "0.5 - int": (lambda T: 0.5 - T([1, 2]), "float32"),
    "int / int": (lambda T: T([1, 3]) / T([2, 2]), "float32"),
    "int / 2": (lambda T: T([1, 3]) / 2, "float32"),
    "exp(int)": (lambda T: T([1, 2]).exp(), "float32"),
    "log(int)": (lambda T: T([1, 2]).log(), "float32"),
    "0.7 ** int": (lambda T: 0.7 ** T([1, 2]), "float32"),
    "int ** 0.5": (lambda T: T([1, 4]) ** 0.5, "float32"),
    "2 ** int": (lambda T: 2 ** T([1, 2]), "int64"),
    "int ** 2": (lambda T: T([1, 2]) ** 2, "int64"),
    "int * 3": (lambda T: T([1, 2]) * 3, "int64"),
    "bool + 0.5": (lambda T: T([True, False]) + 0.5, "float32"),
    "int64 + float32": (lambda T: T([1, 2]) + T([0.5, 1.5]), "float32"),
    "float32 * int64": (lambda T: T([0.5, 1.5]) * T([1, 2]), "float32"),
    "int32 + int64": (lambda T: T([1, 2]).int() + T([1, 2]), "int64"),
    "int64 + float64": (lambda T: T([1, 2]) + T([0.5, 1.5]).double(), "float64"),
    "int + 0.5 as a Tensor(0-d)": (lambda T: T(1) + 0.5, "float32"),
}


@pytest.mark.parametrize("name", PROMOTIONS)
def test_integer_tensors_promote_as_in_pytorch(device, name):
    fn, expected = PROMOTIONS[name]
    ours = fn(device.tensor)
    assert ours.dtype == np.dtype(expected), f"{name}: {ours.dtype}, expected {expected}"
    if torch is not None:
        theirs = fn(torch.tensor)
        assert str(theirs.dtype) == f"torch.{expected}", f"{name}: PyTorch gives {theirs.dtype}"
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_a_gradient_flows_through_a_float_meeting_an_integer(device):
    w = device.tensor([0.5, 1.5], requires_grad=True)
    (w * device.tensor([2, 3])).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(device.to_host(w.grad), [2.0, 3.0])


@pytest.mark.parametrize("op", ["mean", "softmax", "log_softmax"])
def test_ops_pytorch_refuses_on_integers_are_refused(op):
    with pytest.raises(TypeError, match=rf"{op}: input must be floating point .*got dtype int64"):
        getattr(Tensor([1, 2]), op)()


def test_casts_carry_the_gradient_back(device):
    x = device.tensor([0.5, 1.5], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and x.to(np.float64).dtype == np.float64 and x.to(dtype="float16").dtype == np.float16
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(device.to_host(x.grad), [1.0, 3.0])
    assert x.float() is x and x.long().dtype == np.int64 and x.bool().dtype == np.bool_


# ----- non-numeric data is refused, naming its dtype -----

@pytest.mark.parametrize("make", [
    lambda: Tensor(["a", "b"]), lambda: Tensor(np.array(["a", "b"])), lambda: Tensor(np.array([b"a"])),
    lambda: Tensor(np.array(["2026-01-01"], dtype="datetime64[D]")), lambda: Tensor([1, 2], dtype=str),
    lambda: Tensor(np.array([1, 2]), dtype="U3"),
])
def test_non_numeric_data_is_refused_naming_its_dtype(make):
    with pytest.raises(TypeError, match=r"cannot make a Tensor of (data of )?dtype \S+ \(kind '[USMO]'\)"):
        make()


# ----- mixed float dtypes: elementwise ops promote, products and layers refuse, as in PyTorch -----

def test_elementwise_ops_promote_mixed_floats_as_pytorch_does(device):
    y = device.tensor([1.0], dtype=np.float32) + device.tensor([2.0], dtype=np.float64)
    assert y.dtype == np.float64
    if torch is not None:
        assert (torch.ones(1, dtype=torch.float32) + torch.ones(1, dtype=torch.float64)).dtype == torch.float64


MIXED = {   # name -> (ours, PyTorch's twin), each given a float64 input and float32 parameters
    "matmul": (lambda x, w, b: x @ w, lambda x, w, b: x @ w),
    "linear": (lambda x, w, b: F.linear(x, w, b), lambda x, w, b: torch.nn.functional.linear(x, w, b)),
    "Linear layer": (lambda x, w, b: _linear_layer(x), None),
    "conv2d": (lambda x, w, b: F.conv2d(x.reshape(1, 1, 1, 3), w.reshape(1, 1, 1, 3)),
               lambda x, w, b: torch.nn.functional.conv2d(x.reshape(1, 1, 1, 3), w.reshape(1, 1, 1, 3))),
    "batch_norm": (lambda x, w, b: F.batch_norm(x.reshape(3, 1), w[:1], b[:1]),
                   lambda x, w, b: torch.nn.functional.batch_norm(x.reshape(3, 1), None, None, w[:1], b[:1],
                                                                  training=True)),
}


def _linear_layer(x):
    return nn.Linear(3, 1)(x)


@pytest.mark.parametrize("name", MIXED)
def test_float64_data_in_a_float32_op_is_refused_naming_both_dtypes_and_the_cast(device, name):
    ours, theirs = MIXED[name]
    x, w, b = np.arange(3.0), np.ones(3, dtype=np.float32), np.ones(1, dtype=np.float32)
    args = [device.tensor(x), device.tensor(w), device.tensor(b)]
    if name == "Linear layer":
        args[0] = Tensor(x)
    with pytest.raises(TypeError, match=r"is float64 but .* is float32.*cast .* with \.to\('float32'\)"):
        ours(*args)
    if torch is not None and theirs is not None:
        with pytest.raises(RuntimeError):
            theirs(torch.tensor(x), torch.tensor(w), torch.tensor(b))


# ----- indexing: an int beside an array index, as PyTorch reads it -----

INT_AND_ARRAY = {   # name -> index (on a tensor of shape (2, 3, 4)), and the shape PyTorch gives
    "x[0, :, [1, 2]]": ((0, slice(None), [1, 2]), (3, 2)),
    "x[:, 0, [1, 2]]": ((slice(None), 0, [1, 2]), (2, 2)),
    "x[[0, 1], :, 0]": (([0, 1], slice(None), 0), (2, 3)),
    "x[None, 0, ..., [1]]": ((None, 0, Ellipsis, [1]), (1, 3, 1)),
    "x[1, [0, 2], [1, 3]]": ((1, [0, 2], [1, 3]), (2,)),
    "x[-1, :, mask]": ((-1, slice(None), np.array([True, False, True, True])), (3, 3)),
    "x[0, True, :, [2]]": ((0, True, slice(None), [2]), (1, 3)),     # True: an array index of its own
}


@pytest.mark.parametrize("name", INT_AND_ARRAY)
def test_an_int_beside_an_array_index_is_applied_first_as_in_pytorch(device, name):
    index, shape = INT_AND_ARRAY[name]
    x = np.arange(24.0).reshape(2, 3, 4)
    t = device.tensor(x, requires_grad=True)
    out = t[index]
    assert out.shape == shape, f"{name}: {out.shape}, PyTorch gives {shape}"
    if torch is not None:
        theirs = torch.tensor(x, requires_grad=True)
        torch_index = tuple(torch.from_numpy(p) if isinstance(p, np.ndarray) else p for p in index)
        expected = theirs[torch_index]
        assert tuple(expected.shape) == shape
        np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
        g = np.random.default_rng(0).standard_normal(shape)
        out.backward(device.array(g))
        expected.backward(torch.from_numpy(g))
        np.testing.assert_allclose(device.to_host(t.grad), theirs.grad.numpy())


def test_sum_over_dim_empty_tuple_is_over_every_dim_as_in_pytorch(device):
    t = device.tensor(np.arange(6.0).reshape(2, 3))
    assert t.sum(dim=()).item() == 15.0 and t.mean(dim=[]).item() == 2.5
