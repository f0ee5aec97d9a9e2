# %% [markdown]
# # 02 Backprop by hand: linear, leaky ReLU, softmax and cross-entropy
#
# The assignment's MLP (multi-layer perceptron) classifies an image $x$: it computes one
# score per class, the **logits** $z$, with linear layers $y = x W^\top + b$ and a leaky ReLU
# (slope $0.02$) between them; a softmax turns the logits into probabilities $p$, and the
# cross-entropy loss is $-\log p_t$ for the true class $t$. This tutorial derives the
# backward rule of each piece: first the full Jacobian for one example, then the *vector
# form* that backpropagation ("backprop") actually computes, never building a Jacobian, then
# what a batch changes. Each rule is checked in float64 against central differences
# (tutorial 1) and against the library's autograd (`Tensor.backward()`).
#
# Notation: for a scalar loss $L$, $\bar{y} = \partial L / \partial y$ (the "upstream
# gradient") has the shape of $y$. Backprop turns $\bar{y}$ into $\bar{x}$ with the chain rule
# $\bar{x}_j = \sum_i \bar{y}_i \, \partial y_i / \partial x_j$, i.e. $\bar{x} = \bar{y} J$ with
# $J_{ij} = \partial y_i / \partial x_j$. $\delta_{ik}$ is 1 if $i = k$, else 0.
#
# **Exercises.** Each rule ends up in a function whose body sits between `# BEGIN SOLUTION`
# and `# END SOLUTION`; in the student edition (see the tutorials' README) you write it. The
# `check_...` call after it compares it with the library on random shapes and, when it is
# wrong, names the likely mistake (a missing transpose, a missing $1/B$, ...).

# %%
import numpy as np

import tinygrad_dl1.nn.functional as F  # the library's layers as functions: F.linear, F.cross_entropy, ...
from tinygrad_dl1 import Tensor, exercises
from tinygrad_dl1.gradcheck import numerical_gradient

rng = np.random.default_rng(0)
B, D, C = 4, 5, 3                       # batch size, input features, output features (classes)


def numeric_jacobian(f, x):
    """J[i, j] = d f(x)_i / d x_j: row i is the gradient of f(x)_i, by tutorial 1's central differences."""
    return np.stack([numerical_gradient(lambda v, i=i: float(f(v)[i]), x) for i in range(f(x).size)])


def check(name, hand, numeric, autograd):
    """Assert that the hand-derived gradient matches both references."""
    err_num, err_auto = np.abs(hand - numeric).max(), np.abs(hand - autograd).max()
    print(f"{name:28s} max |hand - numeric| = {err_num:.1e}, max |hand - autograd| = {err_auto:.1e}")
    assert err_num < 1e-7, f"{name}: the hand-derived gradient disagrees with central differences"
    assert err_auto < 1e-12, f"{name}: the hand-derived gradient disagrees with the library's autograd"


# %% [markdown]
# ## 1. The linear layer
#
# For one example $x \in \mathbb{R}^D$, with $W \in \mathbb{R}^{C \times D}$ (PyTorch's layout),
# $y_i = \sum_j W_{ij} x_j + b_i$. The Jacobians:
#
# $$\frac{\partial y_i}{\partial x_j} = W_{ij}, \qquad
# \frac{\partial y_i}{\partial W_{kl}} = \delta_{ik} x_l, \qquad
# \frac{\partial y_i}{\partial b_k} = \delta_{ik}.$$
#
# So $\partial y / \partial x = W$ and $\partial y / \partial b = I$:

# %%
W, b, x = rng.standard_normal((C, D)), rng.standard_normal(C), rng.standard_normal(D)
assert np.allclose(numeric_jacobian(lambda x: W @ x + b, x), W, atol=1e-8), "dy/dx should be W"
assert np.allclose(numeric_jacobian(lambda b: W @ x + b, b), np.eye(C), atol=1e-8), "dy/db should be I"

# %% [markdown]
# The chain rule then gives the vector forms for one example: $\bar{x} = \bar{y} W$,
# $\bar{W}_{kl} = \sum_i \bar{y}_i \delta_{ik} x_l = \bar{y}_k x_l$ (an outer product,
# $\bar{W} = \bar{y}^\top x$ with row vectors), and $\bar{b} = \bar{y}$.
#
# **A batch** $X \in \mathbb{R}^{B \times D}$ stacks examples as rows: $Y = X W^\top + b$,
# with the same $W$ and $b$ for every row. Row $n$ of $\bar{X}$ depends only on row $n$ of
# $\bar{Y}$, but $W$ and $b$ are shared, so their gradients **sum over the batch**:
#
# $$\bar{X} = \bar{Y} W, \qquad \bar{W} = \sum_n \bar{y}_n^\top x_n = \bar{Y}^\top X, \qquad
# \bar{b} = \sum_n \bar{y}_n.$$
#
# To check, take $L = \sum_{n,i} R_{ni} Y_{ni}$ with a random $R$, so that $\bar{Y} = R$.

# %%
X = rng.standard_normal((B, D))
R = rng.standard_normal((B, C))                 # the upstream gradient dL/dY


def linear_loss(X, W, b):
    return float((R * (X @ W.T + b)).sum())


def linear_backward(x, weight, grad_output):
    """The gradients (grad_x, grad_weight, grad_bias) of y = x weight^T + bias, given grad_output = dL/dy."""
    # BEGIN SOLUTION hint: grad_x = dY W, grad_weight = dY^T X, and grad_bias sums dY over the batch (axis 0)
    return grad_output @ weight, grad_output.T @ x, grad_output.sum(axis=0)
    # END SOLUTION


gX, gW, gb = linear_backward(X, W, R)           # the vector forms
assert np.allclose(gW, sum(np.outer(R[n], X[n]) for n in range(B))), "R^T X is the sum of per-row outer products"

Xt, Wt, bt = (Tensor(a, requires_grad=True) for a in (X, W, b))
F.linear(Xt, Wt, bt).backward(R)                # backward from Y with the upstream gradient R
check("linear dL/dX = dY W", gX, numerical_gradient(lambda X: linear_loss(X, W, b), X), Xt.grad)
check("linear dL/dW = dY^T X", gW, numerical_gradient(lambda W: linear_loss(X, W, b), W), Wt.grad)
check("linear dL/db = sum_n dY", gb, numerical_gradient(lambda b: linear_loss(X, W, b), b), bt.grad)
assert exercises.check_linear_backward(linear_backward).passed, "linear_backward: see the checker's table"

# %% [markdown]
# ## 2. Leaky ReLU
#
# $y_i = x_i$ if $x_i > 0$, else $0.02\, x_i$. Each output depends only on its own input,
# so the Jacobian is **diagonal**: $J = \mathrm{diag}(m)$ with the mask
# $m_i = 1$ if $x_i > 0$ else $0.02$. Multiplying by a diagonal matrix is an elementwise
# product, so the vector form is $\bar{x} = \bar{y} \odot m$, for one example or a batch
# alike (nothing is shared, nothing is summed). At $x = 0$ the derivative does not exist;
# the library uses the mask $x > 0$ there, and we keep our test points away from 0.

# %%
slope = 0.02


def leaky(x):
    return np.where(x > 0, x, slope * x)


def leaky_relu_backward(x, grad_output, negative_slope=0.02):
    """The gradient dL/dx of leaky ReLU, given grad_output = dL/dy."""
    # BEGIN SOLUTION hint: multiply grad_output entrywise by the local slope: 1 where x > 0, else negative_slope
    return grad_output * np.where(x > 0, 1.0, negative_slope)
    # END SOLUTION


x = rng.standard_normal(6)
x = np.where(np.abs(x) < 0.1, 0.5, x)           # away from the kink, where differences are exact
mask = np.where(x > 0, 1.0, slope)
assert np.allclose(numeric_jacobian(leaky, x), np.diag(mask), atol=1e-8), "leaky ReLU's Jacobian is diag(mask)"

Xl = rng.standard_normal((B, C))
Xl = np.where(np.abs(Xl) < 0.1, -0.5, Xl)
Rl = rng.standard_normal((B, C))
Xt = Tensor(Xl, requires_grad=True)
Xt.leaky_relu(slope).backward(Rl)
check("leaky ReLU dL/dx = dy * mask", leaky_relu_backward(Xl, Rl, slope),
      numerical_gradient(lambda X: float((Rl * leaky(X)).sum()), Xl), Xt.grad)
assert exercises.check_leaky_relu_backward(leaky_relu_backward).passed, "leaky_relu_backward: see the checker's table"

# %% [markdown]
# ## 3. Softmax
#
# $p_i = e^{z_i} / \sum_j e^{z_j}$: positive, and summing to 1. Every output depends on every
# input, through the sum:
#
# $$\frac{\partial p_i}{\partial z_k} = p_i (\delta_{ik} - p_k), \qquad
# J = \mathrm{diag}(p) - p\, p^\top.$$
#
# The vector form needs no $C \times C$ matrix:
# $\bar{z}_k = \sum_i \bar{p}_i\, p_i (\delta_{ik} - p_k) = p_k (\bar{p}_k - \sum_i \bar{p}_i p_i)$,
# that is $\bar{z} = p \odot (\bar{p} - \bar{p} \cdot p)$, row by row for a batch.


# %%
def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))   # shifting by the max changes nothing but avoids overflow
    return e / e.sum(axis=-1, keepdims=True)


z = rng.standard_normal(C)
p = softmax(z)
J = np.diag(p) - np.outer(p, p)
assert np.allclose(numeric_jacobian(softmax, z), J, atol=1e-8), "softmax's Jacobian is diag(p) - p p^T"
assert np.allclose(J.sum(axis=0), 0), "each column sums to 0: the probabilities always sum to 1"

Z = rng.standard_normal((B, C))
Rs = rng.standard_normal((B, C))
P = softmax(Z)
Zt = Tensor(Z, requires_grad=True)
Zt.softmax(dim=1).backward(Rs)
check("softmax dz = p (dp - dp.p)", P * (Rs - (Rs * P).sum(axis=1, keepdims=True)),
      numerical_gradient(lambda Z: float((Rs * softmax(Z)).sum()), Z), Zt.grad)

# %% [markdown]
# ## 4. Cross-entropy, fused with softmax
#
# For one example of class $t$, $\ell = -\log p_t$, so $\partial \ell / \partial p_i =
# -\delta_{it} / p_t$. Through the softmax Jacobian:
#
# $$\frac{\partial \ell}{\partial z_k} = \sum_i \Big(-\frac{\delta_{it}}{p_t}\Big) p_i (\delta_{ik} - p_k)
# = -(\delta_{tk} - p_k) = p_k - \mathrm{onehot}(t)_k.$$
#
# The $1/p_t$ cancels: the fused gradient is simply $p - \mathrm{onehot}(t)$, cheaper and
# safer than going through $\log p$ (no division by a tiny $p_t$).

# %%
t = 1
dl_dp = -np.eye(C)[t] / p[t]
assert np.allclose(dl_dp @ J, p - np.eye(C)[t]), "chaining dl/dp with the softmax Jacobian gives p - onehot"
assert np.allclose(numeric_jacobian(lambda z: np.array([-np.log(softmax(z)[t])]), z)[0], p - np.eye(C)[t],
                   atol=1e-8), "d(-log p_t)/dz should be p - onehot(t)"

# %% [markdown]
# **A batch** with the *mean* loss $L = \frac{1}{B} \sum_n \ell_n$: example $n$'s logits
# only affect $\ell_n$, and the mean puts a $\frac{1}{B}$ on each, so
#
# $$\bar{Z} = \frac{1}{B} (P - \mathrm{onehot}(T)).$$

# %%
T = rng.integers(0, C, size=B)


def ce_loss(Z):
    return float(-np.log(softmax(Z)[np.arange(B), T]).mean())


def softmax_cross_entropy_backward(logits, labels):
    """dL/dlogits for L, the mean over the batch of -log softmax(logits)[n, labels[n]]."""
    # BEGIN SOLUTION hint: (softmax(logits) - onehot(labels)) / N, with N = len(labels) the batch size
    return (softmax(logits) - np.eye(logits.shape[1])[labels]) / len(labels)
    # END SOLUTION


Zt = Tensor(Z, requires_grad=True)
loss = F.cross_entropy(Zt, T)
loss.backward()
assert abs(float(loss.data) - ce_loss(Z)) < 1e-12, "the library's loss should be the mean of -log p_t"
check("CE dZ = (P - onehot)/B", softmax_cross_entropy_backward(Z, T), numerical_gradient(ce_loss, Z), Zt.grad)
assert exercises.check_softmax_cross_entropy_backward(softmax_cross_entropy_backward).passed, \
    "softmax_cross_entropy_backward: see the checker's table"

# %% [markdown]
# ## 5. All together: a two-layer MLP by hand
#
# $A = X W_1^\top + b_1$, $H = \mathrm{leaky}(A)$, $Z = H W_2^\top + b_2$, $L = \mathrm{CE}(Z, T)$.
# Backprop applies the rules above from the loss back to the input, each step reusing
# what the forward pass computed:
#
# $$\bar{Z} = \tfrac{1}{B}(P - \mathrm{onehot}(T)),\quad \bar{W}_2 = \bar{Z}^\top H,\quad
# \bar{b}_2 = \textstyle\sum_n \bar{Z}_n,\quad \bar{H} = \bar{Z} W_2,\quad
# \bar{A} = \bar{H} \odot m,\quad \bar{W}_1 = \bar{A}^\top X,\quad \bar{b}_1 = \textstyle\sum_n \bar{A}_n.$$

# %%
Hdim = 6
params = {"W1": rng.standard_normal((Hdim, D)), "b1": rng.standard_normal(Hdim),
          "W2": rng.standard_normal((C, Hdim)), "b2": rng.standard_normal(C)}


def mlp_loss(X, W1, b1, W2, b2):
    return ce_loss(leaky(X @ W1.T + b1) @ W2.T + b2)


def mlp_gradients(x, labels, weights, biases, negative_slope=0.02):
    """(loss, grad_weights, grad_biases) of the mean cross-entropy of an MLP: linear layers (weights[k] of shape
    (n_out, n_in)) with leaky ReLU between them and none after the last."""
    # BEGIN SOLUTION hint: forward, keeping each layer's input and pre-activation; then the layers in reverse
    inputs, pre_activations, h = [], [], x
    for k, (w, b) in enumerate(zip(weights, biases)):
        inputs.append(h)
        a = h @ w.T + b
        pre_activations.append(a)
        h = np.where(a > 0, a, negative_slope * a) if k < len(weights) - 1 else a
    loss = -np.log(softmax(h)[np.arange(len(labels)), labels]).mean()
    grad, grad_weights, grad_biases = softmax_cross_entropy_backward(h, labels), [], []
    for k in reversed(range(len(weights))):
        if k < len(weights) - 1:
            grad = leaky_relu_backward(pre_activations[k], grad, negative_slope)
        grad, grad_w, grad_b = linear_backward(inputs[k], weights[k], grad)
        grad_weights.insert(0, grad_w)
        grad_biases.insert(0, grad_b)
    return loss, grad_weights, grad_biases
    # END SOLUTION


weights, biases = [params["W1"], params["W2"]], [params["b1"], params["b2"]]
loss, (gW1, gW2), (gb1, gb2) = mlp_gradients(X, T, weights, biases)
hand = {"W1": gW1, "b1": gb1, "W2": gW2, "b2": gb2}

# the library
tensors = {name: Tensor(value, requires_grad=True) for name, value in [("X", X), *params.items()]}
h = F.leaky_relu(F.linear(tensors["X"], tensors["W1"], tensors["b1"]), slope)
F.cross_entropy(F.linear(h, tensors["W2"], tensors["b2"]), T).backward()

values = {"X": X, **params}
assert abs(loss - mlp_loss(**values)) < 1e-12, "mlp_gradients' loss is the MLP's loss"
for name in ["W2", "b2", "W1", "b1"]:
    def loss_of(v, name=name):
        return mlp_loss(**{**values, name: v})
    check(f"MLP dL/d{name}", hand[name], numerical_gradient(loss_of, values[name]), tensors[name].grad)
assert exercises.check_mlp_gradients(mlp_gradients).passed, "mlp_gradients: see the checker's table"

# %% [markdown]
# ## 6. What the batch changes, checked
#
# The mean loss's $1/B$ flows into every gradient below it, so the batch's weight gradient is
# the **average** of the gradients of each example alone (a batch of one, whose $1/B$ is 1),
# and its size does not grow with $B$: repeating the batch leaves it unchanged, where a
# *summed* loss would double it.

# %%
per_example = [mlp_gradients(X[n:n + 1], T[n:n + 1], weights, biases)[1][1] for n in range(B)]   # each dL/dW2
assert np.allclose(hand["W2"], np.mean(per_example, axis=0)), "the mean loss averages per-example gradients"

_, (_, gW2_twice), _ = mlp_gradients(np.concatenate([X, X]), np.concatenate([T, T]), weights, biases)
assert np.allclose(gW2_twice, hand["W2"]), "repeating the batch should not change the mean loss's gradient"
print(f"2B copies give the dL/dW2 of B: max difference {np.abs(gW2_twice - hand['W2']).max():.1e}")

# %% [markdown]
# ## Summary
#
# | piece | Jacobian (one example) | vector form (batch) |
# |---|---|---|
# | $Y = X W^\top + b$, input | $\partial y / \partial x = W$ | $\bar{X} = \bar{Y} W$ |
# | $Y = X W^\top + b$, weight | $\partial y_i / \partial W_{kl} = \delta_{ik} x_l$ | $\bar{W} = \bar{Y}^\top X$ |
# | $Y = X W^\top + b$, bias | $\partial y / \partial b = I$ | $\bar{b} = \sum_n \bar{Y}_n$ |
# | leaky ReLU | $\mathrm{diag}(m)$, $m = 1$ or $0.02$ | $\bar{X} = \bar{Y} \odot m$ |
# | softmax | $\mathrm{diag}(p) - p p^\top$ | $\bar{Z} = P \odot (\bar{P} - \mathrm{rowsum}(\bar{P} \odot P))$ |
# | softmax + mean CE | $p - \mathrm{onehot}(t)$ | $\bar{Z} = (P - \mathrm{onehot}(T)) / B$ |
#
# Tutorial 3 shows how `Tensor.backward()` chains these rules for any graph, in the right order.
