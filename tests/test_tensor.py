"""The graph rules of Tensor.backward, grad modes, dtypes and clear errors, on each device
(the ``device`` fixture of conftest.py)."""
import gc
import weakref

import numpy as np
import pytest

from tinygrad_dl1 import Tensor, backend, detect_anomaly, nn, no_grad, optim
from tinygrad_dl1.function import Function
from tinygrad_dl1.ops import cross_entropy, linear

# ----- construction and dtypes -----

@pytest.mark.second_gpu
def test_python_floats_become_float32_and_float64_arrays_stay_float64(device):
    assert device.tensor([1.0, 2.0]).dtype == np.float32
    assert device.tensor(3.5).dtype == np.float32
    assert device.tensor(np.zeros(3)).dtype == np.float64
    assert device.tensor([1.0], dtype="float64").dtype == np.float64
    assert device.tensor([1, 2]).dtype == np.int64
    assert Tensor(device.array(np.zeros(3)), dtype="float32").dtype == np.float32     # an array cast where it is
    assert device.tensor([1.0, 2.0]).device == device.name


def test_integer_tensors_cannot_require_grad(device):
    with pytest.raises(TypeError, match="int64"):
        device.tensor([1, 2, 3], requires_grad=True)


def test_unsupported_data_and_operands_are_rejected(device):
    with pytest.raises(TypeError, match="str"):
        device.tensor("abc")
    with pytest.raises(TypeError, match="str"):
        device.tensor([1.0]) + "abc"
    with pytest.raises(TypeError, match="dict"):
        device.tensor([1.0]) * {}


def test_grad_has_the_shape_and_dtype_of_its_tensor(device):
    for dtype in (np.float32, np.float64):
        a = device.tensor(np.ones((2, 3), dtype), requires_grad=True)
        b = device.tensor(np.ones((3,), np.float64))            # float64 constant mixed in
        (a * b).sum().backward()
        assert a.grad.shape == (2, 3) and a.grad.dtype == dtype and backend.device_of(a.grad) == device.name


# ----- backward -----

def test_a_tensor_used_twice_gets_both_gradients(device):
    a = device.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_allclose(device.to_host(a.grad), 8 * a.numpy())      # c = 4 a^2


def test_every_node_runs_backward_once_after_all_its_consumers(device):
    calls = []

    class Spy(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            calls.append(gy.copy())
            return gy

    a = device.tensor([1.0, 2.0], requires_grad=True)
    s = Spy()(a)
    y = (s * 2 + s * 3 + s.exp()).sum()    # three consumers of s
    y.backward()
    assert len(calls) == 1
    np.testing.assert_allclose(device.to_host(calls[0]), 5 + np.exp(a.numpy()), rtol=1e-6)
    np.testing.assert_allclose(device.to_host(a.grad), 5 + np.exp(a.numpy()), rtol=1e-6)


def test_a_chain_of_100000_ops_needs_no_recursion(device):
    n = 100_000 if device.is_cpu else 5_000     # deeper than Python's recursion limit either way (time)
    x = device.tensor(1.0, requires_grad=True, dtype="float64")
    y = x
    for _ in range(n):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** n, rel=1e-9)


def test_leaf_gradients_accumulate_across_backward_calls(device):
    a = device.tensor([1.0, 2.0], requires_grad=True)
    (a * 3).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(device.to_host(a.grad), 3 + 2 * a.numpy())


def test_a_second_backward_through_a_freed_graph_raises(device):
    a = device.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    a = device.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(device.to_host(a.grad), 4 * a.numpy())


def test_backward_on_a_non_scalar_needs_a_grad_of_its_shape_on_its_device(device):
    a = device.tensor(np.ones((2, 3)), requires_grad=True)
    y = a * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(device.array(np.ones(3)))
    if not device.is_cpu:
        with pytest.raises(RuntimeError, match=f"grad is on cpu but the tensor on {device.name}"):
            y.backward(np.ones((2, 3)))
    y.backward(device.array(np.full((2, 3), 0.5)))
    np.testing.assert_allclose(device.to_host(a.grad), np.ones((2, 3)))


def test_backward_on_a_tensor_without_grad_raises(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        device.tensor([1.0]).sum().backward()


def test_two_leaves_never_share_one_gradient_array(device):
    a = device.tensor([1.0, 2.0], requires_grad=True)
    b = device.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 10                      # must not leak into b.grad
    np.testing.assert_allclose(device.to_host(b.grad), [1.0, 1.0])


def test_a_leaf_never_shares_its_gradient_with_a_view_or_another_input(device):
    a = device.tensor(np.ones((2, 3)), requires_grad=True)
    b = device.tensor(np.ones(6), requires_grad=True)
    (a + b.reshape(2, 3)).sum().backward()        # b's gradient: a view of the gradient a gets
    a.grad *= 10
    np.testing.assert_allclose(device.to_host(b.grad), np.ones(6))

    class Twice(Function):                          # one fresh array handed to both inputs
        def forward(self, x, y):
            return x + y

        def backward(self, gy):
            g = gy * 1
            return g, g
    c = device.tensor([1.0, 2.0], requires_grad=True)
    d = device.tensor([3.0, 4.0], requires_grad=True)
    Twice()(c, d).sum().backward()
    c.grad *= 10
    np.testing.assert_allclose(device.to_host(d.grad), [1.0, 1.0])


def test_requires_grad_is_inferred_from_inputs(device):
    a = device.tensor([1.0], requires_grad=True)
    b = device.tensor([2.0])
    assert (a * b).requires_grad and (a * b).grad_fn is not None
    assert not (b * b).requires_grad and (b * b).grad_fn is None


def test_no_grad_records_nothing_and_keeps_nothing_alive(device):
    a = device.tensor(np.ones(4), requires_grad=True)
    with no_grad():
        h = a * 2
        out = h * 3
    assert not out.requires_grad and out.grad_fn is None
    ref = weakref.ref(h)
    del h
    assert ref() is None               # out does not hold h
    h = a * 2                          # recording: the graph holds h
    out = h * 3
    ref = weakref.ref(h)
    del h
    assert ref() is not None
    del out
    assert ref() is None


def test_no_grad_works_as_a_decorator():
    @no_grad()
    def f(x):
        return x * 2
    assert f(Tensor([1.0], requires_grad=True)).grad_fn is None


def test_detach_shares_data_and_cuts_the_graph(device):
    a = device.tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.data is y.data
    y = (d * a).sum()
    y.backward()
    np.testing.assert_allclose(device.to_host(a.grad), d.numpy())         # no gradient through d


def _live(kind):
    return sum(1 for o in gc.get_objects() if issubclass(type(o), kind))


def test_training_steps_leave_no_tensors_or_nodes_behind(device):
    """With the cycle collector off, graphs must die by reference counting alone."""
    rng = np.random.default_rng(0)
    w1 = device.tensor(rng.standard_normal((16, 8)) * 0.1, requires_grad=True, dtype="float32")
    w2 = device.tensor(rng.standard_normal((4, 16)) * 0.1, requires_grad=True, dtype="float32")
    x = device.tensor(rng.standard_normal((32, 8)), dtype="float32")
    t = device.array(rng.integers(0, 4, 32))

    def step():
        loss = cross_entropy(linear(linear(x, w1).leaky_relu(0.02), w2), t)
        loss.backward()
        for w in (w1, w2):
            w.data -= 0.1 * w.grad
            w.grad = None

    gc.collect()
    gc.disable()
    try:
        step()
        before = (_live(Tensor), _live(Function))
        for _ in range(50):
            step()
        after = (_live(Tensor), _live(Function))
    finally:
        gc.enable()
    assert after == before


# ----- anomaly detection and errors -----

@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")    # the stand-in computes with NumPy
def test_anomaly_detection_names_the_op_that_made_a_nan_gradient(device):
    a = device.tensor([0.0, 1.0], requires_grad=True)
    with device.errstate(divide="ignore"):
        with detect_anomaly(), pytest.raises(FloatingPointError, match="Pow"):
            (a ** 0.5).sum().backward()
        (a ** 0.5).sum().backward()                # switched off: no error, inf in the grad
    assert np.isinf(device.to_host(a.grad)[0])


def test_broadcasting_errors_name_both_shapes(device):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        device.tensor(np.ones((2, 3))) + device.tensor(np.ones(4))


def test_matmul_errors_name_both_shapes(device):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        device.tensor(np.ones((2, 3))) @ device.tensor(np.ones((4, 5)))


@pytest.mark.second_gpu
def test_comparisons_and_argmax_give_tensors_without_grad(device):
    a = device.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = a > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad and m.device == device.name
    np.testing.assert_array_equal((a == 2.0).numpy(), [False, True, False])
    i = device.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]).argmax(axis=1)
    assert i.device == device.name and i.grad_fn is None
    np.testing.assert_array_equal(i.numpy(), [1, 0])


# ----- in-place changes of saved tensors -----

def test_backward_refuses_an_input_changed_in_place_after_forward(device):
    x = device.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = device.tensor(np.array([3.0, 4.0]), requires_grad=True)
    z = (x * w).sum()                       # Mul saves w for dL/dx = gy * w
    w.grad = device.array(np.ones(2))
    optim.SGD([w], lr=1.0).step()           # w changes in place: z's graph is stale
    stale = r"Mul\.backward needs input 1 \(a tensor of shape \(2,\)\).*version 0 then, 1 now"
    with pytest.raises(RuntimeError, match=stale):
        z.backward()


def test_an_in_place_change_of_an_input_nothing_saved_is_fine(device):
    w = device.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = (w + 1.0).sum()                     # Add saves no input: its gradient does not depend on w
    w.grad = device.array(np.ones(2))
    optim.SGD([w], lr=1.0).step()
    w.grad = None
    y.backward()
    np.testing.assert_array_equal(device.to_host(w.grad), [1.0, 1.0])


@pytest.mark.second_gpu
def test_library_writes_bump_the_version(device):
    layer = nn.Linear(3, 2).to(device.name)
    x = device.tensor(np.ones((1, 3)), requires_grad=True, dtype=np.float32)
    for change in (lambda: nn.init.zeros_(layer.weight), lambda: nn.init.kaiming_uniform_(layer.weight),
                   lambda: layer.load_state_dict(layer.state_dict())):
        before = layer.weight._version
        y = layer(x).sum()                  # linear saves the weight for dL/dx = gy @ W
        change()
        assert layer.weight._version == before + 1
        with pytest.raises(RuntimeError, match="changed in place"):
            y.backward()
