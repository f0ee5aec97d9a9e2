"""Devices: the chosen GPU runs every op, tensors move between devices with their gradients, inputs on
two devices are named, and what CuPy would do silently (wrap an index out of range) raises.

Most tests need a GPU (the stand-in of fake_cupy.py, or CuPy on a real one); the index test runs on
every backend. The other test files run the library's tests on every backend too.
"""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, backend, manual_seed, models, nn, optim
from tinygrad_dl1.nn import functional as F

ON_A_GPU = pytest.mark.parametrize("device", ["stand-in", "cuda"], indirect=True)


def second_gpu(device):
    """The name of another GPU than ``device``'s; skips the test on a machine with one GPU."""
    if backend.cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    return "cuda:0" if device.name == "cuda:1" else "cuda:1"


def one_training_step(model, device):
    """A forward pass, backward and Adam step of ``model`` on ``device``; the model's parameters as NumPy arrays."""
    manual_seed(1)                                      # the same dropout masks on every device
    model.to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = Tensor(np.random.default_rng(0).standard_normal((6, 12)), dtype="float32", device=device)
    loss = F.cross_entropy(model(x), Tensor(np.arange(6) % 3, device=device))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(p.device == device and backend.device_of(p.grad) == device for p in model.parameters())
    return [p.numpy() for p in model.parameters()]


@ON_A_GPU
@pytest.mark.second_gpu
def test_a_model_on_the_second_gpu_trains_there_as_on_the_cpu(device):
    """CuPy runs kernels on the current device (GPU 0 unless told): every op, backward and the
    optimizer must make the arrays' GPU current, or CuPy refuses (no peer access)."""
    def mlp():
        manual_seed(0)
        return models.MLP(12, [8], 3, batch_norm=True, dropout=0.2, init="default")

    on_gpu, on_cpu = one_training_step(mlp(), device.name), one_training_step(mlp(), "cpu")
    for a, b in zip(on_gpu, on_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@ON_A_GPU
def test_a_gpu_that_is_not_there_is_named_with_the_ones_that_are(device):
    count = backend.cupy.cuda.runtime.getDeviceCount()
    message = rf"no device 'cuda:{count}': CuPy sees {count} GPUs?, cuda:0 to cuda:{count - 1}"
    with pytest.raises(ValueError, match=message):
        Tensor(np.ones(3), device=f"cuda:{count}")
    with pytest.raises(ValueError, match=message):
        nn.Linear(3, 2).to(f"cuda:{count}")
    assert backend.parse_device(f"cuda:0{count - 1}") == f"cuda:{count - 1}"


@ON_A_GPU
def test_tensors_and_modules_move_between_devices_and_gradients_come_back(device):
    other = second_gpu(device)
    x = Tensor(np.arange(3.0), requires_grad=True)
    y = x.to(device.name)
    z = y.to(other) * 2
    assert (y.device, z.device) == (device.name, other)
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]         # back on the CPU, through both copies
    layer = nn.Linear(3, 2).to(device.name).to(other)
    assert {p.device for p in layer.parameters()} == {other}
    np.testing.assert_allclose(layer(Tensor(np.ones((1, 3)), dtype="float32", device=other)).numpy(),
                               layer.to("cpu")(Tensor(np.ones((1, 3)), dtype="float32")).numpy(), rtol=1e-6)


@ON_A_GPU
def test_gradients_that_come_back_from_another_gpu_add_up_on_their_own(device):
    """A copy's gradient comes back to x's GPU while backward runs the copy's node on the other GPU: adding it to
    x's other gradients must run on x's GPU (CuPy refuses without peer access, or puts the sum on the wrong GPU)."""
    other = second_gpu(device)
    for leaf in (True, False):              # x a leaf (into .grad), or made by an op (into pending gradients)
        w = Tensor(np.arange(3.0), requires_grad=True, device=device.name)
        x = w if leaf else w * 1
        loss = (x * 3).sum() + (x.to(other) * 2).sum().to(device.name)
        loss.backward()
        assert backend.device_of(w.grad) == device.name
        assert backend.to_numpy(w.grad).tolist() == [5.0, 5.0, 5.0]


@ON_A_GPU
def test_backward_takes_a_gradient_on_the_tensors_device_only(device):
    x = Tensor(np.ones(3), requires_grad=True, device=device.name)
    y = x * 2
    for elsewhere in ("cpu", second_gpu(device)):
        with pytest.raises(RuntimeError, match=f"grad is on {elsewhere} but the tensor on {device.name}"):
            y.backward(backend.to_device(np.ones(3), elsewhere))
    y.backward(backend.to_device(np.ones(3), device.name))
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def tensor(shape, device, dtype=np.float64):
    return Tensor(np.ones(shape, dtype), device=device)


# every op with several inputs: name -> a call with its first input on device a, the others on device b
TWO_DEVICES = {
    "add": lambda a, b: tensor((2, 3), a) + tensor((2, 3), b),
    "sub": lambda a, b: tensor((2, 3), a) - tensor((3,), b),
    "mul": lambda a, b: tensor((2, 3), a) * tensor((2, 3), b),
    "div": lambda a, b: tensor((2, 3), a) / tensor((2, 1), b),
    "compare": lambda a, b: tensor((2, 3), a) < tensor((2, 3), b),
    "matmul": lambda a, b: tensor((2, 3), a) @ tensor((3, 4), b),
    "linear": lambda a, b: F.linear(tensor((2, 3), a), tensor((4, 3), b), tensor((4,), b)),
    "linear, bias elsewhere": lambda a, b: F.linear(tensor((2, 3), a), tensor((4, 3), a), tensor((4,), b)),
    "conv2d": lambda a, b: F.conv2d(tensor((1, 2, 4, 4), a), tensor((3, 2, 3, 3), b)),
    "conv2d, bias elsewhere": lambda a, b: F.conv2d(tensor((1, 2, 4, 4), a), tensor((3, 2, 3, 3), a),
                                                    tensor((3,), b)),
    "conv2d_composed": lambda a, b: F.conv2d_composed(tensor((1, 2, 4, 4), a), tensor((3, 2, 3, 3), b)),
    "batch_norm": lambda a, b: F.batch_norm(tensor((4, 3), a), tensor((3,), b), tensor((3,), b)),
    "batch_norm_composed": lambda a, b: F.batch_norm_composed(tensor((4, 3), a), tensor((3,), b), tensor((3,), b)),
    "batch_norm running stats": lambda a, b: F.batch_norm(tensor((4, 3), a), tensor((3,), a), tensor((3,), a),
                                                          tensor((3,), b), tensor((3,), b)),
    "cross_entropy, class indices": lambda a, b: F.cross_entropy(tensor((2, 3), a), tensor((2,), b, np.int64)),
    "cross_entropy, probabilities": lambda a, b: F.cross_entropy(tensor((2, 3), a), tensor((2, 3), b)),
}


@ON_A_GPU
@pytest.mark.parametrize("pair", ["cpu and a GPU", "a GPU and the CPU", "two GPUs"])
@pytest.mark.parametrize("op", TWO_DEVICES)
def test_an_op_with_inputs_on_two_devices_names_both(device, op, pair):
    if pair == "cpu and a GPU":
        a, b = "cpu", device.name
    elif pair == "a GPU and the CPU":
        a, b = device.name, "cpu"
    else:
        a, b = device.name, second_gpu(device)
    with pytest.raises(RuntimeError) as error:
        TWO_DEVICES[op](a, b)
    assert a in str(error.value) and b in str(error.value), str(error.value)


@ON_A_GPU
def test_the_message_says_which_input_is_where(device):
    x, w = tensor((2, 3), "cpu"), tensor((4, 3), device.name)
    with pytest.raises(RuntimeError, match=rf"Linear: inputs on different devices \(input 0 on cpu, input 1 on "
                                           rf"{device.name}, input 2 on {device.name}\)"):
        F.linear(x, w, tensor((4,), device.name))
    with pytest.raises(RuntimeError, match=rf"matmul: inputs on different devices \(input 0 on cpu, "
                                           rf"input 1 on {device.name}\)"):
        x @ w.T


@ON_A_GPU
def test_an_optimizer_names_a_gradient_on_another_device(device):
    layer = nn.Linear(3, 2).to(device.name)
    layer(Tensor(np.ones((1, 3), np.float32), device=device.name)).sum().backward()
    layer.weight.grad = backend.to_numpy(layer.weight.grad)
    for make in (lambda: optim.SGD(layer.parameters(), lr=0.1), lambda: optim.Adam(layer.parameters())):
        opt = make()
        with pytest.raises(RuntimeError, match=rf"{type(opt).__name__}: parameter 0 is on {device.name} "
                                               r"but its gradient on cpu"):
            opt.step()


@pytest.mark.parametrize("index, axis, size", [
    (np.array([0, 12]), 0, 10),                            # CuPy would read entry 2
    (np.array([-11]), 0, 10),
    ((slice(None), np.array([[1], [4]])), 1, 4),
    ((Ellipsis, np.array([0, 4])), 1, 4),
    ((None, 3, np.array([5])), 1, 4),
])
def test_an_integer_index_out_of_range_raises_on_every_backend(device, index, axis, size):
    """CuPy wraps an integer-array index that is out of range around (index 12 of 10 entries reads
    entry 2); getitem checks, so that every backend raises as NumPy does."""
    x = device.tensor(np.arange(40.0).reshape(10, 4), requires_grad=True)
    with pytest.raises(IndexError, match=rf"getitem: index -?\d+ is out of range for axis {axis} with size {size}"):
        x[index]
    with pytest.raises(IndexError, match="out of range"):
        x[device.tensor(np.array([3, 10]))]              # an index Tensor, on the device
    assert x[np.array([9, -10])].numpy()[:, 0].tolist() == [36.0, 0.0]   # the ends of the range are fine


@ON_A_GPU
def test_an_integer_index_costs_one_read_back_and_training_ops_none(device):
    """The index check reads one flag per integer array back from the GPU; the ops of a training
    step (here without cross_entropy, whose labels are checked elsewhere) read nothing back."""
    if device.fake is None:
        pytest.skip("the stand-in counts reads back; CuPy does not")
    x = device.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    with device.fake.counting() as counts:
        x[np.array([0, 2]), 1:].sum().backward()
    assert counts.syncs == 1, counts.sync_sites
    model = models.MLP(12, [8], 3, batch_norm=True, dropout=0.2).to(device.name)
    opt = optim.Adam(model.parameters())
    inputs = device.tensor(np.ones((4, 12), np.float32))
    with device.fake.forbid_syncs():
        (model(inputs) ** 2).mean().backward()
        opt.step()
