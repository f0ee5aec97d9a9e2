# %% [markdown]
# # 05 Vital signs of a network: activations, gradients, dead units, update sizes
#
# A loss curve says *that* training goes badly; the numbers inside each layer say *why*.
# This tutorial measures, layer by layer, the scale of the activations, of the gradients and
# of the weights, the fraction of dead units, and the size of one SGD update relative to the
# weights, and uses them to see what the assignment's initialisation $\mathcal{N}(0, (10^{-4})^2)$
# does, against the default of PyTorch (the most used deep-learning library), in the
# assignment's MLP (3072-100-10) and in a deeper one (3072-100-100-100-10), both with leaky
# ReLU of slope $0.02$. A linear layer's output, before the leaky ReLU, is its
# **pre-activation**.
#
# `TINYGRAD_DL1_TUTORIAL_FAST=1` uses small synthetic CIFAR-shaped data and few steps.

# %%
import math
import os

import numpy as np

import tinygrad_dl1.nn.functional as F
from tinygrad_dl1 import Tensor, manual_seed, optim
from tinygrad_dl1.data import tutorial_cifar10
from tinygrad_dl1.models import MLP

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
data = tutorial_cifar10()
x_batch = data.train_x[:500].reshape(500, -1)          # one fixed batch, flattened to 3072 features
y_batch = data.train_y[:500]
x_rms = float(np.sqrt((x_batch.astype(np.float64) ** 2).mean()))
print(f"input: shape {x_batch.shape}, root mean square {x_rms:.1f} (0-255 scale minus the mean image)")

# %% [markdown]
# ## 1. Measuring every layer
#
# `MLP` is an `nn.Sequential`, a list of layers applied in order (`Linear`, `LeakyReLU`,
# `Linear`, ...), so we can run its layers one by one and keep every output.
# To get the gradient of the loss with respect to each layer's output too, each layer gets its
# input as a fresh leaf tensor (`requires_grad=True`); backward through the last layer fills
# the `.grad` of its input, which is the gradient we pass to `backward` of the layer before.
# That is the chain rule of tutorial 3, walked by hand, one layer at a time.

# %%
def vital_signs(model, x, y):
    """Per layer: its input, output, and the gradient of the loss w.r.t. its output; weight grads filled."""
    leaves, outputs, h = [], [], x
    for layer in model:
        leaf = Tensor(h, requires_grad=True)
        out = layer(leaf)
        leaves.append(leaf)
        outputs.append(out)
        h = out.numpy()
    for p in model.parameters():
        p.grad = None
    loss = F.cross_entropy(outputs[-1], Tensor(y))
    loss.backward()
    for i in range(len(outputs) - 2, -1, -1):        # hand dL/d(output of layer i) back to layer i
        outputs[i].backward(leaves[i + 1].grad)
    grads = [leaves[i + 1].grad for i in range(len(outputs) - 1)] + [None]
    return loss.item(), [leaf.numpy() for leaf in leaves], [o.numpy() for o in outputs], grads


def summary(model, x, y, title):
    """Print a table of the linear layers; return a dict of per-layer arrays."""
    loss, ins, outs, out_grads = vital_signs(model, x, y)
    layers = list(model)
    rows = {"pre_std": [], "in_ms": [], "w_var": [], "b_var": [], "fan_in": [], "dead": [],
            "w_grad": [], "w_norm": [], "pre": [], "w": [], "g": []}
    print(f"{title}: loss {loss:.4f}")
    print(f"{'layer':>5} {'std(pre-act)':>13} {'dead':>6} {'|dL/dW|':>10} {'|W|':>10} {'std(dL/dz)':>14}")
    for i, layer in enumerate(layers):
        if not hasattr(layer, "weight"):
            continue
        w, pre = layer.weight.numpy(), outs[i]
        # dead: never positive over the batch (stuck on the negative slope of the leaky ReLU)
        dead = float((pre <= 0).all(axis=0).mean()) if i + 1 < len(layers) else float("nan")
        for key, value in [("pre_std", float(pre.std())), ("in_ms", float((ins[i].astype(np.float64) ** 2).mean())),
                           ("w_var", float(w.var())), ("b_var", float(layer.bias.numpy().var())),
                           ("fan_in", w.shape[1]), ("dead", dead), ("w_grad", float(np.linalg.norm(layer.weight.grad))),
                           ("w_norm", float(np.linalg.norm(w))), ("pre", pre), ("w", w), ("g", layer.weight.grad)]:
            rows[key].append(value)
        dead_text = "-" if math.isnan(dead) else f"{dead:.2f}"       # the output layer has no activation
        grad_text = "-" if out_grads[i] is None else f"{float(np.std(out_grads[i])):.3e}"
        print(f"{i:>5} {pre.std():13.3e} {dead_text:>6} {rows['w_grad'][-1]:10.3e} {rows['w_norm'][-1]:10.3e} "
              f"{grad_text:>14}")
    return rows


# %% [markdown]
# ## 2. How the scale of an activation follows from the init
#
# Take one linear unit $y = \sum_{i=1}^{n} w_i x_i + b$ with $n$ = fan-in, weights drawn
# independently of the inputs with mean $0$ and variance $\mathrm{Var}[w]$. Averaged over the
# draw of the weights, the cross terms $E[w_i w_j] = 0$ vanish and
#
# $$\mathrm{Var}[y] = n \,\mathrm{Var}[w]\, E[x^2] + \mathrm{Var}[b].$$
#
# For the first layer $E[x^2]$ is the inputs' mean square; after a leaky ReLU of slope $a$ applied
# to a symmetric $z$, $E[h^2] = \tfrac{1 + a^2}{2} E[z^2]$. So each layer multiplies the standard
# deviation by $\sigma_w \sqrt{n} \sqrt{(1+a^2)/2}$:
#
# - assignment, $\sigma_w = 10^{-4}$: first layer $10^{-4}\sqrt{3072}\cdot \mathrm{rms}(x)$; each
#   hidden layer after it $10^{-4}\sqrt{100}\sqrt{0.5002} \approx 7 \cdot 10^{-4}$: the signal
#   shrinks by more than three orders of magnitude per layer;
# - PyTorch's default, $w \sim U(-1/\sqrt{n}, 1/\sqrt{n})$, $\mathrm{Var}[w] = 1/(3n)$: the factor
#   is $\sqrt{1/3}\sqrt{0.5002} \approx 0.41$, independent of $n$. (Kaiming's init,
#   $\mathrm{Var}[w] = 2/n$, would make it $\approx 1$.)
#
# We check the leaky ReLU factor and PyTorch's $1/(3n)$ first, then the formula on every linear
# layer, using the measured $E[x^2]$ of its input.

# %%
def check_prediction(rows, name):
    for k, (std, n, wv, bv, ms) in enumerate(zip(rows["pre_std"], rows["fan_in"], rows["w_var"], rows["b_var"],
                                                 rows["in_ms"])):
        predicted = math.sqrt(n * wv * ms + bv)
        print(f"{name} linear {k}: std {std:.3e}, predicted {predicted:.3e}, ratio {std / predicted:.2f}")
        assert 0.5 < std / predicted < 2, f"{name} linear {k}: std {std:.3e} is not within 2x of {predicted:.3e}"


z = np.random.default_rng(1).standard_normal(1_000_000)                # a symmetric z
h = np.where(z > 0, z, 0.02 * z)
assert abs((h**2).mean() / (z**2).mean() - (1 + 0.02**2) / 2) < 0.01, "leaky ReLU: E[h^2] = (1 + a^2)/2 E[z^2]"

models = {}
for init in ("assignment", "default"):
    for hidden in ([100], [100, 100, 100]):
        manual_seed(0)
        name = f"{init} {'-'.join(map(str, [3072, *hidden, 10]))}"
        models[name] = MLP(3072, hidden, 10, init=init)
w_default = models["default 3072-100-10"][0].weight.numpy()
assert abs(w_default.var() * 3 * 3072 - 1) < 0.05, "PyTorch's default init: Var[w] = 1/(3n), n = 3072"
at_init = {}
for name, model in models.items():
    at_init[name] = rows = summary(model, x_batch, y_batch, name)
    check_prediction(rows, name)

# %% [markdown]
# The first-layer prediction from the input alone, $10^{-4}\sqrt{3072}\,\mathrm{rms}(x)$, and the
# per-layer factor $\approx 7\cdot 10^{-4}$ of the assignment init:

# %%
deep_a, deep_d = at_init["assignment 3072-100-100-100-10"], at_init["default 3072-100-100-100-10"]
first_pred = 1e-4 * math.sqrt(3072) * x_rms
print(f"assignment, first layer: std {deep_a['pre_std'][0]:.3e}, predicted from rms(x) {first_pred:.3e}")
assert 0.5 < deep_a["pre_std"][0] / first_pred < 2, "first layer: 1e-4 * sqrt(3072) * rms(x)"
for k in range(1, 4):
    factor = deep_a["pre_std"][k] / deep_a["pre_std"][k - 1]
    print(f"assignment, linear {k} / linear {k - 1}: {factor:.2e} (predicted {1e-4 * 10 * math.sqrt(0.5002):.2e})")
    assert 1e-4 < factor < 3e-3, f"each hidden layer should shrink the signal about 7e-4 times, got {factor:.2e}"
ratio_a = deep_a["pre_std"][-1] / deep_a["pre_std"][0]
ratio_d = deep_d["pre_std"][-1] / deep_d["pre_std"][0]
print(f"deep net, std(logits) / std(first pre-activation): assignment {ratio_a:.1e}, default {ratio_d:.2f}")
assert ratio_d > 1e-2, f"the default init keeps the scale within a few factors of 0.41 per layer ({ratio_d:.2e})"
assert ratio_a < 1e-6, f"the assignment init makes the signal vanish in depth ({ratio_a:.2e})"

# %% [markdown]
# The logits of the deep net with the assignment's init are of order $10^{-10}$: the output no longer
# depends on the input in any measurable way, and the loss is exactly $\ln 10$.
#
# ## 3. Gradients
#
# Backward runs the same story in reverse: $\partial L/\partial h_{l-1} = (\partial L/\partial z_l) W_l$
# shrinks by $\sigma_w\sqrt{n_{\text{out}}}$ per layer, and the weight gradient
# $\partial L/\partial W_l = (\partial L/\partial z_l)^\top h_{l-1}$ is also proportional to the tiny
# activations entering the layer. With the assignment's init in the deep net every weight gradient
# is vanishingly small, about $10^{8}$ times smaller than with the default init, and all four are of
# the same size: going down, $\partial L/\partial z_l$ shrinks by $\approx 10^{-3}$ per layer while the
# input $h_{l-1}$ grows by $\approx 1.4 \cdot 10^{3}$, and the two cancel.

# %%
for name in ("assignment 3072-100-100-100-10", "default 3072-100-100-100-10"):
    g = at_init[name]["w_grad"]
    print(f"{name}: |dL/dW| per layer " + ", ".join(f"{v:.1e}" for v in g) + f"; first / last {g[0] / g[-1]:.1e}")
assert max(deep_a["w_grad"][1:]) < 1e-4 * max(deep_d["w_grad"][1:]), \
    "with the assignment init the deep net's inner weight gradients are orders of magnitude smaller"
first_over_last = deep_a["w_grad"][0] / deep_a["w_grad"][-1]
assert 0.1 < first_over_last < 10, f"the shrinking dL/dz and growing inputs cancel ({first_over_last:.2e})"

# %% [markdown]
# ## 4. Histograms
#
# Histograms (or, without matplotlib, percentile tables) of the pre-activations, weights and weight
# gradients of each linear layer of the deep net. Note the x-axes: the assignment init's
# distributions are the same shapes on scales that shrink layer by layer.

# %%
from tinygrad_dl1.plot import save_figure, tutorial_pyplot  # noqa: E402

plt = tutorial_pyplot()

def show(rows, title):
    if plt is None:
        for key in ("pre", "w", "g"):
            for k, values in enumerate(rows[key]):
                q = np.percentile(values, [1, 25, 50, 75, 99])
                print(f"{title} {key} layer {k}: percentiles 1/25/50/75/99 " + " ".join(f"{v:.2e}" for v in q))
        return
    fig, axes = plt.subplots(3, len(rows["pre"]), figsize=(3 * len(rows["pre"]), 7))
    for k in range(len(rows["pre"])):
        for r, (key, label) in enumerate([("pre", "pre-activation"), ("w", "weight"), ("g", "dL/dW")]):
            axes[r, k].hist(np.ravel(rows[key][k]), bins=50)
            axes[r, k].set_title(f"{label}, linear {k}", fontsize=8)
            axes[r, k].tick_params(labelsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, "05_" + title.replace(" ", "_").replace(",", ""))


show(deep_a, "assignment init, at the start")
show(deep_d, "default init, at the start")

# %% [markdown]
# ## 5. Update-to-weight ratio and dead units after training
#
# One SGD step changes $W$ by $\eta\,\partial L/\partial W$. A rule of thumb (Andrej Karpathy's) is that
# $\|\eta\,\partial L/\partial W\| / \|W\|$ should be around $10^{-3}$: much smaller and the layer
# barely learns, much larger and it is being rewritten every step. A unit is *dead* when its
# pre-activation is $\le 0$ for every image of a batch: with a leaky ReLU its gradient is then
# only the slope $0.02$ times what it would be, so it learns 50 times slower.
#
# Measured on the fresh models, before any step:

# %%
LR = 1e-3
for name, rows in at_init.items():
    ratios = [LR * g / w for g, w in zip(rows["w_grad"], rows["w_norm"])]
    rows["ratio"] = ratios
    print(f"{name}: update / weight per layer at init " + ", ".join(f"{r:.1e}" for r in ratios)
          + f"; dead units {max(d for d in rows['dead'] if not math.isnan(d)):.2f} at most")
    assert all(d < 0.2 for d in rows["dead"] if not math.isnan(d)), f"{name}: few dead units at init"
assert at_init["assignment 3072-100-10"]["ratio"][-1] > 1e-2, \
    "the assignment's tiny output weights are rewritten by the very first steps (ratio >> 1e-3)"
assert max(at_init["assignment 3072-100-100-100-10"]["ratio"]) < 1e-5, \
    "in the deep net with the assignment init no layer moves (ratio << 1e-3)"

# %% [markdown]
# The one-hidden-layer net with the assignment's init has the opposite problem of the deep one:
# its output weights are so small that one step changes them by several percent (the default init on
# 0-255 inputs is not much better: its first layer's outputs are large, and so are its gradients).
# No unit is dead at init: the pre-activations are symmetric around 0. Now we train
# every model with SGD, $\eta = 10^{-3}$ (a little smaller than tutorial 4's $2\cdot 10^{-3}$,
# so the default init's larger first layer does not diverge on 0-255 inputs), batches of 200.

# %%
STEPS, BATCH = (20 if FAST else 100), 200
rng = np.random.default_rng(0)
n_train = len(data.train_x)
for name, model in models.items():
    opt = optim.SGD(model.parameters(), lr=LR)
    losses = []
    for _ in range(STEPS):
        idx = rng.integers(0, n_train, BATCH)
        loss = F.cross_entropy(model(Tensor(data.train_x[idx])), Tensor(data.train_y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"{name}: loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}")
    assert np.isfinite(losses).all(), f"{name}: the loss should stay finite"
    rows = summary(model, x_batch, y_batch, f"{name} after {STEPS} steps")
    ratios = [LR * g / w for g, w in zip(rows["w_grad"], rows["w_norm"])]
    print("  update / weight per layer: " + ", ".join(f"{r:.1e}" for r in ratios))
    dead = [d for d in rows["dead"] if not math.isnan(d)]
    assert all(0 <= d <= 1 for d in dead), "the dead units of a layer are a fraction of its units"
    if name.startswith("default"):
        show(rows, f"{name} after {STEPS} steps")
    at_init[name]["after"] = rows
    at_init[name]["losses"] = losses

# %% [markdown]
# What to read from these numbers. With the assignment's init the deep net's inner layers hardly
# move at first: their gradients are products of factors $\approx 10^{-3}$, and the loss stays near
# $\ln 10$ while the default-init deep net is already learning. In the one-hidden-layer net of the
# assignment, the shrinkage happens only once, so training still works (tutorial 4); that is why the
# assignment can use such a small init, and why it stops working as soon as the net gets deeper.
# (In these short runs no unit dies; dead units show up with larger steps, plain ReLU, or a first
# layer whose large outputs get pushed negative for good. The `dead` column is how you would see it.)

# %%
deep_a_losses = at_init["assignment 3072-100-100-100-10"]["after"]
deep_d_losses = at_init["default 3072-100-100-100-10"]["after"]
print(f"deep net after training, std of the logits: assignment {deep_a_losses['pre_std'][-1]:.2e}, "
      f"default {deep_d_losses['pre_std'][-1]:.2e}")
assert deep_a_losses["pre_std"][-1] < 1e-2 * deep_d_losses["pre_std"][-1], \
    "after a short training the assignment-init deep net still has near-constant logits"
final_a = np.mean(at_init["assignment 3072-100-100-100-10"]["losses"][-5:])
final_d = np.mean(at_init["default 3072-100-100-100-10"]["losses"][-5:])
assert abs(final_a - math.log(10)) < 0.01, f"the assignment-init deep net is stuck at ln 10 ({final_a:.4f})"
assert final_d < final_a - 0.1, f"the default-init deep net learns ({final_d:.3f} vs {final_a:.3f})"
