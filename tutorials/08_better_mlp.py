# %% [markdown]
# # 08 A better MLP: Adam, batch norm, dropout and depth
#
# Tutorial 4 trained the assignment's MLP (3072-100-10, SGD) to about 45% on CIFAR-10; the
# assignment then asks for a better one. We add Adam, batch norm, a deeper and wider net and
# dropout, one at a time, and measure what each buys in a small *ablation* (a table of runs
# that differ by one change each). First each is explained and its claims checked: the two
# update rules (against the library's optimizers), Adam's step sizes on inputs of the 0-255
# scale, what batch norm does to the pre-activations, and why dropout scales by $1/(1-p)$.
#
# `TINYGRAD_DL1_TUTORIAL_FAST=1` uses small, noisy synthetic data, smaller nets and few steps
# (seconds). Without it six runs train on the real CIFAR-10 for 1500 steps each: about 4
# minutes on a 2-core CPU (up to 10 when other jobs share its cores), mostly the large nets.

# %%
import os
import time

import numpy as np

import tinygrad_dl1.nn.functional as F
from tinygrad_dl1 import Tensor, exercises, manual_seed, nn, optim
from tinygrad_dl1.data import synthetic_cifar10, tutorial_cifar10
from tinygrad_dl1.models import MLP
from tinygrad_dl1.train import evaluate, train_step, training_batches

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
data = synthetic_cifar10(noise=1000.0) if FAST else tutorial_cifar10()   # noisy: the default is too easy
x_batch = data.train_x[:200].reshape(200, -1)            # one fixed batch, flattened to 3072 features
y_batch = data.train_y[:200]

# %% [markdown]
# ## 1. Two update rules
#
# SGD moves every parameter $\theta$ against its gradient $g = \nabla_\theta L$ by one global
# step size: $\theta \leftarrow \theta - \eta\, g$. Adam (as PyTorch computes it) keeps, per
# parameter, decaying averages of the gradient and of its square, and divides one by the
# root of the other. At step $t = 1, 2, \dots$, with $m_0 = v_0 = 0$:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
# \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},$$
#
# with $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$. The bias corrections undo the
# start at zero: at $t = 1$, $\hat m_1 = g_1$ and $\hat v_1 = g_1^2$, so the first step is
# $\eta\, g_1 / (|g_1| + \epsilon) \approx \eta\, \mathrm{sign}(g_1)$, whatever the size of
# $g_1$. Both rules in NumPy (an exercise, see tutorial 2: the checkers after them name the
# likely mistake, e.g. a missing bias correction):


# %%
def sgd_update(param, grad, lr):
    """One SGD step: the new parameter (a new array)."""
    # BEGIN SOLUTION hint: a step against the gradient, lr times its size
    return param - lr * grad
    # END SOLUTION


def adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step (step counts from 1): returns (new_param, new_m, new_v)."""
    # BEGIN SOLUTION hint: update m and v first, then divide them by 1 - beta**step (bias correction); eps outside sqrt
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    # END SOLUTION


# %% [markdown]
# They should agree with `optim.SGD` and `optim.Adam` step for step: the same float64
# parameter, the same gradients (set as `.grad`, of sizes $1$ down to $10^{-4}$), five steps.

# %%
rng = np.random.default_rng(0)
w0 = rng.standard_normal((4, 3))
p_sgd, p_adam = Tensor(w0.copy(), requires_grad=True), Tensor(w0.copy(), requires_grad=True)
opt_sgd, opt_adam = optim.SGD([p_sgd], lr=0.1), optim.Adam([p_adam], lr=0.01)
w_sgd, w_adam, m, v = w0, w0, np.zeros_like(w0), np.zeros_like(w0)
for step in range(1, 6):
    g = rng.standard_normal((4, 3)) * 10.0 ** -(step - 1)
    p_sgd.grad, p_adam.grad = g, g
    opt_sgd.step()
    opt_adam.step()
    w_sgd = sgd_update(w_sgd, g, lr=0.1)
    w_adam, m, v = adam_update(w_adam, g, m, v, step, lr=0.01)
    assert np.allclose(w_sgd, p_sgd.numpy(), rtol=1e-12, atol=1e-14), f"step {step}: sgd_update != optim.SGD"
    assert np.allclose(w_adam, p_adam.numpy(), rtol=1e-12, atol=1e-14), f"step {step}: adam_update != optim.Adam"
print(f"after 5 steps, max |ours - library|: SGD {np.abs(w_sgd - p_sgd.numpy()).max():.1e}, "
      f"Adam {np.abs(w_adam - p_adam.numpy()).max():.1e}")
g = rng.standard_normal((4, 3))
first, _, _ = adam_update(w0, g, 0 * w0, 0 * w0, 1, lr=0.01)
first_big, _, _ = adam_update(w0, 1000 * g, 0 * w0, 0 * w0, 1, lr=0.01)
assert np.allclose(first - w0, -0.01 * np.sign(g), rtol=0, atol=1e-6), "Adam's first step is lr * sign(g)"
assert np.allclose(first, first_big, rtol=0, atol=1e-6), "whatever the gradient's size"
assert exercises.check_sgd_update(sgd_update).passed, "sgd_update: see the checker's table"
assert exercises.check_adam_update(adam_update).passed, "adam_update: see the checker's table"

# %% [markdown]
# ## 2. Adam on inputs of the 0-255 scale
#
# In the first layer, $z = x W_1^\top + b_1$, so $\partial L/\partial W_1 = \bar z^\top x$ and
# $\partial L/\partial b_1 = \sum_n \bar z_n$: the weight gradient carries the inputs, which
# here are pixels on the 0-255 scale minus the mean image (about $\pm 60$). Across the four
# parameters of the assignment's MLP the gradients differ by orders of magnitude, and SGD's
# one $\eta$ has to suit all of them (tutorial 4: $\eta = 10^{-2}$ already diverges). Adam's
# first step is $\eta$ for every parameter: the step size is per parameter.

# %%
manual_seed(42)
model = MLP(3072, [100], 10)                            # the assignment's init: N(0, 1e-4^2), zero biases
F.cross_entropy(model(Tensor(x_batch)), Tensor(y_batch)).backward()
rms = {name: float(np.sqrt(np.mean(p.grad.astype(np.float64) ** 2))) for name, p in model.named_parameters()}
print(f"{'parameter':<10} {'rms gradient':>13} {'median SGD step':>16} {'median Adam step':>17}")
for name, p in model.named_parameters():
    sgd_step = np.median(np.abs(sgd_update(p.numpy(), p.grad, 2e-3) - p.numpy()))
    adam_step = np.median(np.abs(adam_update(p.numpy(), p.grad, 0, 0, 1, lr=1e-3)[0] - p.numpy()))
    print(f"{name:<10} {rms[name]:13.2e} {sgd_step:16.2e} {adam_step:17.2e}")
    assert abs(adam_step - 1e-3) < 2e-5, f"{name}: Adam's first step should be about lr, got {adam_step:.2e}"
print(f"rms gradient of W1 / of b1: {rms['0.weight'] / rms['0.bias']:.0f}")
assert rms["0.weight"] > 10 * rms["0.bias"], "the first layer's weight gradient carries the input scale"
assert max(rms.values()) > 100 * min(rms.values()), "SGD's steps span orders of magnitude across parameters"

# %% [markdown]
# The catch: a step of $\eta$ in each of the $3072$ weights of a first-layer unit moves its
# pre-activation $z_j = \sum_i W_{ji} x_i$ by up to $\eta \sum_i |x_i|$, and neighbouring
# pixels are correlated, so much of that adds up: how far one step moves $z$ depends on
# $\eta$ *and* on the scale of the inputs. From the assignment's init:

# %%
x64 = x_batch.astype(np.float64)
z = x64 @ model[0].weight.numpy().T.astype(np.float64)
dz = {lr: x64 @ (-lr * np.sign(model[0].weight.grad)).T for lr in (1e-3, 1e-4)}    # W1's first step: -lr sign(g)
for lr, change in dz.items():
    print(f"lr {lr:.0e}: std of z {z.std():.3f}, std of its change in one Adam step {change.std():.2f}")
assert dz[1e-3].std() > 10 * z.std(), "at lr 1e-3 one step moves the pre-activations by far more than their size"

# %% [markdown]
# On CIFAR-10 one step of $\eta = 10^{-3}$ moves $z$ by a standard deviation of about 57,
# 170 times its size at the start: steps that large make the outputs jump from batch to
# batch. Without normalisation Adam needs a smaller $\eta$ here ($10^{-4}$, as the ConvNet of
# tutorial 10 uses); section 6 trains with both.
#
# ## 3. Batch norm: normalised pre-activations
#
# In training mode `BatchNorm1d` normalises each feature $j$ over the batch,
# $\hat z_{nj} = (z_{nj} - \mu_j)/\sqrt{\sigma_j^2 + \epsilon}$ (biased variance), then
# applies a learned $\gamma_j \hat z_{nj} + \beta_j$ ($\gamma = 1$, $\beta = 0$ at the start).
# Each feature then has mean 0 and variance $\sigma_j^2/(\sigma_j^2+\epsilon) \approx 1$ over
# the batch, whatever the scale of $x$ and $W$: $\mathrm{BN}(x\,(cW)^\top) = \mathrm{BN}(x W^\top)$
# for any $c > 0$ (up to $\epsilon$). The next layer sees inputs of a steady scale, and a step
# of Adam matters only relative to the weights' size, so $\eta = 10^{-3}$ is fine again.
# (Tutorial 7 derives its backward; in eval mode it uses running averages instead.)

# %%
z1 = model[0](Tensor(x_batch))                          # pre-activations of the assignment's first layer
out = nn.BatchNorm1d(100)(z1).numpy().astype(np.float64)
print(f"pre-activations: std {z1.numpy().std():.3f}; after batch norm: per-feature means and variances "
      f"within {np.abs(out.mean(axis=0)).max():.0e} of 0 and {np.abs(out.var(axis=0) - 1).max():.0e} of 1")
assert np.abs(out.mean(axis=0)).max() < 1e-4, "batch norm's output has mean 0 per feature"
assert np.abs(out.var(axis=0) - 1).max() < 1e-2, "and variance 1 (up to eps) per feature"
scaled = nn.BatchNorm1d(100)(Tensor(z1.numpy() * 1000)).numpy()
assert np.allclose(scaled, out, atol=1e-3), "scaling W (so z) by 1000 changes nothing after batch norm"

# %% [markdown]
# ## 4. Dropout: a regulariser, scaled by $1/(1-p)$
#
# In training mode dropout keeps each unit with probability $1-p$ and scales the kept ones:
# $y_i = x_i\, r_i/(1-p)$, $r_i \sim \mathrm{Bernoulli}(1-p)$, so $E[y_i] = x_i$: at test time
# it is the identity, and the next layer sees on average the same input in both modes. Each
# step trains a different random sub-network, so no unit can rely on particular others: the
# net fits its training images less exactly, and the train-test gap shrinks (regularisation).

# %%
manual_seed(0)
drop, x = nn.Dropout(0.2), np.random.default_rng(1).uniform(1, 2, (1000, 1000)).astype(np.float32)
y = drop(Tensor(x)).numpy()                              # a module starts in training mode
kept = y != 0
print(f"dropped {1 - kept.mean():.4f} of the units; mean of x {x.mean():.4f}, of y {y.mean():.4f}")
assert abs(kept.mean() - 0.8) < 0.005, "p = 0.2 drops about 20% of the units"
assert np.allclose(y[kept], x[kept] / 0.8), "the kept units are scaled by 1 / (1 - p)"
assert abs(y.mean() / x.mean() - 1) < 5e-3, "so the mean matches eval mode's (std of this ratio: 5e-4)"
assert np.array_equal(drop.eval()(Tensor(x)).numpy(), x), "in eval mode dropout is the identity"

# %% [markdown]
# ## 5. Depth and width: capacity
#
# The assignment's better MLP has hidden layers of 1000, 500, 200 and 50 units: more
# parameters and more nonlinear steps, so it can fit more complicated functions of the pixels
# (and memorise more of its training set, which dropout counters). Its parameters:
# $\sum_l (n_{l-1} n_l + n_l)$ for the linear layers, plus $\gamma$ and $\beta$ per batch norm unit.

# %%
HIDDEN_BIG = [128, 64] if FAST else [1000, 500, 200, 50]
for hidden in ([100], HIDDEN_BIG):
    sizes, big = [3072, *hidden, 10], MLP(3072, hidden, 10, batch_norm=True)
    expected = sum(a * b + b for a, b in zip(sizes, sizes[1:])) + 2 * sum(hidden)
    print(f"hidden {str(hidden):<22} {expected:>10,} parameters")
    assert sum(p.size for p in big.parameters()) == expected, f"{hidden}: the parameter count formula"

# %% [markdown]
# ## 6. The ablation
#
# Six runs, cumulative (each adds one change to the run above), because the changes are not
# independent: batch norm is what lets Adam use $\eta = 10^{-3}$, and dropout pays in a net
# large enough to overfit (the 100-unit net underfits: train accuracy below 0.6). Row 3 is
# row 2 with the smaller $\eta$; row 4 builds on row 2. Every run starts from
# `manual_seed(42)` and takes 1500 steps on the same batches of 200 images (6 epochs), with
# tutorial 4's pieces as `tinygrad_dl1.train` packs them for the package's command line (row 1
# is `tinygrad-dl1 train mlp`, see the main README): `training_batches` deals batches like
# `BatchStream`; `train_step(model, opt, x, y)` is one step (train mode, forward, loss,
# `zero_grad`, backward, `step`); `evaluate(model, x, y)` gives (loss, accuracy) in eval mode
# under `no_grad()`, every 150 steps on the test set and on as many training images (no
# dropout in eval mode: the difference is the train-test gap).

# %%
RUNS = [  # name, hidden layers, batch norm, dropout, optimizer, learning rate
    ("1 SGD (assignment)", [100], False, 0.0, "sgd", 2e-3),
    ("2 Adam", [100], False, 0.0, "adam", 1e-3),
    ("3 Adam, lr 1e-4", [100], False, 0.0, "adam", 1e-4),
    ("4 Adam + BN", [100], True, 0.0, "adam", 1e-3),
    ("5 + deeper/wider", HIDDEN_BIG, True, 0.0, "adam", 1e-3),
    ("6 + dropout 0.2", HIDDEN_BIG, True, 0.2, "adam", 1e-3),
]
BATCH, STEPS, EVAL_EVERY = (100, 80, 20) if FAST else (200, 1500, 150)
n_eval = len(data.test_x)
train_x, train_y = data.train_x[:n_eval], data.train_y[:n_eval]


def run(hidden, batch_norm, dropout, optimizer, lr, seed=42):
    manual_seed(seed)                                   # initial weights and dropout masks
    model = MLP(3072, hidden, 10, batch_norm=batch_norm, dropout=dropout)
    opt = (optim.Adam if optimizer == "adam" else optim.SGD)(model.parameters(), lr=lr)
    batches = training_batches(data, BATCH, seed)       # the same batches for every run
    curve = {"step": [], "loss": [], "train_acc": [], "test_acc": []}
    for step in range(1, STEPS + 1):
        xb, yb = next(batches)
        loss, _ = train_step(model, opt, xb, yb)
        curve["loss"].append(float(loss))
        if step % EVAL_EVERY == 0:
            curve["step"].append(step)
            curve["train_acc"].append(evaluate(model, train_x, train_y)[1])
            curve["test_acc"].append(evaluate(model, data.test_x, data.test_y)[1])
    return curve


curves, results = {}, {}
print(f"{'run':<20} {'final test':>10} {'best test':>10} {'train':>7} {'gap':>7} {'time':>7}")
for name, *settings in RUNS:
    started = time.perf_counter()
    c = curves[name] = run(*settings)
    r = results[name] = dict(final=c["test_acc"][-1], best=max(c["test_acc"]), train=c["train_acc"][-1])
    r["gap"] = r["train"] - r["final"]
    print(f"{name:<20} {r['final']:10.3f} {r['best']:10.3f} {r['train']:7.3f} {r['gap']:+7.3f} "
          f"{time.perf_counter() - started:6.1f}s")
    assert np.isfinite(c["loss"]).all(), f"{name}: the loss should stay finite"
    assert r["final"] > 0.3, f"{name}: far above chance (0.1), got {r['final']:.3f}"
    assert r["gap"] > 0, f"{name}: it fits its training images better than the test images"
sgd, adam, adam_small, bn, big, dropped = (results[name] for name, *_ in RUNS)
assert adam["best"] < adam_small["best"] - 0.03, "without batch norm, Adam's lr 1e-3 is too large for 0-255 inputs"
if not FAST:
    assert adam_small["best"] > sgd["best"] + 0.02, "Adam with lr 1e-4 should beat the assignment's SGD"
    assert bn["best"] > adam["best"] + 0.05, "batch norm should make Adam's lr 1e-3 work"
    assert big["train"] > bn["train"] + 0.03, "the larger net should fit its training images better"
    assert dropped["gap"] < big["gap"] - 0.015, "dropout should shrink the train-test gap"
    assert dropped["best"] > sgd["best"] + 0.05, "the better MLP should beat the assignment's by 5 points"

# %% [markdown]
# ## 7. Curves
#
# Left: row 2 zigzags, rows 3 to 6 climb steadily. Right: the two large nets, train accuracy
# dashed and test solid; dropout lowers the dashed line much more than the solid one.

# %%
from tinygrad_dl1.plot import save_figure, tutorial_pyplot  # noqa: E402

plt = tutorial_pyplot()
if plt is not None:
    fig, (ax_all, ax_gap) = plt.subplots(1, 2, figsize=(11, 4))
    for name, c in curves.items():
        ax_all.plot(c["step"], c["test_acc"], "o-", markersize=3, label=name)
    ax_all.set(xlabel="step", ylabel="test accuracy", title="test accuracy of each run")
    ax_all.legend(fontsize=8)
    for name, color in ((RUNS[4][0], "tab:purple"), (RUNS[5][0], "tab:brown")):
        ax_gap.plot(curves[name]["step"], curves[name]["train_acc"], "--", color=color, label=f"{name}: train")
        ax_gap.plot(curves[name]["step"], curves[name]["test_acc"], "-", color=color, label=f"{name}: test")
    ax_gap.set(xlabel="step", ylabel="accuracy", title="the train-test gap, without and with dropout")
    ax_gap.legend(fontsize=8)
    save_figure(fig, "08_better_mlp")

# %% [markdown]
# ## What each change bought
#
# On the real CIFAR-10, in the run this was written with (final / best test accuracy):
#
# - SGD, the assignment's MLP: 0.438 / 0.469, as the README's `tinygrad-dl1 train mlp`.
# - Adam at $\eta = 10^{-3}$ is *worse*, 0.408 / 0.421, zigzagging: each step moves the
#   pre-activations far on 0-255 inputs. At $10^{-4}$ it reaches 0.505: the per-parameter
#   step sizes are worth 3 to 7 points over SGD.
# - Batch norm brings $\eta = 10^{-3}$ back: 0.516. The 1000-500-200-50 net: 0.539, with
#   train accuracy 0.65 against 0.58: more capacity, and a wider gap (0.11).
# - Dropout 0.2: the same test accuracy after these 6 epochs, but a gap of 0.07 instead of
#   0.11: the net fits its training images less exactly; whether that turns into test
#   accuracy shows in runs longer than these.
#
# One seed per row: differences of a point or two (rows 3 and 4, rows 5 and 6) are within
# the spread between seeds (the assignment's MLP ends between 0.438 and 0.479 over five seeds,
# see the README, whose better MLP reaches 0.565 to 0.579 in longer runs). On fast mode's data
# every net all but memorises its 2000 images, so only the effect of Adam's learning rate shows.
