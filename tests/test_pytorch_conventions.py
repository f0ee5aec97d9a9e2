"""Where PyTorch's meaning is the one a learner expects: each test here failed before the library followed it.

Indices holding tuples, transpose / permute / .T, dim / keepdim, integer tensors becoming
float32, non-numeric data refused, mixed float dtypes refused, indexing where NumPy and
PyTorch differ. PyTorch is the oracle where it is installed; every test runs on each backend.
"""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor

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
