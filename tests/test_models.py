"""The assignment's models: their layers, their state_dict keys, and their gradients against PyTorch.
The models compute on each device (the ``device`` fixture of conftest.py); they are built on the CPU."""
import numpy as np
import pytest

from tinygrad_dl1 import manual_seed, models, nn, optim
from tinygrad_dl1.nn import functional as F

from torch_reference import torch_twin


def test_mlp_layers_follow_the_flags():
    kinds = [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Dropout] * 2 + [nn.Linear]
    layers = list(models.MLP(12, [8, 6], 3, batch_norm=True, dropout=0.1))
    assert len(layers) == len(kinds) and all(isinstance(m, k) for m, k in zip(layers, kinds))
    assert [type(m) for m in models.MLP(12, [], 3, init="default")] == [nn.Linear]   # logistic regression
    with pytest.raises(ValueError, match="'assignment' or 'default'"):
        models.MLP(12, [8], 3, init="xavier")


def test_mlp_assignment_init_draws_only_normal_weights():
    """N(0, 1e-4^2) weights drawn layer after layer from the seeded generator, zero biases, and
    nothing else drawn in between (PyTorch's default init must not run first)."""
    manual_seed(5)
    mlp = models.MLP(300, [40], 10)
    rng = np.random.default_rng(5)
    for layer, shape in ((mlp[0], (40, 300)), (mlp[2], (10, 40))):
        np.testing.assert_array_equal(layer.weight.numpy(), rng.normal(0, 1e-4, shape).astype(np.float32))
        assert not layer.bias.numpy().any()
    assert abs(mlp[0].weight.numpy().std() - 1e-4) < 5e-6


def test_mlp_assignment_init_and_slope(device):
    manual_seed(0)
    mlp = models.MLP(3072, [100], 10, neg_slope=0.05).to(device.name)
    assert mlp[0].weight.numpy().std() == pytest.approx(1e-4, rel=0.02)
    assert not mlp[0].bias.numpy().any()
    pre = mlp[0](device.tensor(np.random.default_rng(0).standard_normal((4, 3072)) * 1e4, dtype=np.float32)).numpy()
    assert (pre < 0).any() and (pre > 0).any()
    np.testing.assert_allclose(mlp[1](device.tensor(pre)).numpy(), np.where(pre > 0, pre, 0.05 * pre), rtol=1e-6)


def test_mlp_flattens_images_and_rejects_the_wrong_size(device):
    mlp = models.MLP(3 * 4 * 4, [5], 10).to(device.name)
    assert mlp(device.tensor(np.zeros((2, 3, 4, 4)), dtype=np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"48 features.*\(2, 50\)"):
        mlp(device.tensor(np.zeros((2, 50))))


def test_convnet_shapes_and_input_checks(device):
    net = models.ConvNet().to(device.name)
    names = [name for name, _ in net.named_children()]
    assert names == ["conv1", "maxpool1", "conv2", "maxpool2", "conv3_a", "conv3_b", "maxpool3", "conv4_a",
                     "conv4_b", "maxpool4", "conv5_a", "conv5_b", "maxpool5", "flatten", "linear"]
    # 3x3 convs with biases, batch norm affine, linear 512 -> 10
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    expected = sum(9 * i * o + o + 2 * o for i, o in convs) + 512 * 10 + 10
    assert sum(p.size for p in net.parameters()) == expected
    assert net(device.tensor(np.zeros((2, 3, 32, 32), np.float32))).shape == (2, 10)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(2, 1, 32, 32\)"):
        net(device.tensor(np.zeros((2, 1, 32, 32))))


@pytest.mark.second_gpu
def test_convnet_matches_pytorch_forward_backward_and_running_stats(device):
    torch = pytest.importorskip("torch")
    manual_seed(0)
    net = models.ConvNet()
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    ref = torch_twin(torch, net)
    net.to(device.name)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((4, 3, 32, 32)), rng.integers(0, 10, 4)

    loss = F.cross_entropy(net(device.tensor(x)), t)
    loss.backward()
    ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(t))
    ref_loss.backward()

    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
    ref_params = dict(ref.named_parameters())
    for name, p in net.named_parameters():
        expected = ref_params[name].grad.numpy()
        # a conv bias followed by batch norm has a gradient of exactly zero in theory: compare absolutely
        np.testing.assert_allclose(device.to_host(p.grad), expected, rtol=1e-7, atol=1e-12, err_msg=name)
    ref_state = ref.state_dict()
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(value, ref_state[key].numpy(), rtol=1e-7, atol=1e-10, err_msg=key)


def test_convnet_state_dict_loads_into_pytorch_and_back(device):
    torch = pytest.importorskip("torch")
    net = models.ConvNet().to(device.name)
    ref = torch_twin(torch, net)
    back = models.ConvNet().to(device.name)
    back.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    net.eval(), back.eval(), ref.eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(back(device.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert isinstance(back.conv3_a[1], nn.BatchNorm2d)


@pytest.mark.second_gpu
def test_better_mlp_trains_as_its_pytorch_twin(device):
    """Three Adam steps of a better MLP (batch norm; no dropout, whose masks differ between libraries) in float64:
    the same losses and weights as the same stack in PyTorch."""
    torch = pytest.importorskip("torch")
    manual_seed(0)
    mlp = models.MLP(20, [16, 8], 4, batch_norm=True, init="default")
    for t in [*mlp.parameters(), mlp[1].running_mean, mlp[1].running_var, mlp[4].running_mean, mlp[4].running_var]:
        t.data = t.data.astype(np.float64)
    ref = torch_twin(torch, mlp)
    mlp.to(device.name)
    ours_opt, ref_opt = optim.Adam(mlp.parameters(), lr=1e-2), torch.optim.Adam(ref.parameters(), lr=1e-2)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, t = rng.standard_normal((8, 20)), rng.integers(0, 4, 8)
        loss = F.cross_entropy(mlp(device.tensor(x)), t)
        ours_opt.zero_grad()
        loss.backward()
        ours_opt.step()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(t))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
    ref_state = ref.state_dict()
    for key, value in mlp.state_dict().items():
        # a linear bias before batch norm has a gradient of zero in theory, so its rounding noise g
        # (~1e-17) moves it by about lr * g / eps ~ 1e-11 per step, differently in each library
        np.testing.assert_allclose(value, ref_state[key].numpy(), rtol=1e-9, atol=1e-10, err_msg=key)
