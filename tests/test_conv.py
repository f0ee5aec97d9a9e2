"""conv2d, and conv2d_composed (im2col then a matmul, differentiated by the engine): the two agree;
gradchecks over kernel sizes, strides, paddings and shapes; parity with PyTorch; errors.
The computing tests run on each device (the ``device`` fixture of conftest.py)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_dl1 import Tensor, backend, gradcheck, nn
from tinygrad_dl1.nn import functional as F
from tinygrad_dl1.ops import conv2d, conv2d_composed

BOTH = [conv2d, conv2d_composed]


@st.composite
def conv_cases(draw):
    """Small conv2d problems: kernels 1..5, strides 1..3, paddings 0..2, sides that fit the kernel."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 3))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 3))
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return (n, cin, h, w), (cout, cin, kh, kw), bias, (sh, sw), (ph, pw), seed


def arrays(x_shape, w_shape, bias, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


def out_shape(x_shape, w_shape, stride, padding):
    return (x_shape[0], w_shape[0]) + tuple(
        (x_shape[2 + d] + 2 * padding[d] - w_shape[2 + d]) // stride[d] + 1 for d in range(2))


@pytest.mark.parametrize("conv", BOTH)
@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_gradcheck(implementation, device, conv, case):
    x_shape, w_shape, bias, stride, padding, seed = case
    x, w, b = arrays(x_shape, w_shape, bias, seed)
    inputs = [device.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    assert gradcheck(lambda *t: conv(*t, stride=stride, padding=padding), inputs)


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_the_op_and_the_composed_version_give_the_same_outputs_and_gradients(device, case):
    x_shape, w_shape, bias, stride, padding, seed = case
    x, w, b = arrays(x_shape, w_shape, bias, seed)
    gy = np.random.default_rng(seed + 1).standard_normal(out_shape(x_shape, w_shape, stride, padding))
    fused = ours_conv(device, x, w, b, stride, padding, gy, conv2d)
    composed = ours_conv(device, x, w, b, stride, padding, gy, conv2d_composed)
    for name, a, c in zip(("y", "dx", "dw", "db"), fused, composed):
        if a is not None:
            assert c.dtype == np.float64 and c.shape == a.shape, name
            np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_composed_version_is_im2col_then_a_matmul_that_the_engine_differentiates(device):
    rng = np.random.default_rng(0)
    x = device.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w = device.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d_composed(x, w, device.tensor(np.zeros(4), requires_grad=True), padding=1)
    names, stack = set(), [y.grad_fn]
    while stack:
        node = stack.pop()
        names.add(node.name)
        stack.extend(t.grad_fn for t in node.inputs if t.grad_fn is not None)
    assert {"Im2Col", "MatMul", "Add", "Permute", "Reshape"} <= names and "Conv2d" not in names


@pytest.mark.second_gpu
def test_gradcheck_of_two_convs_in_a_row(implementation, device):
    # the second conv reads the first one's output as it comes (an NCHW view of channels-last memory)
    rng = np.random.default_rng(1)
    x = device.tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w1 = device.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    w2 = device.tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x, w1, w2: conv2d(conv2d(x, w1, padding=1), w2, stride=2), [x, w1, w2])


def torch_conv(x, w, b, stride, padding, gy):
    torch = pytest.importorskip("torch")
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding)
    ty.backward(torch.tensor(gy))
    return ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), None if b is None else tb.grad.numpy()


def ours_conv(device, x, w, b, stride, padding, gy, conv=conv2d):
    """The output and the gradients of x, w and b (None without a bias), as NumPy arrays."""
    tensors = [device.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = conv(*tensors, stride=stride, padding=padding)
    y.backward(device.array(gy))
    assert all(backend.device_of(t.grad) == device.name for t in tensors)
    grads = [device.to_host(t.grad) for t in tensors] + [None]
    return y.numpy(), grads[0], grads[1], grads[2]


@pytest.mark.parametrize("conv", BOTH)
@settings(max_examples=30, deadline=None)
@given(conv_cases())
def test_matches_pytorch(implementation, device, conv, case):
    x_shape, w_shape, bias, stride, padding, seed = case
    x, w, b = arrays(x_shape, w_shape, bias, seed)
    gy = np.random.default_rng(seed + 1).standard_normal(out_shape(x_shape, w_shape, stride, padding))
    theirs = torch_conv(x, w, b, stride, padding, gy)
    ours = ours_conv(device, x, w, b, stride, padding, gy, conv)
    for name, a, t in zip(("y", "dx", "dw", "db"), ours, theirs):
        if t is not None:
            np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("conv", BOTH)
@pytest.mark.parametrize("cin,cout,side", [(3, 8, 8), (16, 16, 4), (8, 4, 2)])
def test_matches_pytorch_float32_convnet_layer(device, conv, cin, cout, side):
    # the ConvNet's layers: 3x3, stride 1, padding 1, float32 all the way
    x, w, b = arrays((4, cin, side, side), (cout, cin, 3, 3), True, 7, np.float32)
    gy = np.random.default_rng(8).standard_normal((4, cout, side, side)).astype(np.float32)
    ours = ours_conv(device, x, w, b, 1, 1, gy, conv)
    theirs = torch_conv(x, w, b, 1, 1, gy)
    for name, a, t in zip(("y", "dx", "dw", "db"), ours, theirs):
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-4, err_msg=name)


def test_saves_only_what_backward_needs(device):
    rng = np.random.default_rng(0)
    x = device.tensor(rng.standard_normal((2, 3, 5, 5)))
    w = device.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = conv2d(x, w, padding=1)
    assert y.grad_fn.weight_matrix is None and y.grad_fn.cols is not None      # the image needs no gradient
    y.sum().backward()
    assert x.grad is None and w.grad.shape == w.shape
    x = device.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    y = conv2d(x, Tensor(w.data), padding=1)
    assert y.grad_fn.cols is None and y.grad_fn.weight_matrix is not None      # a frozen weight: no cols kept
    y.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("conv", BOTH)
def test_known_values(implementation, device, conv):
    # a 2x2 all-ones kernel sums each window; padding adds zeros
    x = device.tensor(np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)
    w = device.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    y = conv(x, w, device.tensor(np.array([0.5])), stride=1, padding=0)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    y.sum().backward()
    np.testing.assert_array_equal(device.to_host(x.grad)[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])   # overlaps add
    np.testing.assert_array_equal(device.to_host(w.grad)[0, 0], [[8, 12], [20, 24]])
    y = conv(device.tensor(np.ones((1, 1, 1, 1))), device.tensor(np.ones((1, 1, 3, 3))), padding=1)
    np.testing.assert_array_equal(y.numpy(), np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("x_shape,w_shape,kwargs,match", [
    ((1, 3, 4, 4), (2, 3, 5, 5), {}, r"kernel \(5, 5\).*does not fit the padded input \(4, 4\)"),
    ((1, 3, 4, 4), (2, 3, 7, 3), {"padding": 1}, r"kernel \(7, 3\).*padded input \(6, 6\)"),
    ((1, 3, 4, 4), (2, 2, 3, 3), {}, r"\(1, 3, 4, 4\) has 3 channels but weight of shape \(2, 2, 3, 3\) "
                                     r"expects 2"),
    ((3, 4, 4), (2, 3, 3, 3), {}, r"input must be 4-D.*\(3, 4, 4\)"),
    ((1, 3, 4, 4), (3, 3, 3), {}, r"weight must be 4-D.*\(3, 3, 3\)"),
    ((1, 3, 4, 4), (2, 3, 3, 3), {"stride": 0}, r"stride must be >= 1"),
    ((1, 3, 4, 4), (2, 3, 3, 3), {"stride": (1, 2, 3)}, r"stride must be an int or a pair"),
    ((1, 3, 4, 4), (2, 3, 3, 3), {"stride": 1.5}, r"stride must be an int or a pair"),
    ((1, 3, 4, 4), (2, 3, 3, 3), {"padding": -1}, r"padding must be >= 0"),
])
@pytest.mark.parametrize("conv", BOTH)
def test_clear_errors(conv, x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=f"{conv.__name__}: .*{match}"):
        conv(Tensor(np.zeros(x_shape)), Tensor(np.zeros(w_shape)), **kwargs)


@pytest.mark.parametrize("conv", BOTH)
def test_bias_of_the_wrong_shape(conv):
    with pytest.raises(ValueError, match=r"bias of shape \(3,\) does not fit weight of shape \(2, 3, 3, 3\)"):
        conv(Tensor(np.zeros((1, 3, 4, 4))), Tensor(np.zeros((2, 3, 3, 3))), Tensor(np.zeros(3)))


@pytest.mark.parametrize("conv", BOTH)
def test_an_array_instead_of_a_tensor_is_a_type_error_naming_the_argument(conv):
    x, w, b = np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 3)), np.zeros(2)
    for args, name in [((x, Tensor(w)), "input"), ((Tensor(x), w), "weight"), ((Tensor(x), Tensor(w), b), "bias")]:
        with pytest.raises(TypeError, match=f"{conv.__name__}: {name} must be a Tensor, got ndarray"):
            conv(*args)
    with pytest.raises(TypeError, match="conv2d: input must be a Tensor, got ndarray"):
        nn.Conv2d(3, 2, 3)(x)                       # a layer given an array


@pytest.mark.parametrize("args, match", [((0, 2, 3), "in_channels must be a positive int, got 0"),
                                         ((3, -1, 3), "out_channels must be a positive int, got -1"),
                                         ((3, 2, 0), "kernel_size must be >= 1")])
def test_layers_of_zero_width_raise(args, match):
    with pytest.raises(ValueError, match=f"Conv2d: {match}"):
        nn.Conv2d(*args)
