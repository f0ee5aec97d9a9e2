"""The graph rules of Tensor.backward, grad modes, dtypes and clear errors."""
import gc
import weakref

import numpy as np
import pytest

from tinygrad_dl1 import Tensor, detect_anomaly, nn, no_grad, optim
from tinygrad_dl1.function import Function
from tinygrad_dl1.ops import cross_entropy, linear

# ----- construction and dtypes -----

def test_python_floats_become_float32_and_float64_arrays_stay_float64():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor(np.zeros(3)).dtype == np.float64
    assert Tensor([1.0], dtype="float64").dtype == np.float64
    assert Tensor([1, 2]).dtype == np.int64


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2, 3], requires_grad=True)


def test_unsupported_data_and_operands_are_rejected():
    with pytest.raises(TypeError, match="str"):
        Tensor("abc")
    with pytest.raises(TypeError, match="str"):
        Tensor([1.0]) + "abc"
    with pytest.raises(TypeError, match="dict"):
        Tensor([1.0]) * {}


def test_grad_has_the_shape_and_dtype_of_its_tensor():
    for dtype in (np.float32, np.float64):
        a = Tensor(np.ones((2, 3), dtype), requires_grad=True)
        b = Tensor(np.ones((3,), np.float64))            # float64 constant mixed in
        (a * b).sum().backward()
        assert a.grad.shape == (2, 3) and a.grad.dtype == dtype


# ----- backward -----

def test_a_tensor_used_twice_gets_both_gradients():
    a = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_allclose(a.grad, 8 * a.data)      # c = 4 a^2


def test_every_node_runs_backward_once_after_all_its_consumers():
    calls = []

    class Spy(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            calls.append(gy.copy())
            return gy

    a = Tensor([1.0, 2.0], requires_grad=True)
    s = Spy()(a)
    y = (s * 2 + s * 3 + s.exp()).sum()    # three consumers of s
    y.backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], 5 + np.exp(a.data), rtol=1e-6)
    np.testing.assert_allclose(a.grad, 5 + np.exp(a.data), rtol=1e-6)


def test_a_chain_of_100000_ops_needs_no_recursion():
    x = Tensor(1.0, requires_grad=True, dtype="float64")
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad == pytest.approx(1.00001 ** 100_000, rel=1e-9)


def test_leaf_gradients_accumulate_across_backward_calls():
    a = Tensor([1.0, 2.0], requires_grad=True)
    (a * 3).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad, 3 + 2 * a.data)


def test_a_second_backward_through_a_freed_graph_raises():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(a.grad, 4 * a.data)


def test_backward_on_a_non_scalar_needs_a_grad():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    y = a * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_allclose(a.grad, np.ones((2, 3)))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_two_leaves_never_share_one_gradient_array():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 10                      # must not leak into b.grad
    np.testing.assert_allclose(b.grad, [1.0, 1.0])


def test_requires_grad_is_inferred_from_inputs():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([2.0])
    assert (a * b).requires_grad and (a * b).grad_fn is not None
    assert not (b * b).requires_grad and (b * b).grad_fn is None


def test_no_grad_records_nothing_and_keeps_nothing_alive():
    a = Tensor(np.ones(4), requires_grad=True)
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


def test_detach_shares_data_and_cuts_the_graph():
    a = Tensor([1.0, 2.0], requires_grad=True)
    d = (a * 2).detach()
    assert d.grad_fn is None and not d.requires_grad
    y = (d * a).sum()
    y.backward()
    np.testing.assert_allclose(a.grad, d.data)         # no gradient through d


def _live(kind):
    return sum(1 for o in gc.get_objects() if issubclass(type(o), kind))


def test_training_steps_leave_no_tensors_or_nodes_behind():
    """With the cycle collector off, graphs must die by reference counting alone."""
    rng = np.random.default_rng(0)
    w1 = Tensor(rng.standard_normal((16, 8)) * 0.1, requires_grad=True, dtype="float32")
    w2 = Tensor(rng.standard_normal((4, 16)) * 0.1, requires_grad=True, dtype="float32")
    x = Tensor(rng.standard_normal((32, 8)), dtype="float32")
    t = rng.integers(0, 4, 32)

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

def test_anomaly_detection_names_the_op_that_made_a_nan_gradient():
    a = Tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        with detect_anomaly(), pytest.raises(FloatingPointError, match="Pow"):
            (a ** 0.5).sum().backward()
        (a ** 0.5).sum().backward()                # switched off: no error, inf in the grad
    assert np.isinf(a.grad[0])


def test_broadcasting_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


def test_comparisons_give_boolean_tensors_without_grad():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = a > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal((a == 2.0).numpy(), [False, True, False])


# ----- in-place changes of saved tensors -----

def test_backward_refuses_an_input_changed_in_place_after_forward():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    z = (x * w).sum()                       # Mul saves w for dL/dx = gy * w
    w.grad = np.ones(2)
    optim.SGD([w], lr=1.0).step()           # w changes in place: z's graph is stale
    stale = r"Mul\.backward needs input 1 \(a tensor of shape \(2,\)\).*version 0 then, 1 now"
    with pytest.raises(RuntimeError, match=stale):
        z.backward()


def test_an_in_place_change_of_an_input_nothing_saved_is_fine():
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = (w + 1.0).sum()                     # Add saves no input: its gradient does not depend on w
    w.grad = np.ones(2)
    optim.SGD([w], lr=1.0).step()
    w.grad = None
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_library_writes_bump_the_version():
    layer = nn.Linear(3, 2)
    x = Tensor(np.ones((1, 3)), requires_grad=True)
    for change in (lambda: nn.init.zeros_(layer.weight), lambda: layer.load_state_dict(layer.state_dict())):
        before = layer.weight._version
        y = layer(x).sum()                  # linear saves the weight for dL/dx = gy @ W
        change()
        assert layer.weight._version == before + 1
        with pytest.raises(RuntimeError, match="changed in place"):
            y.backward()
