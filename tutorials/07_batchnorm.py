# %% [markdown]
# # 07 Batch normalization: forward, backward, and the traps
#
# Batch norm normalises each feature over the batch, then rescales it with a learnable
# $\gamma$ and shifts it with a learnable $\beta$, so that the next layer's inputs keep a
# steady scale whatever the weights do (tutorial 5 showed how that scale drifts without it;
# tutorial 8 measures what it buys in training). Its backward is the hardest rule of the
# assignment because every output of a feature depends on every input of that feature,
# through the mean and the variance. This tutorial derives it in full (the Jacobian, then
# the vector form), checks every formula in float64 against central differences and
# against the library's two implementations (one op with a hand-written backward, and the
# same formula built from primitive ops so that autograd derives it), and then shows three
# traps: an all-ones upstream gradient, biased vs unbiased variance, and train vs eval mode.
#
# Notation as in tutorial 2: $\bar{y} = \partial L / \partial y$ is the upstream gradient.

# %%
import inspect
import os
import time

import numpy as np

import tinygrad_dl1.nn.functional as F
from tinygrad_dl1 import Tensor, exercises, gradcheck, nn
from tinygrad_dl1.gradcheck import numerical_gradient

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
rng = np.random.default_rng(0)
N, C, eps = 8, 4, 1e-5                  # batch size, features, the epsilon inside the square root


# %% [markdown]
# ## 1. The forward pass
#
# For a batch $X \in \mathbb{R}^{N \times C}$, each feature (column) $c$ is handled on its own:
#
# $$\mu = \frac{1}{N} \sum_n x_n, \qquad \sigma^2 = \frac{1}{N} \sum_n (x_n - \mu)^2, \qquad
# \hat{x}_n = \frac{x_n - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_n = \gamma \hat{x}_n + \beta.$$
#
# The variance divides by $N$ (the *biased* estimate; section 6 comes back to this). Below
# we write $\sigma$ for $\sqrt{\sigma^2 + \epsilon}$. We use the assignment's test case:
# $\gamma = \sqrt{10 \cdot (0, 1, \dots, C-1)}$ and $\beta = 100 \cdot (0, 1, \dots, C-1)$.
# After normalisation column $c$ has mean $\beta_c$ and standard deviation about $\gamma_c$
# (note $\gamma_0 = 0$: the first column is constant).


# %%
def bn_forward(X, gamma, beta):
    mu = X.mean(axis=0)
    var = ((X - mu) ** 2).mean(axis=0)                       # biased: divides by N
    x_hat = (X - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, x_hat, np.sqrt(var + eps)


X = 5 * rng.standard_normal((N, C)) + 3
gamma, beta = np.sqrt(10 * np.arange(C)), 100.0 * np.arange(C)
Y, X_hat, sigma = bn_forward(X, gamma, beta)
assert np.allclose(Y.mean(axis=0), beta), "each output column should have mean beta"
assert np.allclose(Y.std(axis=0), gamma * np.sqrt(1 - eps / sigma**2)), "column stds should be gamma (up to eps)"

for name, bn in (("batch_norm", F.batch_norm), ("batch_norm_composed", F.batch_norm_composed)):
    out = bn(Tensor(X), Tensor(gamma), Tensor(beta)).data
    assert np.allclose(out, Y, rtol=0, atol=1e-10), f"F.{name} should match the forward written above"
print("output means:", Y.mean(axis=0).round(6), " stds:", Y.std(axis=0).round(4))

# %% [markdown]
# ## 2. The Jacobian of $\hat{x}$, one feature
#
# Take one column $x \in \mathbb{R}^N$. With $\partial \mu / \partial x_j = 1/N$ and
# $\partial \sigma^2 / \partial x_j = \frac{2}{N}(x_j - \mu)$ (the $\sum_n (x_n - \mu)$ term
# from differentiating $\mu$ inside vanishes), we get
# $\partial \sigma / \partial x_j = \frac{1}{2\sigma} \frac{2}{N}(x_j - \mu) = \hat{x}_j / N$.
# The quotient rule on $\hat{x}_i = (x_i - \mu)/\sigma$:
#
# $$\frac{\partial \hat{x}_i}{\partial x_j}
# = \frac{\delta_{ij} - 1/N}{\sigma} - \frac{x_i - \mu}{\sigma^2} \frac{\hat{x}_j}{N}
# = \frac{1}{\sigma}\Big(\delta_{ij} - \frac{1}{N} - \frac{\hat{x}_i \hat{x}_j}{N}\Big).$$
#
# Three paths: the direct one ($\delta_{ij}$), through the mean ($-1/N$), and through the
# variance ($-\hat{x}_i \hat{x}_j / N$). It is exact, $\epsilon$ included.

# %%
x = X[:, 1]
_, x_hat, s = bn_forward(x[:, None], np.ones(1), np.zeros(1))
x_hat, s = x_hat[:, 0], s[0]
J = (np.eye(N) - 1 / N - np.outer(x_hat, x_hat) / N) / s
J_numeric = np.stack([numerical_gradient(lambda v, i=i: bn_forward(v[:, None], np.ones(1), np.zeros(1))[1][i, 0], x)
                      for i in range(N)])          # row i: the gradient of x_hat_i
print(f"Jacobian of x_hat: max |formula - numeric| = {np.abs(J - J_numeric).max():.1e}")
assert np.allclose(J, J_numeric, rtol=0, atol=1e-8), "d x_hat_i / d x_j disagrees with central differences"

# %% [markdown]
# ## 3. The vector form
#
# Chain rule: $\bar{x}_j = \sum_i \bar{y}_i \gamma \, \partial \hat{x}_i / \partial x_j$.
# Summing over $i$ turns $\sum_i \bar{y}_i \delta_{ij}$ into $\bar{y}_j$,
# $\sum_i \bar{y}_i \frac{1}{N}$ into $\frac{1}{N}\sum_i \bar{y}_i$, and
# $\sum_i \bar{y}_i \hat{x}_i \hat{x}_j / N$ into $\hat{x}_j \frac{1}{N}\sum_i \bar{y}_i \hat{x}_i$, so:
#
# $$\bar{x} = \frac{\gamma}{N\sigma}\Big(N \bar{y} - \sum_i \bar{y}_i - \hat{x} \sum_i \bar{y}_i \hat{x}_i\Big),
# \qquad \bar{\gamma} = \sum_n \bar{y}_n \hat{x}_n, \qquad \bar{\beta} = \sum_n \bar{y}_n.$$
#
# Per feature, with the sums over the batch; $\gamma$ and $\beta$ are shared by all $N$
# rows, so their gradients sum. No $N \times N$ Jacobian is ever built. Checked on all four
# columns with a random $\bar{Y}$ (the loss $L = \sum R \odot Y$). **Your turn**: this is
# an exercise (see tutorial 2); the checker after the comparisons names the likely mistake.


# %%
def batch_norm_backward(x, gamma, grad_output, eps=1e-5):
    """(grad_x, grad_gamma, grad_beta) of training-mode batch norm over the batch axis of x (N, C)."""
    # BEGIN SOLUTION hint: recompute x_hat and sigma = sqrt(biased var + eps); then the three sums over the batch
    n = x.shape[0]
    sigma = np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) / sigma
    dy = grad_output
    dx = gamma / (n * sigma) * (n * dy - dy.sum(axis=0) - x_hat * (dy * x_hat).sum(axis=0))
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
    # END SOLUTION


R = rng.standard_normal((N, C))
dX, dgamma, dbeta = batch_norm_backward(X, gamma, R, eps)
assert np.allclose(dX[:, 1], R[:, 1] @ J * gamma[1]), "the vector form should equal dy^T (gamma J) for a column"

numeric = {"x": numerical_gradient(lambda v: float((R * bn_forward(v, gamma, beta)[0]).sum()), X),
           "gamma": numerical_gradient(lambda g: float((R * bn_forward(X, g, beta)[0]).sum()), gamma),
           "beta": numerical_gradient(lambda b: float((R * bn_forward(X, gamma, b)[0]).sum()), beta)}
hand = {"x": dX, "gamma": dgamma, "beta": dbeta}
for bn in (F.batch_norm, F.batch_norm_composed):
    tx, tg, tb = (Tensor(a, requires_grad=True) for a in (X, gamma, beta))
    bn(tx, tg, tb).backward(R)
    for name, t in (("x", tx), ("gamma", tg), ("beta", tb)):
        err_num, err_lib = np.abs(hand[name] - numeric[name]).max(), np.abs(hand[name] - t.grad).max()
        print(f"{bn.__name__:20s} d{name:6s} max |hand - numeric| = {err_num:.1e}, |hand - library| = {err_lib:.1e}")
        assert err_num < 1e-6, f"d{name}: the hand-derived formula disagrees with central differences"
        assert err_lib < 1e-10, f"d{name}: F.{bn.__name__} disagrees with the hand-derived formula"
assert np.all(dX[:, 0] == 0), "gamma_0 = 0, so nothing flows back into the first column"
assert exercises.check_batch_norm_backward(batch_norm_backward).passed, "batch_norm_backward: see the table"

# %% [markdown]
# The library's op computes exactly this: the forward keeps $\hat{x}$ (and $\sigma^2$,
# $\gamma$), and the backward is the three sums above, in vector form. (On a GPU a fast path,
# `tinygrad_dl1/fast_paths/batch_norm.py`, computes the same formula for $\partial L/\partial x$
# in one fused kernel; it is tested equal to this code, which `with tinygrad_dl1.plain_ops():`
# runs everywhere.) The composed version, below it, is the forward written with `mean`, `-`,
# `*`, `**`, `+`; autograd chains the rules of those primitive ops to the same numbers:

# %%
from tinygrad_dl1.ops.normalization import BatchNorm  # noqa: E402

print(inspect.getsource(BatchNorm.backward))
print(inspect.getsource(F.batch_norm_composed))

# %% [markdown]
# ## 4. Side by side: gradcheck and speed
#
# `gradcheck` (tutorial 1) on the assignment's case, for both: the large $\beta$ and the
# $\gamma_0 = 0$ column are exactly where a wrong rule would show.

# %%
for bn in (F.batch_norm, F.batch_norm_composed):
    inputs = [Tensor(a, requires_grad=True) for a in (X, gamma, beta)]
    assert gradcheck(bn, inputs), f"gradcheck failed for F.{bn.__name__}"
    print(f"gradcheck F.{bn.__name__}: passed")

# %% [markdown]
# The fused op makes one pass for $\hat{x}$ and $y$ and one for $\bar{x}$; the composed one
# stores every intermediate and runs a backward per primitive op. A small timing (forward
# and backward; the numbers depend on the machine, so nothing is asserted about them):

# %%
Xb = rng.standard_normal((256, 128)).astype(np.float32)
Rb = rng.standard_normal((256, 128)).astype(np.float32)
gb, bb = np.ones(128, np.float32), np.zeros(128, np.float32)


def seconds_per_call(bn, calls=10 if FAST else 100):
    start = time.perf_counter()
    for _ in range(calls):
        tx, tg, tb = (Tensor(a, requires_grad=True) for a in (Xb, gb, bb))
        bn(tx, tg, tb).backward(Rb)
    return (time.perf_counter() - start) / calls


t_fused, t_composed = seconds_per_call(F.batch_norm), seconds_per_call(F.batch_norm_composed)
print(f"forward + backward on (256, 128): batch_norm {1e6 * t_fused:.0f} us, "
      f"batch_norm_composed {1e6 * t_composed:.0f} us (ratio {t_composed / t_fused:.1f})")

# %% [markdown]
# ## 5. Trap: an all-ones upstream gradient
#
# Tests often call `y.sum().backward()`, i.e. $\bar{y} = 1$. For batch norm that hides
# everything: with $\bar{y}_n = 1$, $N\bar{y} - \sum_i \bar{y}_i = N - N = 0$ and
# $\sum_i \hat{x}_i = 0$ (the normalised column has mean zero), so
#
# $$\bar{x} = \frac{\gamma}{N\sigma}(N - N - \hat{x} \cdot 0) = 0.$$
#
# Which makes sense: adding a constant to a column, or scaling it, leaves $\sum_n y_n$
# unchanged. But a *wrong* backward, e.g. one that forgets the path through the variance,
# also gives 0 here, and passes. Only a random $\bar{y}$ tells them apart.

# %%
ones = np.ones((N, C))
dX_ones = batch_norm_backward(X, gamma, ones, eps)[0]
print(f"dy = 1: max |dx| = {np.abs(dX_ones).max():.1e} (zero up to rounding in sum(x_hat))")
assert np.abs(dX_ones).max() < 1e-12, "with dy = 1 the batch-norm gradient of x should be 0"
tx = Tensor(X, requires_grad=True)
F.batch_norm(tx, Tensor(gamma), Tensor(beta)).sum().backward()
assert np.abs(tx.grad).max() < 1e-12, "the library should give dx = 0 for y.sum().backward()"


def wrong_backward(dY):                               # forgets the path through the variance
    return gamma / (N * sigma) * (N * dY - dY.sum(axis=0))


assert np.abs(wrong_backward(ones)).max() < 1e-12, "the wrong rule also gives 0 for dy = 1"
assert not np.allclose(wrong_backward(R), dX), "a random dy should expose the wrong rule"
print(f"wrong rule, random dy: max |wrong - right| = {np.abs(wrong_backward(R) - dX).max():.2f}")

# %% [markdown]
# ## 6. Trap: biased vs unbiased variance
#
# At test time (eval mode, section 7) an image's output must not depend on the other images
# of its batch, so batch norm normalises with *running statistics* instead: averages of
# $\mu$ and $\sigma^2$ kept during training by the layer `nn.BatchNorm1d` (which also holds
# $\gamma$ and $\beta$). Normalisation uses the biased $\sigma^2$ (the one the derivation above
# differentiates), but the running variance is updated, as in PyTorch, with the *unbiased*
# estimate $\frac{N}{N-1}\sigma^2$:
#
# $$\text{running\_var} \leftarrow (1 - m)\,\text{running\_var} + m \frac{N}{N-1}\sigma^2, \qquad
# \text{running\_mean} \leftarrow (1 - m)\,\text{running\_mean} + m\,\mu,$$
#
# with momentum $m = 0.1$, starting from $0$ and $1$. Course materials disagree on this;
# with $N = 8$ the two differ by $8/7$. After one training step of the layer:

# %%
layer = nn.BatchNorm1d(C)
X32 = X.astype(np.float32)
layer(Tensor(X32))
var_biased, var_unbiased = X32.var(axis=0, ddof=0), X32.var(axis=0, ddof=1)
running_var = np.asarray(layer.running_var.data)
print("running_var:", running_var.round(4), " expected (unbiased):", (0.9 + 0.1 * var_unbiased).round(4))
assert np.allclose(running_var, 0.9 + 0.1 * var_unbiased, rtol=1e-5), "running_var should use the unbiased variance"
assert not np.allclose(running_var, 0.9 + 0.1 * var_biased, rtol=1e-3), "running_var should not be the biased one"
assert np.allclose(layer.running_mean.data, 0.1 * X32.mean(axis=0), rtol=1e-5), "running_mean after one step"
try:
    import torch
except ImportError:
    torch = None
if torch is not None:                                 # the same step in PyTorch, when it is installed
    reference = torch.nn.BatchNorm1d(C)
    reference(torch.from_numpy(X32))
    assert np.allclose(running_var, reference.running_var.numpy(), rtol=1e-5), "running_var should match PyTorch"
    print("PyTorch's running_var agrees")

# %% [markdown]
# ## 7. Train vs eval mode
#
# In eval mode (`layer.eval()`) the running statistics replace the batch's:
# $\hat{x} = (x - \text{running\_mean}) / \sqrt{\text{running\_var} + \epsilon}$. They are
# constants, so each output depends only on its own input and the Jacobian is diagonal:
#
# $$\bar{x} = \frac{\gamma}{\sqrt{\text{running\_var} + \epsilon}} \, \bar{y}.$$
#
# The outputs of the two modes differ (after one step the running statistics are still
# close to their start, 0 and 1, far from this batch's):

# %%
run_mean, run_var = np.asarray(layer.running_mean.data, np.float64), running_var.astype(np.float64)
train_out = F.batch_norm(Tensor(X), Tensor(gamma), Tensor(beta)).data
tx, tg, tb = (Tensor(a, requires_grad=True) for a in (X, gamma, beta))
eval_y = F.batch_norm(tx, tg, tb, run_mean.copy(), run_var.copy(), training=False)
expected = gamma * (X - run_mean) / np.sqrt(run_var + eps) + beta
assert np.allclose(eval_y.data, expected, rtol=0, atol=1e-9), "eval mode should normalise with the running statistics"
assert not np.allclose(eval_y.data, train_out), "train and eval outputs should differ"
eval_y.backward(R)
dx_eval = gamma / np.sqrt(run_var + eps) * R
assert np.allclose(tx.grad, dx_eval, rtol=0, atol=1e-10), "eval backward should be gamma / sqrt(running_var + eps) * dy"
x_hat_eval = (X - run_mean) / np.sqrt(run_var + eps)
assert np.allclose(tg.grad, (R * x_hat_eval).sum(axis=0)), "eval dgamma = sum(dy * x_hat)"
assert np.allclose(tb.grad, R.sum(axis=0)), "eval dbeta = sum(dy)"
assert np.allclose(dx_eval, numerical_gradient(
    lambda v: float((R * (gamma * (v - run_mean) / np.sqrt(run_var + eps) + beta)).sum()), X)), \
    "eval dx should match central differences"
print(f"train vs eval outputs: max difference {np.abs(eval_y.data - train_out).max():.1f}; eval backward checked")

layer.eval()
out_eval = layer(Tensor(X32)).data
assert np.allclose(out_eval, (X32 - layer.running_mean.data) / np.sqrt(layer.running_var.data + eps), atol=1e-4), \
    "nn.BatchNorm1d in eval mode should use its running statistics"
assert np.allclose(layer.running_var.data, running_var), "eval mode should leave the running statistics alone"

# %% [markdown]
# ## Summary
#
# | quantity | formula (per feature, sums over the batch) |
# |---|---|
# | forward | $\hat{x} = (x - \mu)/\sigma$, $\sigma^2$ biased, $y = \gamma \hat{x} + \beta$ |
# | Jacobian | $\partial \hat{x}_i / \partial x_j = (\delta_{ij} - 1/N - \hat{x}_i \hat{x}_j / N)/\sigma$ |
# | $\bar{x}$ (train) | $\frac{\gamma}{N\sigma}(N\bar{y} - \sum \bar{y} - \hat{x}\sum \bar{y}\hat{x})$ |
# | $\bar{x}$ (eval) | $\gamma \bar{y} / \sqrt{\text{running\_var} + \epsilon}$ |
# | $\bar{\gamma}$, $\bar{\beta}$ | $\sum \bar{y}\hat{x}$, $\sum \bar{y}$ |
# | running_var | updated with the unbiased $\frac{N}{N-1}\sigma^2$ |
#
# Test a backward with a random upstream gradient: $\bar{y} = 1$ gives $\bar{x} = 0$ here.
