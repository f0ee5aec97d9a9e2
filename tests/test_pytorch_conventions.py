"""Where PyTorch's meaning is the one a learner expects: each test here failed before the library followed it.

Indices holding tuples, transpose / permute / .T, dim / keepdim, integer tensors becoming
float32, non-numeric data refused, mixed float dtypes refused, indexing where NumPy and
PyTorch differ. PyTorch is the oracle where it is installed; every test runs on each backend.
"""
import numpy as np
import pytest

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
