"""Devices on the strict CuPy stand-in: the chosen GPU runs every op, and mixed devices are named."""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, backend, manual_seed, models, nn, optim
from tinygrad_dl1.nn import functional as F

from fake_cupy import FakeCupy


@pytest.fixture
def fake():
    """The stand-in as the GPU library, with two fake GPUs."""
    stand_in = FakeCupy(device_count=2)
    previous = backend.use_gpu_library(stand_in, stand_in.cupyx)
    yield stand_in
    backend.use_gpu_library(*previous)


def test_a_model_on_the_second_gpu_trains_there(fake):
    """CuPy runs kernels on the current device (GPU 0 unless told): every op, backward and the
    optimizer must make the arrays' GPU current, or CuPy refuses (no peer access)."""
    manual_seed(0)
    model = models.MLP(12, [8], 3, batch_norm=True, dropout=0.2).to("cuda:1")
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = Tensor(np.random.default_rng(0).standard_normal((6, 12)), device="cuda:1")
    loss = F.cross_entropy(model(x), Tensor(np.arange(6) % 3, device="cuda:1"))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(p.device == "cuda:1" and backend.device_of(p.grad) == "cuda:1" for p in model.parameters())


def test_ops_with_inputs_on_two_devices_name_both(fake):
    x = Tensor(np.ones((2, 3), np.float32))
    w = Tensor(np.ones((4, 3), np.float32), device="cuda:0")
    with pytest.raises(RuntimeError, match=r"input 0 on cpu, input 1 on cuda:0"):
        F.linear(x, w)
    with pytest.raises(RuntimeError, match=r"cpu and cuda:0"):
        x @ w.T


def test_an_optimizer_names_a_gradient_on_another_device(fake):
    layer = nn.Linear(3, 2).to("cuda:0")
    layer(Tensor(np.ones((1, 3), np.float32), device="cuda:0")).sum().backward()
    layer.weight.grad = backend.to_numpy(layer.weight.grad)
    with pytest.raises(RuntimeError, match=r"SGD: parameter 0 is on cuda:0 but its gradient on cpu"):
        optim.SGD(layer.parameters(), lr=0.1).step()
