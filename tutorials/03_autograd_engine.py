# %% [markdown]
# # 03 The autograd engine: how `backward()` does tutorial 2 for you
#
# In tutorial 2 we wrote each backward pass by hand: the gradient of the loss w.r.t. a layer's
# output comes in, times the local derivative gives the gradients of its inputs. Here we open
# the engine that does this for us: how a `Tensor` remembers the op that made it, how an op (a
# `Function`) pairs forward with a hand-written backward, and how `Tensor.backward()` visits
# the ops in the right order and adds gradients up. We draw the graph as text (no graphviz),
# replay backward step by step, and break the engine on purpose to see why each rule exists.
# Every claim is checked by an `assert`; nothing is slow, so fast mode changes nothing.

# %%
import heapq
import inspect
import itertools
import sys

import numpy as np

from tinygrad_dl1 import Tensor, gradcheck
from tinygrad_dl1.function import Function
from tinygrad_dl1.ops import sum_to
from tinygrad_dl1.optim import SGD

np.set_printoptions(precision=4)


def error_of(fn):
    """The exception that fn() raises, as text (None when it raises none)."""
    try:
        fn()
    except (RuntimeError, RecursionError) as e:
        return f"{type(e).__name__}: {e}"
    return None

# %% [markdown]
# ## A tensor remembers the op that made it
#
# Take $a = x \cdot x$, $b = e^a$, $c = a + b$. Each result keeps `grad_fn`, the op (a node
# of the graph) that made it; the node keeps its `inputs`. A tensor you create yourself is a
# **leaf** (`grad_fn is None`). Each tensor also gets a **generation**: 0 for a leaf, and one
# more than the newest input for an op's output. A node's generation is that of its newest input.

# %%
x = Tensor([0.5, -1.0], requires_grad=True)
a = x * x
b = a.exp()
c = a + b
print("c.grad_fn:", c.grad_fn, " its inputs' grad_fns:", [t.grad_fn for t in c.grad_fn.inputs])
assert x.is_leaf and x.generation == 0, "a tensor we made ourselves is a leaf of generation 0"
assert c.grad_fn.inputs[0] is a and c.grad_fn.inputs[1] is b, "c's node holds its inputs a and b"
assert [t.generation for t in (a, b, c)] == [1, 2, 3], "each op's output is one generation newer than its input"
assert c.grad_fn.generation == 2 and a.grad_fn.generation == 0, "a node has its newest input's generation"

# %% [markdown]
# ## Drawing the graph
#
# Following `grad_fn` and `inputs` from the output back to the leaves draws the graph. The
# small function below prints it as an indented tree: each line a tensor, the op that made
# it, its generation; a node reached a second time is marked instead of drawn again.

# %%
def draw(t, names, depth=0, seen=None):
    """Lines of an indented tree of the graph behind t (names: id(tensor) -> name)."""
    seen = set() if seen is None else seen
    pad, name = "    " * depth, names.get(id(t), "const")
    if t.grad_fn is None:
        return [f"{pad}{name}: leaf, generation 0, requires_grad={t.requires_grad}"]
    head = f"{pad}{name} = {t.grad_fn.name}(...), generation {t.generation}"
    if t.grad_fn in seen:
        return [head + "  (drawn above)"]
    seen.add(t.grad_fn)
    return [head] + [line for inp in t.grad_fn.inputs for line in draw(inp, names, depth + 1, seen)]


names = {id(x): "x", id(a): "a", id(b): "b", id(c): "c"}
picture = draw(c, names)
print("\n".join(picture))
assert picture[0].startswith("c = Add") and picture[1].startswith("    a = Mul"), picture
assert sum("(drawn above)" in line for line in picture) == 1, "a feeds two ops, so it is reached twice"

# %% [markdown]
# ## An op: forward, backward, and what it saves
#
# Each op is a subclass of `Function`. `forward` works on plain arrays and saves, as
# attributes of `self`, exactly what `backward` will need, and only when the gradient
# that needs it is wanted (`needs_input_grad`, one flag per input). `backward(gy)` gets
# $\partial L / \partial y$ and returns $\partial L / \partial(\text{each input})$. Here is
# the library's multiplication:

# %%
print(inspect.getsource(type(a.grad_fn)))

# %% [markdown]
# We can write our own op the same way, say $y = x^3$ with $\partial L/\partial x =
# g_y \cdot 3x^2$, and check it with `gradcheck` from tutorial 1.

# %%
class Cube(Function):
    def forward(self, x):               # y = x^3
        self.x = x if self.needs_input_grad[0] else None   # dL/dx = gy * 3x^2 needs x
        return x ** 3

    def backward(self, gy):             # dL/dx = gy * 3x^2
        return gy * 3 * self.x ** 2


op, op2 = Cube(), Cube()
y, y2 = op(Tensor([2.0], requires_grad=True)), op2(Tensor([2.0]))   # y2: no gradient wanted
assert op.needs_input_grad == (True,) and op.x is not None and y.grad_fn is op, "it saved x and linked y"
assert op2.needs_input_grad == (False,) and op2.x is None and y2.grad_fn is None, "nothing saved, no graph"
assert gradcheck(lambda t: Cube()(t), [Tensor([0.3, -1.2, 2.0], requires_grad=True)]), "Cube's backward"

# %% [markdown]
# ## The order: a node runs only when its gradient is complete
#
# In our graph $a$ is used twice, so by the chain rule
#
# $$\frac{\partial c}{\partial a} = \underbrace{1}_{\text{through } c = a + b} +
# \underbrace{e^a}_{\text{through } b = e^a}, \qquad
# \frac{\partial c}{\partial x} = (1 + e^{x^2})\, 2x.$$
#
# The node that made $a$ (the `Mul`) may run only after **both** consumers of $a$ (the
# `Add` and the `Exp`) sent it their part. Generations guarantee this: a consumer is always
# newer than what it consumes, so running nodes from the newest generation down (a heap
# keyed by $-$generation) runs every consumer first. This is a *topological order*. Here is
# the library's `backward`:

# %%
print(inspect.getsource(Tensor.backward))

# %% [markdown]
# To watch it work, here is a small mirror of that loop (it calls the same nodes' `backward`,
# but keeps leaf gradients in a dict so the library's `.grad` stays untouched). It prints
# each node's incoming gradient as it runs. Two switches break it on purpose: `order="fifo"`
# runs nodes first come, first served instead of by generation; `accumulate=False`
# overwrites a gradient instead of adding to it.

# %%
def mirror_backward(loss, order="heap", accumulate=True, verbose=False):
    """Leaf gradients of loss by the library's algorithm: {id(leaf): gradient}."""
    grads, done, ticket = {}, set(), itertools.count()
    pending = {loss.grad_fn: np.ones(loss.shape, loss.dtype)}
    queue = [(-loss.grad_fn.generation, next(ticket), loss.grad_fn)]
    while queue:
        node = heapq.heappop(queue)[2]  # with key 0 for every node the heap is first come, first served
        gy = pending.pop(node)
        done.add(node)
        if verbose:
            print(f"run {node.name:<4} (generation {node.generation}): incoming gradient {gy}")
        input_grads = node.backward(gy)
        input_grads = input_grads if isinstance(input_grads, tuple) else (input_grads,)
        for inp, g in zip(node.inputs, input_grads):
            if g is None or not inp.requires_grad:
                continue
            if inp.grad_fn is None:     # a leaf
                grads[id(inp)] = grads[id(inp)] + g if accumulate and id(inp) in grads else g
            elif inp.grad_fn in done:
                print(f"    a gradient for {inp.grad_fn.name} arrives after it ran: lost")
            elif inp.grad_fn in pending:
                pending[inp.grad_fn] = pending[inp.grad_fn] + g if accumulate else g
            else:
                pending[inp.grad_fn] = g
                key = -inp.grad_fn.generation if order == "heap" else 0
                heapq.heappush(queue, (key, next(ticket), inp.grad_fn))
    return grads


print("by generation:")
good = mirror_backward(c, verbose=True)[id(x)]
print("first come, first served:")
bad = mirror_backward(c, order="fifo", verbose=True)[id(x)]
c.sum().backward()                      # sum() makes c a scalar loss: one more node on top
exact = (1 + np.exp(x.numpy() ** 2)) * 2 * x.numpy()
print("library:", x.grad, " mirror:", good, " fifo:", bad, " formula:", exact)
assert np.allclose(x.grad, exact) and np.allclose(good, x.grad), "the mirror agrees with the library and the formula"
assert not np.allclose(bad, exact), "running Mul before Exp sent its part loses the e^a term"
assert np.allclose(bad, 2 * x.numpy()), "fifo kept only the path through c = a + b"

# %% [markdown]
# ## `+=` at fan-out: `b = a + a`
#
# When a tensor feeds several ops (or one op twice), its gradient is the **sum** of what each
# use sends back. For $b = a + a$, $\partial b / \partial a = 1 + 1 = 2$. An engine that
# *assigns* the gradient instead of adding it keeps only the last use and gets 1.

# %%
a = Tensor([3.0], requires_grad=True)
b = a + a
wrong = mirror_backward(b, accumulate=False)[id(a)]
right = mirror_backward(b)[id(a)]
b.backward()
print("library:", a.grad, " mirror with +=:", right, " mirror with =:", wrong)
assert a.grad.tolist() == [2.0] and right.tolist() == [2.0], "two uses of a: the gradients 1 + 1 add up to 2"
assert wrong.tolist() == [1.0], "overwriting keeps one use only"

# %% [markdown]
# This is why `model.zero_grad()` (or `.grad = None`) is needed between steps: leaf
# gradients are added to `.grad`, across backward calls too.
#
# ## Deep graphs: why the walk is a loop, not a recursion
#
# A simple way to find the topological order is a recursive depth-first search (micrograd
# does this). Each level of the graph is one Python call on the stack, and Python stops at
# `sys.getrecursionlimit()` calls (1000 by default): a chain of a few thousand ops, as in an
# unrolled recurrent net, crashes it. The library's heap loop has no stack to overflow.

# %%
def recursive_order(t, order, seen):
    """Nodes in topological order by recursive depth-first search (micrograd's way)."""
    if t.grad_fn is not None and t.grad_fn not in seen:
        seen.add(t.grad_fn)
        for inp in t.grad_fn.inputs:
            recursive_order(inp, order, seen)
        order.append(t.grad_fn)
    return order


n = max(5000, 2 * sys.getrecursionlimit())
w = Tensor([1.0], requires_grad=True)
y = w
for _ in range(n):
    y = y * 1.0001                      # dy/dw = 1.0001^n
assert y.generation == n, "a chain of n ops is n generations deep"
message = error_of(lambda: recursive_order(y, [], set()))
print(f"recursive walk over {n} ops: {message}")
assert message is not None and message.startswith("RecursionError"), "the recursive walk should overflow the stack"
y.backward()
print(f"library's loop: dy/dw = {w.grad[0]:.6f}, expected 1.0001^{n} = {1.0001 ** n:.6f}")
assert np.isclose(w.grad[0], 1.0001 ** n, rtol=1e-3), "the iterative backward handles the deep chain"

# %% [markdown]
# ## A second backward: the graph is freed
#
# Once a node has run, `backward` frees what its forward saved (that memory is most of a
# network's memory). A second `backward` through the same graph therefore raises a clear
# error. With `retain_graph=True` the first time, the graph survives, and the second call
# *adds* the same gradient again.

# %%
x = Tensor([2.0], requires_grad=True)
loss = x * x * x
loss.backward()
message = error_of(loss.backward)
print("second backward:", message)
assert message is not None and "second time" in message and "retain_graph=True" in message, message
x.grad = None
loss = x * x * x                        # d/dx x^3 = 3x^2 = 12
loss.backward(retain_graph=True)
loss.backward()
assert x.grad.tolist() == [24.0], "with retain_graph=True the second backward adds 12 again"

# %% [markdown]
# ## Broadcasting sums the gradient back
#
# Tutorial 2's linear layer $Z = XW + \mathbf{b}$ adds a bias of shape $(D,)$ to a batch of
# shape $(B, D)$: NumPy broadcasting uses $\mathbf{b}$ in every row, so (fan-out again)
# its gradient is the sum over the rows, $\partial L / \partial \mathbf{b} = \sum_n
# \partial L / \partial Z_{n,:}$. `Add.backward` does this with `sum_to`:

# %%
print(inspect.getsource(sum_to))
g = np.arange(6.0).reshape(2, 3)
assert sum_to(g, (3,)).tolist() == [3.0, 5.0, 7.0], "a (3,) input used by two rows: sum the rows"
assert sum_to(g, (2, 1)).tolist() == [[3.0], [12.0]], "a (2, 1) input used by three columns: sum the columns"

# %% [markdown]
# The whole layer with tutorial 2's leaky ReLU (slope 0.02) and the loss $L = \sum R \odot
# Y$: by hand, $G = R \odot \text{leaky}'(Z)$, $\partial L/\partial W = X^T G$ and
# $\partial L/\partial \mathbf{b} = \sum_n G_{n,:}$. The engine, step by step:

# %%
rng = np.random.default_rng(0)
X, R = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
W = Tensor(rng.standard_normal((3, 2)), requires_grad=True, dtype=np.float64)
bias = Tensor(rng.standard_normal(2), requires_grad=True, dtype=np.float64)
Xt, Rt = Tensor(X), Tensor(R)
XW = Xt @ W
Z = XW + bias
Y = Z.leaky_relu(0.02)
L = (Y * Rt).sum()
print("\n".join(draw(L, {id(v): k for k, v in dict(X=Xt, R=Rt, W=W, bias=bias, XW=XW, Z=Z, Y=Y, L=L).items()})))
steps = mirror_backward(L, verbose=True)
L.backward()
G = R * np.where(Z.numpy() > 0, 1.0, 0.02)
assert np.allclose(W.grad, X.T @ G) and np.allclose(bias.grad, G.sum(axis=0)), "engine = tutorial 2's formulas"
assert np.allclose(steps[id(W)], W.grad) and np.allclose(steps[id(bias)], bias.grad), "mirror = library"
assert bias.grad.shape == (2,), "the bias gradient has the bias's shape"

# %% [markdown]
# ## The version counter: no optimizer step between forward and backward
#
# `Mul` saved its inputs' arrays for backward. If an optimizer changes a parameter in place
# after the forward pass, backward would silently compute the gradient at the *new* values.
# Each tensor has a version counter that every in-place change bumps (the optimizer's
# `step()` does), each node records its inputs' versions, and backward refuses when they differ.

# %%
w = Tensor([1.0, 2.0], requires_grad=True)
opt = SGD([w], lr=0.1)
(w * w).sum().backward()
loss = (w * w).sum()                    # forward at the old w
opt.step()                              # w changes in place: version 0 -> 1
message = error_of(loss.backward)
print("backward after step:", message)
assert message is not None and "changed in place" in message, message
assert w._version == 1, "step() bumped the version"

# %% [markdown]
# ## What we saw
#
# A tensor keeps `grad_fn`, a node its `inputs` and what forward saved. `backward()` runs nodes
# newest generation first, so each gets its full gradient once; gradients **add** at fan-out and
# broadcasting; a loop, not recursion; the graph is freed unless `retain_graph=True`; in-place
# changes since forward are refused.
