"""max_pool2d: gradchecks on inputs without ties, parity with PyTorch (ties included), errors.
The computing tests run on each device (the ``device`` fixture of conftest.py)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_dl1 import Tensor, gradcheck, no_grad
from tinygrad_dl1.ops import conv2d, max_pool2d


@st.composite
def pool_cases(draw):
    """Small max-pool problems: kernels 1..5, strides 1..3 (or the default), paddings up to kernel // 2."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    ph, pw = draw(st.integers(0, min(2, kh // 2))), draw(st.integers(0, min(2, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 4))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 4))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return (n, c, h, w), (kh, kw), stride, (ph, pw), seed


def distinct(shape, seed):
    """Values 0.1 apart in random order: no ties, and a gradcheck step cannot change which is the max."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) * 0.1 - size * 0.05


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


def out_shape(shape, kernel, stride, padding):
    stride = stride or kernel
    return shape[:2] + tuple((shape[2 + d] + 2 * padding[d] - kernel[d]) // stride[d] + 1 for d in range(2))


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_gradcheck(implementation, device, case):
    shape, kernel, stride, padding, seed = case
    x = device.tensor(distinct(shape, seed), requires_grad=True)
    assert gradcheck(lambda x: max_pool2d(x, kernel, stride, padding), [x])


def torch_pool(x, kernel, stride, padding, gy):
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, kernel, stride, padding)
    ty.backward(torch.tensor(gy))
    return ty.detach().numpy(), tx.grad.numpy()


def ours_pool(device, x, kernel, stride, padding, gy):
    """The output and the gradient of x, as NumPy arrays."""
    tx = device.tensor(x, requires_grad=True)
    y = max_pool2d(tx, kernel, stride, padding)
    y.backward(device.array(gy))
    return y.numpy(), device.to_host(tx.grad)


@settings(max_examples=40, deadline=None)
@given(pool_cases(), st.booleans())
def test_matches_pytorch(implementation, device, case, ties):
    shape, kernel, stride, padding, seed = case
    # with ties: a handful of distinct values, so most windows hold several maxima
    x = np.random.default_rng(seed).integers(0, 3, shape) * 1.0 if ties else distinct(shape, seed)
    gy = np.random.default_rng(seed + 1).standard_normal(out_shape(shape, kernel, stride, padding))
    for name, a, t in zip(("y", "dx"), ours_pool(device, x, kernel, stride, padding, gy),
                          torch_pool(x, kernel, stride, padding, gy)):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12, err_msg=name)


def test_convnet_pool_float32_matches_pytorch(device):
    # the ConvNet's pool, 3x3 stride 2 pad 1: windows overlap, so gradients add up
    x = distinct((4, 8, 16, 16), 3).astype(np.float32)
    gy = np.random.default_rng(4).standard_normal((4, 8, 8, 8)).astype(np.float32)
    ours, theirs = ours_pool(device, x, 3, 2, 1, gy), torch_pool(x, 3, 2, 1, gy)
    for name, a, t in zip(("y", "dx"), ours, theirs):
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(a, t, rtol=1e-6, atol=1e-6, err_msg=name)


def test_a_tie_goes_to_the_first_element_only(implementation, device):
    _, grad = ours_pool(device, np.ones((1, 1, 2, 3)), 2, 1, 0, np.array([[[[1.0, 10.0]]]]))
    np.testing.assert_array_equal(grad[0, 0], [[1, 10, 0], [0, 0, 0]])   # as PyTorch does
    _, theirs = torch_pool(np.ones((1, 1, 2, 3)), 2, 1, 0, np.array([[[[1.0, 10.0]]]]))
    np.testing.assert_array_equal(grad, theirs)


def test_a_nan_wins_the_max_and_its_gradient(implementation, device):
    """A window holding a NaN has max NaN, and its gradient goes to the NaN (to the last one of
    several), as in PyTorch; it went to the largest number before."""
    x = np.array([[[[1.0, np.nan, 3.0, np.nan], [0.0, 5.0, 2.0, 1.0]]]])
    y, grad = ours_pool(device, x, 2, 1, 0, np.array([[[[1.0, 10.0, 100.0]]]]))
    assert np.isnan(y).all()
    np.testing.assert_array_equal(grad[0, 0], [[0, 11, 0, 100], [0, 0, 0, 0]])
    _, grad = ours_pool(device, np.array([[[[np.nan, 1.0], [np.nan, 5.0]]]]), 2, None, 0, np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(grad[0, 0], [[0, 0], [1, 0]])


@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 1, 0), (3, 1, 1), ((2, 3), (1, 2), (1, 0))])
def test_nans_match_pytorch(implementation, device, kernel, stride, padding):
    x = distinct((2, 3, 7, 6), 4)
    x.reshape(-1)[np.random.default_rng(5).choice(x.size, 30, replace=False)] = np.nan   # some windows hold several
    x[0, 0, 0, 0] = x[1, 2, -1, -1] = np.nan                                                 # corners: first offset
    gy = np.random.default_rng(6).standard_normal(out_shape(x.shape, as_pair(kernel), as_pair(stride),
                                                            as_pair(padding)))
    for name, a, t in zip(("y", "dx"), ours_pool(device, x, kernel, stride, padding, gy),
                          torch_pool(x, kernel, stride, padding, gy)):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12, err_msg=name)   # NaN where PyTorch has NaN


def test_padding_never_wins(implementation, device):
    x = -np.arange(16.0).reshape(1, 1, 4, 4) - 1             # all negative; the pad is -inf
    y, grad = ours_pool(device, x, 3, 2, 1, np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(y[0, 0], [[-1, -2], [-5, -6]])
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[0, 1] = expected[1, 0] = expected[1, 1] = 1
    np.testing.assert_array_equal(grad[0, 0], expected)


def test_overlapping_windows_add_up(implementation, device):
    data = -np.arange(16.0).reshape(1, 1, 4, 4)
    data[0, 0, 1, 1] = 100.0                        # inside all four 3x3 windows (stride 2, pad 1)
    _, grad = ours_pool(device, data, 3, 2, 1, np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(grad[0, 0], expected)


@pytest.mark.second_gpu
def test_gradcheck_through_conv_pool_conv(implementation, device):
    # as in the ConvNet: each op reads the one before as it comes (an NCHW view of channels-last memory)
    rng = np.random.default_rng(2)
    x = device.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    w1 = device.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    w2 = device.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)

    def convnet_block(x, w1, w2):
        return conv2d(max_pool2d(conv2d(x, w1, padding=1), 3, 2, 1), w2, padding=1)
    assert gradcheck(convnet_block, [x, w1, w2])


def test_without_grad_the_output_is_the_same(device):
    x = distinct((2, 3, 9, 8), 9)
    x[0, 1, 2, 3] = np.nan
    with_grad = max_pool2d(device.tensor(x, requires_grad=True), 3, 2, 1)
    with no_grad():
        without = max_pool2d(device.tensor(x, requires_grad=True), 3, 2, 1)
    assert with_grad.grad_fn.winner is not None and without.grad_fn is None
    np.testing.assert_array_equal(with_grad.numpy(), without.numpy())


def test_stride_defaults_to_kernel_size(device):
    x = device.tensor(np.arange(36.0).reshape(1, 1, 6, 6))
    np.testing.assert_array_equal(max_pool2d(x, 3).numpy()[0, 0], [[14, 17], [32, 35]])
    np.testing.assert_array_equal(max_pool2d(x, (2, 3)).numpy()[0, 0], [[8, 11], [20, 23], [32, 35]])


def test_a_large_kernel_keeps_its_argmax_exactly(implementation, device):
    # 12 x 12 = 144 offsets: more than an int8 index holds
    x = distinct((1, 2, 13, 12), 5)
    gy = np.random.default_rng(6).standard_normal((1, 2, 2, 1))
    for a, t in zip(ours_pool(device, x, 12, 1, 0, gy), torch_pool(x, 12, 1, 0, gy)):
        np.testing.assert_array_equal(a, t)


@pytest.mark.parametrize("shape,args,match", [
    ((1, 1, 4, 4), (5,), r"kernel_size \(5, 5\) does not fit the padded input \(4, 4\)"),
    ((1, 1, 1, 5), ((4, 2), 1, (1, 0)), r"kernel_size \(4, 2\) does not fit the padded input \(3, 5\)"),
    ((1, 4, 4), (2,), r"input must be 4-D.*\(1, 4, 4\)"),
    ((1, 1, 8, 8), (3, 1, 2), r"padding \(2, 2\) must be at most half of kernel_size \(3, 3\)"),
    ((1, 1, 8, 8), (2, 0), r"stride must be >= 1"),
    ((1, 1, 8, 8), (0,), r"kernel_size must be >= 1"),
    ((1, 1, 8, 8), ((2, 2, 2),), r"kernel_size must be an int or a pair"),
])
def test_clear_errors(shape, args, match):
    with pytest.raises(ValueError, match=match):
        max_pool2d(Tensor(np.zeros(shape)), *args)


def test_an_array_or_integers_instead_of_a_float_tensor_are_type_errors():
    with pytest.raises(TypeError, match="max_pool2d: input must be a Tensor, got ndarray"):
        max_pool2d(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(TypeError, match="max_pool2d: input must be floating point.*int64"):
        max_pool2d(Tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
