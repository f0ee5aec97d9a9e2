"""SGD and Adam: PyTorch's trajectories, in-place updates that leave .grad alone, float32 kept,
and checkpoints that resume exactly."""
import copy

import numpy as np
import pytest

from tinygrad_dl1 import Tensor, nn, optim
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
    d = F.linear(Tensor(x), w, b) - Tensor(y)
    return (d * d).mean()


def run_ours(make, kwargs, steps, dtype=np.float64, seed=0):
    x, y, w0, b0 = problem(seed, dtype)
    w, b = Tensor(w0, requires_grad=True), Tensor(b0, requires_grad=True)
    opt = make([w, b], **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        our_loss(x, y, w, b).backward()
        opt.step()
        trajectory.append((w.numpy().copy(), b.numpy().copy()))
    return trajectory


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_trajectory_matches_pytorch(make, name, kwargs):
    torch = pytest.importorskip("torch")
    x, y, w0, b0 = problem()
    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = getattr(torch.optim, name)([w, b], **kwargs)
    for ours_w, ours_b in run_ours(make, kwargs, steps=8):
        opt.zero_grad()
        ((torch.tensor(x) @ w.T + b - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        np.testing.assert_allclose(ours_w, w.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours_b, b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_float32_parameters_and_state_stay_float32_and_close_to_float64(make, name, kwargs):
    single, double = run_ours(make, kwargs, 5, np.float32), run_ours(make, kwargs, 5, np.float64)
    for (w32, b32), (w64, _) in zip(single, double):
        assert w32.dtype == b32.dtype == np.float32
        np.testing.assert_allclose(w32, w64, rtol=1e-4, atol=1e-5)
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = make([w], **kwargs)
    w.grad = np.ones(3, np.float32)
    opt.step()
    assert all(v.dtype == np.float32 for v in opt.state[0].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_step_updates_data_in_place_skips_missing_grads_and_leaves_grads_alone(make, name, kwargs):
    w = Tensor(np.arange(4.0), requires_grad=True)
    frozen = Tensor(np.ones(2), requires_grad=True)
    opt = make([w, frozen], **kwargs)
    data, view = w.data, w.data[1:]
    grad = np.array([0.5, -1.0, 2.0, 0.0])
    w.grad = grad
    opt.step()
    opt.step()
    assert w.data is data and not np.array_equal(view, np.arange(1.0, 4.0))    # the same array, changed
    assert w.grad is grad and np.array_equal(grad, [0.5, -1.0, 2.0, 0.0])
    assert np.array_equal(frozen.data, np.ones(2)) and 1 not in opt.state
    opt.zero_grad()
    assert w.grad is None and frozen.grad is None


def test_sgd_without_momentum_is_w_minus_lr_times_grad():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.grad = np.array([10.0, -20.0])
    optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.data, [0.0, 4.0])


def test_adams_first_step_moves_each_weight_by_about_lr():
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w.grad = np.array([1e-3, -5.0, 300.0])
    optim.Adam([w], lr=0.01).step()                  # m_hat / sqrt(v_hat) = sign(g) at step 1
    np.testing.assert_allclose(w.data, [0.99, 2.01, 2.99], rtol=1e-6)


@pytest.mark.parametrize("make, name, kwargs", CONFIGS)
def test_a_checkpoint_resumes_exactly(make, name, kwargs):
    def fresh():
        model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.1), nn.Linear(4, 3))
        return model, make(model.parameters(), **kwargs)

    x, y, _, _ = problem(dtype=np.float32)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            d = model(Tensor(x)) - Tensor(y)
            (d * d).mean().backward()
            opt.step()

    model, opt = fresh()
    train(model, opt, 3)
    checkpoint = copy.deepcopy((model.state_dict(), opt.state_dict()))
    train(model, opt, 3)
    resumed, resumed_opt = fresh()
    resumed.load_state_dict(checkpoint[0])
    resumed_opt.load_state_dict(checkpoint[1])
    train(resumed, resumed_opt, 3)
    for (key, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)


def test_optimizer_state_dict_is_a_copy_with_pytorchs_layout():
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = np.ones(3)
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                                      "params": [0]}]
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and state["state"][0]["step"] == 1
    state["state"][0]["exp_avg"][...] = 99
    assert not (opt.state[0]["exp_avg"] == 99).any()


def test_a_pytorch_adam_state_loads_and_continues_the_same_trajectory():
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
    w, b = (Tensor(t.detach().numpy().copy(), requires_grad=True) for t in (tw, tb))
    opt = optim.Adam([w, b])
    opt.load_state_dict(topt.state_dict())
    assert opt.lr == 0.01 and opt.weight_decay == 0.05
    for _ in range(3):
        torch_step()
        opt.zero_grad()
        our_loss(x, y, w, b).backward()
        opt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-10)


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


def test_a_small_mlp_with_batch_norm_and_dropout_learns_with_adam():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 10)).astype(np.float32)
    labels = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1)
    model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.02), nn.Dropout(0.1),
                          nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x)), labels).backward()
        opt.step()
    model.eval()
    accuracy = (model(Tensor(x)).data.argmax(axis=1) == labels).mean()
    assert accuracy > 0.95


def test_an_optimizer_given_one_tensor_raises_as_in_pytorch():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    for make in (lambda: optim.SGD(w, lr=1), lambda: optim.Adam(w)):
        with pytest.raises(TypeError, match=r"iterable of Tensors.*one Tensor of shape \(3, 2\)"):
            make()
