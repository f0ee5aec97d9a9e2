"""Pictures of the computation graph, and backward watched node by node.

- ``to_dot(t)``: the graph behind ``t`` as DOT text, graphviz's language: a box per tensor (its
  name, shape, dtype, a summary of its data and of its gradient), an ellipse per op, and arrows
  input -> op -> output. Blue boxes are leaves that require grad, grey ones constants.
- ``draw_graph(t)``: a picture of that graph, by graphviz's ``dot`` program when it is installed,
  else by matplotlib (a simple layout in columns: leaves on the left, ``t`` on the right).
- ``backward_steps(loss)``: runs the library's own ``loss.backward()`` and records each node as
  it runs (the gradient that reached its output, the gradients it sent to its inputs);
  ``grads_after(steps, k)`` gives the gradients the engine holds after its first k steps, to
  draw the graph as they fill in.
- ``replay_html(loss, path)``: runs backward the same way and writes a self-contained HTML page that
  replays it, the graph as SVG and a slider through the steps in the engine's order.

Tensors are named with a dict ``names``: {tensor: "name"} or {id(tensor): "name"}.
"""
import html
import io
import json
import shutil
import subprocess
from collections import Counter, namedtuple
from pathlib import Path

import numpy as np

from . import backend
from .plot import have_matplotlib

FEW = 4                    # an array of at most this many elements is shown in full, a larger one as statistics
COLORS = {"leaf": "lightblue", "const": "lightgrey", "tensor": "white", "op": "lightyellow"}


# ----- the graph -----
def _graph(root, depth=None):
    """The tensors and op nodes behind ``root``, in the order a breadth-first walk from root meets
    them, and the edges (source, target) between them, one per use. A loop, not a recursion.
    With ``depth``, only the ops at most ``depth`` ops from root: the walk stops at the tensors past them."""
    tensors, ops, edges, seen = [root], [], [], {id(root)}
    level = {id(root): 0}                  # ops between root and each tensor, the fewest
    for t in tensors:                      # the list grows while we walk it: it is the queue
        node = t.grad_fn
        if node is None or (depth is not None and level[id(t)] >= depth):
            continue
        ops.append(node)                   # each node has one output, so it is met once
        for x in node.inputs:              # () once backward has freed the node
            edges.append((x, node))
            if id(x) not in seen:
                seen.add(id(x))
                level[id(x)] = level[id(t)] + 1
                tensors.append(x)
        edges.append((node, t))
    return tensors, ops, edges


def _by_id(mapping):
    """``mapping`` keyed by id(tensor), whether it was keyed by tensor or by id already."""
    return {key if isinstance(key, int) else id(key): value for key, value in (mapping or {}).items()}


def _summary(array):
    """Short text for an array: its values when it has a few, else mean, std, min and max."""
    a = backend.to_numpy(array)
    if a.size == 0:
        return "empty"
    if a.size <= FEW:
        values = ", ".join(f"{v:.4g}" for v in a.ravel().tolist())
        return values if a.ndim == 0 else f"[{values}]"
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    return f"mean {a.mean():.3g} std {a.std():.3g}\nmin {a.min():.3g} max {a.max():.3g}"


def _kind(t):
    if t.grad_fn is not None:
        return "tensor"
    return "leaf" if t.requires_grad else "const"


def _tensor_label(t, name, grad):
    lines = [] if name is None else [str(name)]
    lines.append(f"{tuple(t.shape)} {t.dtype}")
    lines.append("data " + _summary(t.data))
    if grad is not None:
        lines.append("grad " + _summary(grad))
    return "\n".join(lines)


def _op_label(node):
    return f"{node.name}\n(freed by backward)" if node.released else node.name


def _labels(tensor, names, grads, depth=None):
    """The graph (up to ``depth`` ops from ``tensor``), with an id (t0, t1, ... op0, ...) and a label for each
    tensor and op. ``grads`` (keyed like ``names``) replaces the tensors' ``.grad`` when given."""
    tensors, ops, edges = _graph(tensor, depth)
    names, shown = _by_id(names), (None if grads is None else _by_id(grads))
    key, label = {}, {}
    for i, t in enumerate(tensors):
        grad = t.grad if shown is None else shown.get(id(t))
        key[id(t)], label[id(t)] = f"t{i}", _tensor_label(t, names.get(id(t)), grad)
    for i, node in enumerate(ops):
        key[id(node)], label[id(node)] = f"op{i}", _op_label(node)
    return tensors, ops, edges, key, label


def _quote(text):
    """``text`` as a DOT string: quoted, with backslashes, quotes and newlines escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor, names=None, grads=None, title=None, depth=None):
    """The graph behind ``tensor`` as DOT text (``digraph``), the same text for the same graph.

    names: {tensor: "name"} or {id(tensor): "name"}, for the tensors you want named.
    grads: gradients to show, keyed the same way, in place of each tensor's ``.grad`` (for
    instance ``grads_after(steps, k)``); by default ``.grad`` is shown where it is set.
    title: a line written above the graph.
    depth: only the ops at most this many ops from ``tensor`` (all by default).
    """
    tensors, ops, edges, key, label = _labels(tensor, names, grads, depth)
    lines = ["digraph {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    if title is not None:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    for t in tensors:
        lines.append(f'  {key[id(t)]} [shape=box, style=filled, fillcolor="{COLORS[_kind(t)]}", '
                     f"label={_quote(label[id(t)])}];")
    for node in ops:
        lines.append(f'  {key[id(node)]} [shape=ellipse, style=filled, fillcolor="{COLORS["op"]}", '
                     f"label={_quote(label[id(node)])}];")
    lines += [f"  {key[id(source)]} -> {key[id(target)]};" for source, target in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----- the picture -----
def _run_dot(dot, text, fmt, file=None):
    """Run graphviz on the DOT ``text``: the picture's bytes, or written into ``file``."""
    command = [dot, f"-T{fmt}"] + ([] if file is None else ["-o", str(file)])
    result = subprocess.run(command, input=text.encode(), capture_output=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"graphviz's dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _layout(tensors, ops, edges):
    """(column, row) of each tensor and op, keyed by id. An op of generation g sits in column 2g + 1,
    its output in column 2g + 2, and a leaf just left of the first op that uses it, so every arrow
    points right. Rows are filled from the right: each item goes to the mean row of what consumes
    it, at least one row from its neighbour, and the column then moves back to where its items
    wished to be."""
    consumers = {id(item): [] for item in [*tensors, *ops]}
    for source, target in edges:
        consumers[id(source)].append(id(target))
    column = {id(node): 2 * node.generation + 1 for node in ops}
    for t in tensors:
        if t.grad_fn is not None and id(t.grad_fn) in column:   # not where a depth cut the graph
            column[id(t)] = column[id(t.grad_fn)] + 1
        else:
            column[id(t)] = min([column[c] for c in consumers[id(t)]], default=1) - 1
    by_column = {}
    for item in column:                     # walk order: the same graph gets the same picture
        by_column.setdefault(column[item], []).append(item)
    row = {}
    for c in sorted(by_column, reverse=True):
        wish = {item: float(np.mean([row[d] for d in consumers[item]])) if consumers[item] else 0.0
                for item in by_column[c]}
        items = sorted(by_column[c], key=wish.get)
        placed = [wish[items[0]]]
        for item in items[1:]:
            placed.append(max(wish[item], placed[-1] + 1.0))
        shift = np.mean([wish[item] for item in items]) - np.mean(placed)
        row.update({item: y + shift for item, y in zip(items, placed)})
    return column, row


def _size(text, fontsize):
    """Roughly the width and height of ``text`` in inches (about 0.6 em per character)."""
    lines = text.split("\n")
    return max(map(len, lines)) * fontsize * 0.6 / 72, len(lines) * fontsize * 1.25 / 72


def _draw_columns(ax, tensors, ops, edges, label):
    """Draw the graph into the matplotlib Axes ``ax``, in inches; the size it takes, in inches."""
    column, row = _layout(tensors, ops, edges)
    fontsize = {id(t): 8 for t in tensors} | {id(node): 9 for node in ops}
    size = {item: _size(label[item], fontsize[item]) for item in column}
    width = {}                              # each column as wide as its widest label
    for item, c in column.items():
        width[c] = max(width.get(c, 0.0), size[item][0] + 0.3)
    x, left = {}, 0.0                       # the columns, 0.4 inch apart
    for c in sorted(width):
        x[c], left = left + width[c] / 2, left + width[c] + 0.4
    step = max(h for _, h in size.values()) + 0.4    # one row: the tallest label and a gap
    xy = {item: (x[column[item]], -step * row[item]) for item in column}
    boxes = {}
    for t in tensors:
        style = dict(boxstyle="square,pad=0.4", fc=COLORS[_kind(t)], ec="black")
        boxes[id(t)] = ax.text(*xy[id(t)], label[id(t)], ha="center", va="center", fontsize=8, bbox=style)
    for node in ops:
        style = dict(boxstyle="round,pad=0.4,rounding_size=0.8", fc=COLORS["op"], ec="black")
        boxes[id(node)] = ax.text(*xy[id(node)], label[id(node)], ha="center", va="center", fontsize=9, bbox=style)
    uses = Counter()
    for source, target in edges:
        (x0, y0), (x1, y1) = xy[id(source)], xy[id(target)]
        skips = column[id(target)] - column[id(source)] > 1
        # an arrow that skips columns bends (about half an inch) around what lies between, and so
        # does a second one between the same two (b = a + a)
        bend = 0.3 * uses[id(source), id(target)] + (min(0.3, 1.0 / np.hypot(x1 - x0, y1 - y0)) if skips else 0)
        uses[id(source), id(target)] += 1
        ax.annotate("", xy=xy[id(target)], xytext=xy[id(source)],
                    arrowprops=dict(arrowstyle="-|>", color="0.3", connectionstyle=f"arc3,rad={bend}",
                                    patchA=boxes[id(source)].get_bbox_patch(),
                                    patchB=boxes[id(target)].get_bbox_patch()))
    ys = [y for _, y in xy.values()]
    ax.set_xlim(-0.1, left - 0.3)
    ax.set_ylim(min(ys) - step / 2 - 0.1, max(ys) + step / 2 + 0.1)
    ax.axis("off")
    return min(left - 0.2, 60), min(max(ys) - min(ys) + step + 0.2, 60)


MAX_DRAWN_OPS = 1000    # about 12 s to draw with matplotlib; 100,000 would take half an hour


def draw_graph(tensor, file=None, names=None, grads=None, title=None, ax=None, depth=None, max_ops=MAX_DRAWN_OPS):
    """Draw the graph behind ``tensor`` (``names``, ``grads``, ``title`` and ``depth`` as in ``to_dot``).

    Graphviz's ``dot`` program lays it out when it is on the PATH; without it, matplotlib draws it
    in columns, leaves on the left and ``tensor`` on the right (fine for the small graphs of a
    lesson, crowded for big ones).
    With ``file`` (a path; its suffix, .png, .svg or .pdf, gives the format) the picture is written
    there and its Path returned; otherwise (or when ``ax``, a matplotlib Axes, is given to draw
    into) the matplotlib Figure is returned.
    A graph of more than ``max_ops`` ops (up to ``depth``) is refused before drawing, with its size:
    pass ``depth=`` to draw the ops nearest ``tensor``, or ``max_ops=None`` to wait for all of it.
    """
    if max_ops is not None:
        n_ops = len(_graph(tensor, depth)[1])
        if n_ops > max_ops:
            within = "" if depth is None else f" up to depth {depth}"
            raise ValueError(f"draw_graph: the graph has {n_ops:,} ops{within}, more than max_ops={max_ops:,} "
                             "(drawing takes about 10 ms an op); pass depth=N to draw the ops at most N ops "
                             "from the tensor, or max_ops=None to draw them all")
    dot = shutil.which("dot")
    fmt = (Path(file).suffix.lstrip(".") if file is not None else "") or "png"
    if file is not None and ax is None and dot:
        _run_dot(dot, to_dot(tensor, names, grads, title, depth), fmt, file)
        return Path(file)
    if not have_matplotlib() and dot:
        raise RuntimeError("without matplotlib (pip install matplotlib), draw_graph can only write the picture "
                           "into a file: pass file='graph.png'")
    if not have_matplotlib():
        raise RuntimeError("draw_graph needs graphviz's dot program (https://graphviz.org/download/, e.g. "
                           "apt-get install graphviz) or matplotlib (pip install matplotlib), and neither is "
                           "installed; to_dot(tensor) gives the graph as DOT text without either")
    import matplotlib.pyplot as plt

    if dot:                                 # graphviz's layout, shown as an image
        image = plt.imread(io.BytesIO(_run_dot(dot, to_dot(tensor, names, grads, title, depth), "png")),
                           format="png")
        size = (min(image.shape[1] / 100, 60), min(image.shape[0] / 100, 60))
        fig = ax.figure if ax is not None else plt.figure(figsize=size)
        ax = ax if ax is not None else fig.add_axes([0, 0, 1, 1])
        ax.imshow(image)
        ax.axis("off")
    else:
        tensors, ops, edges, _, label = _labels(tensor, names, grads, depth)
        fig = ax.figure if ax is not None else plt.figure()
        size = _draw_columns(ax if ax is not None else fig.add_axes([0, 0, 1, 1]), tensors, ops, edges, label)
        if ax is None:
            fig.set_size_inches(*size)
            if title is not None:
                fig.suptitle(title)
        elif title is not None:
            ax.set_title(title)
    if file is None:
        return fig
    fig.savefig(file, format=fmt, dpi=100, bbox_inches="tight")
    if ax is None:
        plt.close(fig)
    return Path(file)


# ----- backward, node by node -----
Step = namedtuple("Step", "node output grad_output inputs grad_inputs")
Step.__doc__ = """One node of a backward pass: ``node`` (the op) ran with ``grad_output``, the complete
gradient of the loss w.r.t. its ``output`` tensor, and sent ``grad_inputs[i]`` to ``inputs[i]`` (None for
an input that needs no gradient). The arrays are NumPy copies."""


def backward_steps(tensor, grad=None, retain_graph=False):
    """Run ``tensor.backward(grad, retain_graph)``, the library's own, and return its nodes as they
    ran: a list of ``Step``, in the engine's order. The ``.grad`` of the leaves is filled in as by
    ``backward``. Pass ``retain_graph=True`` to draw the graph afterwards (backward frees it)."""
    tensors, _, _ = _graph(tensor)
    output_of = {t.grad_fn: t for t in tensors if t.grad_fn is not None}
    steps = []

    def watch(node):
        run = node.run                      # runs the op's backward (or its fast path's), bound to this node

        def run_watched(name, *args):
            if name != "backward":
                return run(name, *args)
            gy, inputs = args[0], node.inputs       # inputs read before the engine frees the node
            grads = run(name, gy)
            sent = grads if isinstance(grads, tuple) else (grads,)
            # what the engine keeps: nothing for an input that needs no gradient, the rest in its dtype
            kept = tuple(None if g is None or not x.requires_grad else backend.to_numpy(g).astype(x.dtype)
                         for x, g in zip(inputs, sent))
            steps.append(Step(node, output_of[node], np.array(backend.to_numpy(gy)), inputs, kept))
            return grads

        node.run = run_watched              # set on this node only: the engine's call node.run("backward", gy) finds it

    for node in output_of:
        watch(node)
    try:
        tensor.backward(grad, retain_graph=retain_graph)
    finally:
        for node in output_of:              # a node freed by backward has lost it already
            vars(node).pop("run", None)
    return steps


def grads_after(steps, count=None):
    """{tensor: gradient} as the engine holds them after the first ``count`` steps (all by default):
    the seed at the output, and at every other tensor the sum of what has reached it so far (complete
    once all its consumers ran). Leaves count only this pass, not a ``.grad`` from earlier ones."""
    grads = {} if not steps else {steps[0].output: steps[0].grad_output}
    for step in steps[:count]:
        for x, g in zip(step.inputs, step.grad_inputs):
            if g is not None:
                grads[x] = grads[x] + g if x in grads else g
    return grads


# ----- backward, replayed in a browser -----
REPLAY_CHAR_PX, REPLAY_LINE_PX = 7.2, 15      # the page's 12px monospace: the width of a character, a line


def _one_line(array):
    return _summary(array).replace("\n", "; ")


def _replay_frames(tensor, steps, key, names, leaves_grad):
    """The frames of the replay: before backward (the seed at the output), then one per step of the engine.
    Each frame: a title, what the caption says, the keys to highlight, and the gradient text of each tensor."""
    def name(t):
        if id(t) in names:
            return names[id(t)]
        return f"({t.grad_fn.name}'s output)" if t.grad_fn is not None else f"(leaf {key[id(t)]})"

    def shown(grads, done):
        text = {key[id(t)]: _summary(g) for t, g in grads.items()}
        if done:                            # the last frame: the leaves' .grad itself, as backward left it
            text.update({key[id(t)]: _summary(g) for t, g in leaves_grad.items()})
        return text

    seed = steps[0].grad_output if steps else None
    first = {"title": f"Before backward: the seed d{name(tensor)}/d{name(tensor)} = "
                      f"{'nothing to run' if seed is None else _one_line(seed)}",
             "lines": ["The engine starts at the output with a gradient of ones and runs the nodes newest "
                       "generation first, so a node runs only once every consumer of its output has sent its part."],
             "running": None, "output": key[id(tensor)], "inputs": [], "changed": [key[id(tensor)]],
             "grads": shown(grads_after(steps, 0), not steps)}
    frames = [first]
    for k, step in enumerate(steps, 1):
        held = grads_after(steps, k - 1)
        lines = [f"It receives d{name(tensor)}/d{name(step.output)} = {_one_line(step.grad_output)}"]
        changed = []
        for x, g in zip(step.inputs, step.grad_inputs):
            if g is None:
                lines.append(f"It sends {name(x)} nothing ({name(x)} needs no gradient)")
                continue
            changed.append(key[id(x)])
            if x in held:                   # a second path reaches x: the engine adds (+=)
                total = held[x] + g
                lines.append(f"It sends {name(x)} {_one_line(g)}; {name(x)} already held {_one_line(held[x])}: "
                             f"two paths meet, the gradients add: {_one_line(total)}")
                held[x] = total
            else:
                lines.append(f"It sends {name(x)} {_one_line(g)}")
                held[x] = g
        frames.append({"title": f"Step {k} of {len(steps)}: {step.node.name} runs (generation "
                                f"{step.node.generation}, it made {name(step.output)})",
                       "lines": lines, "running": key[id(step.node)], "output": key[id(step.output)],
                       "inputs": [key[id(x)] for x in step.inputs], "changed": changed,
                       "grads": shown(grads_after(steps, k), k == len(steps))})
    return frames


def _replay_svg(tensors, ops, edges, key, names, frames):
    """The graph as SVG: a box per tensor (its label, then room for the gradient the frames show), an ellipse
    per op, a curve per use; laid out in columns as draw_graph's matplotlib picture is."""
    column, row = _layout(tensors, ops, edges)
    lines = {id(t): _tensor_label(t, names.get(id(t)), None).split("\n") for t in tensors}
    lines |= {id(node): [node.name] for node in ops}
    grad_lines = {id(t): max([len(f["grads"].get(key[id(t)], "").split("\n")) for f in frames]) for t in tensors}
    widest = {id(t): max(len(g) for f in frames for g in f["grads"].get(key[id(t)], "").split("\n")) + 5
              for t in tensors}
    size = {}
    for item, text in lines.items():
        chars = max([len(line) for line in text] + [widest.get(item, 0)])
        size[item] = (chars * REPLAY_CHAR_PX + 20, (len(text) + grad_lines.get(item, 0)) * REPLAY_LINE_PX + 14)
    width, x, left = {}, {}, 10.0
    for item, c in column.items():
        width[c] = max(width.get(c, 0.0), size[item][0])
    for c in sorted(width):
        x[c], left = left + width[c] / 2, left + width[c] + 50
    step = max(h for _, h in size.values()) + 30
    top = min(row.values())
    xy = {item: (x[column[item]], 0.7 * step + step * (row[item] - top)) for item in column}   # room for arcs
    height = max(y for _, y in xy.values()) + step / 2 + 10
    out = [f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{left:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {left:.0f} {height:.0f}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    uses = Counter()
    for i, (source, target) in enumerate(edges):
        (x0, y0), (x1, y1) = xy[id(source)], xy[id(target)]
        x0, x1 = x0 + size[id(source)][0] / 2, x1 - size[id(target)][0] / 2
        # a second use of the same input (x * x) curves away, and an arrow that skips columns arcs over them
        bend = 22 * uses[id(source), id(target)] - (0.9 * step if column[id(target)] - column[id(source)] > 1 else 0)
        uses[id(source), id(target)] += 1
        dx = (x1 - x0) / 2
        out.append(f'<path class="edge" id="e{i}" data-from="{key[id(source)]}" data-to="{key[id(target)]}" '
                   f'd="M{x0:.1f},{y0:.1f} C{x0 + dx:.1f},{y0 + bend:.1f} {x1 - dx:.1f},{y1 + bend:.1f} '
                   f'{x1:.1f},{y1:.1f}" marker-end="url(#arrow)"/>')
    for item, is_op in [(t, False) for t in tensors] + [(node, True) for node in ops]:
        k, (cx, cy), (w, h) = key[id(item)], xy[id(item)], size[id(item)]
        if is_op:
            shape = f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" fill="{COLORS["op"]}"/>'
        else:
            shape = (f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                     f'fill="{COLORS[_kind(item)]}"/>')
        y = cy - h / 2 + 7 + REPLAY_LINE_PX * 0.8
        text = "".join(f'<tspan x="{cx:.1f}" y="{y + j * REPLAY_LINE_PX:.1f}">{html.escape(line)}</tspan>'
                       for j, line in enumerate(lines[id(item)]))
        grad = "" if is_op else (f'<text class="grad" x="{cx:.1f}" '
                                 f'y="{y + len(lines[id(item)]) * REPLAY_LINE_PX:.1f}"></text>')
        name = html.escape(item.name if is_op else names.get(id(item)) or k)
        out.append(f'<g class="{"op" if is_op else "tensor"}" id="{k}" data-name="{name}">{shape}'
                   f'<text>{text}</text>{grad}</g>')
    out.append("</svg>")
    return "\n".join(out)


def replay_html(tensor, path, names=None, grad=None, retain_graph=False, title=None):
    """Run ``tensor.backward(grad, retain_graph)`` (the library's own, through ``backward_steps``) and write
    into ``path`` a self-contained HTML page that replays it: the graph as SVG and buttons, a slider and
    the arrow keys that walk the steps in the engine's order. Each step highlights the node that runs, the
    gradient it receives, what it sends to each input, and the sum where a second gradient reaches a
    tensor; the last step shows the leaves' ``.grad``. The page loads nothing from elsewhere.
    ``names`` as in ``to_dot``; returns the Path written. The leaves' ``.grad`` is filled in as by backward."""
    tensors, ops, edges = _graph(tensor)
    names = _by_id(names)
    key = {id(t): f"t{i}" for i, t in enumerate(tensors)} | {id(node): f"op{i}" for i, node in enumerate(ops)}
    steps = backward_steps(tensor, grad, retain_graph)
    leaves_grad = {t: t.grad for t in tensors if t.grad_fn is None and t.grad is not None}
    frames = _replay_frames(tensor, steps, key, names, leaves_grad)
    svg = _replay_svg(tensors, ops, edges, key, names, frames)
    heading = title or f"Backward through {names.get(id(tensor)) or 'the graph'}, step by step"
    data = json.dumps({"frames": frames}).replace("</", "<\\/")     # nothing in it can close the script
    page = (_REPLAY_PAGE.replace("{title}", html.escape(heading)).replace("{svg}", svg)
            .replace("{data}", data).replace("{last}", str(len(frames) - 1))
            .replace("{line_px}", str(REPLAY_LINE_PX)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


_REPLAY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 12px; color: #222; }
h1 { font-size: 17px; margin: 0 0 8px; }
#controls { display: flex; gap: 6px; align-items: center; margin-bottom: 8px; }
#controls input[type=range] { flex: 1; max-width: 420px; }
#caption { background: #f6f6f0; border: 1px solid #ddd; padding: 6px 10px; min-height: 5.5em; }
#step-title { font-weight: 600; }
#caption ul { margin: 4px 0 0; padding-left: 20px; }
#picture { overflow: auto; margin-top: 8px; }
#graph { max-width: 100%; height: auto; }
svg text { font: 12px monospace; text-anchor: middle; fill: #222; }
svg .grad { fill: #a33; font-weight: 600; }
svg rect, svg ellipse { stroke: #444; stroke-width: 1; }
.edge { fill: none; stroke: #888; stroke-width: 1.2; }
.running ellipse { stroke: #e67700; stroke-width: 4; }
.upstream rect { stroke: #e67700; stroke-width: 3; stroke-dasharray: 5 3; }
.downstream rect { stroke: #1864ab; stroke-width: 3; }
.changed .grad { fill: #c92a2a; }
.edge.flowing { stroke: #1864ab; stroke-width: 3; }
</style></head>
<body>
<h1>{title}</h1>
<div id="controls">
<button id="first" title="before backward">&laquo; start</button>
<button id="back" title="one step back (left arrow)">&#x25C0; back</button>
<button id="next" title="one step on (right arrow)">next &#x25B6;</button>
<button id="end" title="after the last step">end &raquo;</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<span id="counter"></span>
</div>
<div id="caption"><div id="step-title"></div><ul id="step-lines"></ul></div>
<div id="picture">{svg}</div>
<script type="application/json" id="replay-data">{data}</script>
<script>
"use strict";
const frames = JSON.parse(document.getElementById("replay-data").textContent).frames;
const slider = document.getElementById("slider");
let frame = 0;
function show(k) {
  frame = Math.max(0, Math.min(frames.length - 1, k));
  const f = frames[frame];
  document.body.dataset.frame = frame;
  slider.value = frame;
  document.getElementById("counter").textContent = frame + " / " + (frames.length - 1);
  document.getElementById("step-title").textContent = f.title;
  const list = document.getElementById("step-lines");
  list.replaceChildren(...f.lines.map(line => {
    const li = document.createElement("li"); li.textContent = line; return li; }));
  for (const cls of ["running", "upstream", "downstream", "changed", "flowing"]) {
    document.querySelectorAll("." + cls).forEach(e => e.classList.remove(cls));
  }
  document.querySelectorAll("g.tensor").forEach(g => {
    const text = g.querySelector(".grad"), x = text.getAttribute("x"), y = parseFloat(text.getAttribute("y"));
    const grad = f.grads[g.id];
    text.replaceChildren(...(grad === undefined ? [] : grad.split("\\n").map((line, i) => {
      const span = document.createElementNS("http://www.w3.org/2000/svg", "tspan");
      span.setAttribute("x", x); span.setAttribute("y", y + {line_px} * i);
      span.textContent = (i === 0 ? "grad " : "") + line; return span; })));
  });
  const mark = (id, cls) => { const e = document.getElementById(id); if (e) e.classList.add(cls); };
  if (f.running) {
    mark(f.running, "running");
    document.querySelectorAll(`.edge[data-to="${f.running}"], .edge[data-from="${f.running}"]`)
      .forEach(e => e.classList.add("flowing"));
  }
  mark(f.output, "upstream");            // its complete gradient goes into the node
  f.inputs.forEach(id => mark(id, "downstream"));   // they get what the node sends
  f.changed.forEach(id => mark(id, "changed"));
  document.getElementById("first").disabled = document.getElementById("back").disabled = frame === 0;
  document.getElementById("next").disabled = document.getElementById("end").disabled = frame === frames.length - 1;
}
document.getElementById("first").onclick = () => show(0);
document.getElementById("back").onclick = () => show(frame - 1);
document.getElementById("next").onclick = () => show(frame + 1);
document.getElementById("end").onclick = () => show(frames.length - 1);
slider.oninput = () => show(parseInt(slider.value, 10));
document.addEventListener("keydown", e => {
  if (e.target === slider) return;       // the slider moves itself with the arrow keys
  if (e.key === "ArrowRight") show(frame + 1);
  if (e.key === "ArrowLeft") show(frame - 1);
});
show(0);
</script>
</body></html>
"""
