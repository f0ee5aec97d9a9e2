# %% [markdown]
# # 01 Derivatives: a nudge, its errors, and the gradient check
#
# These tutorials work through the Deep Learning 1 assignment "MLPs, CNNs and
# Backpropagation" on a small NumPy library, `tinygrad_dl1`. A network is trained by
# lowering its **loss**, one number that says how wrong its outputs are, and that needs one
# number per weight: how much the loss changes when we nudge that weight (its derivative).
# This tutorial computes that number the slow way, by nudging, and measures how wrong the
# slow way is. The result is the tool used in every later tutorial to check a backward pass
# (the code that computes all the derivatives at once): `gradcheck`.
#
# Run it as a script (`python tutorials/01_derivatives.py`) or open it as a notebook
# (`jupytext --to notebook tutorials/01_derivatives.py`). Every formula below is checked by
# an `assert`: if one of them fails, the script stops and says which.

# %%
import numpy as np

from tinygrad_dl1 import GradcheckError, Tensor, gradcheck
from tinygrad_dl1.function import Function

np.set_printoptions(precision=4, suppress=False)

# %% [markdown]
# ## A derivative is a nudge
#
# The derivative of $f$ at $x$ is the limit of the slope between two nearby points:
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}.$$
#
# On a computer we cannot take the limit, so we pick a small $h$ and compute the
# **forward difference** $\frac{f(x+h) - f(x)}{h}$. Our test function is $f(x) = e^x$ at
# $x = 1$, because we know the exact answer: $f'(1) = e$.

# %%
f = np.exp
x0 = 1.0
exact = np.e


def forward_difference(f, x, h):
    return (f(x + h) - f(x)) / h


def central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


for h in [1e-1, 1e-2, 1e-3]:
    print(f"h = {h:.0e}: forward {forward_difference(f, x0, h):.8f}, central {central_difference(f, x0, h):.8f}, "
          f"exact {exact:.8f}")
assert abs(forward_difference(f, x0, 1e-3) - exact) < 1e-2, "a forward difference with h = 1e-3 should be close to e"

# %% [markdown]
# ## Forward against central differences: the truncation error
#
# Taylor's theorem says what the forward difference gets wrong:
#
# $$f(x + h) = f(x) + h f'(x) + \tfrac{h^2}{2} f''(x) + \tfrac{h^3}{6} f'''(x) + \dots
# \quad\Rightarrow\quad \frac{f(x+h) - f(x)}{h} = f'(x) + \tfrac{h}{2} f''(x) + O(h^2).$$
#
# Its **truncation error** is about $\frac{h}{2} f''(x)$: it shrinks in proportion to $h$.
# The **central difference** $\frac{f(x+h) - f(x-h)}{2h}$ subtracts the Taylor series at
# $x - h$ from the one at $x + h$; the even terms cancel and what remains is
#
# $$\frac{f(x+h) - f(x-h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(x) + O(h^4),$$
#
# an error in proportion to $h^2$. Dividing $h$ by 10 divides the forward error by about
# 10 and the central error by about 100. For $f = \exp$ all derivatives are $e$, so we
# can check the constants too.

# %%
for h in [1e-1, 1e-2, 1e-3]:
    fwd_err = forward_difference(f, x0, h) - exact
    cen_err = central_difference(f, x0, h) - exact
    print(f"h = {h:.0e}: forward error {fwd_err:.3e} (h/2 f'' = {h / 2 * exact:.3e}), "
          f"central error {cen_err:.3e} (h^2/6 f''' = {h**2 / 6 * exact:.3e})")
    assert abs(fwd_err / (h / 2 * exact) - 1) < 0.1, f"forward error at h={h} should be about h/2 f''"
    assert abs(cen_err / (h**2 / 6 * exact) - 1) < 0.1, f"central error at h={h} should be about h^2/6 f'''"

# %% [markdown]
# ## Rounding error: why a smaller $h$ is not always better
#
# A float has about $\log_{10}(1/\varepsilon)$ correct digits, with machine epsilon
# $\varepsilon$ (the gap between 1 and the next float, so the relative size of one rounding)
# $\approx 1.2 \cdot 10^{-7}$ in float32 and $2.2 \cdot 10^{-16}$ in float64. Each
# of $f(x+h)$ and $f(x)$ is off by about $\varepsilon |f(x)|$; their difference is tiny
# when $h$ is small, so those errors become large *relative* to it, and dividing by $h$
# magnifies them. The total error of the forward difference is about
#
# $$E_\text{fwd}(h) \approx \frac{h}{2} |f''| + \frac{2 \varepsilon |f|}{h},$$
#
# smallest where both terms balance, at $h^\star \sim \sqrt{\varepsilon}$. For the central
# difference $E_\text{cen}(h) \approx \frac{h^2}{6} |f'''| + \frac{\varepsilon |f|}{h}$, which
# is smallest at $h^\star \sim \varepsilon^{1/3}$. Let us measure the error for $h$ from
# $10^{-1}$ to $10^{-14}$, in both precisions (in float32, $x$, $h$ and every step of $f$
# are float32).

# %%
hs = 10.0 ** -np.arange(1, 14.5, 0.5)


def errors(dtype):
    """|numeric - exact| for each h, computed in the given float type."""
    x = dtype(x0)
    fwd = np.array([abs(float(forward_difference(f, x, dtype(h))) - exact) for h in hs])
    cen = np.array([abs(float(central_difference(f, x, dtype(h))) - exact) for h in hs])
    return fwd, cen


table = {dtype.__name__: errors(dtype) for dtype in (np.float32, np.float64)}
print(f"{'h':>8} | {'fwd float32':>11} {'cen float32':>11} | {'fwd float64':>11} {'cen float64':>11}")
for i, h in enumerate(hs):
    f32, f64 = table["float32"], table["float64"]
    print(f"{h:8.0e} | {f32[0][i]:11.2e} {f32[1][i]:11.2e} | {f64[0][i]:11.2e} {f64[1][i]:11.2e}")

# %% [markdown]
# Read the table from the top: the error first falls as $h$ shrinks (truncation), then
# rises again (rounding). In float32 the forward difference is never better than about
# $10^{-4}$ (three or four correct digits), and at $h = 10^{-8}$ it is useless: $1 + 10^{-8}$ rounds to
# $1$ in float32, so $f(x+h) - f(x) = 0$. Now check the predicted best $h$: within a
# factor of 10 either way of $\sqrt{\varepsilon}$ and $\varepsilon^{1/3}$ (the constants
# $|f|, |f''|, |f'''|$ are all $e$ here, so they do not move $h^\star$ much).

# %%
for dtype in (np.float32, np.float64):
    eps = np.finfo(dtype).eps
    fwd, cen = table[dtype.__name__]
    best_fwd, best_cen = hs[fwd.argmin()], hs[cen.argmin()]
    print(f"{dtype.__name__}: eps = {eps:.2e}; best h forward {best_fwd:.0e} (sqrt(eps) = {np.sqrt(eps):.0e}), "
          f"central {best_cen:.0e} (eps^(1/3) = {np.cbrt(eps):.0e}); "
          f"smallest error forward {fwd.min():.1e}, central {cen.min():.1e}")
    assert abs(np.log10(best_fwd / np.sqrt(eps))) <= 1, f"{dtype.__name__}: the best forward h should be ~sqrt(eps)"
    assert abs(np.log10(best_cen / np.cbrt(eps))) <= 1, f"{dtype.__name__}: the best central h should be ~eps^(1/3)"
    assert cen.min() < fwd.min() / 10, f"{dtype.__name__}: central differences should be much more accurate"
    assert fwd[-1] > 100 * fwd.min(), f"{dtype.__name__}: at h = 1e-14 rounding error should dominate"

# %% [markdown]
# The lesson for checking gradients: use **float64** and **central differences** with
# $h \approx 10^{-6}$; then the numeric derivative has about 10 correct digits, and any
# larger disagreement with a backward pass is a bug, not noise. In float32 the best we
# can hope for is 5 or 6 digits, too few to tell a subtle bug from rounding.
#
# An optional picture (it needs matplotlib, and is skipped without it; it is drawn
# off-screen unless you run this as a notebook):

# %%
from tinygrad_dl1.plot import save_figure, tutorial_pyplot  # noqa: E402

plt = tutorial_pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("float32", "--"), ("float64", "-")):
        ax.loglog(hs, table[name][0] + 1e-20, "o" + style, label=f"forward, {name}")
        ax.loglog(hs, table[name][1] + 1e-20, "s" + style, label=f"central, {name}")
    ax.set(xlabel="h", ylabel="|error|", title="finite-difference error of d/dx exp(x) at x = 1")
    ax.legend()
    save_figure(fig, "01_difference_error")

# %% [markdown]
# ## The library's derivative agrees with the nudge
#
# A `Tensor` with `requires_grad=True` records the ops applied to it, and `backward()`
# computes the exact derivative from rules written by hand (tutorial 2 derives them, and
# tutorial 3 shows how they are chained). For $e^x$ the rule is $\frac{d}{dx} e^x = e^x$:

# %%
x = Tensor(np.array(x0), requires_grad=True)        # a float64 array gives a float64 tensor
y = x.exp()
y.backward()
print(f"autograd: {float(x.grad):.12f}, central difference (h=1e-6): {central_difference(f, x0, 1e-6):.12f}")
assert abs(float(x.grad) - exact) < 1e-12, "autograd's derivative of exp at 1 should be e"
assert abs(float(x.grad) - central_difference(f, x0, 1e-6)) < 1e-8, "autograd and the nudge should agree"

# %% [markdown]
# ## `gradcheck`: the nudge for every entry
#
# For a function of many inputs with an output $y$ of any shape, `gradcheck(fn, inputs)`
# picks a random weight array $r$ of $y$'s shape, forms the scalar $L = \sum r \odot y$
# (backward starts from one number; the random $r$ makes every entry of $y$ count), and
# compares autograd's $\partial L / \partial x$ with central differences (step
# $h = 10^{-6}$, in float64) for each entry of each input that requires grad (inputs of more
# than 2000 entries: along a few random directions). It returns `True`, or raises a
# `GradcheckError` naming the worst entry. Its core, which later tutorials also call
# directly (`xp` is NumPy, or CuPy on a GPU, tutorial 10):

# %%
import inspect  # noqa: E402

from tinygrad_dl1.gradcheck import numerical_gradient  # noqa: E402

print(inspect.getsource(numerical_gradient))

# %% [markdown]
# Used on a small function (a matrix product, a leaky ReLU, a log-softmax: tutorial 2
# explains them):

# %%
rng = np.random.default_rng(0)
a = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
w = Tensor(rng.standard_normal((3, 5)), requires_grad=True)
ok = gradcheck(lambda a, w: (a @ w).leaky_relu(0.02).log_softmax(dim=1), [a, w])
print("gradcheck:", ok)
assert ok is True, "gradcheck should pass on the library's own ops"

# %% [markdown]
# ## Catching a wrong backward
#
# A new op is a subclass of `Function` with a `forward` and a `backward` on plain arrays;
# `forward` saves on `self` what `backward` needs. Here is $y = x^3$ twice: once with the
# right derivative $3x^2$, once with a typical slip, $x^2$ (the factor forgotten).


# %%
class Cube(Function):
    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, gy):             # dL/dx = dL/dy * 3 x^2
        return gy * 3 * self.x**2


class WrongCube(Cube):
    def backward(self, gy):             # a planted bug: the 3 is missing
        return gy * self.x**2


x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
assert gradcheck(lambda x: Cube()(x), [x]) is True, "the right backward should pass"
try:
    gradcheck(lambda x: WrongCube()(x), [x])
except GradcheckError as error:
    message = str(error)
    print("GradcheckError:", message)
else:
    raise AssertionError("gradcheck should have caught the wrong backward")
assert "analytic" in message and "numeric" in message, "the error should show both values"

# %% [markdown]
# The message names the input, the worst entry, and both values: the analytic one is a
# third of the numeric one, which points straight at the missing factor 3. From now on
# every backward rule, ours or yours, gets this check.

# %% [markdown]
# ## Summary
#
# - A derivative is the slope of a nudge; forward differences have error $O(h)$, central
#   differences $O(h^2)$.
# - Rounding error grows like $\varepsilon / h$, so there is a best $h$: about
#   $\sqrt{\varepsilon}$ (forward) or $\varepsilon^{1/3}$ (central). Check gradients in
#   float64 with central differences.
# - `gradcheck(fn, inputs)` does this for every entry and names the worst mismatch.
#
# Next: `02_backprop_by_hand.py` derives the backward rules of a linear layer, leaky ReLU,
# softmax and cross-entropy, and checks each with these tools.
