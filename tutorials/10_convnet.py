# %% [markdown]
# # 10 The assignment's ConvNet on CIFAR-10
#
# Tutorial 9 built convolution and max-pooling; this one stacks them into the assignment's
# ConvNet (`tinygrad_dl1.models.ConvNet`), in the style of the VGG networks (only $3 \times 3$
# convs, more channels as the image shrinks): eight blocks of conv $3 \times 3$ + batch norm +
# ReLU ($\max(0, x)$, a leaky ReLU of slope 0), five max-pools, one linear layer. Its
# `BatchNorm2d` is tutorial 7's batch norm per channel, with the mean and variance over the
# batch and all pixels. We count its shapes and parameters from formulas and check them
# against the model, train it with the library's loop, look at the curves, the first layer's
# filters and a confusion matrix, and run the same steps on a GPU.
#
# `TINYGRAD_DL1_TUTORIAL_FAST=1` runs on small synthetic data, 24 steps of 8 images (seconds).
# Without it this trains 500 steps on the real CIFAR-10, the first 500 of the assignment's
# 5000: about 5 minutes on a free 2-core CPU (11 when another job shares its cores). To study
# a finished long run instead, set `TINYGRAD_DL1_CONVNET_RUN` to the folder of a run of
# `tinygrad-dl1 train convnet` (79 minutes on that CPU): its checkpoint and metrics are
# loaded, and nothing is trained.

# %%
import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from tinygrad_dl1 import Tensor, backend, manual_seed, nn, no_grad, optim
from tinygrad_dl1.checkpoint import load_checkpoint
from tinygrad_dl1.data import tutorial_cifar10
from tinygrad_dl1.models import ConvNet
from tinygrad_dl1.train import TrainingState, train, train_step, training_batches

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
RUN = None if FAST else os.environ.get("TINYGRAD_DL1_CONVNET_RUN")   # a finished run folder, or None
data = tutorial_cifar10()      # synthetic in fast mode, the real CIFAR-10 otherwise
if FAST:                       # 200 test images are enough for the synthetic classes, and quicker
    data = dataclasses.replace(data, test_x=data.test_x[:200], test_y=data.test_y[:200])
print(data)
assert data.train_x.shape[1:] == (3, 32, 32), "CIFAR-shaped images"

# %% [markdown]
# ## 1. Shapes and parameters, layer by layer
#
# A conv with $C_\text{out}$ kernels of $k \times k$, or a max-pool, on an input of side $H$,
# with stride $s$ and padding $p$, has the output side (tutorial 9)
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1,$$
#
# so the convs ($k = 3, s = 1, p = 1$) keep $H$ and the pools ($k = 3, s = 2, p = 1$) halve it:
# $32 \to 16 \to 8 \to 4 \to 2 \to 1$. Parameters: a conv on $C_\text{in}$ channels has
# $C_\text{out} C_\text{in} k^2 + C_\text{out}$ (weights, biases), batch norm $2C$ ($\gamma$ and
# $\beta$; its running mean and variance are buffers, not trained), a linear layer
# $n_\text{in} n_\text{out} + n_\text{out}$, ReLU, pooling and flatten (the reshape of the last
# $512 \times 1 \times 1$ map into a vector for the linear layer) none. A conv does
# $C_\text{out} C_\text{in} k^2 H_\text{out} W_\text{out}$ multiply-adds per image. The table
# pushes one image through the layers one by one and checks each row against these formulas.

# %%
def by_formula(layer, shape):
    """(output shape, parameters, multiply-adds) of ``layer`` for one input of ``shape``, from the formulas."""
    c = shape[0]
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        k = layer.kernel_size[0] if isinstance(layer, nn.Conv2d) else layer.kernel_size
        side = (shape[1] + 2 * layer.padding - k) // layer.stride + 1
        if isinstance(layer, nn.MaxPool2d):
            return (c, side, side), 0, 0
        c_out = layer.out_channels
        return (c_out, side, side), c_out * c * k * k + c_out, c_out * c * k * k * side * side
    if isinstance(layer, nn.BatchNorm2d):
        return shape, 2 * c, 0
    if isinstance(layer, nn.Linear):
        return (layer.out_features,), c * layer.out_features + layer.out_features, c * layer.out_features
    return ((int(np.prod(shape)),) if isinstance(layer, nn.Flatten) else shape), 0, 0      # Flatten, ReLU


manual_seed(42)                         # the command line's seed: the same initial weights as its runs
model = ConvNet()
rows, x = [], Tensor(data.train_x[:1])
model.eval()                            # batch norm with its running statistics: one image is no batch
print(f"{'layer':10s} {'type':12s} {'output':>14s} {'parameters':>11s} {'mult-adds':>12s}")
with no_grad():        # the layers without sublayers, in the order forward() applies them
    for name, layer in [(name, m) for name, m in model.named_modules() if not any(m.children())]:
        shape, n_params, macs = by_formula(layer, x.shape[1:])
        x = layer(x)
        assert x.shape[1:] == shape, f"{name}: output {x.shape[1:]}, the formula says {shape}"
        assert sum(p.size for p in layer.parameters()) == n_params, f"{name}: not {n_params} parameters"
        rows.append((name, n_params, macs))
        print(f"{name:10s} {type(layer).__name__:12s} {str(shape):>14s} {n_params:11,d} {macs:12,d}")
total, total_macs = sum(r[1] for r in rows), sum(r[2] for r in rows)
print(f"{'total':38s} {total:11,d} {total_macs:12,d}")
assert total == sum(p.size for p in model.parameters()) == 9_231_114, f"the ConvNet has 9,231,114 parameters: {total}"
assert round(total_macs / 1e6) == 153, f"about 153 million multiply-adds per image, not {total_macs:,}"
share = {}
for group in ("conv2 conv3", "conv5"):
    chosen = [r for r in rows if r[0].startswith(tuple(group.split()))]
    share[group] = sum(r[1] for r in chosen) / total, sum(r[2] for r in chosen) / total_macs
    print(f"{group}: {share[group][0]:.0%} of the parameters, {share[group][1]:.0%} of the multiply-adds")
assert share["conv5"][0] > 0.5 > 4 * share["conv5"][1], "conv5 holds half the parameters, does under 1/8 of the work"
assert share["conv2 conv3"][0] < 0.11 < 0.45 < share["conv2 conv3"][1], "conv2, conv3: ~1/10 of them, ~half of it"

# %% [markdown]
# About 9.2 million parameters, almost all in the 512-channel convs: a weight tensor grows with
# $C_\text{out} C_\text{in}$. The work grows with the map's area too, so the last two convs,
# on $2 \times 2$ maps, hold half the parameters but do an eighth of the 153 million
# multiply-adds per image, while conv2 and conv3, on $16 \times 16$ and $8 \times 8$ maps, do
# about half of them with a tenth of the parameters.
#
# ## 2. Training
#
# The assignment's settings (Adam, $\eta = 10^{-4}$, batches of 32), the weights of
# `manual_seed(42)` and the batches of `training_batches(data, 32, seed=42)`, as in
# `tinygrad-dl1 train convnet`: these are the first 500 steps of `docs/results/convnet` (0.613
# at step 500, 0.759 at 5000) and of `docs/results/convnet-1000-cpu` (0.588 at 500, 0.646 at
# 1000). Same settings, yet 0.613 and 0.588: float32 sums done in another order take runs
# apart, so a rerun lands near those numbers, not on them. `train` is tutorial 4's loop
# (`train_step` of tutorial 8) with an evaluation every `EVAL_EVERY` steps, on the first 1000
# test images to save time, the last one on all of them; it works on a `TrainingState`, which
# holds the model, the optimizer, the batches still to come and the `history` of evaluations.

# %%
LR, BATCH, STEPS = 1e-4, (8 if FAST else 32), (24 if FAST else 500)
EVAL_EVERY, N_EVAL = (12, 200) if FAST else (100, 1000)      # evaluate on the first N_EVAL test images
start_filters = model.conv1[0].weight.numpy().copy()
if RUN is None:
    state = TrainingState(model, optim.Adam(model.parameters(), lr=LR), training_batches(data, BATCH, seed=42))
    first_images = dataclasses.replace(data, test_x=data.test_x[:N_EVAL], test_y=data.test_y[:N_EVAL])
    started = time.perf_counter()
    for test_set, last_step in ((first_images, STEPS - EVAL_EVERY), (data, STEPS)):
        train(state, test_set, max_steps=last_step, eval_freq=EVAL_EVERY, eval_batch_size=250, show_progress=False)
    history, seconds = state.history, time.perf_counter() - started
    print(f"{STEPS} steps in {seconds:.0f} s ({seconds / STEPS:.2f} s a step, the evaluations included)")
else:
    saved = load_checkpoint(Path(RUN) / "checkpoint.npz")
    assert saved["config"]["model"] == "convnet", f"{RUN} holds a {saved['config']['model']} run, not a convnet"
    manual_seed(saved["config"]["seed"])
    start_filters = ConvNet().conv1[0].weight.numpy()       # that run's initial weights
    model.load_state_dict(saved["model"])
    history, STEPS, LR = saved["history"], saved["step"], saved["config"]["learning_rate"]
    print(f"loaded {RUN}: {STEPS} steps, trained in {saved['elapsed_s'] / 60:.0f} minutes")

test_acc = history[-1]["test_acc"]
print(f"after {STEPS} steps: test accuracy {test_acc:.3f} on the {len(data.test_y)} test images")
losses = [row["train_loss"] for row in history]
assert np.isfinite(losses).all() and losses[-1] < losses[0] - 0.2, f"the training loss should fall: {losses}"
if FAST:
    assert test_acc > 0.5, f"the synthetic classes should be easy (test accuracy {test_acc:.3f})"
elif RUN is None:
    assert 0.53 < test_acc < 0.65, f"500 steps reached 0.588 and 0.613 in the long runs, not {test_acc:.3f}"
if not FAST and STEPS >= 500:
    passed = next((row["step"] for row in history if row["test_acc"] > 0.45), None)
    assert passed is not None and passed <= 500, f"it should pass the MLP's 0.45 within 500 steps ({passed})"

# %% [markdown]
# The MLP of tutorial 4 ends near 0.45 after 1500 steps of 200 images; the ConvNet passes it
# within a few hundred steps of 32. Weight sharing (one kernel used at every position) and
# pooling build in what images need (a pattern means the same anywhere in the picture), and
# batch norm keeps every layer's input on a scale that a small learning rate can work with.
#
# ## 3. Curves
#
# A training point is the mean over the steps since the previous evaluation; a test point
# uses that evaluation's images (the last one all of them). The runs of docs/results are marked.

# %%
from tinygrad_dl1.plot import save_figure, tutorial_pyplot  # noqa: E402

LONG_RUNS = [(500, 0.613), (5000, 0.759), (500, 0.588), (1000, 0.646)]   # (step, test acc.) in docs/results
COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc")
print(f"{'step':>10s}", " ".join(f"{key:>10s}" for key in COLUMNS))
for row in history:
    print(f"{row['step']:10d}", " ".join(f"{row[key]:10.3f}" for key in COLUMNS))
plt = tutorial_pyplot()
if plt is not None:
    steps = [row["step"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
        ax.plot(steps, [row[f"train_{key}"] for row in history], "o-", label="train (mean since the last point)")
        ax.plot(steps, [row[f"test_{key}"] for row in history], "o-", label="test")
        ax.set(xlabel="step", ylabel="cross-entropy" if key == "loss" else "accuracy")
    marks = [(step, acc) for step, acc in LONG_RUNS if step <= STEPS and not FAST]
    if marks:
        ax_acc.plot(*zip(*marks), "k*", markersize=10, label="docs/results runs")
    ax_acc.axhline(0.1, color="gray", linestyle=":", label="chance")
    ax_acc.legend(loc="lower right")
    save_figure(fig, "10_convnet_curves")

# %% [markdown]
# ## 4. The first layer's filters
#
# conv1 has 64 kernels of shape $3 \times 3 \times 3$, each a tiny RGB image: the pattern its
# channel responds to most (the largest dot product with a window of a given norm), drawn
# rescaled to $[0, 1]$. Adam moves a weight by at most about $\eta$ a step
# ($|\hat m| / \sqrt{\hat v}$ is 1 for a constant gradient, above 1 only after a sudden jump),
# so 500 steps move one by at most about $500 \cdot 10^{-4} = 0.05$, against initial weights of
# up to $1/\sqrt{C_\text{in} k^2} = 1/\sqrt{27} \approx 0.19$: the filters still look like their
# random start. Where the gradient's sign changes from batch to batch the steps partly cancel.

# %%
def mosaic(w, per_row=8):
    """(C, 3, k, k) filters -> one RGB image of them in a grid, each rescaled to [0, 1], 1-pixel white gaps."""
    lo, hi = w.min(axis=(1, 2, 3), keepdims=True), w.max(axis=(1, 2, 3), keepdims=True)
    c, _, k, _ = w.shape
    grid = np.ones((c // per_row, per_row, k + 1, k + 1, 3))
    grid[:, :, :k, :k] = ((w - lo) / (hi - lo)).transpose(0, 2, 3, 1).reshape(c // per_row, per_row, k, k, 3)
    return grid.transpose(0, 2, 1, 3, 4).reshape(c // per_row * (k + 1), per_row * (k + 1), 3)


filters = model.conv1[0].weight.numpy()
moved = np.abs(filters - start_filters).max()
change = np.linalg.norm(filters - start_filters) / np.linalg.norm(start_filters)
print(f"conv1: largest change of a weight {moved:.4f} in {STEPS} steps (lr * steps = {LR * STEPS:.4f}); "
      f"|W - W0| / |W0| = {change:.3f}; largest initial weight {np.abs(start_filters).max():.3f}")
assert np.abs(start_filters).max() <= 1 / np.sqrt(27), "default init: uniform in +-1/sqrt(fan_in)"
assert 0 < moved < LR * STEPS, f"Adam moves a weight by at most about lr a step: {moved:.4f}"
image = mosaic(filters)
assert image.shape == (32, 32, 3) and image.min() == 0 and image.max() == 1, "64 filters of 3x3 in an 8x8 grid"
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, w, title in ((axes[0], start_filters, "at the start"), (axes[1], filters, f"after {STEPS} steps")):
        ax.imshow(mosaic(w), interpolation="nearest")
        ax.set(title=f"conv1 filters {title}", xticks=[], yticks=[])
    save_figure(fig, "10_convnet_filters")

# %% [markdown]
# ## 5. The confusion matrix
#
# $M_{ij}$ counts the test images of true class $i$ that the model puts in class $j$. So row
# $i$ sums to the number of test images of class $i$, the diagonal holds the right answers,
# and $\mathrm{tr}(M) / \sum_{ij} M_{ij}$ is the accuracy, which `train`'s last evaluation
# computed above in its own way. $M_{ii}$ over row $i$'s sum is class $i$'s recall.

# %%
def predict(model, x, batch_size=250):
    """The predicted class of each image of x (eval mode, no graph)."""
    model.eval()
    with no_grad():
        return np.concatenate([model(Tensor(x[i:i + batch_size])).numpy().argmax(axis=1)
                               for i in range(0, len(x), batch_size)])


confusion = np.zeros((10, 10), dtype=np.int64)
np.add.at(confusion, (data.test_y, predict(model, data.test_x)), 1)
names = [name[:5] for name in data.classes]
print("true \\ predicted " + " ".join(f"{name:>5s}" for name in names))
for c, row in enumerate(confusion):
    print(f"{names[c]:16s} " + " ".join(f"{count:5d}" for count in row) + f"   recall {row[c] / max(row.sum(), 1):.2f}")
assert np.array_equal(confusion.sum(axis=1), np.bincount(data.test_y, minlength=10)), "row i: class i's count"
tolerance = 0 if RUN is None else 2e-3      # a run trained on a GPU evaluated there, in other roundings
assert abs(np.trace(confusion) / confusion.sum() - test_acc) <= tolerance, "trace / total is train()'s accuracy"
errors = confusion - np.diag(np.diag(confusion))
i, j = np.unravel_index(errors.argmax(), errors.shape)
if errors.sum():
    print(f"most frequent mistake: {data.classes[i]} taken for {data.classes[j]} ({errors[i, j]} times)")

# %% [markdown]
# The mistakes are not spread evenly. CIFAR-10 has 6 animals and 4 vehicles; if a wrong
# answer were a random other class, an animal's mistake would stay among the animals with
# probability $5/9$ and a vehicle's among the vehicles with $3/9$: with as many mistakes per
# class, $\frac{1}{10}(6 \cdot \frac59 + 4 \cdot \frac39) \approx 47\%$ of them (the code weighs
# each class by its own mistakes). The ConvNet's mistakes stay in their group far more often:
# in the run this was written with (0.580 at step 500), 82% of the 4205 mistakes did (dogs
# taken for cats 341 times, trucks for automobiles 259, but cats for ships only 21).

# %%
vehicle = np.isin(np.arange(10), [data.classes.index(c) for c in ("airplane", "automobile", "ship", "truck")])
same = np.equal.outer(vehicle, vehicle) & ~np.eye(10, dtype=bool)      # i != j in the same group
n_errors = max(errors.sum(), 1)
same_group, at_random = errors[same].sum() / n_errors, (errors.sum(axis=1) * same.sum(axis=1) / 9).sum() / n_errors
print(f"{errors.sum()} mistakes, {same_group:.0%} of them within animals or vehicles (at random: {at_random:.0%})")
assert round((6 * 5 / 9 + 4 * 3 / 9) / 10, 2) == 0.47, "with as many mistakes per class, 47% at random"
if not FAST:
    assert same_group > at_random + 0.2, f"real mistakes stay within their group ({same_group:.2f})"
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 5))
    shown = ax.imshow(confusion / confusion.sum(axis=1, keepdims=True), cmap="Blues")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true", title="confusion (rows sum to 1)")
    ax.set_xticklabels(data.classes, rotation=90)
    ax.set_yticklabels(data.classes)
    fig.colorbar(shown)
    save_figure(fig, "10_convnet_confusion")

# %% [markdown]
# ## 6. The same steps on a GPU
#
# Every op runs on CuPy arrays (CuPy is NumPy's twin for NVIDIA GPUs) through the same code,
# so a GPU run is the same program with `device="cuda"`: `model.to("cuda")`, batches gathered
# there, and `train(..., device="cuda")` for a whole run (README, "On a GPU"; the command line
# takes `--device cuda`). From the same initial weights and batches, the GPU's first losses
# should equal the CPU's up to float32 rounding (sums in another order): three steps on each.

# %%
def first_losses(device, n_steps=3):
    """The training losses of the first n_steps, from the weights of manual_seed(42) and the batches of seed 42."""
    manual_seed(42)
    model = ConvNet().to(device)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    batches = training_batches(data, BATCH, seed=42).to(device)
    return np.array([float(train_step(model, optimizer, *next(batches))[0]) for _ in range(n_steps)])


if backend.gpu_available():
    cpu, gpu = first_losses("cpu"), first_losses("cuda")
    print("CPU losses:", np.round(cpu, 6))
    print("GPU losses:", np.round(gpu, 6), f" largest difference {np.abs(gpu - cpu).max():.1e}")
    assert np.allclose(gpu, cpu, atol=1e-3), f"the GPU should follow the CPU: {gpu} against {cpu}"
else:
    print('No GPU here (CuPy is not installed, or it sees no GPU). With an NVIDIA GPU, install the CuPy of its\n'
          'CUDA version (nvidia-smi shows it): pip install "tinygrad_dl1[cuda12]" or "tinygrad_dl1[cuda13]".')

# %% [markdown]
# ## What we saw
#
# The parameters sit in the 512-channel convs, the work in the convs on larger maps; the ConvNet
# passes the MLP within a few hundred steps, and its mistakes fall between similar classes.
