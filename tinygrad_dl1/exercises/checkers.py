"""Checkers for the exercises: your function against the library's, on random float64 cases, with a
table of the comparisons and, where an output is wrong, the likely mistake named.

Each ``check_...(student_fn, seed=0, verbose=True)`` builds a few cases (random shapes, not
square, so that a missing transpose shows; batches of more than one example), computes the
reference with the library (its autograd, ``Tensor.backward``, or its optimizers), calls
``student_fn`` on copies of the inputs, compares every output (``diagnosis.compare``), prints
the table and returns a ``Report``: ``.passed``, ``.text`` (what was printed), ``.mistakes``
(the names of the mistakes diagnosed) and ``.rows``.

A NotImplementedError raised by ``student_fn`` (an exercise not written yet) passes through
unchanged; any other exception becomes a row of the table, with the case's shapes.
"""
import copy
import textwrap
from dataclasses import dataclass, field

import numpy as np

from .. import optim
from ..nn import functional as F
from ..ops.im2col import im2col as library_im2col
from ..ops.im2col import output_size
from ..tensor import Tensor
from .diagnosis import THRESHOLDS, Row, WrongAnswer, compare

COLUMNS = ("case", "output", "shape", "exact", "allclose", "max abs diff", "rel error", "verdict")


@dataclass
class Output:
    """One value the student's function returns, its reference, and what helps diagnose it (see ``compare``)."""
    name: str
    reference: np.ndarray
    wrong_answers: list = field(default_factory=list)
    terms: dict | None = None
    others: dict | None = None
    baseline: np.ndarray | None = None


@dataclass
class Case:
    """The inputs of one call of the student's function, and the outputs it should return."""
    label: str                      # the inputs' shapes, printed above the table
    args: tuple
    kwargs: dict
    outputs: list
    batch_size: int | None = None
    split: object = None            # the return value -> one value per output; None: ``split_outputs``


@dataclass
class Report:
    title: str
    rows: list
    text: str

    @property
    def passed(self):
        return bool(self.rows) and all(row.correct for row in self.rows)

    @property
    def mistakes(self):
        """The names of the diagnosed mistakes, each once, in the order of the rows."""
        return list(dict.fromkeys(mistake for row in self.rows for mistake in row.mistakes))

    def __str__(self):
        return self.text


# ----- the building block that every checker shares -----

def check(title, student_fn, cases, verbose=True):
    """Run ``student_fn`` on every case, compare its outputs, print the table (when ``verbose``): a Report.

    ``student_fn`` is a function, called here, or anything with a ``call_all(calls)`` method that returns
    what each call did (``sandbox.Sandboxed``: the function called in a process of its own)."""
    calls = [(case.args, case.kwargs) for case in cases]
    results = student_fn.call_all(calls) if hasattr(student_fn, "call_all") else call_here(student_fn, calls)
    rows = []
    for number, (case, result) in enumerate(zip(cases, results), 1):
        rows += rows_of_case(str(number), case, result)
    text = format_report(title, cases, rows)
    if verbose:
        print(text)
    return Report(title, rows, text)


def call_here(student_fn, calls):
    """What each call did, ('returned', value) or ('raised', text), calling ``student_fn`` in this process
    on copies of the inputs (the student may change them in place). A NotImplementedError passes through."""
    results = []
    for args, kwargs in calls:
        args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        try:
            results.append(("returned", student_fn(*args, **kwargs)))
        except NotImplementedError:
            raise
        except Exception as error:
            results.append(("raised", f"{type(error).__name__}: {error}"))
    return results


def rows_of_case(number, case, result):
    """The rows of one case: one per output, or one saying why there are none."""
    kind, result = result
    if kind == "raised":
        return [Row(number, "(call)", "-", verdict="error", mistakes=("raised an exception",),
                    hint=f"{result} (inputs: {case.label})")]
    names = [output.name for output in case.outputs]
    try:
        values = (case.split or split_outputs)(result, names)
    except ValueError as error:
        return [Row(number, "(returned)", "-", verdict="wrong output", mistakes=("wrong number of outputs",),
                    hint=str(error))]
    return [compare(output.name, value, output.reference, number, case.batch_size, output.wrong_answers,
                    output.terms, others=output.others, baseline=output.baseline)
            for output, value in zip(case.outputs, values)]


def describe(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    if isinstance(value, np.ndarray):
        return f"one array of shape {value.shape}"
    return f"a {type(value).__name__}"


def split_outputs(result, names):
    """One value per name: the result itself for one name, else a tuple (or list) of len(names) values."""
    if len(names) == 1:
        return [result]
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise ValueError(f"expected {len(names)} values ({', '.join(names)}), got {describe(result)}")
    return list(result)


def split_mlp(result, names):
    """(loss, grad_weights, grad_biases), two lists of one array per layer -> [loss, *grad_weights, *grad_biases]."""
    layers = (len(names) - 1) // 2
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ValueError(f"expected (loss, grad_weights, grad_biases), got {describe(result)}")
    loss, grad_weights, grad_biases = result
    for what, values in (("grad_weights", grad_weights), ("grad_biases", grad_biases)):
        if not isinstance(values, (tuple, list)) or len(values) != layers:
            raise ValueError(f"expected {what} to be a list of {layers} arrays, one per layer, got {describe(values)}")
    return [loss, *grad_weights, *grad_biases]


def with_others(outputs):
    """Give each output the references of the others, to spot the gradient of the wrong input."""
    for output in outputs:
        output.others = {other.name: other.reference for other in outputs if other is not output}
    return outputs


def cells(row):
    def yes_no(flag):
        return "-" if flag is None else ("yes" if flag else "no")

    def number(value):
        return "-" if value is None else f"{value:.1e}"
    return (row.case, row.name, row.shape, yes_no(row.exact), yes_no(row.close), number(row.max_abs_diff),
            number(row.rel_error), row.verdict)


def wrap(text, indent="  "):
    return textwrap.wrap(text, width=110, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False)


def format_report(title, cases, rows):
    """The printed report: title, thresholds, the cases' inputs, the table, the diagnoses, a summary."""
    lines = [title, *wrap(THRESHOLDS, indent=""), ""]
    lines += [f"case {number}: {case.label}" for number, case in enumerate(cases, 1)] + [""]
    table = [COLUMNS] + [cells(row) for row in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(COLUMNS))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    # one diagnosis per output and hint, naming every case where it shows
    groups = {}
    for row in rows:
        if not row.correct:
            groups.setdefault((row.name, row.mistakes, row.hint), []).append(row)
    if groups:
        lines += ["", "diagnoses:"]
    for group in groups.values():
        first = group[0]
        where = ("case " if len(group) == 1 else "cases ") + ", ".join(row.case for row in group)
        mistakes = f"{', '.join(first.mistakes)}. " if first.mistakes else ""
        lines += wrap(f"{where}, {first.name}: {mistakes}{first.hint}")
    wrong = sum(not row.correct for row in rows)
    lines.append("")
    if not wrong:
        lines.append(f"PASSED: all {len(rows)} outputs of the {len(cases)} cases are correct.")
    else:
        found = list(dict.fromkeys(mistake for row in rows for mistake in row.mistakes))
        lines.append(f"FAILED: {wrong} of {len(rows)} rows are not correct."
                     + (f" Likely mistakes: {', '.join(found)}." if found else ""))
    return "\n".join(lines)


def leaf(array):
    """A float64 tensor that requires grad, holding a copy of ``array`` (the case's inputs stay as they are)."""
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def overwrite(contributions, x_shape, stride, padding, order):
    """col2im done with = instead of +=: each write replaces what overlapping windows wrote before.

    contributions[n, c, r, t, i, j] is what window (r, t) sends to x_pad[n, c, s*r + i, s*t + j].
    order 'windows': a loop over the windows, row-major, writing each whole window; 'winners': the same
    loop writing only the window's nonzero entries (max-pool's winner); 'offsets': a loop over the
    kernel offsets (i, j), writing that offset of every window at once (a strided slice).
    """
    n, c, height, width = x_shape
    out_height, out_width, k = *contributions.shape[2:4], contributions.shape[-1]
    s, p = stride, padding
    x_pad = np.zeros((n, c, height + 2 * p, width + 2 * p))
    if order == "offsets":
        for i in range(k):
            for j in range(k):
                x_pad[:, :, i:i + s * out_height:s, j:j + s * out_width:s] = contributions[:, :, :, :, i, j]
    else:
        for r in range(out_height):
            for t in range(out_width):
                window, values = x_pad[:, :, s * r:s * r + k, s * t:s * t + k], contributions[:, :, r, t]
                written = np.ones(values.shape, bool) if order == "windows" else values != 0
                window[written] = values[written]
    return x_pad[:, :, p:p + height, p:p + width]


# ----- the checkers, one per exercise -----

def check_linear_backward(student_fn, seed=0, verbose=True):
    """Check ``linear_backward(x, weight, grad_output) -> (grad_x, grad_weight, grad_bias)`` for
    y = x @ weight.T + bias, weight of shape (n_out, n_in), against F.linear's backward."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch, n_in, n_out in [(4, 3, 5), (6, 7, 2), (3, 5, 4)]:
        x, weight = rng.standard_normal((batch, n_in)), rng.standard_normal((n_out, n_in))
        bias, grad_output = rng.standard_normal(n_out), rng.standard_normal((batch, n_out))
        xt, wt, bt = leaf(x), leaf(weight), leaf(bias)
        F.linear(xt, wt, bt).backward(grad_output)
        outputs = with_others([Output("grad_x", xt.grad), Output("grad_weight", wt.grad), Output("grad_bias", bt.grad)])
        cases.append(Case(f"x {x.shape}, weight {weight.shape}, grad_output {grad_output.shape}",
                          (x, weight, grad_output), {}, outputs, batch))
    return check("check_linear_backward: linear_backward(x, weight, grad_output) -> (grad_x, grad_weight, grad_bias) "
                 "for y = x @ weight.T + bias", student_fn, cases, verbose)


def check_leaky_relu_backward(student_fn, seed=0, verbose=True):
    """Check ``leaky_relu_backward(x, grad_output, negative_slope=0.02) -> grad_x`` against F.leaky_relu's backward."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape, slope in [((4, 5), None), ((3, 7), 0.1), ((6, 2), 0.3)]:
        x, grad_output = rng.standard_normal(shape), rng.standard_normal(shape)
        s = 0.02 if slope is None else slope
        xt, alone = leaf(x), leaf(x)
        F.leaky_relu(xt, s).backward(grad_output)
        F.leaky_relu(alone, s).backward(np.ones(shape))       # the derivative alone, without grad_output
        wrong = [WrongAnswer("upstream gradient ignored", alone.grad,
                             "Your grad_x is leaky ReLU's derivative alone (1 or negative_slope): the chain rule "
                             "multiplies it by grad_output, grad_x = grad_output * where(x > 0, 1, negative_slope).")]
        kwargs = {} if slope is None else {"negative_slope": slope}
        label = f"x {shape}, grad_output {shape}, negative_slope {s}" + (" (the default)" if slope is None else "")
        cases.append(Case(label, (x, grad_output), kwargs, [Output("grad_x", xt.grad, wrong)]))
    return check("check_leaky_relu_backward: leaky_relu_backward(x, grad_output, negative_slope=0.02) -> grad_x",
                 student_fn, cases, verbose)


def check_softmax_cross_entropy_backward(student_fn, seed=0, verbose=True):
    """Check ``softmax_cross_entropy_backward(logits, labels) -> grad_logits``, the gradient of the mean over
    the batch of cross-entropy(softmax(logits), labels), against F.cross_entropy's backward."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch, classes, shift in [(4, 3, 0), (6, 10, 0), (5, 7, 1000)]:
        logits = 3 * rng.standard_normal((batch, classes)) + shift
        labels = rng.integers(0, classes, batch)
        lt = leaf(logits)
        F.cross_entropy(lt, labels).backward()
        p = F.softmax(Tensor(logits), axis=1).numpy()
        wrong = [WrongAnswer("one-hot not subtracted", p / batch,
                             "Your grad_logits is softmax(logits) / B: the gradient of -log p[label] also has a -1 "
                             "at the label, grad_logits = (softmax(logits) - onehot(labels)) / B."),
                 WrongAnswer(("one-hot not subtracted", "missing 1/N"), p,
                             "Your grad_logits is softmax(logits): subtract the one-hot labels, and divide by B "
                             "(the loss is a mean), grad_logits = (softmax(logits) - onehot(labels)) / B.")]
        label = f"logits {logits.shape}, labels {labels.shape}" + (f", {shift} added to every logit" if shift else "")
        cases.append(Case(label, (logits, labels), {}, [Output("grad_logits", lt.grad, wrong)], batch))
    return check("check_softmax_cross_entropy_backward: softmax_cross_entropy_backward(logits, labels) -> grad_logits "
                 "for the mean cross-entropy", student_fn, cases, verbose)


def check_mlp_gradients(student_fn, seed=0, verbose=True):
    """Check ``mlp_gradients(x, labels, weights, biases, negative_slope=0.02) -> (loss, grad_weights, grad_biases)``
    of an MLP (linear layers, leaky ReLU between them, mean cross-entropy) against the library's autograd."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch, sizes, slope in [(5, (6, 4, 3), None), (4, (7, 3), None), (6, (5, 8, 6, 4), 0.1)]:
        x, labels = rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], batch)
        weights = [rng.standard_normal((n_out, n_in)) / np.sqrt(n_in) for n_in, n_out in zip(sizes, sizes[1:])]
        biases = [0.1 * rng.standard_normal(n_out) for n_out in sizes[1:]]
        s = 0.02 if slope is None else slope
        wts, bts = [leaf(w) for w in weights], [leaf(b) for b in biases]
        h = Tensor(x)
        for k, (w, b) in enumerate(zip(wts, bts)):
            h = F.linear(h, w, b)
            if k < len(wts) - 1:
                h = F.leaky_relu(h, s)
        loss = F.cross_entropy(h, labels)
        loss.backward()
        layers = len(weights)
        grads = with_others([Output(f"grad_weights[{k}]", w.grad) for k, w in enumerate(wts)]
                            + [Output(f"grad_biases[{k}]", b.grad) for k, b in enumerate(bts)])
        for k in range(layers):
            for output, tensors in ((grads[k], wts), (grads[layers + k], bts)):
                output.wrong_answers.append(WrongAnswer(
                    "layers in reverse order", tensors[layers - 1 - k].grad,
                    f"Your {output.name} is the gradient of layer {layers - 1 - k}: backward visits the layers last "
                    f"to first; return the lists in the layers' order (insert at the front, or reverse at the end)."))
        kwargs = {} if slope is None else {"negative_slope": slope}
        label = (f"x {x.shape}, labels {labels.shape}, layer sizes {sizes}, negative_slope {s}"
                 + (" (the default)" if slope is None else ""))
        cases.append(Case(label, (x, labels, weights, biases), kwargs, [Output("loss", loss.item())] + grads, batch,
                          split=split_mlp))
    return check("check_mlp_gradients: mlp_gradients(x, labels, weights, biases, negative_slope=0.02) -> "
                 "(loss, grad_weights, grad_biases)", student_fn, cases, verbose)


def batch_norm_unbiased_grads(x, gamma, beta, grad_output, eps):
    """(grad_x, grad_gamma) of batch norm normalised with the unbiased variance, sum((x - mu)^2) / (N - 1), by
    the library's autograd: what a student who applies Bessel's correction computes."""
    xt, gt, bt = leaf(x), leaf(gamma), leaf(beta)
    centred = xt - xt.mean(axis=0, keepdims=True)
    var = (centred * centred).sum(axis=0, keepdims=True) / (len(x) - 1)
    (centred * (var + eps) ** -0.5 * gt + bt).backward(grad_output)
    return xt.grad, gt.grad


def check_batch_norm_backward(student_fn, seed=0, verbose=True):
    """Check ``batch_norm_backward(x, gamma, grad_output, eps=1e-5) -> (grad_x, grad_gamma, grad_beta)`` of
    training-mode batch norm over the batch axis of x (N, C), biased variance, against F.batch_norm's backward.
    The upstream gradient is random: an all-ones one hides mistakes (sum(dy * x_hat) is then 0)."""
    rng = np.random.default_rng(seed)
    cases = []
    for kind, n, c, eps in [("random", 8, 3, None), ("random", 5, 4, 1e-3), ("assignment", 64, 5, None)]:
        if kind == "assignment":    # the assignment's own check
            x = 2 * rng.standard_normal((n, c)) + 10
            gamma, beta = np.sqrt(10 * np.arange(c, dtype=np.float64)), 100 * np.arange(c, dtype=np.float64)
        else:
            x = 3 * rng.standard_normal((n, c)) - 1
            gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
        grad_output = rng.standard_normal((n, c))
        e = 1e-5 if eps is None else eps
        xt, gt, bt = leaf(x), leaf(gamma), leaf(beta)
        F.batch_norm(xt, gt, bt, training=True, eps=e).backward(grad_output)
        # the three paths from x to the loss, which add up to grad_x:
        # dx = gamma / sigma * dy - gamma / (N sigma) * sum(dy) - gamma / (N sigma) * x_hat * sum(dy * x_hat)
        sigma = np.sqrt(x.var(axis=0) + e)
        x_hat = (x - x.mean(axis=0)) / sigma
        through_variance = -gamma / (n * sigma) * x_hat * (grad_output * x_hat).sum(axis=0)
        terms = {"the direct path": gamma / sigma * grad_output,
                 "the path through the mean": np.broadcast_to(-gamma / (n * sigma) * grad_output.sum(axis=0), x.shape),
                 "the path through the variance": through_variance}
        bessel_x, bessel_gamma = batch_norm_unbiased_grads(x, gamma, beta, grad_output, e)
        hint = ("Your {} matches batch norm computed with the unbiased variance, sum((x - mu)^2) / (N - 1) (Bessel's "
                "correction: np.var(x, ddof=1), torch.var's default): batch norm normalises with the biased one, "
                "divided by N (x.var(axis=0)).")
        wrong_x = [WrongAnswer("Bessel's correction", answer, hint.format("grad_x")) for answer in (
            bessel_x,                                                      # the unbiased variance throughout
            xt.grad + (n / (n - 1) - 1) * through_variance,                # N - 1 in the variance's derivative
            xt.grad + ((n - 1) / n - 1) * through_variance)]
        wrong_gamma = [WrongAnswer("Bessel's correction", bessel_gamma, hint.format("grad_gamma"))]
        outputs = with_others([Output("grad_x", xt.grad, wrong_x, terms), Output("grad_gamma", gt.grad, wrong_gamma),
                               Output("grad_beta", bt.grad)])
        label = f"x {x.shape}, gamma {gamma.shape}, grad_output {grad_output.shape} (random), eps {e}" + (
            ", the assignment's gamma = sqrt(10 * arange(C)), beta = 100 * arange(C)" if kind == "assignment" else "")
        cases.append(Case(label, (x, gamma, grad_output), {} if eps is None else {"eps": eps}, outputs, n))
    return check("check_batch_norm_backward: batch_norm_backward(x, gamma, grad_output, eps=1e-5) -> "
                 "(grad_x, grad_gamma, grad_beta)", student_fn, cases, verbose)


def check_im2col(student_fn, seed=0, verbose=True):
    """Check ``im2col(x, kernel_size, stride, padding) -> cols`` against the library's im2col: the layout
    cols[(n, r, t), (i, j, c)] = x_pad[n, c, s*r + i, s*t + j], shape (N*OH*OW, k*k*C)."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, c, height, width, k, s, p in [(2, 3, 5, 6, 3, 1, 1), (1, 2, 7, 7, 3, 2, 0), (3, 2, 4, 5, 2, 2, 1)]:
        x = rng.standard_normal((n, c, height, width))
        cols = library_im2col(x, (k, k), (s, s), (p, p))
        unfold = cols.reshape(-1, k, k, c).transpose(0, 3, 1, 2).reshape(cols.shape)     # columns (c, i, j)
        wrong = [WrongAnswer("wrong layout", unfold,
                             "Your columns are in (c, i, j) order, that of PyTorch's unfold; this library's layout is "
                             "(i, j, c), cols[(n, r, t), (i, j, c)] = x_pad[n, c, s*r + i, s*t + j]: along a row the "
                             "channel varies fastest.")]
        label = f"x {x.shape}, kernel_size {k}, stride {s}, padding {p}"
        cases.append(Case(label, (x, k, s, p), {}, [Output("cols", cols, wrong)]))
    return check("check_im2col: im2col(x, kernel_size, stride, padding) -> cols (N*OH*OW, k*k*C)",
                 student_fn, cases, verbose)


def check_conv2d_backward(student_fn, seed=0, verbose=True):
    """Check ``conv2d_backward(x, weight, grad_output, stride=1, padding=0) -> (grad_x, grad_weight, grad_bias)``,
    weight (C_out, C_in, k, k), against F.conv2d's backward."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, c_in, height, width, c_out, k, s, p in [(2, 3, 6, 5, 4, 3, 1, 1), (3, 2, 7, 7, 5, 3, 2, 0),
                                                   (2, 1, 5, 6, 3, 2, 1, 0)]:
        x, weight = rng.standard_normal((n, c_in, height, width)), rng.standard_normal((c_out, c_in, k, k))
        bias = rng.standard_normal(c_out)
        out_hw = output_size(x.shape, (k, k), (s, s), (p, p))
        grad_output = rng.standard_normal((n, c_out, *out_hw))
        xt, wt, bt = leaf(x), leaf(weight), leaf(bias)
        F.conv2d(xt, wt, bt, s, p).backward(grad_output)
        flipped = leaf(x)       # grad_x for the kernel rotated by 180 degrees
        F.conv2d(flipped, Tensor(weight[:, :, ::-1, ::-1].copy()), None, s, p).backward(grad_output)
        # what window (r, t) sends back to x_pad[n, c, s*r + i, s*t + j]:
        # contributions[n, c, r, t, i, j] = sum_o grad_output[n, o, r, t] weight[o, c, i, j]
        contributions = np.einsum("nort,ocij->ncrtij", grad_output, weight)
        hint = (f"Where windows overlap (kernel {k}, stride {s}) a pixel of x lies in several windows, and its "
                f"gradient is the sum of what each sends back: col2im must add (x_pad[...] += ...), not overwrite "
                f"(=). NumPy's a[idx] += v with repeated indices also adds only once: use np.add.at.")
        wrong_x = [WrongAnswer("= instead of +=", overwrite(contributions, x.shape, s, p, order), hint)
                   for order in ("windows", "offsets")]
        wrong_x.append(WrongAnswer("kernel not flipped", flipped.grad,
                                   "Your grad_x is the right one for the kernel rotated by 180 degrees: written as a "
                                   "'full' convolution of grad_output, the backward pass needs the kernel flipped, "
                                   "weight[:, :, ::-1, ::-1] (or, with im2col, grad_x = col2im(dY @ weight_matrix))."))
        outputs = with_others([Output("grad_x", xt.grad, wrong_x), Output("grad_weight", wt.grad),
                               Output("grad_bias", bt.grad)])
        label = f"x {x.shape}, weight {weight.shape}, grad_output {grad_output.shape}, stride {s}, padding {p}"
        kwargs = {} if (s, p) == (1, 0) else {"stride": s, "padding": p}
        cases.append(Case(label, (x, weight, grad_output), kwargs, outputs, n))
    return check("check_conv2d_backward: conv2d_backward(x, weight, grad_output, stride=1, padding=0) -> "
                 "(grad_x, grad_weight, grad_bias)", student_fn, cases, verbose)


def check_max_pool2d_backward(student_fn, seed=0, verbose=True):
    """Check ``max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0) -> grad_x`` (padding counts as
    -inf) against F.max_pool2d's backward; overlapping windows (kernel 3, stride 2) included, no ties."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, c, height, width, k, s, p in [(2, 3, 7, 7, 3, 2, 0), (2, 2, 8, 6, 2, 2, 0), (1, 3, 9, 8, 3, 2, 1)]:
        x = rng.standard_normal((n, c, height, width))
        grad_output = rng.standard_normal((n, c, *output_size(x.shape, (k, k), (s, s), (p, p))))
        xt = leaf(x)
        F.max_pool2d(xt, k, s, p).backward(grad_output)
        # each window sends its gradient to its winner: contributions[n, c, r, t, i, j]
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        won = windows == windows.max(axis=(4, 5), keepdims=True)
        contributions = grad_output[:, :, :, :, None, None] * won
        hint = (f"Where windows overlap (kernel {k}, stride {s}) one entry can be the max of several windows, and "
                f"its gradient is the sum of theirs: add (grad[...] += ..., or np.add.at), do not overwrite (=). "
                f"NumPy's a[idx] += v with repeated indices also adds only once.")
        wrong = [WrongAnswer("= instead of +=", overwrite(contributions, x.shape, s, p, order), hint)
                 for order in ("windows", "winners")]
        label = f"x {x.shape}, grad_output {grad_output.shape}, kernel_size {k}, stride {s}, padding {p}"
        cases.append(Case(label, (x, grad_output, k, s), {} if p == 0 else {"padding": p},
                          [Output("grad_x", xt.grad, wrong)], n))
    return check("check_max_pool2d_backward: max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0) -> "
                 "grad_x", student_fn, cases, verbose)


def check_sgd_update(student_fn, seed=0, verbose=True):
    """Check ``sgd_update(param, grad, lr) -> new_param`` (param - lr * grad) against optim.SGD."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape, lr in [((3, 4), 0.1), ((5,), 0.01), ((2, 3, 2), 0.5)]:
        param, grad = rng.standard_normal(shape), rng.standard_normal(shape)
        p = leaf(param)
        p.grad = grad.copy()
        optim.SGD([p], lr=lr).step()
        cases.append(Case(f"param {shape}, grad {shape}, lr {lr}", (param, grad, lr), {},
                          [Output("new_param", p.data, baseline=param)]))
    return check("check_sgd_update: sgd_update(param, grad, lr) -> new_param", student_fn, cases, verbose)


def check_adam_update(student_fn, seed=0, verbose=True):
    """Check ``adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8) -> (new_param, new_m,
    new_v)``, Adam with bias correction and step counted from 1, against optim.Adam."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape, step, hyper in [((3, 4), 1, {}), ((6,), 5, {"lr": 1e-2}),
                               ((2, 5), 12, {"lr": 3e-3, "betas": (0.8, 0.99), "eps": 1e-6})]:
        param, grad = rng.standard_normal(shape), rng.standard_normal(shape)
        if step == 1:           # Adam's state starts at zero
            m, v = np.zeros(shape), np.zeros(shape)
        else:
            m, v = 0.1 * rng.standard_normal(shape), 0.1 * rng.random(shape)
        p = leaf(param)
        p.grad = grad.copy()
        adam = optim.Adam([p], **hyper)
        adam.state[0] = {"step": step - 1, "exp_avg": m.copy(), "exp_avg_sq": v.copy()}
        adam.step()
        new_m, new_v = adam.state[0]["exp_avg"], adam.state[0]["exp_avg_sq"]
        wrong = [WrongAnswer("no bias correction", param - adam.lr * new_m / (np.sqrt(new_v) + adam.eps),
                             "Your step skips Adam's bias correction: with t = step, m_hat = m / (1 - beta1^t) and "
                             "v_hat = v / (1 - beta2^t) go into the update, param - lr * m_hat / (sqrt(v_hat) + eps).")]
        outputs = [Output("new_param", p.data, wrong, baseline=param), Output("new_m", new_m), Output("new_v", new_v)]
        settings = ", ".join(f"{key} {value}" for key, value in hyper.items()) or "default lr, betas, eps"
        cases.append(Case(f"param {shape}, step {step}, {settings}", (param, grad, m, v, step), hyper, outputs))
    return check("check_adam_update: adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8) -> "
                 "(new_param, new_m, new_v)", student_fn, cases, verbose)
