# %% [markdown]
# # 03 The autograd engine: how `backward()` does tutorial 2 for you
#
# In tutorial 2 we wrote each backward pass by hand. Here we open the engine that does it for
# us: how a `Tensor` remembers the op that made it, how an op (a `Function`) pairs forward with a
# hand-written backward, and how `Tensor.backward()` visits the ops in the right order and adds
# gradients up. We draw the graph, watch backward fill in gradients node by node, and break the
# engine on purpose to see why each rule exists. Every claim is checked by an `assert`.

# %%
import heapq
import inspect
import itertools
import sys

import numpy as np

from tinygrad_dl1 import Tensor, gradcheck
from tinygrad_dl1.function import Function
from tinygrad_dl1.graph import backward_steps, draw_graph, grads_after, replay_html, to_dot
from tinygrad_dl1.ops import sum_to
from tinygrad_dl1.optim import SGD
from tinygrad_dl1.plot import save_figure, tutorial_pyplot

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
# Following `grad_fn` and `inputs` back from the output finds the whole graph. `to_dot` (from
# `tinygrad_dl1.graph`) writes it in DOT, graphviz's text format: a box per tensor (name, shape,
# dtype, data, and `.grad` once set), an ellipse per op, an arrow per use. `draw_graph` draws it
# with graphviz's `dot` program if installed, else with matplotlib. Blue boxes are leaves that
# require grad, grey ones constants.

# %%
names = {x: "x", a: "a", b: "b", c: "c"}
text = to_dot(c, names)
print(text)
box_a = next(line.split()[0] for line in text.splitlines() if 'label="a\\n' in line)   # a's box, t1
assert text.count("shape=box") == 4 and text.count("shape=ellipse") == 3, "4 tensors, 3 ops"
assert text.count(" -> ") == 8, "an arrow per use: x goes into Mul twice (x * x), a into Exp and Add"
assert text.count(f" {box_a} -> ") == 2, "a is one box with two arrows out"
plt = tutorial_pyplot()
if plt is not None:
    save_figure(draw_graph(c, names=names), "03_graph")

# %% [markdown]
# ## An op: forward, backward, and what it saves
#
# Each op is a subclass of `Function`. `forward` works on plain arrays and keeps exactly what
# `backward` will need with `self.save_for_backward(name=array)` (PyTorch's name; backward then
# reads `self.name`), and only when the gradient that needs it is wanted (`needs_input_grad`,
# one flag per input). `backward(gy)` gets $\partial L / \partial y$ and returns
# $\partial L / \partial(\text{each input})$. Here is the library's multiplication, then our
# own op written the same way, $y = x^3$ with $\partial L/\partial x = g_y \cdot 3x^2$, checked
# with `gradcheck` from tutorial 1.
#
# Every op file of `tinygrad_dl1/ops/` reads like this: the math, in array ops that run on
# NumPy and on CuPy alike. A few ops also have a *fast path* in `tinygrad_dl1/fast_paths/` (a
# fused GPU kernel with a version tuned for the CPU), which runs by default and is tested equal
# to the op's own code; `with tinygrad_dl1.plain_ops():` switches them off, and every op then
# runs the code printed here.

# %%
print(inspect.getsource(type(a.grad_fn)))


class Cube(Function):
    def forward(self, x):               # y = x^3
        self.save_for_backward(x=x if self.needs_input_grad[0] else None)   # dL/dx = gy * 3x^2 needs x
        return x ** 3

    def backward(self, gy):             # dL/dx = gy * 3x^2
        return gy * 3 * self.x ** 2


op, op2 = Cube(), Cube()
y, y2 = op(Tensor([2.0], requires_grad=True)), op2(Tensor([2.0]))   # y2: no gradient wanted
assert op.needs_input_grad == (True,) and op.x is not None and y.grad_fn is op, "it saved x and linked y"
assert op2.needs_input_grad == (False,) and op2.x is None and y2.grad_fn is None, "nothing saved, no graph"
assert gradcheck(lambda t: Cube()(t), [Tensor([0.3, -1.2, 2.0], requires_grad=True)]), "Cube's backward is right"

# %% [markdown]
# ## The order: a node runs only when its gradient is complete
#
# In our graph $a$ is used twice (a **fan-out**), so by the chain rule
#
# $$\frac{\partial c}{\partial a} = \underbrace{1}_{\text{through } c = a + b} +
# \underbrace{e^a}_{\text{through } b = e^a}, \qquad
# \frac{\partial c}{\partial x} = (1 + e^{x^2})\, 2x.$$
#
# The node that made $a$ (the `Mul`) may run only after **both** consumers of $a$ (the
# `Add` and the `Exp`) sent it their part. Generations guarantee this: a consumer is always
# newer than what it consumes, so running nodes from the newest generation down (Python's
# `heapq` keyed by $-$generation: it pops the smallest key first) runs every consumer first:
# a *topological order*. Here is the library's `backward`. To watch it, `backward_steps(loss)`
# runs `loss.backward()` and records each node as it runs: the gradient that reached its output
# and what it sent to each input; `grads_after(steps, k)` gives the gradients the engine holds
# after k steps, and we draw the graph as they fill in.

# %%
print(inspect.getsource(Tensor.backward))
s = c.sum()                             # sum() makes c a scalar loss: one more node on top
names[s] = "s"
steps = backward_steps(s, retain_graph=True)
for k, step in enumerate(steps, 1):
    sent = ", ".join(f"{names[t]} <- {g}" for t, g in zip(step.inputs, step.grad_inputs))
    print(f"step {k}: {step.node.name} (generation {step.node.generation}), got {step.grad_output}, sends {sent}")
add, exp, mul = steps[1:]
exact = (1 + np.exp(x.numpy() ** 2)) * 2 * x.numpy()
assert [step.node.name for step in steps] == ["Sum", "Add", "Exp", "Mul"], "newest generation first"
assert np.allclose(mul.grad_output, add.grad_inputs[0] + exp.grad_inputs[0]), "Mul gets both parts of a's gradient"
assert np.allclose(x.grad, exact) and np.allclose(grads_after(steps)[x], x.grad), "x gets the formula's gradient"
assert np.allclose(mul.grad_inputs[0], mul.grad_inputs[1]), "x * x: each use of x receives gy * x"
if plt is not None:
    for k in range(len(steps) + 1):
        fig = draw_graph(s, names=names, grads=grads_after(steps, k), title=f"gradients after {k} of 4 steps")
        save_figure(fig, f"03_backward_step{k}")

# %% [markdown]
# ## Breaking the engine: no order, no `+=`
#
# Here is a small mirror of the engine's loop that keeps leaf gradients in a dict, with two
# switches to break it. `order="fifo"` runs nodes first come, first served instead of by
# generation. `accumulate=False` overwrites a gradient instead of adding it: for $b = a + a$,
# $\partial b / \partial a = 1 + 1 = 2$, but an engine that assigns keeps only the last use and
# gets 1. (Adding is also why training clears `.grad` between steps, with an optimizer's
# `zero_grad()` in tutorial 4: leaf gradients add up in `.grad` across backward calls too.)

# %%
def mirror_backward(loss, order="heap", accumulate=True):
    """Leaf gradients of loss by the library's algorithm: {id(leaf): gradient}."""
    grads, done, ticket = {}, set(), itertools.count()
    pending = {loss.grad_fn: np.ones(loss.shape, loss.dtype)}
    queue = [(-loss.grad_fn.generation, next(ticket), loss.grad_fn)]
    while queue:
        node = heapq.heappop(queue)[2]  # with key 0 for every node the heap is first come, first served
        gy = pending.pop(node)
        done.add(node)
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


good, bad = mirror_backward(c)[id(x)], mirror_backward(c, order="fifo")[id(x)]
print("library:", x.grad, " mirror:", good, " fifo:", bad)
assert np.allclose(good, x.grad), "the mirror agrees with the library"
assert not np.allclose(bad, exact), "running Mul before Exp sent its part loses the e^a term"
assert np.allclose(bad, 2 * x.numpy()), "fifo kept only the path through c = a + b"
a = Tensor([3.0], requires_grad=True)
b = a + a
wrong, right = mirror_backward(b, accumulate=False)[id(a)], mirror_backward(b)[id(a)]
b.backward()
print("b = a + a, library:", a.grad, " mirror with +=:", right, " mirror with =:", wrong)
assert a.grad.tolist() == [2.0] and right.tolist() == [2.0], "two uses of a: the gradients 1 + 1 add up to 2"
assert wrong.tolist() == [1.0], "overwriting keeps one use only"

# %% [markdown]
# ## Deep graphs: why the walk is a loop, not a recursion
#
# A recursive depth-first search (as in micrograd, a tiny teaching autograd) also finds a
# topological order, but each level of the graph is one Python call on the stack, and Python
# stops at `sys.getrecursionlimit()` calls (1000 by default): a chain of a few thousand ops
# crashes it. The library's heap loop has no stack to overflow.

# %%
def recursive_order(t, order, seen):
    """Nodes in topological order by recursive depth-first search."""
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
# Once a node has run, `backward` frees what its forward saved (most of a network's memory),
# unless `retain_graph=True`. A backward through a freed graph raises a clear error; one
# through a retained graph *adds* the same gradient again.

# %%
x = Tensor([2.0], requires_grad=True)
loss = x * x * x                        # d/dx x^3 = 3x^2 = 12
loss.backward(retain_graph=True)
loss.backward()                         # this one frees the graph
assert x.grad.tolist() == [24.0], "with retain_graph=True the second backward adds 12 again"
message = error_of(loss.backward)
print("backward on the freed graph:", message)
assert message is not None and "second time" in message and "retain_graph=True" in message, \
    f"the error should say it is a second backward and suggest retain_graph=True: {message}"

# %% [markdown]
# ## Broadcasting sums the gradient back
#
# In a layer $Z = XW + \mathbf{b}$ ($W$ stored as $(D, C)$, the transpose of tutorial 2's),
# broadcasting uses the bias (shape $(C,)$) in every row of the batch, so (a fan-out again)
# its gradient is the sum over the rows,
# as `Add.backward` does with `sum_to`. With tutorial 2's leaky ReLU (slope 0.02) and the loss
# $L = \sum R \odot Y$: by hand, $G = R \odot \text{leaky}'(Z)$, $\partial L/\partial W = X^T G$
# and $\partial L/\partial \mathbf{b} = \sum_n G_{n,:}$. The engine, step by step, and the graph
# with every gradient that flowed:

# %%
print(inspect.getsource(sum_to))
g = np.arange(6.0).reshape(2, 3)
assert sum_to(g, (3,)).tolist() == [3.0, 5.0, 7.0], "a (3,) input used by two rows: sum the rows"
assert sum_to(g, (2, 1)).tolist() == [[3.0], [12.0]], "a (2, 1) input used by three columns: sum the columns"
rng = np.random.default_rng(0)
X, R = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((4, 2)))     # float64 arrays
W, bias = Tensor(rng.standard_normal((3, 2)), requires_grad=True), Tensor(rng.standard_normal(2), requires_grad=True)
XW = X @ W
Z = XW + bias
Y = Z.leaky_relu(0.02)
P = Y * R
L = P.sum()
names = {t: name for name, t in dict(X=X, R=R, W=W, bias=bias, XW=XW, Z=Z, Y=Y, P=P, L=L).items()}
steps = backward_steps(L, retain_graph=True)
for step in steps:
    sent = ", ".join(f"{names[t]} {'nothing' if g is None else g.shape}" for t, g in zip(step.inputs, step.grad_inputs))
    print(f"{step.node.name:<9} got a gradient of shape {step.grad_output.shape}, sends to {sent}")
add, G = steps[3], R.numpy() * np.where(Z.numpy() > 0, 1.0, 0.02)
assert np.allclose(W.grad, X.numpy().T @ G) and np.allclose(bias.grad, G.sum(axis=0)), "= tutorial 2's formulas"
assert add.node.name == "Add" and np.allclose(add.grad_inputs[1], add.grad_output.sum(axis=0)), "bias: rows summed"
assert steps[1].grad_inputs[1] is None, "R is a constant: Mul sends it nothing"
assert np.allclose(grads_after(steps)[W], W.grad) and bias.grad.shape == (2,), "the steps add up to .grad"
if plt is not None:
    save_figure(draw_graph(L, names=names, grads=grads_after(steps), title="all gradients"), "03_linear_layer")

# %% [markdown]
# ## The version counter: no optimizer step between forward and backward
#
# An optimizer (tutorial 4) changes the weights in place, after backward: `SGD(...).step()` does
# `w -= lr * w.grad`. `Mul` saved its inputs' arrays; had a step changed one since forward, backward
# would silently use the *new* values. So every in-place change bumps the tensor's version counter,
# each node records its inputs' versions, and backward refuses when they differ.

# %%
w = Tensor([1.0, 2.0], requires_grad=True)
w.grad = np.ones(2, np.float32)         # as if an earlier backward had run
loss = (w * w).sum()                    # forward at the old w
SGD([w], lr=0.1).step()                 # w changes in place: version 0 -> 1
message = error_of(loss.backward)
print("backward after step:", message)
assert message is not None and "changed in place" in message and w._version == 1, \
    f"backward should refuse an input changed in place since forward: {message}"

# %% [markdown]
# ## What we saw
#
# A tensor keeps `grad_fn`, a node its `inputs` and what forward saved. `backward()` runs nodes newest
# generation first, so each gets its full gradient once; gradients **add** at fan-out and broadcasting;
# a loop, not recursion; the graph is freed unless `retain_graph=True`; in-place changes are refused.


# %%
# Backward, replayed: the first section's graph in a page of its own (tutorial_figures/03_replay.html, open it in
# a browser) whose buttons, slider or arrow keys walk the engine's steps: the node that runs, the gradient it
# receives, what it sends each input, and the sum where the two paths from a meet. The last step shows x.grad.
x = Tensor([0.5, -1.0], requires_grad=True)
a = x * x
b = a.exp()
s = (a + b).sum()
replay = replay_html(s, "tutorial_figures/03_replay.html", names={x: "x", a: "a", b: "b", s: "s"})
print("replay:", replay)
assert np.allclose(x.grad, (1 + np.exp(x.numpy() ** 2)) * 2 * x.numpy()), "the replay ran the library's backward"
if "ipykernel" in sys.modules:          # in a notebook (and on the website): the page, inline
    from IPython.display import IFrame, display
    display(IFrame(str(replay), width="100%", height=460))
