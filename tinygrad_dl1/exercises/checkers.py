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
from ..ops.im2col import channels_first, channels_last, col2im, output_size
from ..ops.im2col import im2col as library_im2col
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
    return [compare(output.name, value, output.reference, number, case.batch_size,
                    output.wrong_answers + inputs_unchanged(output, case), output.terms, others=output.others,
                    baseline=output.baseline)
            for output, value in zip(case.outputs, values)]


def inputs_unchanged(output, case):
    """WrongAnswers for an output that is one of the case's array inputs, returned as it came."""
    names = [part.split(" (")[0].strip() for part in case.label.split(",")]     # "x (4, 3), weight (5, 3), ..."
    return [WrongAnswer("an input returned unchanged", arg,
                        f"Your {output.name} is argument {k + 1} of the call ({names[k] if k < len(names) else '?'}), "
                        f"unchanged: it has to be computed from the inputs.")
            for k, arg in enumerate(case.args)
            if isinstance(arg, np.ndarray) and arg.dtype.kind == "f" and arg.shape == np.shape(output.reference)]


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


def add_back(contributions, x_shape, stride, padding, crop=True):
    """col2im done right: x_pad[n, c, s*r + i, s*t + j] += contributions[n, c, r, t, i, j]; the padding cut
    off (``crop``) or kept."""
    n, c, height, width = x_shape
    out_height, out_width, k = *contributions.shape[2:4], contributions.shape[-1]
    s, p = stride, padding
    x_pad = np.zeros((n, c, height + 2 * p, width + 2 * p))
    for i in range(k):
        for j in range(k):
            x_pad[:, :, i:i + s * out_height:s, j:j + s * out_width:s] += contributions[:, :, :, :, i, j]
    return x_pad[:, :, p:p + height, p:p + width] if crop else x_pad


def same_for_every(outputs, mistakes, answers, hint):
    """Give each output the WrongAnswer of one mistake that changes them all: ``answers``, one per output."""
    for output, answer in zip(outputs, answers):
        output.wrong_answers.append(WrongAnswer(mistakes, answer, hint.format(name=output.name)))


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
        sums_first = ("Your grad_weight is the outer product of sums (or means) over the batch: each example "
                      "contributes its own outer product, grad_weight = sum_n outer(dY[n], x[n]) = dY^T x; sum "
                      "after multiplying, not before.")
        wrong_weight = [WrongAnswer("sums taken before the product", np.outer(grad_output.sum(0), x.sum(0)),
                                    sums_first),
                        WrongAnswer("sums taken before the product", np.outer(grad_output.mean(0), x.mean(0)),
                                    sums_first)]
        wrong_bias = [WrongAnswer("summed over the wrong axis", grad_output.sum(axis=1),
                                  "Your grad_bias sums grad_output over its features (axis 1), one value per "
                                  "example: the bias has one entry per output feature, so sum over the batch, "
                                  "grad_output.sum(axis=0).")]
        outputs = with_others([Output("grad_x", xt.grad), Output("grad_weight", wt.grad, wrong_weight),
                               Output("grad_bias", bt.grad, wrong_bias)])
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
        xt = leaf(x)
        F.leaky_relu(xt, s).backward(grad_output)
        right = "grad_x = grad_output * where(x > 0, 1, negative_slope)"
        wrong = [WrongAnswer("upstream gradient ignored", np.where(x > 0, 1.0, s),
                             f"Your grad_x is leaky ReLU's derivative alone (1 or negative_slope): the chain rule "
                             f"multiplies it by grad_output, {right}."),
                 WrongAnswer("branches swapped", grad_output * np.where(x > 0, s, 1.0),
                             f"Your grad_x has negative_slope where x > 0 and 1 elsewhere: the two branches are "
                             f"swapped. Leaky ReLU passes positive inputs through (slope 1): {right}."),
                 WrongAnswer("positive branch left out", grad_output * np.where(x > 0, 0.0, s),
                             f"Your grad_x is 0 where x > 0: leaky ReLU passes positive inputs through with slope 1, "
                             f"so their gradient is grad_output itself: {right}."),
                 WrongAnswer("negative_slope left out", grad_output * (x > 0),
                             f"Your grad_x is 0 where x <= 0: that is ReLU's gradient. Leaky ReLU has slope "
                             f"negative_slope there: {right}."),
                 WrongAnswer("negative_slope with the wrong sign", grad_output * np.where(x > 0, 1.0, -s),
                             f"Your grad_x has -negative_slope where x <= 0: leaky ReLU's slope there is "
                             f"+negative_slope (y = negative_slope * x): {right}."),
                 WrongAnswer("negative_slope added, not multiplied", np.where(x > 0, grad_output, grad_output + s),
                             f"Your grad_x adds negative_slope to grad_output where x <= 0: the chain rule "
                             f"multiplies by the local slope, {right}."),
                 WrongAnswer("mask from grad_output", grad_output * np.where(grad_output > 0, 1.0, s),
                             f"Your mask looks at grad_output's sign: the slope depends on the input, x > 0: {right}."),
                 WrongAnswer("the activation, not its derivative", grad_output * np.where(x > 0, x, s * x),
                             f"Your grad_x multiplies grad_output by leaky_relu(x), the activation itself: the "
                             f"backward needs its derivative, 1 or negative_slope: {right}."),
                 WrongAnswer("the activation, not its derivative", np.where(x > 0, x, s * x),
                             f"Your grad_x is leaky_relu(x), the forward pass: the backward multiplies grad_output "
                             f"by the derivative: {right}.")]
        if slope is None:
            wrong.append(WrongAnswer("wrong default negative_slope", grad_output * np.where(x > 0, 1.0, 0.01),
                                     "Your grad_x uses a slope of 0.01 (PyTorch's default): this exercise's "
                                     "default is negative_slope=0.02, the assignment's."))
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
        onehot = np.eye(classes)[labels]
        right = "grad_logits = (softmax(logits) - onehot(labels)) / N, with N = len(labels) the batch size"
        wrong = [WrongAnswer("one-hot not subtracted", p / batch,
                             f"Your grad_logits is softmax(logits) / N: the gradient of -log p[label] also has a "
                             f"-1 at the label, {right}."),
                 WrongAnswer(("one-hot not subtracted", "missing 1/N"), p,
                             f"Your grad_logits is softmax(logits): subtract the one-hot labels, and divide by N "
                             f"(the loss is a mean), {right}."),
                 WrongAnswer("softmax over the wrong axis",
                             (F.softmax(Tensor(logits), axis=0).numpy() - onehot) / batch,
                             f"Your softmax normalises each class over the batch (axis 0): each example's "
                             f"probabilities sum to 1 over its classes, softmax over axis 1: {right}."),
                 WrongAnswer("log-softmax for softmax",
                             (F.log_softmax(Tensor(logits), axis=1).numpy() - onehot) / batch,
                             f"Your grad_logits subtracts the one-hot labels from log softmax(logits): the log is "
                             f"in the loss, its gradient uses the probabilities themselves, {right}."),
                 WrongAnswer("one-hot added, not subtracted", (p + onehot) / batch,
                             f"Your grad_logits adds the one-hot labels: the gradient of -log p[label] is p - 1 at "
                             f"the label, so subtract them, {right}."),
                 WrongAnswer("sigmoid for softmax", (0.5 * (1 + np.tanh(logits / 2)) - onehot) / batch,
                             f"Your grad_logits uses sigmoid(logits), each class on its own: cross-entropy over C "
                             f"classes takes the softmax, whose entries share one normaliser, {right}."),
                 WrongAnswer("softmax left out", (logits - onehot) / batch,
                             f"Your grad_logits subtracts the one-hot labels from the logits themselves: take the "
                             f"softmax of the logits first, {right}."),
                 WrongAnswer("divided by the number of classes", (p - onehot) / classes,
                             f"Your grad_logits divides by the number of classes: the loss is the mean over the "
                             f"batch, so divide by the batch size, {right}."),
                 WrongAnswer("gradient with respect to the probabilities", -onehot / p / batch,
                             f"Your grad_logits is -onehot / p / N, the gradient with respect to the probabilities: "
                             f"through the softmax's Jacobian the 1/p cancels, {right}.")]
        label = f"logits {logits.shape}, labels {labels.shape}" + (f", {shift} added to every logit" if shift else "")
        cases.append(Case(label, (logits, labels), {}, [Output("grad_logits", lt.grad, wrong)], batch))
    return check("check_softmax_cross_entropy_backward: softmax_cross_entropy_backward(logits, labels) -> grad_logits "
                 "for the mean cross-entropy", student_fn, cases, verbose)


def mlp_by_autograd(x, labels, weights, biases, slope, last_activation=False, with_biases=True):
    """(loss, [grad_weight per layer], [grad_bias per layer]) of the MLP by the library's autograd;
    ``last_activation`` and ``with_biases`` plant mistakes (leaky ReLU after the last layer too; the biases
    left out of the forward pass, their gradients taken at 0)."""
    wts = [leaf(w) for w in weights]
    bts = [leaf(b if with_biases else np.zeros_like(b)) for b in biases]
    h = Tensor(x)
    for k, (w, b) in enumerate(zip(wts, bts)):
        h = F.linear(h, w, b)
        if k < len(wts) - 1 or last_activation:
            h = F.leaky_relu(h, slope) if slope else F.relu(h)
    loss = F.cross_entropy(h, labels)
    loss.backward()
    return loss.item(), [w.grad for w in wts], [b.grad for b in bts]


def check_mlp_gradients(student_fn, seed=0, verbose=True):
    """Check ``mlp_gradients(x, labels, weights, biases, negative_slope=0.02) -> (loss, grad_weights, grad_biases)``
    of an MLP (linear layers, leaky ReLU between them, mean cross-entropy) against the library's autograd."""
    rng = np.random.default_rng(seed)
    cases = []
    for batch, sizes, slope in [(5, (6, 4, 3), None), (4, (7, 5, 3), None), (6, (5, 8, 6, 4), 0.1)]:
        x, labels = rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], batch)
        weights = [rng.standard_normal((n_out, n_in)) / np.sqrt(n_in) for n_in, n_out in zip(sizes, sizes[1:])]
        biases = [0.1 * rng.standard_normal(n_out) for n_out in sizes[1:]]
        s = 0.02 if slope is None else slope
        loss, grad_weights, grad_biases = mlp_by_autograd(x, labels, weights, biases, s)
        layers = len(weights)
        grads = with_others([Output(f"grad_weights[{k}]", g) for k, g in enumerate(grad_weights)]
                            + [Output(f"grad_biases[{k}]", g) for k, g in enumerate(grad_biases)])
        for k in range(layers):
            for output, references in ((grads[k], grad_weights), (grads[layers + k], grad_biases)):
                output.wrong_answers.append(WrongAnswer(
                    "layers in reverse order", references[layers - 1 - k],
                    f"Your {output.name} is the gradient of layer {layers - 1 - k}: backward visits the layers last "
                    f"to first; return the lists in the layers' order (insert at the front, or reverse at the end)."))
        outputs = [Output("loss", loss)] + grads
        for mistake, settings, hint in [
                ("activation after the last layer", {"last_activation": True},
                 "Your {name} is that of an MLP with leaky ReLU after the last layer too: the logits are the last "
                 "linear layer's output, with no activation after it."),
                ("ReLU instead of leaky ReLU", {"slope": 0.0},
                 "Your {name} is that of an MLP with ReLU (slope 0 for x <= 0): use leaky ReLU, slope "
                 "negative_slope, in the forward pass and in its gradient."),
                ("biases left out of the forward pass", {"with_biases": False},
                 "Your {name} is that of the MLP without its biases: add b to each layer, h @ w.T + b, in the "
                 "forward pass.")] + ([] if slope else [
                ("wrong default negative_slope", {"slope": 0.01},
                 "Your {name} is that of leaky ReLU with slope 0.01 (PyTorch's default): this exercise's default "
                 "is negative_slope=0.02.")]):
            variant = {"slope": s, **settings}
            loss_v, weights_v, biases_v = mlp_by_autograd(x, labels, weights, biases, **variant)
            same_for_every(outputs, mistake, [loss_v, *weights_v, *biases_v], hint)
        kwargs = {} if slope is None else {"negative_slope": slope}
        label = (f"x {x.shape}, labels {labels.shape}, layer sizes {sizes}, negative_slope {s}"
                 + (" (the default)" if slope is None else ""))
        cases.append(Case(label, (x, labels, weights, biases), kwargs, outputs, batch, split=split_mlp))
    return check("check_mlp_gradients: mlp_gradients(x, labels, weights, biases, negative_slope=0.02) -> "
                 "(loss, grad_weights, grad_biases)", student_fn, cases, verbose)


def batch_norm_closed_form(x, gamma, grad_output, eps, sigma_of=None, n_in_paths=None, axis=0, use_gamma=True,
                           stats_axis=0):
    """(grad_x, grad_gamma, grad_beta) by the closed form dx = gamma / (N sigma) (N dy - sum dy - x_hat
    sum(dy x_hat)), with the slips a student makes planted: ``sigma_of(x)`` in place of sqrt(var + eps)
    (Bessel's correction, the variance for the standard deviation), ``n_in_paths`` for the N of the mean's
    and variance's paths (N - 1, or 1: the 1/N forgotten), ``axis`` of the sums (1: the features),
    ``use_gamma`` False: gamma left out of grad_x; ``stats_axis`` of the mean and variance (1: layer norm's)."""
    n, dy = len(x), grad_output
    sigma = np.sqrt(x.var(axis=stats_axis, keepdims=True) + eps) if sigma_of is None else sigma_of(x)
    x_hat = (x - x.mean(axis=stats_axis, keepdims=True)) / sigma
    m = n if n_in_paths is None else n_in_paths
    g = gamma if use_gamma else np.ones_like(gamma)
    sum_dy, sum_dy_x_hat = dy.sum(axis=axis, keepdims=True), (dy * x_hat).sum(axis=axis, keepdims=True)
    dx = g / sigma * (dy - sum_dy / m - x_hat * sum_dy_x_hat / m)
    return dx, (dy * x_hat).sum(axis=axis), dy.sum(axis=axis)


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
        outputs = with_others([Output("grad_x", xt.grad, terms=terms), Output("grad_gamma", gt.grad),
                               Output("grad_beta", bt.grad)])

        def unbiased(x, e=e):
            return np.sqrt(x.var(axis=0, ddof=1) + e)
        bessel = ("Your {name} matches batch norm computed with the unbiased variance, sum((x - mu)^2) / (N - 1) "
                  "(Bessel's correction: np.var(x, ddof=1), torch.var's default): batch norm normalises with the "
                  "biased one, divided by N (x.var(axis=0)).")
        bessel_x, bessel_gamma = batch_norm_unbiased_grads(x, gamma, beta, grad_output, e)
        outputs[0].wrong_answers += [WrongAnswer("Bessel's correction", answer, bessel.format(name="grad_x"))
                                     for answer in (
            bessel_x,                                                      # the unbiased variance throughout
            xt.grad + (n / (n - 1) - 1) * through_variance,                # N - 1 in the variance's derivative
            xt.grad + ((n - 1) / n - 1) * through_variance)]
        outputs[1].wrong_answers.append(WrongAnswer("Bessel's correction", bessel_gamma,
                                                    bessel.format(name="grad_gamma")))
        for settings in ({"sigma_of": unbiased}, {"sigma_of": unbiased, "n_in_paths": n - 1}):
            same_for_every(outputs, "Bessel's correction", batch_norm_closed_form(x, gamma, grad_output, e, **settings),
                           bessel)
        for mistake, settings, hint in [
                ("variance instead of standard deviation", {"sigma_of": lambda x, e=e: x.var(axis=0) + e},
                 "Your {name} divides by var + eps where batch norm divides by sigma = sqrt(var + eps): x_hat = "
                 "(x - mean) / sqrt(var + eps)."),
                ("eps outside the square root", {"sigma_of": lambda x, e=e: np.sqrt(x.var(axis=0)) + e},
                 "Your {name} divides by sqrt(var) + eps: batch norm's sigma is sqrt(var + eps), eps inside the root."),
                ("missing 1/N", {"n_in_paths": 1},
                 "Your {name} leaves out the 1/N of the paths through the mean and the variance: each is a mean "
                 "over the batch, dx = gamma / sigma * (dy - sum(dy) / N - x_hat * sum(dy * x_hat) / N)."),
                ("summed over the wrong axis", {"axis": 1},
                 "Your {name} sums over the features (axis 1): batch norm's statistics, and so its sums in the "
                 "backward pass, run over the batch, axis 0 (one mean and variance per feature)."),
                ("summed over the wrong axis", {"axis": 1, "n_in_paths": c, "stats_axis": 1},
                 "Your {name} is layer norm's: the mean, the variance and the sums over the features (axis 1). "
                 "Batch norm's run over the batch, axis 0: one mean and variance per feature."),
                ("summed over the wrong axis", {"axis": 1, "n_in_paths": c},
                 "Your {name} sums over the features (axis 1) and divides by their number: batch norm's sums run "
                 "over the batch, axis 0, and divide by N."),
                ("gamma left out", {"use_gamma": False},
                 "Your {name} leaves out gamma: y = gamma * x_hat + beta, so every path from x to the loss carries "
                 "a factor gamma, dx = gamma / sigma * (...).")]:
            answers = batch_norm_closed_form(x, gamma, grad_output, e, **settings)
            for output, answer in zip(outputs, answers):
                if not np.array_equal(answer, output.reference):      # the same as right: not this mistake's
                    output.wrong_answers.append(WrongAnswer(mistake, answer, hint.format(name=output.name)))
        x_for_hat = ("Your grad_gamma is sum(dy * {what}): gamma multiplies the normalised input, so its gradient "
                     "is sum(dy * x_hat) over the batch, x_hat = (x - mean) / sqrt(var + eps).")
        outputs[1].wrong_answers += [
            WrongAnswer("x instead of x_hat", (grad_output * x).sum(axis=0), x_for_hat.format(what="x")),
            WrongAnswer("x instead of x_hat", (grad_output * (x - x.mean(axis=0))).sum(axis=0),
                        x_for_hat.format(what="(x - mean)"))]
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
    layout = "cols[(n, r, t), (i, j, c)] = x_pad[n, c, s*r + i, s*t + j]"
    for n, c, height, width, k, s, p in [(2, 3, 5, 6, 3, 1, 1), (1, 2, 7, 7, 3, 2, 0), (3, 2, 4, 5, 2, 2, 1)]:
        x = rng.standard_normal((n, c, height, width))
        cols = library_im2col(x, (k, k), (s, s), (p, p))
        oh, ow = output_size(x.shape, (k, k), (s, s), (p, p))
        windows = cols.reshape(n, oh, ow, k, k, c)
        x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        unstrided = np.stack([np.stack([x_pad[:, :, i:i + oh, j:j + ow] for j in range(k)], -1)
                              for i in range(k)], -2)                               # (n, c, oh, ow, i, j)
        wrong = [WrongAnswer("wrong layout", windows.transpose(0, 1, 2, 5, 3, 4).reshape(cols.shape),
                             f"Your columns are in (c, i, j) order, that of PyTorch's unfold; this library's layout is "
                             f"(i, j, c), {layout}: along a row the channel varies fastest."),
                 WrongAnswer("kernel offsets swapped", windows.transpose(0, 1, 2, 4, 3, 5).reshape(cols.shape),
                             f"Your columns are in (j, i, c) order: the kernel's row i comes before its column j, "
                             f"{layout}."),
                 WrongAnswer("stride left out of the slice", unstrided.transpose(0, 2, 3, 4, 5, 1).reshape(cols.shape),
                             f"Your windows start at (r, t), one pixel apart: with stride s they start at (s*r, s*t), "
                             f"the slice x_pad[:, :, i:i + s*OH:s, j:j + s*OW:s], {layout}."),
                 WrongAnswer("output size off by one", windows[:, :oh - 1, :ow - 1].reshape(-1, k * k * c),
                             "Your cols has one window too few down and across: OH = (H + 2p - k) // s + 1 (the +1 "
                             "counts the first window).")]
        if p:
            wrong.append(WrongAnswer("padding left out", library_im2col(x, (k, k), (s, s), (0, 0)),
                                     f"Your cols are those of x without padding: pad x with p = {p} zeros on each "
                                     f"side first, np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))."))
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
        # weight.reshape(C_out, -1) has columns (c, i, j), not cols' (i, j, c)
        dy = grad_output.transpose(0, 2, 3, 1).reshape(-1, c_out)
        cols = library_im2col(x, (k, k), (s, s), (p, p))
        reshaped = ("Your {name} is what a weight matrix made by reshape alone gives: weight.reshape(C_out, -1) has "
                    "its columns in (c, i, j) order while cols' are (i, j, c); move the channel last first, "
                    "weight.transpose(0, 2, 3, 1).reshape(C_out, -1), and back, dW.reshape(C_out, k, k, C_in)"
                    ".transpose(0, 3, 1, 2).")
        wrong_x.append(WrongAnswer("missing transpose", np.asarray(col2im(
            dy @ weight.reshape(c_out, -1), x.shape, (k, k), (s, s), (p, p))), reshaped.format(name="grad_x")))
        wrong_weight = [WrongAnswer("missing transpose", (dy.T @ cols).reshape(weight.shape),
                                    reshaped.format(name="grad_weight")),
                        WrongAnswer("kernel flipped", wt.grad[:, :, ::-1, ::-1],
                                    "Your grad_weight is the right one rotated by 180 degrees: the forward pass is a "
                                    "cross-correlation (the kernel is not flipped), so dW[o, c, i, j] = sum "
                                    "dY[n, o, r, t] x_pad[n, c, s*r + i, s*t + j], with no flip.")]
        # grad_output.reshape(-1, C_out) without moving the channels last mixes channels and pixels in every row
        mixed = grad_output.reshape(-1, c_out)
        unmoved = ("Your {name} is what grad_output.reshape(N * OH * OW, C_out) gives: grad_output is (N, C_out, OH, "
                   "OW), so reshape alone mixes channels and pixels in each row; move the channels last first, "
                   "grad_output.transpose(0, 2, 3, 1).reshape(-1, C_out), as cols' rows are (n, r, t).")
        wrong_x.append(WrongAnswer("grad_output not made channels-last", np.asarray(col2im(
            mixed @ channels_last(weight).reshape(c_out, -1), x.shape, (k, k), (s, s), (p, p))),
            unmoved.format(name="grad_x")))
        wrong_weight.append(WrongAnswer("grad_output not made channels-last", channels_first(
            (mixed.T @ cols).reshape(c_out, k, k, c_in)), unmoved.format(name="grad_weight")))
        if p:
            wrong_x.append(WrongAnswer("padding not cropped", add_back(contributions, x.shape, s, p, crop=False),
                                       f"Your grad_x is that of the padded input: cut the padding off, "
                                       f"grad_x_pad[:, :, p:p + H, p:p + W] with p = {p}."))
        wrong_bias = [WrongAnswer("grad_output not made channels-last", mixed.sum(axis=0),
                                  unmoved.format(name="grad_bias"))]
        outputs = with_others([Output("grad_x", xt.grad, wrong_x), Output("grad_weight", wt.grad, wrong_weight),
                               Output("grad_bias", bt.grad, wrong_bias)])
        label = f"x {x.shape}, weight {weight.shape}, grad_output {grad_output.shape}, stride {s}, padding {p}"
        kwargs = {} if (s, p) == (1, 0) else {"stride": s, "padding": p}
        cases.append(Case(label, (x, weight, grad_output), kwargs, outputs, n))
    return check("check_conv2d_backward: conv2d_backward(x, weight, grad_output, stride=1, padding=0) -> "
                 "(grad_x, grad_weight, grad_bias)", student_fn, cases, verbose)


def winners(padded, k, step, out_hw):
    """won[n, c, r, t, i, j]: True at the max of each k x k window of ``padded``, windows ``step`` apart."""
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))
    windows = windows[:, :, ::step, ::step][:, :, :out_hw[0], :out_hw[1]]
    return windows == windows.max(axis=(4, 5), keepdims=True)


def check_max_pool2d_backward(student_fn, seed=0, verbose=True):
    """Check ``max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0) -> grad_x`` (padding counts as
    -inf) against F.max_pool2d's backward; overlapping windows (kernel 3, stride 2) included, no ties."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, c, height, width, k, s, p in [(2, 3, 7, 7, 3, 2, 0), (2, 2, 8, 6, 2, 2, 0), (1, 3, 9, 8, 3, 2, 1)]:
        x = rng.standard_normal((n, c, height, width)) - (1.0 if p else 0.0)   # negative borders: padding is -inf
        out_hw = output_size(x.shape, (k, k), (s, s), (p, p))
        grad_output = rng.standard_normal((n, c, *out_hw))
        xt = leaf(x)
        F.max_pool2d(xt, k, s, p).backward(grad_output)

        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        won = winners(padded, k, s, out_hw)
        zero_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        upstream = grad_output[:, :, :, :, None, None]
        contributions = upstream * won
        hint = (f"Where windows overlap (kernel {k}, stride {s}) one entry can be the max of several windows, and "
                f"its gradient is the sum of theirs: add (grad[...] += ..., or np.add.at), do not overwrite (=). "
                f"NumPy's a[idx] += v with repeated indices also adds only once.")
        wrong = [WrongAnswer("= instead of +=", overwrite(contributions, x.shape, s, p, order), hint)
                 for order in ("windows", "winners")]
        to_winner = "each window's gradient goes to its winner alone, the entry that was the max"
        wrong += [WrongAnswer("gradient to the whole window", add_back(np.broadcast_to(upstream, won.shape), x.shape,
                                                                      s, p),
                              f"Your grad_x sends each window's gradient to every entry of the window: {to_winner}."),
                  WrongAnswer("average pooling's gradient", add_back(np.broadcast_to(upstream / k**2, won.shape),
                                                                     x.shape, s, p),
                              f"Your grad_x spreads each window's gradient evenly over it, average pooling's "
                              f"backward: max-pooling's goes to the winner alone ({to_winner})."),
                  WrongAnswer("row and column of the winner swapped",
                              add_back(upstream * won.swapaxes(4, 5), x.shape, s, p),
                              "Your winners sit at (j, i) where the max is at (i, j): np.argmax over a flattened "
                              "k x k window gives i * k + j, so i, j = divmod(index, k)."),
                  WrongAnswer("padding as zeros",
                              add_back(upstream * winners(zero_padded, k, s, out_hw), x.shape, s, p),
                              "Your grad_x loses the gradient of windows where every real entry is negative: you "
                              "padded with 0, which then wins. Padding counts as -inf in max-pooling "
                              "(np.pad(..., constant_values=-np.inf)).")]
        if s > 1:
            unstrided = add_back(upstream * winners(padded, k, 1, out_hw), x.shape, 1, p)   # windows 1 apart
            wrong.append(WrongAnswer("stride left out", unstrided,
                                     f"Your windows start at (r, t), one pixel apart: with stride {s} window (r, t) "
                                     f"starts at (s*r, s*t)."))
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
        right = "new_param = param - lr * grad"
        wrong = [WrongAnswer("lr left out", param - grad, f"Your step is the whole gradient: scale it by lr, {right}."),
                 WrongAnswer("squared gradient", param - lr * grad ** 2,
                             f"Your step uses grad^2 (Adam's second moment): SGD steps along the gradient itself, "
                             f"{right}."),
                 WrongAnswer("divided by lr", param - grad / lr,
                             f"Your step divides the gradient by lr: multiply, {right}."),
                 WrongAnswer("the step, not the new parameter", -lr * grad,
                             f"Your new_param is the step alone, -lr * grad: add it to the parameter, {right}."),
                 WrongAnswer(("the step, not the new parameter", "flipped sign"), lr * grad,
                             f"Your new_param is lr * grad: the update subtracts it from the parameter, {right}.")]
        cases.append(Case(f"param {shape}, grad {shape}, lr {lr}", (param, grad, lr), {},
                          [Output("new_param", p.data, wrong, baseline=param)]))
    return check("check_sgd_update: sgd_update(param, grad, lr) -> new_param (compared by its change, new_param - "
                 "param)", student_fn, cases, verbose)


def adam_by_formula(param, grad, m, v, step, lr, betas, eps, m_of="g", v_of="g2", swap_betas=False, t=None,
                    corrected_state=False, power=True, moments_after=False, corrected="mv", one_minus=True):
    """(new_param, new_m, new_v) of one Adam step by its formula, with a student's slips planted: m or v from
    the wrong moment (``m_of``, ``v_of``: 'g' or 'g2'), the betas swapped, the step ``t`` of the bias
    correction off by one, the corrected moments returned as the state, the correction without the power
    beta**t, the moments updated after the step, only one of them ``corrected`` ('m' or 'v'), the (1 - beta)
    factors of the moments left out (``one_minus`` False)."""
    b1, b2 = betas[::-1] if swap_betas else betas
    t = step if t is None else t
    moment = {"g": grad, "g2": grad ** 2}
    a1, a2 = (1 - b1, 1 - b2) if one_minus else (1.0, 1.0)
    new_m, new_v = b1 * m + a1 * moment[m_of], b2 * v + a2 * moment[v_of]
    used_m, used_v = (m, v) if moments_after else (new_m, new_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat = used_m / (1 - (b1 ** t if power else b1)) if "m" in corrected else used_m
        v_hat = used_v / (1 - (b2 ** t if power else b2)) if "v" in corrected else used_v
        new_param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return (new_param, m_hat, v_hat) if corrected_state else (new_param, new_m, new_v)


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
        b1, b2 = adam.betas
        m_hat, v_hat = new_m / (1 - b1 ** step), new_v / (1 - b2 ** step)
        wrong = [WrongAnswer("no bias correction", param - adam.lr * new_m / (np.sqrt(new_v) + adam.eps),
                             "Your step skips Adam's bias correction: with t = step, m_hat = m / (1 - beta1^t) and "
                             "v_hat = v / (1 - beta2^t) go into the update, param - lr * m_hat / (sqrt(v_hat) + eps)."),
                 WrongAnswer("square root left out", param - adam.lr * m_hat / (v_hat + adam.eps),
                             "Your step divides by v_hat, the mean squared gradient: Adam divides by its square root "
                             "(the gradient's scale), param - lr * m_hat / (sqrt(v_hat) + eps)."),
                 WrongAnswer("eps inside the square root", param - adam.lr * m_hat / np.sqrt(v_hat + adam.eps),
                             "Your step divides by sqrt(v_hat + eps): Adam adds eps after the square root, "
                             "param - lr * m_hat / (sqrt(v_hat) + eps)."),
                 WrongAnswer("the gradient for m_hat", param - adam.lr * grad / (np.sqrt(v_hat) + adam.eps),
                             "Your step moves by the raw gradient: Adam's numerator is m_hat, the bias-corrected "
                             "running mean of the gradients, param - lr * m_hat / (sqrt(v_hat) + eps).")]
        outputs = [Output("new_param", p.data, wrong, baseline=param), Output("new_m", new_m), Output("new_v", new_v)]
        formula = ("m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2, then m_hat = m / (1 - beta1^t), "
                   "v_hat = v / (1 - beta2^t), param - lr * m_hat / (sqrt(v_hat) + eps)")
        for mistake, settings, how in [
                ("m from the squared gradient", {"m_of": "g2"}, "builds m from g^2: m averages the gradient itself"),
                ("v from the gradient, not its square", {"v_of": "g"}, "builds v from g: v averages g^2"),
                ("betas swapped", {"swap_betas": True}, "uses beta2 for m and beta1 for v"),
                ("off-by-one step", {"t": step + 1}, "corrects with t = step + 1: step already counts from 1"),
                ("off-by-one step", {"t": step - 1}, "corrects with t = step - 1: step already counts from 1"),
                ("bias-corrected moments returned", {"corrected_state": True},
                 "returns m_hat and v_hat as the new state: keep m and v, and correct them afresh at each step"),
                ("bias correction without the power", {"power": False},
                 "divides by 1 - beta rather than 1 - beta^t"),
                ("bias correction of one moment only", {"corrected": "m"}, "corrects m but not v"),
                ("bias correction of one moment only", {"corrected": "v"}, "corrects v but not m"),
                ("(1 - beta) left out of the moments", {"one_minus": False},
                 "adds the whole gradient to the moments: each is an average, beta * old + (1 - beta) * new"),
                ("moments updated after the step", {"moments_after": True},
                 "takes the step with the old m and v: update them with this gradient first")]:
            answers = adam_by_formula(param, grad, m, v, step, adam.lr, adam.betas, adam.eps, **settings)
            for output, answer in zip(outputs, answers):
                if not np.array_equal(answer, output.reference):      # the same as right: not this mistake's
                    output.wrong_answers.append(WrongAnswer(mistake, answer, f"Your {output.name} {how}: {formula}."))
        settings = ", ".join(f"{key} {value}" for key, value in hyper.items()) or "default lr, betas, eps"
        cases.append(Case(f"param {shape}, step {step}, {settings}", (param, grad, m, v, step), hyper, outputs))
    return check("check_adam_update: adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8) -> "
                 "(new_param, new_m, new_v); new_param is compared by its change, new_param - param", student_fn, cases,
                 verbose)
