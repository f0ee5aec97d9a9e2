# %% [markdown]
# # 06 PyTorch parity: the same MLP, the same numbers
#
# Part 2 of the assignment builds the MLP again in PyTorch. Here we do that for the better
# MLP (batch norm, dropout, Adam) and use PyTorch as an *oracle*: built layer for layer under
# the same names, started from the same weights (copied through `state_dict`) and fed the
# same batches, it must compute the same losses, the same gradients (layer by layer) and the
# same running statistics. In float64 they agree to about ten digits; in float32 they agree
# at the start and drift apart slowly, and we see why.
#
# The three additions, in brief (tutorials 7 and 8 derive and measure them): **batch norm**
# normalises each feature to mean 0 and variance 1 over the batch, then scales and shifts it
# by learned $\gamma$ and $\beta$; it also keeps running averages of the mean and variance
# (its *running statistics*) to use instead at test time. **Dropout** zeroes random units
# during training (section 3). **Adam** is an optimizer like SGD that divides each
# parameter's step by a running average of its gradient's size. `model.train()` and
# `model.eval()` switch batch norm and dropout, which behave differently in training and at
# test time. A `state_dict` maps each name to an array: the parameters and the *buffers*
# (arrays a model keeps but does not train, like the running statistics).
#
# PyTorch is not a dependency of the library. Without it this tutorial says how to install
# it and stops.

# %%
import os

import numpy as np

import tinygrad_dl1.nn.functional as F
from tinygrad_dl1 import Tensor, manual_seed, models, nn, optim
from tinygrad_dl1.data import tutorial_cifar10

try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed, so this tutorial has nothing to compare with and stops here.\n"
          "Install it with `pip install torch==2.13.0` (the version this project tests against), or see\n"
          "https://pytorch.org/get-started/locally/ for the build that fits your machine.")
HAVE_TORCH = torch is not None

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
HIDDEN = [100, 50] if FAST else [1000, 500, 200, 50]     # the assignment's better MLP in full mode
BATCH, STEPS_64, STEPS_32 = (100, 3, 20) if FAST else (500, 3, 200)
data = tutorial_cifar10()
x_all = data.train_x.reshape(len(data.train_x), -1)     # (N, 3072): the MLP flattens its input
print(f"{'fast' if FAST else 'full'} mode: training images {x_all.shape}, hidden layers {HIDDEN}, batch {BATCH}")


def batches(n_steps, seed=0):
    """The same n_steps random batches every time it is called with the same seed."""
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        idx = rng.choice(len(x_all), BATCH, replace=False)
        yield x_all[idx], data.train_y[idx]


# %% [markdown]
# ## 1. The twin, layer for layer
#
# Our `models.MLP` is a `Sequential`: each hidden layer is Linear → BatchNorm1d → LeakyReLU
# (slope 0.02) → Dropout, then a last Linear. A `torch.nn.Sequential` of the same layers in
# the same order numbers them the same way, so both `state_dict`s have the same keys
# (`"0.weight"`, `"1.running_mean"`, ...). The twin, written out plainly (the tests build it
# generically, for any of our models, in `tests/torch_reference.py`):


# %%
def torch_mlp(n_inputs, n_hidden, n_classes, neg_slope=0.02, dropout=0.2):
    layers, sizes = [], [n_inputs, *n_hidden]
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.BatchNorm1d(n_out),
                   torch.nn.LeakyReLU(neg_slope), torch.nn.Dropout(dropout)]
    layers.append(torch.nn.Linear(sizes[-1], n_classes))
    return torch.nn.Sequential(*layers)


def ours_mlp(seed=0):
    manual_seed(seed)
    return models.MLP(3072, HIDDEN, 10, batch_norm=True, dropout=0.2, init="default")


if HAVE_TORCH:
    ours, twin = ours_mlp(), torch_mlp(3072, HIDDEN, 10)
    ours_state, twin_state = ours.state_dict(), twin.state_dict()
    assert list(ours_state) == list(twin_state), "the two state_dicts should have the same keys, in order"
    for key in ours_state:
        assert ours_state[key].shape == tuple(twin_state[key].shape), f"{key}: shapes differ"
    print(f"{len(ours_state)} state_dict entries, same keys and shapes; first ones: {list(ours_state)[:6]}")

# %% [markdown]
# ## 2. The same weights, both ways
#
# Our `state_dict()` gives NumPy arrays in PyTorch's layouts (a Linear weight is
# `(out, in)`), so ours → torch is `torch.from_numpy` of each array. The way back needs
# nothing: our `load_state_dict` takes anything `np.asarray` takes, torch tensors included.
# Each library draws its own random initial weights, so before the copy they differ.


# %%
def to_torch(model, twin):
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in model.state_dict().items()})


def run_both(model, twin, x):
    """The outputs of both models on the same input, as NumPy arrays."""
    with torch.no_grad():
        return model(Tensor(x)).numpy(), twin(torch.from_numpy(x)).numpy()


if HAVE_TORCH:
    ours.eval(), twin.eval()                    # eval mode: running statistics, no dropout
    x0 = x_all[:8]
    a, b = run_both(ours, twin, x0)
    print(f"before the copy:  max |ours - torch| = {np.abs(a - b).max():.3g}")
    assert np.abs(a - b).max() > 1e-3, "independently initialised models should disagree"
    to_torch(ours, twin)
    a, b = run_both(ours, twin, x0)
    print(f"ours -> torch:    max |ours - torch| = {np.abs(a - b).max():.3g}")
    assert np.allclose(a, b, rtol=1e-5, atol=1e-5), "after loading our weights, torch should give our outputs"
    back = ours_mlp(seed=1).eval()
    back.load_state_dict(twin.state_dict())     # torch tensors straight in
    c, _ = run_both(back, twin, x0)
    print(f"torch -> ours:    max |ours - torch| = {np.abs(c - b).max():.3g}")
    assert np.array_equal(c, a), "a model loaded back from torch's state_dict should compute what ours did"

# %% [markdown]
# ## 3. Dropout: same rule, different masks
#
# In training mode dropout zeroes each unit with probability $p$ and scales the survivors by
# $1/(1-p)$, so that the expected output is unchanged. Which units it zeroes comes from each
# library's own random generator: the two *rules* are the same, the *masks* are not, and
# no seed makes them equal. So in train mode the outputs differ, though both drop about
# $p = 20\%$ of the units. For exact parity we keep batch norm in training mode (batch
# statistics, as in training) and put only the dropout layers in eval mode (the identity),
# which is the same network as dropout with $p = 0$.

# %%
if HAVE_TORCH:
    ours.train(), twin.train()
    x1 = x_all[:BATCH]
    a, b = run_both(ours, twin, x1)
    print(f"dropout on:  max |ours - torch| = {np.abs(a - b).max():.3g}")
    assert np.abs(a - b).max() > 1e-2, "with dropout on, the different masks should make the outputs differ"
    for m in (*ours.modules(), *twin.modules()):
        if isinstance(m, (nn.Dropout, torch.nn.Dropout)):
            m.eval()
    a, b = run_both(ours, twin, x1)
    print(f"dropout off: max |ours - torch| = {np.abs(a - b).max():.3g}")
    assert np.allclose(a, b, rtol=1e-4, atol=1e-4), "with dropout in eval mode the outputs should agree"
    x = np.abs(np.random.default_rng(0).standard_normal((BATCH, 1000))).astype(np.float32) + 1
    dropped = ((nn.Dropout(0.2)(Tensor(x)).numpy() == 0).mean(),
               (torch.nn.Dropout(0.2)(torch.from_numpy(x)) == 0).double().mean().item())
    print(f"fraction dropped by p = 0.2: ours {dropped[0]:.3f}, torch {dropped[1]:.3f}")
    assert all(abs(f - 0.2) < 0.02 for f in dropped), f"both should drop about 20% of the units, got {dropped}"

# %% [markdown]
# ## 4. Float64: losses and gradients, layer by layer
#
# To compare two implementations we want their differences to come from bugs, not from
# rounding, so we switch both to float64 (about 16 digits instead of 7). Our parameters and
# buffers become float64 arrays; the twin gets `.double()` *before* loading them, so that
# nothing rounds through float32. Then a few Adam steps on the same batches, with the loss
# $L = \frac{1}{B}\sum_n -\log \mathrm{softmax}(z_n)_{y_n}$ in both, and after each backward
# every gradient compared.
#
# One subtlety: a Linear bias just before batch norm. Batch norm subtracts the batch mean of
# each feature, so adding a constant $b_j$ to feature $j$ changes nothing after it:
# $\partial L / \partial b_j = 0$ exactly, in theory. In practice each library computes it as
# a sum of terms that cancel, leaving rounding noise of about $10^{-17}$, different in each.
# A *relative* comparison of two noises is meaningless, so those biases are compared with an
# absolute tolerance, and we check that they are zero up to noise. Adam then divides that
# noise by its own size (plus $\epsilon = 10^{-8}$), so these biases move by up to
# $\text{lr} \cdot |g| / (|g| + \epsilon) \approx 10^{-12}$ per step, differently in each
# library. The running means of the batch norm after them see that shift, so they too are
# compared with an absolute tolerance ($10^{-10}$) next to the relative one.


# %%
def to_float64(model):
    for t in (*model.parameters(), *model.buffers()):
        if t.data.dtype == np.float32:
            t.data = t.data.astype(np.float64)
    return model


def dropout_off(*models_):
    for model in models_:
        for m in model.modules():
            if isinstance(m, (nn.Dropout, torch.nn.Dropout)):
                m.eval()


def train_step(model, twin, opt, twin_opt, x, y):
    """One step of each on the same batch; returns both losses (the gradients stay in .grad)."""
    loss = F.cross_entropy(model(Tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    twin_loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
    twin_opt.zero_grad()
    twin_loss.backward()
    twin_opt.step()
    return loss.item(), twin_loss.item()


if HAVE_TORCH:
    ours = to_float64(ours_mlp())
    twin = torch_mlp(3072, HIDDEN, 10).double()
    to_torch(ours, twin)
    dropout_off(ours, twin)
    opt, twin_opt = optim.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    before_bn = {f"{i}.bias" for i, m in enumerate(ours) if isinstance(m, nn.Linear)
                 and i + 1 < len(ours) and isinstance(ours[i + 1], nn.BatchNorm1d)}
    twin_params = dict(twin.named_parameters())
    for step, (x, y) in enumerate(batches(STEPS_64, seed=1)):
        loss, twin_loss = train_step(ours, twin, opt, twin_opt, x.astype(np.float64), y)
        print(f"step {step}: loss ours {loss:.15f}  torch {twin_loss:.15f}  rel. diff {abs(loss / twin_loss - 1):.1e}")
        assert abs(loss - twin_loss) <= 1e-10 * abs(twin_loss), f"step {step}: the losses differ"
        if step == 0:
            print(f"\n{'parameter':<12} {'shape':<13} {'max |grad|':>11} {'max |ours - torch|':>19}")
        for name, p in ours.named_parameters():
            g, g_twin = p.grad, twin_params[name].grad.numpy()
            diff = np.abs(g - g_twin).max()
            if step == 0:
                print(f"{name:<12} {str(p.shape):<13} {np.abs(g).max():11.2e} {diff:19.1e}"
                      + ("   (bias before batch norm: 0 in theory)" if name in before_bn else ""))
            if name in before_bn:
                assert np.abs(g).max() < 1e-12 and diff < 1e-12, f"{name}: should be zero up to rounding"
            else:
                # atol: float64 rounding of a sum of 3072 products, 3072 * 2.2e-16 ~ 7e-13 of the largest entry
                assert np.allclose(g, g_twin, rtol=1e-8, atol=1e-12 * np.abs(g_twin).max()), \
                    f"step {step}, {name}: gradients differ by up to {diff:.2e}"
        if step == 0:
            print()
    twin_state = twin.state_dict()
    for key, value in ours.state_dict().items():
        if "running" in key or "num_batches" in key:
            diff = np.abs(value - twin_state[key].numpy()).max()
            print(f"{key:<22} max |ours - torch| = {diff:.1e}")
            # atol: the biases before batch norm moved by Adam's lr * noise / (|noise| + eps) ~ 1e-12
            assert np.allclose(value, twin_state[key].numpy(), rtol=1e-10, atol=1e-10), f"{key}: statistics differ"

# %% [markdown]
# ## 5. Float32: a short training run side by side
#
# Now the way we really train: float32, from the same weights and the same batches, Adam
# with learning rate $10^{-3}$ (dropout still off: with it on the two runs would be equal
# only on average). Float32 keeps about 7 significant digits, and the two libraries add up
# their sums (matrix products, batch means) in different orders, so each step's results
# differ in the last digits. Those differences are fed back into the weights, and the next
# step starts from slightly different weights: the two runs drift apart, like two runs of
# the same code on different BLAS libraries (the code that does NumPy's matrix products),
# but neither is more right than the other.
# Adam speeds the drift up: it divides each update by the size of its gradient, so for a
# weight whose gradient is tiny, a rounding difference in it becomes a difference of up to
# a whole learning rate in the step. At the start the losses agree to about 6 digits; later
# they differ in the third digit, while both runs learn the same way.

# %%
if HAVE_TORCH:
    ours, twin = ours_mlp(), torch_mlp(3072, HIDDEN, 10)
    to_torch(ours, twin)
    dropout_off(ours, twin)
    opt, twin_opt = optim.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    losses = np.array([train_step(ours, twin, opt, twin_opt, x, y) for x, y in batches(STEPS_32, seed=2)])
    print(f"{'step':>5} {'ours':>10} {'torch':>10} {'rel. diff':>10}")
    rel = np.abs(losses[:, 0] / losses[:, 1] - 1)
    for step in sorted({0, 1, 2, 5, 10, STEPS_32 // 4, STEPS_32 // 2, STEPS_32 - 1}):
        print(f"{step:>5} {losses[step, 0]:10.6f} {losses[step, 1]:10.6f} {rel[step]:10.1e}")
    assert rel[0] < 1e-5, f"the first float32 losses should agree to ~6 digits, got {rel[0]:.1e}"
    assert rel[:10].max() < 1e-2, f"the first 10 losses should stay close, got {rel[:10].max():.1e}"
    assert abs(losses[-20:, 0].mean() / losses[-20:, 1].mean() - 1) < 0.05, "the runs should end up alike"
    assert (losses[-5:].mean(axis=0) < losses[:5].mean(axis=0)).all(), "both runs should have learned something"
    twin_state = twin.state_dict()
    drift = max(np.abs(v - twin_state[k].numpy()).max() for k, v in ours.state_dict().items() if "weight" in k)
    print(f"after {STEPS_32} steps: max |weight ours - weight torch| = {drift:.1e}, "
          f"largest loss difference {rel.max():.1e} (relative)")

# %% [markdown]
# ## What we saw
#
# - Built layer for layer under the same names, the two MLPs share one `state_dict` layout,
#   and weights go both ways: `torch.from_numpy` in, and our `load_state_dict` takes torch
#   tensors back.
# - Dropout follows the same rule in both, but its masks come from different random
#   generators, so exact comparisons switch it off (eval mode, or $p = 0$).
# - In float64 every loss agrees to $10^{-10}$ (relative) and every gradient, layer by layer,
#   to rounding; a Linear bias before batch norm has a zero gradient in theory, so only
#   rounding noise is left to compare. The running statistics agree too.
# - In float32 the two runs start equal to about 6 digits and drift apart (faster under
#   Adam), because each library rounds its sums in a different order, not because either
#   is wrong.
