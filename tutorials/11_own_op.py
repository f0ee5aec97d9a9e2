# %% [markdown]
# # 11 Add your own op: GELU as a Function, proven with the testing kit
#
# The library's ops are each a `Function`: a `forward` on arrays that keeps what the gradient
# will need, and a `backward` that turns the gradient of the output into the gradient of the
# input (tutorials 2 and 3). Nothing stops you from writing one more. Here we add **GELU**, the
# activation of BERT and GPT, write its backward by hand, and prove it the way the library
# proves its own ops, with `tinygrad_dl1.testing`: central differences in float64, entry by
# entry and along random directions, PyTorch's values and gradients where it is installed, on
# every backend the machine has, for many inputs drawn by hypothesis.
#
# GELU weighs its input by the probability that a standard normal falls below it, $x\,\Phi(x)$.
# We use the tanh form that PyTorch computes with `F.gelu(x, approximate="tanh")`: with
# $c = \sqrt{2/\pi}$ and $a = 0.044715$,
#
# $$y = \tfrac{x}{2}\,\bigl(1 + \tanh u\bigr), \qquad u = c\,(x + a x^3).$$
#
# Set `TINYGRAD_DL1_TUTORIAL_FAST=1` for fewer drawn inputs (the test suite does).

# %%
import math
import os

import numpy as np

from tinygrad_dl1 import Tensor, backend, exercises, nn, optim, testing
from tinygrad_dl1.function import Function
from tinygrad_dl1.gradcheck import numerical_gradient

FAST = os.environ.get("TINYGRAD_DL1_TUTORIAL_FAST") == "1"
EXAMPLES = 10 if FAST else 100          # inputs hypothesis draws for each property
rng = np.random.default_rng(0)
C, A = math.sqrt(2 / math.pi), 0.044715


def gelu_forward(x):
    """y = x/2 (1 + tanh(c (x + a x^3))) of an array (NumPy or CuPy: the array module comes from x)."""
    xp = backend.array_module(x)
    return 0.5 * x * (1 + xp.tanh(C * (x + A * x ** 3)))


x = np.linspace(-4, 4, 9)
print(np.round(gelu_forward(x), 4))
assert np.allclose(gelu_forward(np.array([-40.0, 40.0])), [0.0, 40.0]), "GELU is 0 far left and x far right"
assert abs(gelu_forward(np.array(1.0)) - 1.0 * 0.5 * (1 + math.erf(1 / math.sqrt(2)))) < 1e-3, \
    "the tanh form is within 1e-3 of x Phi(x)"

# %% [markdown]
# ## 1. The derivative, by the product rule and the chain rule
#
# $y$ is a product of two factors of $x$: $\tfrac{x}{2}$ and $1 + \tanh u$. The product rule
# gives one term per factor, and the second factor needs the chain rule through $u$:
#
# $$\frac{dy}{dx} = \frac{1 + \tanh u}{2} + \frac{x}{2}\,\bigl(1 - \tanh^2 u\bigr)\,\frac{du}{dx},
# \qquad \frac{du}{dx} = c\,(1 + 3 a x^2).$$
#
# GELU acts entry by entry, so its Jacobian is diagonal and the backward is one product per
# entry: $\bar x = \bar y \odot \frac{dy}{dx}$ (the chain rule once more: the incoming gradient
# times the local derivative).
#
# **Exercise.** Write `gelu_backward(x, grad_output)`, returning $\bar x$. The checker below
# compares it with the library's autograd on the composed formula, and names the likely slip:
# a missing chain-rule factor $du/dx$, the missing product-rule term, $\bar y$ left out,
# $d(x^3)/dx$ written as $x^2$, or $\tanh'$ written as $1 - \tanh$.

# %%
def gelu_backward(x, grad_output):
    """dL/dx of y = x/2 (1 + tanh(c (x + a x^3))), given grad_output = dL/dy, entry by entry."""
    c, a = math.sqrt(2 / math.pi), 0.044715
    # BEGIN SOLUTION hint: t = tanh(u), dy/dx = (1 + t)/2 + x/2 (1 - t^2) du/dx, du/dx = c (1 + 3 a x^2); times dL/dy
    t = np.tanh(c * (x + a * x ** 3))
    return grad_output * ((1 + t) / 2 + x / 2 * (1 - t * t) * c * (1 + 3 * a * x * x))
    # END SOLUTION


g = rng.standard_normal(x.shape)
numeric = numerical_gradient(lambda v: float((g * gelu_forward(v)).sum()), x)
assert np.allclose(gelu_backward(x, g), numeric, atol=1e-6), "the formula agrees with central differences"
assert exercises.check_gelu_backward(gelu_backward).passed, "gelu_backward: see the checker's table"

# %% [markdown]
# ## 2. The op: a Function
#
# `forward` gets arrays and returns an array; it keeps `x` with `save_for_backward`, since the
# derivative needs it (and only when a gradient is wanted: `needs_input_grad`). `backward` gets
# $\bar y$ and returns $\bar x$. Calling `GELU()(tensor)` runs forward and links the output into
# the graph, so `backward()` reaches our rule.

# %%
class GELU(Function):
    def forward(self, x):               # y = x/2 (1 + tanh(c (x + a x^3)))
        self.save_for_backward(x=x if self.needs_input_grad[0] else None)   # dy/dx needs x
        return gelu_forward(x)

    def backward(self, gy):             # dL/dx = gy * dy/dx
        xp = backend.array_module(gy)
        t = xp.tanh(C * (self.x + A * self.x ** 3))
        return gy * ((1 + t) / 2 + self.x / 2 * (1 - t * t) * C * (1 + 3 * A * self.x ** 2))


def gelu(x):
    return GELU()(x)


xt = Tensor(x, requires_grad=True)
gelu(xt).backward(g)
assert np.allclose(xt.grad, gelu_backward(x, g)), "the Function's backward is the exercise's formula"
print(gelu(Tensor(x)))

# %% [markdown]
# ## 3. Proving it with the testing kit
#
# One call checks one input, on every backend this machine has: the forward against a NumPy
# reference, a finite gradient of the input's shape, central differences entry by entry and
# along random directions, and PyTorch (when installed) for values and gradients.

# %%
try:
    import torch

    def torch_gelu(t):
        return torch.nn.functional.gelu(t, approximate="tanh")
except ImportError:
    torch, torch_gelu = None, None
print("PyTorch:", "installed, compared" if torch else "not installed, skipped")
print("backends:", testing.backends())

assert testing.assert_gradients(GELU, x, reference=gelu_forward, torch_fn=torch_gelu)

# %% [markdown]
# One input proves little: a gradient can be right at the points you picked and wrong
# elsewhere, or right for one shape and wrong when broadcasting or a size-1 dim comes in. The
# decorator draws many inputs with hypothesis (shapes of 0 to 4 dims, size-1 dims included,
# values in $[-3, 3]$) and checks each; in a test file, name it `test_...` and pytest runs it.
# GELU is smooth everywhere, so no point needs avoiding; for an op with a kink (relu, abs)
# draw with `testing.away_from_zero`, and with `testing.positive` for one defined on $x > 0$.

# %%
@testing.gradient_property(testing.arrays(testing.shapes()), reference=gelu_forward, torch_fn=torch_gelu,
                           max_examples=EXAMPLES)
def test_gelu(x):
    return gelu(x)


test_gelu()
print(f"GELU's gradient holds on {EXAMPLES} drawn inputs")

# %% [markdown]
# And the kit fails when the op is wrong. Here the backward forgets the factor $du/dx$, the
# most common slip; the error names the check, the device and the worst entry.

# %%
class GELUMissingFactor(GELU):
    def backward(self, gy):             # du/dx left out
        t = np.tanh(C * (self.x + A * self.x ** 3))
        return gy * ((1 + t) / 2 + self.x / 2 * (1 - t * t))


try:
    testing.check_gradients(GELUMissingFactor, testing.arrays(testing.shapes()), max_examples=EXAMPLES)
    raise AssertionError("a wrong backward should fail the check")
except testing.GradcheckError as error:
    print("caught:", str(error).splitlines()[0])
    assert "entry by entry" in str(error)

# %% [markdown]
# ## 4. Using it: a layer in a model
#
# A layer is a `Module` whose `forward` calls the op. The same model with GELU learns a
# small regression (a sine) with Adam, and its loss falls.

# %%
class GELULayer(nn.Module):
    def forward(self, x):
        return gelu(x)


model = nn.Sequential(nn.Linear(1, 32), GELULayer(), nn.Linear(32, 1))
opt = optim.Adam(model.parameters(), lr=1e-2)
inputs = np.linspace(-3, 3, 64, dtype=np.float32).reshape(-1, 1)
targets = np.sin(inputs)
losses = []
for _ in range(100 if FAST else 400):
    loss = nn.functional.mse_loss(model(Tensor(inputs)), targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"mse: {losses[0]:.3f} at the start, {losses[-1]:.4f} after {len(losses)} steps")
assert losses[-1] < losses[0] / 5, "the model with GELU should learn the sine"
