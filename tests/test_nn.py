"""nn: how modules find their parameters, switch modes, save and load (PyTorch's keys and
layouts, both ways), initialise, and that each layer's forward has the right gradient.
The tests that compute or move arrays run on each device (the ``device`` fixture of conftest.py);
the others (finding parameters, repr, initialisation on the CPU) do not depend on one."""
import math

import numpy as np
import pytest

import tinygrad_dl1
from tinygrad_dl1 import Tensor, backend, gradcheck, nn, no_grad
from tinygrad_dl1.nn import functional as F


def rand(*shape, seed=0, dtype=np.float32, device="cpu"):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), device=device)


def mlp(ours=True):
    lib = nn if ours else pytest.importorskip("torch").nn
    return lib.Sequential(lib.Linear(6, 8), lib.BatchNorm1d(8), lib.LeakyReLU(0.02), lib.Dropout(0.3),
                          lib.Linear(8, 3))


def convnet(ours=True):
    lib = nn if ours else pytest.importorskip("torch").nn
    return lib.Sequential(lib.Conv2d(3, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                          lib.MaxPool2d(3, stride=2, padding=1), lib.Flatten(), lib.Linear(4 * 4 * 4, 5))


MODELS = [(mlp, (10, 6)), (convnet, (6, 3, 8, 8))]


# ----- Parameter -----

def test_parameter_requires_grad_and_is_float32_by_default():
    p = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32 and p.is_leaf
    assert nn.Parameter([1.0], dtype=np.float64).dtype == np.float64
    assert repr(p).startswith("Parameter containing:")
    assert type(p * 2) is Tensor


# ----- finding parameters -----

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2))
        self.layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2, bias=False)]
        self.heads = {"a": nn.Linear(2, 1), "b": nn.Sequential(nn.Linear(2, 1))}
        self.not_a_parameter = Tensor(np.ones(2), requires_grad=True)
        self.settings = {"depth": 3, "names": ["x", "y"]}

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["a"](x * self.scale)


def test_parameters_are_found_in_attributes_lists_and_dicts_in_definition_order():
    model = nn.Sequential(Block(), nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 3))))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.scale", "0.layers.0.weight", "0.layers.0.bias", "0.layers.2.weight",
                     "0.heads.a.weight", "0.heads.a.bias", "0.heads.b.0.weight", "0.heads.b.0.bias",
                     "1.0.weight", "1.0.bias", "1.1.0.weight", "1.1.0.bias"]
    assert [p for p in model.parameters()] == [p for _, p in model.named_parameters()]
    assert [name for name, _ in model.named_modules()][:4] == ["", "0", "0.layers.0", "0.layers.1"]
    assert [type(m).__name__ for m in model.children()] == ["Block", "Sequential"]


def test_a_shared_parameter_or_module_is_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3
    assert set(model.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}   # as PyTorch saves it


def test_train_and_eval_reach_every_module():
    model = nn.Sequential(Block(), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_sets_every_grad_to_none(device):
    model = mlp().to(device.name)
    F.cross_entropy(model(rand(10, 6, device=device.name)), np.arange(10) % 3).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_moves_every_parameter_buffer_and_gradient_and_keeps_them_where_they_are(device):
    model = mlp()
    F.cross_entropy(model(rand(10, 6)), np.arange(10) % 3).backward()
    state = model.state_dict()
    assert model.to(device.name) is model
    tensors = [*model.parameters(), *model.buffers()]
    assert {t.device for t in tensors} == {backend.device_of(p.grad) for p in model.parameters()} == {device.name}
    arrays = [t.data for t in tensors]
    assert model.to(device.name) is model
    assert all(t.data is a for t, a in zip(tensors, arrays))        # already there: nothing copied
    model.to("cpu")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    with pytest.raises(ValueError, match="unknown device"):
        model.to("tpu")


def test_repr_shows_the_tree():
    text = repr(mlp())
    assert text.startswith("Sequential(\n  (0): Linear(in_features=6, out_features=8, bias=True)\n")
    assert "(1): BatchNorm1d(8, eps=1e-05, momentum=0.1)" in text and text.endswith("\n)")
    assert repr(nn.Sequential(Block())).count("\n") > 5


def test_sequential_is_indexable_sized_and_iterable():
    model = mlp()
    assert len(model) == 5 and isinstance(model[0], nn.Linear) and model[-1] is model[4]
    assert [type(m).__name__ for m in model] == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Linear"]
    assert isinstance(model[1:3], nn.Sequential) and len(model[1:3]) == 2 and model[1:3][0] is model[1]
    with pytest.raises(IndexError, match="index 5 is out of range for 5 layers"):
        model[5]
    with pytest.raises(TypeError, match="layer 1 must be a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


# ----- state_dict with PyTorch's keys, both ways -----

@pytest.mark.parametrize("make, _", MODELS)
def test_state_dict_has_pytorchs_keys_shapes_and_dtypes(device, make, _):
    ours, theirs = make().to(device.name).state_dict(), make(ours=False).state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert isinstance(ours[key], np.ndarray)
        assert ours[key].shape == tuple(theirs[key].shape), key
        assert ours[key].dtype == theirs[key].numpy().dtype, key


def test_state_dict_values_are_copies(device):
    model = mlp().to(device.name)
    state = model.state_dict()
    state["0.weight"][...] = 7
    state["1.running_mean"][...] = 7
    assert not (model[0].weight.numpy() == 7).any() and not (model[1].running_mean.numpy() == 7).any()


def torch_trained(make, shape):
    """A PyTorch model with its batch norm statistics moved off their initial values."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = make(ours=False)
    for seed in range(3):
        model(torch.tensor(rand(*shape, seed=seed + 10).numpy() * 2 + 1))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-1, 1)
    return model


@pytest.mark.parametrize("make, shape", MODELS)
def test_a_pytorch_state_dict_loads_and_gives_the_same_outputs_in_eval_and_train(device, make, shape):
    torch = pytest.importorskip("torch")
    theirs = torch_trained(make, shape)
    ours = make().to(device.name)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rand(*shape, seed=1, device=device.name)
    for mode in ("eval", "train"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        for m in [*ours.modules(), *theirs.modules()]:      # no dropout, so outputs can be compared
            m.training = m.training and type(m).__name__ != "Dropout"
        got, want = ours(x).numpy(), theirs(torch.tensor(x.numpy())).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for key, value in theirs.state_dict().items():        # and the running statistics moved alike
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, shape", MODELS)
def test_our_state_dict_loads_into_pytorch(device, make, shape):
    torch = pytest.importorskip("torch")
    ours = make().to(device.name)
    with no_grad():
        ours(rand(*shape, device=device.name))             # move the running statistics
    theirs = make(ours=False)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    x = rand(*shape, seed=2, device=device.name)
    np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor(x.numpy())).detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    assert int(theirs[1].num_batches_tracked) == 1


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys_and_changes_nothing(device):
    model = mlp().to(device.name)
    state = model.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    state["0.weight"] = np.zeros((8, 7))
    state["extra.weight"] = np.zeros(3)
    state["4.bias"] = state["4.bias"] + 1
    del state["1.running_var"]
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: 1.running_var" in message
    assert "unexpected keys: extra.weight" in message
    assert "0.weight: shape (8, 7) in the state dict, (8, 6) in the model" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_non_strict_loading_reports_keys_but_still_refuses_wrong_shapes(device):
    model = mlp().to(device.name)
    state = model.state_dict()
    state["4.bias"] = state["4.bias"] + 1
    del state["0.weight"]
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.weight"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[4].bias.numpy(), state["4.bias"])
    state["4.bias"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"4.bias: shape \(4,\) in the state dict, \(3,\) in the model"):
        model.load_state_dict(state, strict=False)


@pytest.mark.second_gpu
def test_loading_copies_into_the_existing_arrays_and_keeps_their_dtype(device):
    model = mlp().to(device.name)
    weight = model[0].weight.data
    state = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in model.state_dict().items()}
    state["0.weight"] = np.full((8, 6), 0.5)
    state["1.running_mean"] = Tensor(np.full(8, 0.25))                 # a Tensor (on the CPU) loads too
    model.load_state_dict(state)
    assert model[0].weight.data is weight and weight.dtype == np.float32 and (device.to_host(weight) == 0.5).all()
    assert model[1].running_mean.device == device.name and (model[1].running_mean.numpy() == 0.25).all()


# ----- initialisation -----

@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Linear(400, 300), 400),
                                          (lambda: nn.Conv2d(16, 300, 5), 16 * 25)])
def test_default_init_is_pytorchs(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)       # kaiming_uniform(a=sqrt(5)) and the bias rule both give this
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound
    w = layer.weight.data
    assert abs(w.mean()) < 0.02 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(400, 300) if isinstance(layer, nn.Linear) else torch.nn.Conv2d(16, 300, 5)
    their_w = theirs.weight.detach().numpy()
    assert abs(np.abs(their_w).max() - bound) < 0.01 * bound
    assert abs(their_w.std() - w.std()) < 0.02 * bound


def test_linear_takes_pytorchs_arguments_only():
    with pytest.raises(TypeError):
        nn.Linear(2, 2, init="assignment")      # the assignment's init lives in models.MLP


def test_seeding_makes_initialisation_and_dropout_reproducible(device):
    def run():
        tinygrad_dl1.manual_seed(3)
        model = mlp().to(device.name)
        return [p.numpy() for p in model.parameters()] + [F.dropout(rand(5, 5, device=device.name), 0.5).numpy()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


# ----- dropout -----

def test_dropout_keeps_the_mean_drops_a_fraction_p_and_scales_the_rest(implementation, device):
    x = device.tensor(np.ones((400, 500), np.float32))
    y = F.dropout(x, 0.3, training=True, generator=np.random.default_rng(0)).numpy()
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.3) < 0.005
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01


def test_dropout_is_the_identity_in_eval_mode_or_with_p_0_and_zero_with_p_1(device):
    x = rand(4, 5, device=device.name)
    layer = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0, True).numpy(), x.numpy())
    x.requires_grad_()
    y = F.dropout(x, 1.0, True)
    assert (y.numpy() == 0).all()
    y.sum().backward()
    assert (device.to_host(x.grad) == 0).all()


def test_dropout_gradient_goes_through_the_mask_only(implementation, device):
    x = device.tensor(np.random.default_rng(0).standard_normal((30, 40)), requires_grad=True)
    y = nn.Dropout(0.25)(x)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(device.array(g))
    kept = y.numpy() != 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(device.to_host(x.grad), g * kept / 0.75)

    def same_mask_each_call(a):
        return F.dropout(a, 0.4, True, generator=np.random.default_rng(5))

    assert gradcheck(same_mask_each_call, [rand(6, 7, dtype=np.float64, device=device.name).requires_grad_()])


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None, True])
def test_dropout_rejects_p_outside_0_1(p):
    with pytest.raises(ValueError, match="p must be a probability in"):
        F.dropout(rand(2, 2), p, True)
    with pytest.raises(ValueError, match="Dropout: p must be"):
        nn.Dropout(p)


# ----- each layer's forward against numbers and gradients -----

def set_path(module, dotted, value):
    *path, last = dotted.split(".")
    for name in path:
        module = getattr(module, name)
    setattr(module, last, value)


def gradcheck_module(module, x):
    """gradcheck module(x) w.r.t. x and every parameter (the module's parameters are replaced by the
    float64 copies gradcheck passes in, so the module is left holding those)."""
    names = [name for name, _ in module.named_parameters()]

    def fn(x, *params):
        for name, p in zip(names, params):
            set_path(module, name, p)
        return module(x)
    return gradcheck(fn, [x.requires_grad_()] + list(module.parameters()))


@pytest.mark.second_gpu
@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(4, 3), (5, 4)),
    (lambda: nn.Linear(4, 3, bias=False), (2, 5, 4)),
    (lambda: nn.LeakyReLU(0.1), (4, 5)),
    (lambda: nn.ReLU(), (4, 5)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
    (lambda: nn.BatchNorm1d(3), (6, 3)),
    (lambda: nn.BatchNorm1d(3).eval(), (6, 3, 2)),
    (lambda: nn.BatchNorm2d(2), (3, 2, 3, 3)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
    (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 5)),
    (lambda: mlp().eval(), (5, 6)),
    (lambda: mlp()[:3], (5, 6)),
    (lambda: convnet()[:5], (2, 3, 4, 4)),
])
def test_each_layers_forward_passes_gradcheck(implementation, device, make, shape):
    x = device.tensor(np.random.default_rng(0).uniform(-2, 2, shape) + 0.05)    # away from relu's kink
    assert gradcheck_module(make().to(device.name), x)


@pytest.mark.parametrize("make, shape", MODELS)
def test_forward_and_backward_match_pytorch_in_training_mode(implementation, device, make, shape):
    torch = pytest.importorskip("torch")
    theirs = torch_trained(make, shape)
    ours = make().to(device.name)
    ours.load_state_dict(theirs.state_dict())                             # torch tensors load as they are
    ours[3].training = theirs[3].training = False                         # dropout or pool: no randomness
    x = rand(*shape, seed=4, device=device.name)
    target = np.arange(shape[0]) % 3
    F.cross_entropy(ours(x), target).backward()
    loss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x.numpy())), torch.tensor(target))
    loss.backward()
    their_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(device.to_host(p.grad), their_grads[name].grad.numpy(), rtol=1e-3, atol=1e-5,
                                   err_msg=name)


def test_flatten_and_leaky_relu_do_what_they_say(device):
    x = rand(2, 3, 4, 5, device=device.name)
    assert nn.Flatten()(x).shape == (2, 60) and nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    y, x = nn.LeakyReLU(0.2)(x).numpy(), x.numpy()
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.2 * x))


def test_batch_norm_layers_count_batches_in_training_only_and_check_their_input(device):
    bn = nn.BatchNorm2d(3).to(device.name)
    bn(rand(4, 3, 2, 2, device=device.name))
    bn(rand(4, 3, 2, 2, device=device.name))
    bn.eval()(rand(4, 3, 2, 2, device=device.name))
    assert int(bn.num_batches_tracked.item()) == 2
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\), got \(4, 3\)"):
        bn(rand(4, 3))
    with pytest.raises(ValueError, match=r"\(N, 5\) or \(N, 5, L\), got \(4, 3\)"):
        nn.BatchNorm1d(5)(rand(4, 3))


def test_layers_of_zero_or_negative_width_raise():
    for make, message in ((lambda: nn.Linear(0, 3), "in_features must be a positive int, got 0"),
                          (lambda: nn.Linear(3, -1), "out_features must be a positive int, got -1"),
                          (lambda: nn.BatchNorm1d(0), "num_features must be a positive int, got 0"),
                          (lambda: nn.BatchNorm2d(2.5), "num_features must be a positive int, got 2.5")):
        with pytest.raises(ValueError, match=message):
            make()


@pytest.mark.second_gpu
def test_batch_norm_momentum_none_keeps_the_plain_average_as_pytorch(device):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm1d(3, momentum=None).to(device.name), torch.nn.BatchNorm1d(3, momentum=None)
    for seed in range(4):
        x = rand(5, 3, seed=seed)
        ours(x.to(device.name))
        theirs(torch.tensor(x.numpy()))
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs.state_dict()[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.second_gpu
def test_parameter_holds_a_copy_of_the_callers_array_on_its_device(device):
    array = device.array(np.ones(3, np.float32))
    p = nn.Parameter(array)
    assert p.device == device.name
    with backend.device_scope(p.data):
        p.data -= 1
    assert (device.to_host(array) == 1).all()
