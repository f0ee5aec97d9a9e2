"""tinygrad_dl1.graph: the DOT text of a graph, its picture (graphviz or matplotlib), and backward step by step."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinygrad_dl1 import Tensor, graph
from tinygrad_dl1.function import Function
from tinygrad_dl1.graph import backward_steps, draw_graph, grads_after, to_dot
from tinygrad_dl1.optim import SGD

NODE = re.compile(r"^\s+((?:t|op)\d+) \[(.*)\];$")
EDGE = re.compile(r"^\s+(\w+) -> (\w+);$")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')      # a DOT string: escaped quotes and backslashes inside


def parse(text):
    """{node id: its attribute text} and the list of edges of DOT text written by to_dot."""
    lines = text.splitlines()
    nodes = {m[1]: m[2] for m in map(NODE.match, lines) if m}
    edges = [(m[1], m[2]) for m in map(EDGE.match, lines) if m]
    return nodes, edges


def label(attributes):
    """The label of a node, unescaped."""
    quoted = re.search(r'label=("(?:[^"\\]|\\.)*")', attributes)[1][1:-1]
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], quoted)


def node_named(nodes, first_line):
    [key] = [k for k, attributes in nodes.items() if label(attributes).split("\n")[0] == first_line]
    return key


def example():
    """c = a + b with a = x * x and b = exp(a): x feeds Mul twice, a feeds Exp and Add."""
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    a = x * x
    b = a.exp()
    c = a + b
    return x, a, b, c


def test_dot_of_a_known_graph_has_its_nodes_and_edges():
    x, a, b, c = example()
    text = to_dot(c, names={x: "x", a: "a", b: "b", c: "c"})
    assert text.startswith("digraph {") and text.rstrip().endswith("}")
    nodes, edges = parse(text)
    assert len(nodes) == 7 and len(edges) == 8, (nodes, edges)     # 4 tensors, 3 ops; 2 + 1, 1 + 1, 2 + 1 edges
    ops = {label(attributes): key for key, attributes in nodes.items() if "ellipse" in attributes}
    assert sorted(ops) == ["Add", "Exp", "Mul"]
    tx, ta, tb, tc = (node_named(nodes, name) for name in "xabc")
    assert edges.count((tx, ops["Mul"])) == 2 and (ops["Mul"], ta) in edges
    assert {(ta, ops["Exp"]), (ta, ops["Add"]), (tb, ops["Add"]), (ops["Add"], tc)} <= set(edges)
    assert "(2,) float64" in label(nodes[tx]) and "data [0.5, -1]" in label(nodes[tx])


def test_fan_out_is_one_tensor_node_with_two_edges():
    a = Tensor([3.0], requires_grad=True)
    b = a + a
    nodes, edges = parse(to_dot(b, names={id(a): "a", id(b): "b"}))     # names keyed by id work too
    assert len(nodes) == 3 and len(edges) == 3
    ta, tb = node_named(nodes, "a"), node_named(nodes, "b")
    [op] = [key for key in nodes if key not in (ta, tb)]
    assert edges.count((ta, op)) == 2 and edges.count((op, tb)) == 1


def test_the_same_graph_gives_the_same_text():
    first, second = example(), example()
    assert to_dot(first[3], names={first[0]: "x"}) == to_dot(second[3], names={second[0]: "x"})


def test_labels_are_escaped():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2.0
    name = 'say "hi" \\ to\nme'
    text = to_dot(y, names={x: name}, title='a "title"')
    nodes, _ = parse(text)
    assert label(nodes[node_named(nodes, 'say "hi" \\ to')]).startswith(name)
    for line in text.splitlines()[1:-1]:             # each line a statement: no raw newline inside a label
        assert line.endswith(";") and '"' not in QUOTED.sub("", line), line   # every quote inside a DOT string


def test_gradient_summaries_appear_after_backward():
    x, a, b, c = example()
    big = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    loss = c.sum() + (big * big).sum()
    assert "grad" not in to_dot(loss)
    loss.backward(retain_graph=True)
    nodes, _ = parse(to_dot(loss, names={x: "x", big: "big"}))
    x_label, big_label = label(nodes[node_named(nodes, "x")]), label(nodes[node_named(nodes, "big")])
    assert "grad [" + ", ".join(f"{v:.4g}" for v in x.grad) + "]" in x_label, x_label
    g = big.grad
    assert f"grad mean {g.mean():.3g} std {g.std():.3g}\nmin {g.min():.3g} max {g.max():.3g}" in big_label
    assert sum("grad" in label(attributes) for attributes in nodes.values()) == 2, "only leaves keep .grad"


def test_constants_and_non_float_tensors_are_drawn():
    x = Tensor([0.5, -1.0], requires_grad=True)
    y = (x * Tensor([1, 2]) * (x > 0) + 2.0).sum()
    nodes, edges = parse(to_dot(y))
    labels = [label(attributes) for attributes in nodes.values()]
    # the int64 and bool operands meet a float32 tensor: promoted to float32 first, as in PyTorch
    assert sum("float32" in t for t in labels) >= 4 and not any("int64" in t or "bool" in t for t in labels)
    constants = [key for key, attributes in nodes.items() if graph.COLORS["const"] in attributes]
    assert len(constants) == 3 and all(any(source == key for source, _ in edges) for key in constants)


def test_a_graph_freed_by_backward_says_so():
    x, a, b, c = example()
    c.sum().backward()
    nodes, edges = parse(to_dot(c))
    assert len(nodes) == 2 and len(edges) == 1 and "freed by backward" in to_dot(c)


def test_a_deep_chain_works_without_recursion():
    n = 10_000
    w = Tensor(np.array([1.5]), requires_grad=True)
    y = w
    for _ in range(n):
        y = -y
    nodes, edges = parse(to_dot(y))
    assert len(nodes) == 2 * n + 1 and len(edges) == 2 * n
    steps = backward_steps(y)
    assert len(steps) == n and w.grad.tolist() == [(-1.0) ** n]
    assert grads_after(steps)[w].tolist() == w.grad.tolist()


def dot_or_skip():
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("graphviz's dot program is not installed")
    return dot


def test_graphviz_reads_the_dot_text(tmp_path):
    dot = dot_or_skip()
    x, a, b, c = example()
    c.sum().backward(retain_graph=True)
    text = to_dot(c, names={x: 'x "quoted" \\ name', a: "a\nsecond line"}, title="the graph")
    result = subprocess.run([dot, "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().count('class="node"') == len(parse(text)[0])
    path = draw_graph(c, file=tmp_path / "graph.png")
    assert path == tmp_path / "graph.png" and path.read_bytes().startswith(b"\x89PNG")


def without_dot(monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)


def test_matplotlib_draws_it_without_graphviz(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="the fallback picture needs matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    without_dot(monkeypatch)
    x, a, b, c = example()
    steps = backward_steps(c, grad=np.ones(2), retain_graph=True)
    path = draw_graph(c, file=tmp_path / "graph.png", names={x: "x"}, grads=grads_after(steps, 1), title="step 1")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000
    fig = draw_graph(c)
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert sorted(t for t in texts if "\n" not in t and t) == ["Add", "Exp", "Mul"]
        assert len(fig.axes[0].texts) == 7 + 8, "7 boxes and 8 arrows"
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        assert draw_graph(c, ax=ax) is fig and len(ax.texts) == 15
    finally:
        plt.close(fig)


def test_without_graphviz_and_matplotlib_the_error_names_both(monkeypatch):
    without_dot(monkeypatch)
    monkeypatch.setattr(graph, "have_matplotlib", lambda: False)
    x, a, b, c = example()
    with pytest.raises(RuntimeError, match="graphviz") as error:
        draw_graph(c)
    assert "matplotlib" in str(error.value) and "to_dot" in str(error.value)
    assert to_dot(c).startswith("digraph")
    monkeypatch.setattr(graph.shutil, "which", lambda name: "/usr/bin/dot")   # graphviz alone: a file only
    with pytest.raises(RuntimeError, match="file="):
        draw_graph(c)


def test_backward_steps_follow_the_engine_and_add_up_to_grad():
    rng = np.random.default_rng(0)
    X, R = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((4, 2)))

    def loss_of(W, bias):
        Z = X @ W + bias                     # bias broadcast over the rows
        return ((Z.leaky_relu(0.02) * R).sum() + (Z * Z).mean()) * W.sum()

    W0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    W, bias = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    loss = loss_of(W, bias)
    steps = backward_steps(loss, retain_graph=True)
    W_ref, b_ref = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    loss_of(W_ref, b_ref).backward()
    assert W.dtype == np.float64 and np.allclose(W.grad, W_ref.grad) and np.allclose(bias.grad, b_ref.grad)

    generations = [step.node.generation for step in steps]
    assert generations == sorted(generations, reverse=True), "newest generation first"
    tensors, ops, _ = graph._graph(loss)
    assert len(steps) == len(ops) and {id(step.node) for step in steps} == {id(node) for node in ops}
    # each node runs once all its consumers have run: its incoming gradient is the sum of what they sent
    for k, step in enumerate(steps):
        assert step.output.grad_fn is step.node
        sent = grads_after(steps, k).get(step.output)
        assert np.allclose(step.grad_output, 1.0 if k == 0 else sent), step.node
    final = grads_after(steps)
    assert np.allclose(final[W], W.grad) and np.allclose(final[bias], bias.grad)
    assert grads_after(steps, 0) == {loss: steps[0].grad_output}, "before any step: the seed only"
    assert all(g is None for x, g in zip(steps[-1].inputs, steps[-1].grad_inputs) if not x.requires_grad)
    assert all("backward" not in vars(node) for node in ops), "the nodes are left as they were"
    loss.backward()                          # the graph was retained: a second pass adds the same again
    assert np.allclose(W.grad, 2 * W_ref.grad)


def test_backward_steps_clean_up_when_backward_fails():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.grad = np.ones(2, dtype=w.dtype)
    SGD([w], lr=0.1).step()                  # w changes in place after the forward pass
    with pytest.raises(RuntimeError, match="changed in place"):
        backward_steps(loss)
    assert all("backward" not in vars(node) for node in graph._graph(loss)[1])


def test_backward_steps_record_nothing_for_inputs_that_need_no_gradient():
    class Plus(Function):                    # returns a gradient for every input, wanted or not
        def forward(self, a, b):
            return a + b

        def backward(self, gy):
            return gy, gy

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    [step] = backward_steps(Plus()(x, Tensor(np.array([3.0, 4.0]))), grad=np.array([0.5, 2.0]))
    assert step.grad_inputs[1] is None and step.grad_inputs[0].tolist() == [0.5, 2.0] == x.grad.tolist()
