"""graph.replay_html: backward replayed step by step in a self-contained page, checked in the page's data
and in Debian's chromium (skipped, saying why, where chromium or playwright is missing)."""
import json
import re

import numpy as np
import pytest

from tinygrad_dl1 import Tensor
from tinygrad_dl1.graph import backward_steps, replay_html
from tinygrad_dl1.site import browser


def diamond():
    """s = sum(a + exp(a * w)) with a = x * x: x used twice by one Mul, a by Add and by the second Mul,
    w a constant. Returns s, x and the tensors by name."""
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    w = Tensor(np.array([2.0, 3.0]))
    a = x * x
    b = (a * w).exp()
    s = (a + b).sum()
    return s, x, {"x": x, "w": w, "a": a, "b": b, "s": s}


def written(tmp_path):
    """diamond()'s replay: the page's text, its frames, {tensor name: its key in the page}, and x."""
    s, x, named = diamond()
    path = replay_html(s, tmp_path / "sub" / "replay.html", names={t: n for n, t in named.items()})
    text = path.read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="replay-data">(.*?)</script>', text, flags=re.S)
    keys = dict((name, key) for key, name in re.findall(r'<g class="tensor" id="(t\d+)" data-name="([^"]*)"', text))
    return path, text, json.loads(data.group(1).replace("<\\/", "</"))["frames"], keys, x


def engine_order():
    """(op, the name of its output) for each step of the library's own backward on a fresh diamond()."""
    s, _, named = diamond()
    names = {id(t): name for name, t in named.items()}
    return [(step.node.name, names.get(id(step.output))) for step in backward_steps(s)]


def shown(array):
    """How the page shows a small array's values (4 significant digits)."""
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(array).tolist()) + "]"


def test_the_page_is_self_contained_and_follows_the_engine(tmp_path):
    path, text, frames, _, x = written(tmp_path)
    assert "<svg" in text and not re.search(r'(src|href)="(https?:)?//', text), "inline SVG, nothing fetched"
    order = engine_order()
    assert len(frames) == len(order) + 1, "a frame before backward, then one per step"
    for frame, (op, output) in zip(frames[1:], order):
        made = f"it made {output})" if output else "it made ("
        assert f"{op} runs" in frame["title"] and made in frame["title"], (frame["title"], op, output)
    w = np.array([2.0, 3.0])                       # ds/dx = (1 + w exp(w x^2)) 2x
    assert np.allclose(x.grad, (1 + w * np.exp(w * x.numpy() ** 2)) * 2 * x.numpy()), "the replay ran backward"


def test_captions_name_the_sum_where_two_gradients_meet_and_the_last_shows_grad(tmp_path):
    _, _, frames, keys, x = written(tmp_path)
    lines = [line for frame in frames for line in frame["lines"]]
    meets = [line for line in lines if "two paths meet" in line]
    assert [line.split()[2] for line in meets] == ["a", "x"], "a from Add and Mul, x from both uses in x * x"
    assert any("It sends w nothing" in line for line in lines), "w is a constant: it gets nothing"
    assert frames[-1]["grads"][keys["x"]] == shown(x.grad), "the last frame shows x.grad"
    assert keys["x"] not in frames[0]["grads"], "before backward, x has no gradient yet"


def test_bad_arguments_are_refused_as_backward_refuses_them(tmp_path):
    with pytest.raises(RuntimeError):
        replay_html(Tensor([1.0, 2.0]).sum(), tmp_path / "r.html")   # nothing requires grad
    assert not (tmp_path / "r.html").exists()


# ----- in the browser -----
def test_stepping_walks_backward_in_the_engines_order(chromium, tmp_path, screenshots):
    path, _, _, keys, x = written(tmp_path)
    page = browser.open_page(chromium, path.as_uri(), width=1300, height=700)
    order = engine_order()
    assert "Before backward" in page.inner_text("#step-title") and page.locator(".running").count() == 0
    seen = []
    for k in range(1, len(order) + 1):
        page.click("#next")
        running = page.locator("g.op.running")
        assert running.count() == 1, f"step {k}: one node highlighted"
        seen.append((running.get_attribute("data-name"), page.inner_text("#step-title")))
        if k == 2:
            page.screenshot(path=str(screenshots / "replay-step2.png"))
    for (node, title), (op, output) in zip(seen, order):
        assert node == op and f"{op} runs" in title and f"it made {output or '('}" in title, (node, title, op)
    assert page.locator("#next").is_disabled(), "the last step is the end"
    grad_text = page.text_content(f'g#{keys["x"]} .grad')
    assert grad_text == "grad " + shown(x.grad), (grad_text, x.grad)
    page.screenshot(path=str(screenshots / "replay-last-step.png"))
    page.fill("#slider", "0")                     # the slider goes back to the start
    page.dispatch_event("#slider", "input")
    assert page.locator(".running").count() == 0 and page.text_content(f'g#{keys["x"]} .grad') == ""
    page.keyboard.press("ArrowRight")
    assert page.locator("g.op.running").get_attribute("data-name") == order[0][0], "the arrow key steps on"
    assert page.problems == [], page.problems
