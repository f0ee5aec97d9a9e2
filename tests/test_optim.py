"""SGD and Adam: PyTorch's trajectories, in-place updates that leave .grad alone, float32 kept,
and checkpoints that resume exactly. Every test runs on each device (the ``device`` fixture of
conftest.py): parameters, gradients and the optimizers' state live there."""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, backend, nn, optim
from tinygrad_dl1.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_dl1.nn import functional as F

CONFIGS = [
    (optim.SGD, "SGD", dict(lr=0.1)),
    (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9)),
    (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (optim.SGD, "SGD", dict(lr=0.1, weight_decay=0.3)),
    (optim.Adam, "Adam", dict(lr=0.01)),
    (optim.Adam, "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]


def problem(seed=0, dtype=np.float64):
    """A random least-squares problem: loss = mean((X @ W^T + b - Y)^2), and initial W, b."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 3))
    w, b = rng.standard_normal((3, 5)), rng.standard_normal(3)
    return [a.astype(dtype) for a in (x, y, w, b)]


def our_loss(x, y, w, b):
    d = F.linear(Tensor(x, device=w.device), w, b) - Tensor(y, device=w.device)
    return (d * d).mean()


def run_ours(device, make, kwargs, steps, dtype=np.float64, seed=0):
    x, y, w0, b0 = problem(seed, dtype)
    w, b = device.tensor(w0, requires_grad=True), device.tensor(b0, requires_grad=True)
    opt = make([w, b], **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        our_loss(x, y, w, b).backward()
        opt.step()
        trajectory.append((w.numpy().copy(), b.numpy().copy()))
    return trajectory


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_trajectory_matches_pytorch(implementation, device, make, name, kwargs):
    torch = pytest.importorskip("torch")
    x, y, w0, b0 = problem()
    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = getattr(torch.optim, name)([w, b], **kwargs)
    for ours_w, ours_b in run_ours(device, make, kwargs, steps=8):
        opt.zero_grad()
        ((torch.tensor(x) @ w.T + b - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        np.testing.assert_allclose(ours_w, w.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours_b, b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_float32_parameters_and_state_stay_float32_and_close_to_float64(implementation, device, make, name, kwargs):
    single, double = run_ours(device, make, kwargs, 5, np.float32), run_ours(device, make, kwargs, 5, np.float64)
    for (w32, b32), (w64, _) in zip(single, double):
        assert w32.dtype == b32.dtype == np.float32
        np.testing.assert_allclose(w32, w64, rtol=1e-4, atol=1e-5)
    w = device.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = make([w], **kwargs)
    w.grad = device.array(np.ones(3, np.float32))
    opt.step()
    arrays = [v for v in opt.state[0].values() if backend.is_array(v)]
    assert all(v.dtype == np.float32 and backend.device_of(v) == device.name for v in arrays)


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
@pytest.mark.second_gpu
def test_step_updates_data_in_place_skips_missing_grads_and_leaves_grads_alone(implementation, device, make, name,
                                                                                 kwargs):
    w = device.tensor(np.arange(4.0), requires_grad=True)
    frozen = device.tensor(np.ones(2), requires_grad=True)
    opt = make([w, frozen], **kwargs)
    data, view = w.data, w.data[1:]
    grad = device.array([0.5, -1.0, 2.0, 0.0])
    w.grad = grad
    opt.step()
    opt.step()
    assert w.data is data and not np.array_equal(device.to_host(view), np.arange(1.0, 4.0))   # the same array, changed
    assert w.grad is grad and np.array_equal(device.to_host(grad), [0.5, -1.0, 2.0, 0.0])
    assert np.array_equal(frozen.numpy(), np.ones(2)) and 1 not in opt.state
    opt.zero_grad()
    assert w.grad is None and frozen.grad is None


def test_sgd_without_momentum_is_w_minus_lr_times_grad(device):
    w = device.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.grad = device.array([10.0, -20.0])
    optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.numpy(), [0.0, 4.0])


def test_adams_first_step_moves_each_weight_by_about_lr(device):
    w = device.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w.grad = device.array([1e-3, -5.0, 300.0])
    optim.Adam([w], lr=0.01).step()                  # m_hat / sqrt(v_hat) = sign(g) at step 1
    np.testing.assert_allclose(w.numpy(), [0.99, 2.01, 2.99], rtol=1e-6)


@pytest.mark.second_gpu
@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_a_checkpoint_saved_from_the_device_resumes_exactly(device, make, name, kwargs, tmp_path):
    """The model's and the optimizer's state go through a checkpoint file (NumPy arrays) and back onto
    the device; the resumed run takes the same steps as the one that went on."""
    def fresh():
        model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.1), nn.Linear(4, 3))
        model.to(device.name)
        return model, make(model.parameters(), **kwargs)

    x, y, _, _ = problem(dtype=np.float32)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            d = model(device.tensor(x)) - device.tensor(y)
            (d * d).mean().backward()
            opt.step()

    model, opt = fresh()
    train(model, opt, 3)
    save_checkpoint(tmp_path / "checkpoint.npz", {"model": model.state_dict(), "optimizer": opt.state_dict()})
    train(model, opt, 3)
    checkpoint = load_checkpoint(tmp_path / "checkpoint.npz")
    resumed, resumed_opt = fresh()
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    assert all(backend.device_of(v) == device.name for s in resumed_opt.state.values() for v in s.values()
               if backend.is_array(v))
    train(resumed, resumed_opt, 3)
    for (key, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)


def test_a_checkpoint_takes_arrays_from_the_device_and_gives_numpy_arrays_back(device, tmp_path):
    tree = {"w": device.array(np.arange(6.0).reshape(2, 3)), "steps": [1, 2], "state": {"0": device.array([1, 2])}}
    save_checkpoint(tmp_path / "c.npz", tree)
    back = load_checkpoint(tmp_path / "c.npz")
    assert isinstance(back["w"], np.ndarray) and isinstance(back["state"]["0"], np.ndarray)
    np.testing.assert_array_equal(back["w"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(back["state"]["0"], [1, 2])
    assert back["steps"] == [1, 2]


def test_optimizer_state_dict_is_a_copy_with_pytorchs_layout(device):
    w = device.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = device.array(np.ones(3))
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                                      "params": [0]}]
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and state["state"][0]["step"] == 1
    assert isinstance(state["state"][0]["exp_avg"], np.ndarray)
    state["state"][0]["exp_avg"][...] = 99
    assert not (device.to_host(opt.state[0]["exp_avg"]) == 99).any()


def test_a_pytorch_adam_state_loads_and_continues_the_same_trajectory(implementation, device):
    torch = pytest.importorskip("torch")
    x, y, w0, b0 = problem()
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    topt = torch.optim.Adam([tw, tb], lr=0.01, weight_decay=0.05)

    def torch_step():
        topt.zero_grad()
        ((torch.tensor(x) @ tw.T + tb - torch.tensor(y)) ** 2).mean().backward()
        topt.step()
    for _ in range(3):
        torch_step()
    w, b = (device.tensor(t.detach().numpy().copy(), requires_grad=True) for t in (tw, tb))
    opt = optim.Adam([w, b])
    opt.load_state_dict(topt.state_dict())
    assert opt.lr == 0.01 and opt.weight_decay == 0.05
    for _ in range(3):
        torch_step()
        opt.zero_grad()
        our_loss(x, y, w, b).backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10)


def test_clear_errors():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 must be a Tensor that requires grad"):
        optim.Adam([w, Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match=r"betas must lie in \[0, 1\)"):
        optim.Adam([w], betas=(0.9, 1.0))
    opt = optim.Adam([w])
    with pytest.raises(ValueError, match="one group of 1 parameters"):
        opt.load_state_dict(optim.Adam([w, Tensor(np.ones(2), requires_grad=True)]).state_dict())
    bad = {"state": {0: {"step": 1, "exp_avg": np.zeros(4), "exp_avg_sq": np.zeros(3)}},
           "param_groups": opt.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"'exp_avg' has shape \(4,\), the parameter \(3,\)"):
        opt.load_state_dict(bad)


@pytest.mark.second_gpu
def test_a_small_mlp_with_batch_norm_and_dropout_learns_with_adam(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 10)).astype(np.float32)
    labels = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1)
    model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.02), nn.Dropout(0.1),
                          nn.Linear(32, 3)).to(device.name)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    inputs, targets = device.tensor(x), device.tensor(labels)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        opt.step()
    model.eval()
    accuracy = (model(inputs).argmax(axis=1).numpy() == labels).mean()
    assert accuracy > 0.95


def test_an_optimizer_given_one_tensor_raises_as_in_pytorch():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    for make in (lambda: optim.SGD(w, lr=1), lambda: optim.Adam(w)):
        with pytest.raises(TypeError, match=r"iterable of Tensors.*one Tensor of shape \(3, 2\)"):
            make()
