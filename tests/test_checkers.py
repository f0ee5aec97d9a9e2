"""The exercise checkers: right answers, written here in plain NumPy, pass every checker on several seeds;
each known mistake, planted in a copy of a right answer, is named (and nothing that does not apply);
exceptions, shapes and the printed table are reported as promised."""
import numpy as np
import pytest

from tinygrad_dl1 import exercises
from tinygrad_dl1.exercises import diagnosis
from tinygrad_dl1.exercises.checkers import COLUMNS

# ----- right answers, plain NumPy -----

def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def linear_backward(x, weight, grad_output):
    return grad_output @ weight, grad_output.T @ x, grad_output.sum(axis=0)


def leaky_relu_backward(x, grad_output, negative_slope=0.02):
    return grad_output * np.where(x > 0, 1.0, negative_slope)


def softmax_cross_entropy_backward(logits, labels):
    return (softmax(logits) - np.eye(logits.shape[1])[labels]) / len(labels)


def mlp_with(ce_backward=softmax_cross_entropy_backward, bias_grad=lambda g: g.sum(axis=0), in_order=True):
    """mlp_gradients built from the pieces above; the arguments plant mistakes."""
    def mlp_gradients(x, labels, weights, biases, negative_slope=0.02):
        inputs, pre_activations, h = [], [], x
        for k, (w, b) in enumerate(zip(weights, biases)):
            inputs.append(h)
            pre_activations.append(h @ w.T + b)
            h = pre_activations[-1]
            if k < len(weights) - 1:
                h = np.where(h > 0, h, negative_slope * h)
        loss = -np.log(softmax(h)[np.arange(len(labels)), labels]).mean()
        grad, grad_weights, grad_biases = ce_backward(h, labels), [], []
        for k in reversed(range(len(weights))):
            if k < len(weights) - 1:
                grad = leaky_relu_backward(pre_activations[k], grad, negative_slope)
            grad_weights.append(grad.T @ inputs[k])
            grad_biases.append(bias_grad(grad))
            grad = grad @ weights[k]
        if in_order:
            grad_weights, grad_biases = grad_weights[::-1], grad_biases[::-1]
        return loss, grad_weights, grad_biases
    return mlp_gradients


mlp_gradients = mlp_with()


def batch_norm_with(keep=("direct", "mean", "variance"), ddof=0, variance_scale=1.0, swap_gamma_beta=False):
    """batch_norm_backward by the closed form; the arguments plant mistakes."""
    def batch_norm_backward(x, gamma, grad_output, eps=1e-5):
        n, dy = len(x), grad_output
        sigma = np.sqrt(x.var(axis=0, ddof=ddof) + eps)
        x_hat = (x - x.mean(axis=0)) / sigma
        paths = {"direct": gamma / sigma * dy,
                 "mean": -gamma / (n * sigma) * dy.sum(axis=0),
                 # the variance's derivative: 2 (x - mu) / (N - ddof)
                 "variance": -gamma / ((n - ddof) * sigma) * x_hat * (dy * x_hat).sum(axis=0) * variance_scale}
        dx = np.zeros_like(x)
        for name in keep:
            dx += paths[name]
        dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
        return (dx, dbeta, dgamma) if swap_gamma_beta else (dx, dgamma, dbeta)
    return batch_norm_backward


batch_norm_backward = batch_norm_with()


def output_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def im2col(x, kernel_size, stride, padding):
    n, c, height, width = x.shape
    k, s, p = kernel_size, stride, padding
    oh, ow = output_size(height, k, s, p), output_size(width, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((n, oh, ow, k, k, c))
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = xp[:, :, i:i + s * oh:s, j:j + s * ow:s].transpose(0, 2, 3, 1)
    return cols.reshape(n * oh * ow, k * k * c)


def col2im(cols, x_shape, k, s, p, by="offsets", add=True):
    """The adjoint of im2col, a loop over kernel offsets or over windows; add=False plants = for +=."""
    n, c, height, width = x_shape
    oh, ow = output_size(height, k, s, p), output_size(width, k, s, p)
    x_pad = np.zeros((n, c, height + 2 * p, width + 2 * p))
    blocks = cols.reshape(n, oh, ow, k, k, c)
    if by == "offsets":
        for i in range(k):
            for j in range(k):
                target = (slice(None), slice(None), slice(i, i + s * oh, s), slice(j, j + s * ow, s))
                value = blocks[:, :, :, i, j, :].transpose(0, 3, 1, 2)
                x_pad[target] = x_pad[target] + value if add else value
    else:
        for r in range(oh):
            for t in range(ow):
                target = (slice(None), slice(None), slice(s * r, s * r + k), slice(s * t, s * t + k))
                value = blocks[:, r, t].transpose(0, 3, 1, 2)
                x_pad[target] = x_pad[target] + value if add else value
    return x_pad[:, :, p:p + height, p:p + width]


def conv2d_with(by="offsets", add=True):
    def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
        c_out, c_in, k, _ = weight.shape
        cols = im2col(x, k, stride, padding)
        wm = weight.transpose(0, 2, 3, 1).reshape(c_out, -1)           # columns (i, j, c), as cols
        dy = grad_output.transpose(0, 2, 3, 1).reshape(-1, c_out)
        dw = (dy.T @ cols).reshape(c_out, k, k, c_in).transpose(0, 3, 1, 2)
        dx = col2im(dy @ wm, x.shape, k, stride, padding, by, add)
        return dx, dw, dy.sum(axis=0)
    return conv2d_backward


conv2d_backward = conv2d_with()


def max_pool_with(write="add"):
    """max_pool2d_backward, a loop over output pixels; write='winner' or 'window' plants = for +=."""
    def max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0):
        n, c, height, width = x.shape
        k, s, p = kernel_size, stride, padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        gxp = np.zeros_like(xp)
        samples, channels = np.indices((n, c))
        for r in range(grad_output.shape[2]):
            for t in range(grad_output.shape[3]):
                window = xp[:, :, s * r:s * r + k, s * t:s * t + k]
                g = grad_output[:, :, r, t]
                if write == "window":           # the whole window written: mask * g
                    mask = window == window.max(axis=(2, 3), keepdims=True)
                    gxp[:, :, s * r:s * r + k, s * t:s * t + k] = mask * g[:, :, None, None]
                    continue
                i, j = np.divmod(window.reshape(n, c, k * k).argmax(axis=2), k)
                if write == "add":
                    gxp[samples, channels, s * r + i, s * t + j] += g
                else:
                    gxp[samples, channels, s * r + i, s * t + j] = g
        return gxp[:, :, p:p + height, p:p + width]
    return max_pool2d_backward


max_pool2d_backward = max_pool_with()


def sgd_update(param, grad, lr):
    return param - lr * grad


def adam_with(bias_correction=True, sign=1):
    def adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad ** 2
        m_hat, v_hat = (m / (1 - b1 ** step), v / (1 - b2 ** step)) if bias_correction else (m, v)
        return param - sign * lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    return adam_update


adam_update = adam_with()

RIGHT = [(exercises.check_linear_backward, linear_backward),
         (exercises.check_leaky_relu_backward, leaky_relu_backward),
         (exercises.check_softmax_cross_entropy_backward, softmax_cross_entropy_backward),
         (exercises.check_mlp_gradients, mlp_gradients),
         (exercises.check_batch_norm_backward, batch_norm_backward),
         (exercises.check_im2col, im2col),
         (exercises.check_conv2d_backward, conv2d_backward),
         (exercises.check_max_pool2d_backward, max_pool2d_backward),
         (exercises.check_sgd_update, sgd_update),
         (exercises.check_adam_update, adam_update)]


def run(checker, fn, seed=0):
    return checker(fn, seed=seed, verbose=False)


# ----- right answers are never blamed -----

@pytest.mark.parametrize("checker, fn", RIGHT, ids=[c.__name__ for c, _ in RIGHT])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_right_answer_passes_every_checker(checker, fn, seed):
    report = run(checker, fn, seed)
    assert report.passed, report.text
    assert report.mistakes == []
    assert all(row.verdict == "correct" and not row.hint for row in report.rows)
    assert "PASSED" in report.text and "diagnoses" not in report.text


def test_a_pattern_equal_to_the_right_answer_never_blames_it():
    reference = np.random.default_rng(0).standard_normal((3, 4))
    same = diagnosis.WrongAnswer("flipped sign", reference.copy(), "never shown")
    row = diagnosis.compare("g", reference + 1e-12, reference, wrong_answers=[same], batch_size=3)
    assert row.verdict == "correct" and row.mistakes == () and row.hint == ""
    # a wrong answer that happens to equal a pattern that would not change the answer: not named after it
    row = diagnosis.compare("g", 2 * reference, reference, wrong_answers=[same])
    assert "flipped sign" not in row.mistakes and row.mistakes == ("constant factor",)


# ----- each mistake, planted, is named -----

def swapped_linear(x, weight, grad_output):
    gx, gw, gb = linear_backward(x, weight, grad_output)
    return gw, gx, gb


def leaky_flipped_sign(x, grad_output, negative_slope=0.02):
    return -leaky_relu_backward(x, grad_output, negative_slope)


def ce_times_n(logits, labels):
    return len(labels) * softmax_cross_entropy_backward(logits, labels)        # the mean's 1/N left out


def naive_softmax_ce(logits, labels):
    with np.errstate(over="ignore", invalid="ignore"):     # no max subtracted: exp overflows
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return (p - np.eye(logits.shape[1])[labels]) / len(labels)


def conv_flipped_sign(x, weight, grad_output, stride=1, padding=0):
    return tuple(-g for g in conv2d_backward(x, weight, grad_output, stride, padding))


def conv_weight_not_transposed_back(x, weight, grad_output, stride=1, padding=0):
    dx, dw, db = conv2d_backward(x, weight, grad_output, stride, padding)
    return dx, dw.transpose(0, 2, 3, 1), db                                 # left as (C_out, k, k, C_in)


def conv_bias_per_example(x, weight, grad_output, stride=1, padding=0):
    dx, dw, _ = conv2d_backward(x, weight, grad_output, stride, padding)
    return dx, dw, grad_output.sum(axis=(2, 3))                             # summed over pixels, not the batch


def conv_swapped(x, weight, grad_output, stride=1, padding=0):
    dx, dw, db = conv2d_backward(x, weight, grad_output, stride, padding)
    return dw, dx, db


def conv_kernel_not_flipped(x, weight, grad_output, stride=1, padding=0):
    _, dw, db = conv2d_backward(x, weight, grad_output, stride, padding)
    dx, _, _ = conv2d_backward(x, weight[:, :, ::-1, ::-1], grad_output, stride, padding)
    return dx, dw, db


def im2col_pytorch_order(x, kernel_size, stride, padding):
    cols = im2col(x, kernel_size, stride, padding)
    c = x.shape[1]
    return cols.reshape(-1, kernel_size, kernel_size, c).transpose(0, 3, 1, 2).reshape(cols.shape)


PLANTED = {
    "missing transpose": [
        (exercises.check_linear_backward, lambda x, w, g: (g @ w, x.T @ g, g.sum(axis=0))),
        (exercises.check_conv2d_backward, conv_weight_not_transposed_back),
        (exercises.check_im2col, lambda *args: im2col(*args).T),
    ],
    "missing 1/N": [
        (exercises.check_softmax_cross_entropy_backward, ce_times_n),
        (exercises.check_mlp_gradients, mlp_with(ce_backward=ce_times_n)),
    ],
    "extra 1/N": [
        (exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x / len(x), g.sum(axis=0))),
        (exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x, g.mean(axis=0))),
    ],
    "= instead of +=": [
        (exercises.check_batch_norm_backward, batch_norm_with(keep=("direct", "variance"))),     # lost the mean
        (exercises.check_batch_norm_backward, batch_norm_with(keep=("direct", "mean"))),         # lost the variance
        (exercises.check_batch_norm_backward, batch_norm_with(keep=("direct",))),
        (exercises.check_max_pool2d_backward, max_pool_with(write="winner")),
        (exercises.check_max_pool2d_backward, max_pool_with(write="window")),
        (exercises.check_conv2d_backward, conv2d_with(by="offsets", add=False)),
        (exercises.check_conv2d_backward, conv2d_with(by="windows", add=False)),
    ],
    "flipped sign": [
        (exercises.check_leaky_relu_backward, leaky_flipped_sign),
        (exercises.check_conv2d_backward, conv_flipped_sign),
        (exercises.check_sgd_update, lambda param, grad, lr: param + lr * grad),
        (exercises.check_adam_update, adam_with(sign=-1)),
        (exercises.check_softmax_cross_entropy_backward, lambda z, t: -softmax_cross_entropy_backward(z, t)),
    ],
    "Bessel's correction": [
        (exercises.check_batch_norm_backward, batch_norm_with(ddof=1)),
        (exercises.check_batch_norm_backward, lambda x, *args, **kwargs: batch_norm_with(
            variance_scale=len(x) / (len(x) - 1))(x, *args, **kwargs)),
    ],
    "gradient of the wrong input": [
        (exercises.check_linear_backward, swapped_linear),
        (exercises.check_conv2d_backward, conv_swapped),
        (exercises.check_batch_norm_backward, batch_norm_with(swap_gamma_beta=True)),
    ],
    "bias not summed over the batch": [
        (exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x, g)),
        (exercises.check_conv2d_backward, conv_bias_per_example),
        (exercises.check_mlp_gradients, mlp_with(bias_grad=lambda g: g)),
    ],
    "one-hot not subtracted": [
        (exercises.check_softmax_cross_entropy_backward, lambda z, t: softmax(z) / len(t)),
    ],
    "upstream gradient ignored": [
        (exercises.check_leaky_relu_backward, lambda x, g, negative_slope=0.02: np.where(x > 0, 1.0, negative_slope)),
    ],
    "layers in reverse order": [
        (exercises.check_mlp_gradients, mlp_with(in_order=False)),
    ],
    "kernel not flipped": [
        (exercises.check_conv2d_backward, conv_kernel_not_flipped),
    ],
    "wrong layout": [
        (exercises.check_im2col, im2col_pytorch_order),
    ],
    "no bias correction": [
        (exercises.check_adam_update, adam_with(bias_correction=False)),
    ],
    "not finite": [
        (exercises.check_softmax_cross_entropy_backward, naive_softmax_ce),
    ],
}
PLANTS = [(mistake, checker, fn) for mistake, plants in PLANTED.items() for checker, fn in plants]


@pytest.mark.parametrize("mistake, checker, fn", PLANTS,
                         ids=[f"{m}-{c.__name__}-{i}" for i, (m, c, _) in enumerate(PLANTS)])
def test_a_planted_mistake_is_named_and_nothing_else(mistake, checker, fn):
    for seed in (0, 1):
        report = run(checker, fn, seed)
        assert not report.passed
        assert report.mistakes == [mistake], report.text
        assert f"Likely mistakes: {mistake}." in report.text
        for row in report.rows:     # each row is right, or wrong with this mistake named and a hint
            assert row.correct or (row.mistakes == (mistake,) and row.hint), report.text


def test_both_mistakes_are_named_when_two_are_made():
    report = run(exercises.check_softmax_cross_entropy_backward, lambda z, t: softmax(z))
    assert report.mistakes == ["one-hot not subtracted", "missing 1/N"], report.text
    report = run(exercises.check_linear_backward, lambda x, w, g: (-g @ w * len(x), g.T @ x, g.sum(axis=0)))
    assert report.mistakes == ["flipped sign", "missing 1/N"], report.text


def test_the_batch_norm_diagnosis_names_the_lost_path():
    report = run(exercises.check_batch_norm_backward, batch_norm_with(keep=("direct", "mean")))
    text = " ".join(report.text.split())
    assert "without the path through the variance" in text
    report = run(exercises.check_batch_norm_backward, batch_norm_with(keep=("direct", "variance")))
    assert "without the path through the mean" in " ".join(report.text.split())


def test_an_all_ones_upstream_gradient_would_hide_the_lost_variance_path():
    # why the checker's upstream gradient is random: with dy = 1, sum(dy * x_hat) = 0 and the path is 0
    rng = np.random.default_rng(0)
    x, gamma, ones = rng.standard_normal((6, 3)), rng.uniform(0.5, 2, 3), np.ones((6, 3))
    lost = batch_norm_with(keep=("direct", "mean"))(x, gamma, ones)[0]
    assert np.allclose(lost, batch_norm_backward(x, gamma, ones)[0])
    report = run(exercises.check_batch_norm_backward, batch_norm_with(keep=("direct", "mean")))
    assert not report.passed


def test_the_overlapping_cases_are_the_ones_that_show_overwriting():
    report = run(exercises.check_max_pool2d_backward, max_pool_with(write="winner"))
    verdicts = {row.case: row.verdict for row in report.rows}
    assert verdicts["2"] == "correct"           # kernel 2, stride 2: windows do not overlap
    assert verdicts["1"] == verdicts["3"] == "wrong"


def test_the_assignment_batch_norm_case_is_checked():
    report = run(exercises.check_batch_norm_backward, batch_norm_backward)
    assert "sqrt(10 * arange(C)), beta = 100 * arange(C)" in report.text
    assert "(random)" in report.text


# ----- errors, shapes and the report -----

def test_not_implemented_error_passes_through_unchanged():
    def not_written(*args, **kwargs):
        raise NotImplementedError("write linear_backward in tutorial 02")
    for checker, _ in RIGHT:
        with pytest.raises(NotImplementedError, match="write linear_backward in tutorial 02"):
            run(checker, not_written)


def test_other_exceptions_become_rows_naming_the_exception_and_the_shapes():
    def broken(x, weight, grad_output):
        return grad_output @ weight.T, None, None       # the shapes do not fit: ValueError
    report = run(exercises.check_linear_backward, broken)
    assert not report.passed and report.mistakes == ["raised an exception"]
    assert [row.verdict for row in report.rows] == ["error"] * 3
    assert "ValueError" in report.text and "x (4, 3), weight (5, 3), grad_output (4, 5)" in report.text


def test_a_shape_mismatch_is_a_row_not_a_crash():
    report = run(exercises.check_linear_backward,
                 lambda x, w, g: (g @ w, g.T @ x, g.sum(axis=0, keepdims=True)))      # (1, n_out), not (n_out,)
    bias_rows = [row for row in report.rows if row.name == "grad_bias"]
    assert all(row.verdict == "wrong shape" and row.mistakes == ("wrong shape",) for row in bias_rows)
    assert "(1, 5), want (5,)" in report.text and "reshape it" in report.text
    report = run(exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x, np.zeros(7)))
    assert report.mistakes == ["wrong shape"]


def test_a_wrong_number_of_outputs_or_none_is_reported():
    report = run(exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x))
    assert report.mistakes == ["wrong number of outputs"] and "expected 3 values" in report.text
    report = run(exercises.check_leaky_relu_backward, lambda x, g, negative_slope=0.02: None)
    assert report.mistakes == ["not an array"] and "a missing return?" in report.text
    report = run(exercises.check_mlp_gradients, lambda *args, **kwargs: mlp_gradients(*args, **kwargs)[:2])
    assert report.mistakes == ["wrong number of outputs"]


def test_the_student_cannot_change_the_checkers_inputs():
    def in_place(x, weight, grad_output):
        answer = linear_backward(x, weight, grad_output)
        x[...], weight[...], grad_output[...] = 0, 0, 0
        return answer
    report = run(exercises.check_linear_backward, in_place)
    assert report.passed, report.text


def test_the_text_has_the_table_and_the_thresholds_and_is_printed(capsys):
    report = exercises.check_linear_backward(lambda x, w, g: (g @ w, x.T @ g, g.sum(axis=0)))
    assert capsys.readouterr().out.strip() == report.text.strip()
    header = next(line for line in report.text.splitlines() if line.startswith("case  "))
    positions = [header.index(column) for column in COLUMNS]
    assert positions == sorted(positions), header
    assert "1e-07" in report.text and "1e-04" in report.text and "relative error =" in report.text
    assert "diagnoses:" in report.text and "cases 1, 2, 3, grad_weight: missing transpose." in report.text
    assert "FAILED: 3 of 9 rows are not correct." in report.text
    exercises.check_linear_backward(linear_backward, verbose=False)
    assert capsys.readouterr().out == ""


# ----- compare and its numbers -----

def test_relative_error_is_the_largest_difference_over_the_largest_entry():
    a, b = np.array([1.0, -4.0, 2.0]), np.array([1.5, -4.0, 2.0])
    assert diagnosis.relative_error(a, b) == pytest.approx(0.5 / 4.0)
    assert diagnosis.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert np.isnan(diagnosis.relative_error(np.array([np.nan]), np.array([1.0])))


@pytest.mark.parametrize("noise, verdict", [(0.0, "correct"), (1e-9, "correct"), (1e-6, "close: check"),
                                            (1e-3, "wrong")])
def test_the_verdict_follows_the_thresholds(noise, verdict):
    reference = np.random.default_rng(1).standard_normal((4, 5))
    student = reference * (1 + noise * np.random.default_rng(2).standard_normal((4, 5)))
    row = diagnosis.compare("g", student, reference, batch_size=4)
    assert row.verdict == verdict
    assert (row.hint == "") == (verdict == "correct")
    assert row.close == (noise < 1e-5) and row.exact == (noise == 0)


def test_a_float32_answer_that_is_only_close_is_named():
    reference = np.random.default_rng(1).standard_normal((40, 50))
    student = (reference * (1 + 1e-6)).astype(np.float32)
    row = diagnosis.compare("g", student, reference)
    assert row.verdict == "close: check" and row.mistakes == ("float32",)


def test_generic_patterns_of_compare():
    rng = np.random.default_rng(3)
    reference = rng.standard_normal((4, 6))
    assert diagnosis.compare("g", reference.T, reference).mistakes == ("missing transpose",)
    assert diagnosis.compare("g", -reference, reference).mistakes == ("flipped sign",)
    assert diagnosis.compare("g", 4 * reference, reference, batch_size=4).mistakes == ("missing 1/N",)
    assert diagnosis.compare("g", reference / 4, reference, batch_size=4).mistakes == ("extra 1/N",)
    assert diagnosis.compare("g", 3 * reference, reference, batch_size=4).mistakes == ("constant factor",)
    assert diagnosis.compare("g", np.zeros((4, 6)), reference).mistakes == ("all zeros",)
    shuffled = rng.permutation(reference.ravel()).reshape(reference.shape)
    assert diagnosis.compare("g", shuffled, reference).mistakes == ("wrong layout",)
    nan = reference.copy()
    nan[1, 2] = np.nan
    assert diagnosis.compare("g", nan, reference).mistakes == ("not finite",)
    per_example = rng.standard_normal((5, 6))
    assert diagnosis.compare("b", per_example, per_example.sum(axis=0)).mistakes == (
        "bias not summed over the batch",)
    terms = {"path a": rng.standard_normal((4, 6)), "path b": rng.standard_normal((4, 6))}
    total = terms["path a"] + terms["path b"]
    row = diagnosis.compare("g", terms["path a"], total, terms=terms)
    assert row.mistakes == ("= instead of +=",) and "without path b" in row.hint
    unexplained = reference + rng.standard_normal((4, 6))
    row = diagnosis.compare("g", unexplained, reference)
    assert row.verdict == "wrong" and row.mistakes == () and "largest difference is at index" in row.hint


# ----- a teaching assistant's list: what a student who half-remembers each formula writes -----

def mlp_variant(last_activation=False, relu=False, with_biases=True, default_slope=0.02):
    """mlp_gradients written plainly with one slip planted."""
    def mlp_gradients(x, labels, weights, biases, negative_slope=default_slope):
        s = 0.0 if relu else negative_slope
        inputs, pre, h = [], [], x
        for k, (w, b) in enumerate(zip(weights, biases)):
            inputs.append(h)
            pre.append(h @ w.T + (b if with_biases else 0))
            h = pre[-1]
            if k < len(weights) - 1 or last_activation:
                h = np.where(h > 0, h, s * h)
        loss = -np.log(softmax(h)[np.arange(len(labels)), labels]).mean()
        grad = softmax_cross_entropy_backward(h, labels)
        grad_weights, grad_biases = [None] * len(weights), [None] * len(weights)
        for k in reversed(range(len(weights))):
            if k < len(weights) - 1 or last_activation:
                grad = grad * np.where(pre[k] > 0, 1.0, s)
            grad_weights[k], grad_biases[k] = grad.T @ inputs[k], grad.sum(axis=0)
            grad = grad @ weights[k]
        return loss, grad_weights, grad_biases
    return mlp_gradients


def bn_variant(ddof=0, x_in_gamma=False, variance=False, no_n=False, axis=0, no_gamma=False):
    """batch_norm_backward in the tutorial's closed form, with one slip planted."""
    def batch_norm_backward(x, gamma, grad_output, eps=1e-5):
        n, dy = len(x), grad_output
        var = x.var(axis=0, ddof=ddof) + eps
        sigma = var if variance else np.sqrt(var)
        x_hat = (x - x.mean(axis=0)) / sigma
        g = 1.0 if no_gamma else gamma
        m = 1 if no_n else n
        dx = g / (m * sigma) * (m * dy - dy.sum(axis=axis, keepdims=True)
                                - x_hat * (dy * x_hat).sum(axis=axis, keepdims=True))
        dgamma = (dy * (x if x_in_gamma else x_hat)).sum(axis=axis)
        return dx, dgamma, dy.sum(axis=axis)
    return batch_norm_backward


def adam_variant(m_of="g", v_of="g2", swap=False, shift=0, corrected_state=False, power=True, after=False):
    def adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas[::-1] if swap else betas
        moments = {"g": grad, "g2": grad * grad}
        old_m, old_v = m, v
        m = b1 * m + (1 - b1) * moments[m_of]
        v = b2 * v + (1 - b2) * moments[v_of]
        t = step + shift
        with np.errstate(divide="ignore", invalid="ignore"):
            m_hat = (old_m if after else m) / (1 - (b1 ** t if power else b1))
            v_hat = (old_v if after else v) / (1 - (b2 ** t if power else b2))
            new = param - lr * m_hat / (np.sqrt(v_hat) + eps)
        return (new, m_hat, v_hat) if corrected_state else (new, m, v)
    return adam_update


def im2col_variant(pad=True, strided=True, extra=1, order="ijc"):
    def im2col(x, kernel_size, stride, padding):
        n, c, height, width = x.shape
        k, s, p = kernel_size, stride, padding if pad else 0
        oh, ow = (height + 2 * p - k) // s + extra, (width + 2 * p - k) // s + extra
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        step = s if strided else 1
        cols = np.empty((n, oh, ow, k, k, c))
        for i in range(k):
            for j in range(k):
                cols[:, :, :, i, j, :] = xp[:, :, i:i + step * oh:step, j:j + step * ow:step].transpose(0, 2, 3, 1)
        if order == "jic":
            cols = cols.transpose(0, 1, 2, 4, 3, 5)
        return cols.reshape(n * oh * ow, k * k * c)
    return im2col


def conv_variant(flip_dw=False, crop=True, reshape_only=False):
    def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
        c_out, c_in, k, _ = weight.shape
        n, _, height, width = x.shape
        cols = im2col(x, k, stride, padding)
        wm = weight.reshape(c_out, -1) if reshape_only else weight.transpose(0, 2, 3, 1).reshape(c_out, -1)
        dy = grad_output.transpose(0, 2, 3, 1).reshape(-1, c_out)
        dw_m = dy.T @ cols
        dw = dw_m.reshape(weight.shape) if reshape_only else dw_m.reshape(c_out, k, k, c_in).transpose(0, 3, 1, 2)
        if flip_dw:
            dw = dw[:, :, ::-1, ::-1]
        oh, ow = grad_output.shape[2:]
        blocks = (dy @ wm).reshape(n, oh, ow, k, k, c_in)
        xp = np.zeros((n, c_in, height + 2 * padding, width + 2 * padding))
        for i in range(k):
            for j in range(k):
                rows, cols_ = slice(i, i + stride * oh, stride), slice(j, j + stride * ow, stride)
                xp[:, :, rows, cols_] += blocks[:, :, :, i, j].transpose(0, 3, 1, 2)
        dx = xp[:, :, padding:padding + height, padding:padding + width] if crop else xp
        return dx, dw, dy.sum(axis=0)
    return conv2d_backward


def pool_variant(mode="winner", pad_value=-np.inf, strided=True):
    def max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0):
        n, c, height, width = x.shape
        k, s, p = kernel_size, stride if strided else 1, padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
        gxp = np.zeros_like(xp)
        for nn in range(n):
            for cc in range(c):
                for r in range(grad_output.shape[2]):
                    for t in range(grad_output.shape[3]):
                        window = xp[nn, cc, s * r:s * r + k, s * t:s * t + k]
                        g = grad_output[nn, cc, r, t]
                        if mode == "window":
                            gxp[nn, cc, s * r:s * r + k, s * t:s * t + k] += g
                        elif mode == "average":
                            gxp[nn, cc, s * r:s * r + k, s * t:s * t + k] += g / k ** 2
                        else:
                            i, j = divmod(int(window.argmax()), k)
                            if mode == "swapped":
                                i, j = j, i
                            gxp[nn, cc, s * r + i, s * t + j] += g
        return gxp[:, :, p:p + height, p:p + width]
    return max_pool2d_backward


def ce_softmax(axis):
    def backward(logits, labels):
        e = np.exp(logits - logits.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True) - np.eye(logits.shape[1])[labels]) / len(labels)
    return backward


def adam_slip(eps_inside=False, grad_for_m_hat=False, no_square_root=False):
    """Adam with one of three slips: eps inside the square root, the raw gradient for m_hat, no square root."""
    def adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad ** 2
        m_hat, v_hat = m / (1 - b1 ** step), v / (1 - b2 ** step)
        scale = v_hat + eps if no_square_root else np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return param - lr * (grad if grad_for_m_hat else m_hat) / scale, m, v
    return adam_update


adam_without_the_square_root = adam_slip(no_square_root=True)


def conv_with_grad_output_reshaped(x, weight, grad_output, stride=1, padding=0):
    """conv2d_backward with dY = grad_output.reshape(-1, C_out): its channels never moved last."""
    c_out, c_in, k, _ = weight.shape
    cols = im2col(x, k, stride, padding)
    dy = grad_output.reshape(-1, c_out)
    wm = weight.transpose(0, 2, 3, 1).reshape(c_out, -1)
    dw = (dy.T @ cols).reshape(c_out, k, k, c_in).transpose(0, 3, 1, 2)
    return col2im(dy @ wm, x.shape, k, stride, padding), dw, dy.sum(axis=0)


TA_LIST = [
    # linear_backward
    ("summed over the wrong axis", exercises.check_linear_backward, lambda x, w, g: (g @ w, g.T @ x, g.sum(axis=1))),
    ("sums taken before the product", exercises.check_linear_backward,
     lambda x, w, g: (g @ w, np.outer(g.sum(axis=0), x.sum(axis=0)), g.sum(axis=0))),
    ("flipped sign", exercises.check_linear_backward, lambda x, w, g: (g @ w, -(g.T @ x), g.sum(axis=0))),
    # leaky_relu_backward
    ("branches swapped", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * np.where(x > 0, negative_slope, 1.0)),
    ("negative_slope left out", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * (x > 0)),
    ("mask from grad_output", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * np.where(g > 0, 1.0, negative_slope)),
    ("the activation, not its derivative", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * np.where(x > 0, x, negative_slope * x)),
    ("wrong default negative_slope", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.01: g * np.where(x > 0, 1.0, negative_slope)),
    ("positive branch left out", exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * np.where(x > 0, 0.0, negative_slope)),
    # softmax_cross_entropy_backward
    ("softmax over the wrong axis", exercises.check_softmax_cross_entropy_backward, ce_softmax(axis=0)),
    ("one-hot added, not subtracted", exercises.check_softmax_cross_entropy_backward,
     lambda z, t: (softmax(z) + np.eye(z.shape[1])[t]) / len(t)),
    ("sigmoid for softmax", exercises.check_softmax_cross_entropy_backward,
     lambda z, t: (1 / (1 + np.exp(-np.clip(z, -500, 500))) - np.eye(z.shape[1])[t]) / len(t)),
    ("softmax left out", exercises.check_softmax_cross_entropy_backward,
     lambda z, t: (z - np.eye(z.shape[1])[t]) / len(t)),
    ("divided by the number of classes", exercises.check_softmax_cross_entropy_backward,
     lambda z, t: (softmax(z) - np.eye(z.shape[1])[t]) / z.shape[1]),
    ("gradient with respect to the probabilities", exercises.check_softmax_cross_entropy_backward,
     lambda z, t: -np.eye(z.shape[1])[t] / softmax(z) / len(t)),
    # mlp_gradients
    ("activation after the last layer", exercises.check_mlp_gradients, mlp_variant(last_activation=True)),
    ("ReLU instead of leaky ReLU", exercises.check_mlp_gradients, mlp_variant(relu=True)),
    ("biases left out of the forward pass", exercises.check_mlp_gradients, mlp_variant(with_biases=False)),
    ("wrong default negative_slope", exercises.check_mlp_gradients, mlp_variant(default_slope=0.01)),
    # batch_norm_backward
    ("Bessel's correction", exercises.check_batch_norm_backward, bn_variant(ddof=1)),
    ("x instead of x_hat", exercises.check_batch_norm_backward, bn_variant(x_in_gamma=True)),
    ("variance instead of standard deviation", exercises.check_batch_norm_backward, bn_variant(variance=True)),
    ("missing 1/N", exercises.check_batch_norm_backward, bn_variant(no_n=True)),
    ("summed over the wrong axis", exercises.check_batch_norm_backward, bn_variant(axis=1)),
    ("gamma left out", exercises.check_batch_norm_backward, bn_variant(no_gamma=True)),
    # sgd_update
    ("lr left out", exercises.check_sgd_update, lambda param, grad, lr: param - grad),
    ("divided by lr", exercises.check_sgd_update, lambda param, grad, lr: param - grad / lr),
    ("the step, not the new parameter", exercises.check_sgd_update, lambda param, grad, lr: -lr * grad),
    # adam_update
    ("m from the squared gradient", exercises.check_adam_update, adam_variant(m_of="g2")),
    ("v from the gradient, not its square", exercises.check_adam_update, adam_variant(v_of="g")),
    ("betas swapped", exercises.check_adam_update, adam_variant(swap=True)),
    ("off-by-one step", exercises.check_adam_update, adam_variant(shift=1)),
    ("off-by-one step", exercises.check_adam_update, adam_variant(shift=-1)),
    ("bias-corrected moments returned", exercises.check_adam_update, adam_variant(corrected_state=True)),
    ("bias correction without the power", exercises.check_adam_update, adam_variant(power=False)),
    ("moments updated after the step", exercises.check_adam_update, adam_variant(after=True)),
    ("square root left out", exercises.check_adam_update, adam_without_the_square_root),
    ("eps inside the square root", exercises.check_adam_update, adam_slip(eps_inside=True)),
    ("the gradient for m_hat", exercises.check_adam_update, adam_slip(grad_for_m_hat=True)),
    # im2col
    ("padding left out", exercises.check_im2col, im2col_variant(pad=False)),
    ("stride left out of the slice", exercises.check_im2col, im2col_variant(strided=False)),
    ("output size off by one", exercises.check_im2col, im2col_variant(extra=0)),
    ("kernel offsets swapped", exercises.check_im2col, im2col_variant(order="jic")),
    # conv2d_backward
    ("kernel flipped", exercises.check_conv2d_backward, conv_variant(flip_dw=True)),
    ("padding not cropped", exercises.check_conv2d_backward, conv_variant(crop=False)),
    ("missing transpose", exercises.check_conv2d_backward, conv_variant(reshape_only=True)),
    ("grad_output not made channels-last", exercises.check_conv2d_backward, conv_with_grad_output_reshaped),
    # max_pool2d_backward
    ("gradient to the whole window", exercises.check_max_pool2d_backward, pool_variant(mode="window")),
    ("average pooling's gradient", exercises.check_max_pool2d_backward, pool_variant(mode="average")),
    ("row and column of the winner swapped", exercises.check_max_pool2d_backward, pool_variant(mode="swapped")),
    ("padding as zeros", exercises.check_max_pool2d_backward, pool_variant(pad_value=0.0)),
    ("stride left out", exercises.check_max_pool2d_backward, pool_variant(strided=False)),
]


@pytest.mark.parametrize("mistake, checker, fn", TA_LIST,
                         ids=[f"{m}-{c.__name__}-{i}" for i, (m, c, _) in enumerate(TA_LIST)])
def test_a_teaching_assistants_mistake_is_named_and_nothing_else(mistake, checker, fn):
    test_a_planted_mistake_is_named_and_nothing_else(mistake, checker, fn)


def test_every_exercise_has_at_least_three_named_mistakes_planted():
    counts = {}
    for mistake, checker, _ in PLANTS + TA_LIST:
        counts.setdefault(checker.__name__, set()).add(mistake)
    assert {name for name, _ in ((c.__name__, f) for c, f in RIGHT)} == set(counts)
    assert all(len(mistakes) >= 3 for mistakes in counts.values()), counts


def test_the_unbiased_variance_is_named_alike_in_grad_x_and_grad_gamma():
    report = run(exercises.check_batch_norm_backward, bn_variant(ddof=1))
    assert {row.name for row in report.rows if not row.correct} == {"grad_x", "grad_gamma"}
    assert all(row.mistakes == ("Bessel's correction",) for row in report.rows if not row.correct), report.text


# ----- right answers written other ways are never blamed -----

def leaky_in_place(x, grad_output, negative_slope=0.02):
    grad = grad_output.copy()
    grad[x <= 0] *= negative_slope
    return grad


def ce_in_place(logits, labels):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1
    return p / len(labels)


def bn_staged(x, gamma, grad_output, eps=1e-5):
    """The textbook's staged backward: dx_hat, dvar, dmean, then dx."""
    n = len(x)
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    dx_hat = grad_output * gamma
    dvar = (dx_hat * (x - mu) * -0.5 * (var + eps) ** -1.5).sum(axis=0)
    dmean = (-dx_hat / np.sqrt(var + eps)).sum(axis=0) + dvar * (-2 * (x - mu)).mean(axis=0)
    dx = dx_hat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmean / n
    return dx, (grad_output * x_hat).sum(axis=0), grad_output.sum(axis=0)


def sgd_in_place(param, grad, lr):
    param -= lr * grad
    return param


def adam_in_place(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m *= b1
    m += (1 - b1) * grad
    v *= b2
    v += (1 - b2) * grad ** 2
    param -= lr * (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + eps)
    return param, m, v


def im2col_loops(x, kernel_size, stride, padding):
    n, c, height, width = x.shape
    k, s, p = kernel_size, stride, padding
    oh, ow = output_size(height, k, s, p), output_size(width, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    rows = [xp[b, :, s * r:s * r + k, s * t:s * t + k].transpose(1, 2, 0).ravel()
            for b in range(n) for r in range(oh) for t in range(ow)]
    return np.array(rows)


def conv_loops(x, weight, grad_output, stride=1, padding=0):
    """Every multiply-add of the forward pass, its gradients added with np.add.at."""
    c_out, c_in, k, _ = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(weight)
    for r in range(grad_output.shape[2]):
        for t in range(grad_output.shape[3]):
            rows, cols = np.arange(stride * r, stride * r + k), np.arange(stride * t, stride * t + k)
            window = xp[:, :, rows][:, :, :, cols]                                # (n, c_in, k, k)
            g = grad_output[:, :, r, t]                                           # (n, c_out)
            dw += np.einsum("no,ncij->ocij", g, window)
            np.add.at(dxp, (slice(None), slice(None), rows[:, None], cols[None, :]),
                      np.einsum("no,ocij->ncij", g, weight))
    h, w = x.shape[2:]
    return dxp[:, :, padding:padding + h, padding:padding + w], dw, grad_output.sum(axis=(0, 2, 3))


def pool_add_at(x, grad_output, kernel_size, stride, padding=0):
    """Vectorised: every window's argmax at once, added with np.add.at."""
    k, s, p = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    windows = windows[:, :, :grad_output.shape[2], :grad_output.shape[3]]
    i, j = np.divmod(windows.reshape(*windows.shape[:4], k * k).argmax(axis=-1), k)
    n, c, r, t = np.indices(grad_output.shape)
    grad = np.zeros_like(xp)
    np.add.at(grad, (n, c, s * r + i, s * t + j), grad_output)
    return grad[:, :, p:p + x.shape[2], p:p + x.shape[3]]


OTHER_WAYS = [
    (exercises.check_linear_backward, lambda x, w, g: (np.einsum("no,oi->ni", g, w), np.einsum("no,ni->oi", g, x),
                                                       np.einsum("no->o", g))),
    (exercises.check_leaky_relu_backward, leaky_in_place),
    (exercises.check_leaky_relu_backward,
     lambda x, g, negative_slope=0.02: g * (x > 0) + negative_slope * g * (x <= 0)),
    (exercises.check_softmax_cross_entropy_backward, ce_in_place),
    (exercises.check_mlp_gradients, mlp_variant()),
    (exercises.check_batch_norm_backward, bn_staged),
    (exercises.check_batch_norm_backward, bn_variant()),
    (exercises.check_sgd_update, sgd_in_place),
    (exercises.check_adam_update, adam_in_place),
    (exercises.check_im2col, im2col_loops),
    (exercises.check_conv2d_backward, conv_loops),
    (exercises.check_conv2d_backward, conv_variant()),
    (exercises.check_max_pool2d_backward, pool_add_at),
    (exercises.check_max_pool2d_backward, pool_variant()),
]


@pytest.mark.parametrize("checker, fn", OTHER_WAYS, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(OTHER_WAYS)])
@pytest.mark.parametrize("seed", [0, 3])
def test_a_right_answer_written_another_way_passes(checker, fn, seed):
    report = run(checker, fn, seed)
    assert report.passed and report.mistakes == [], report.text


# ----- mistakes written after the patterns above: how well the diagnosis generalises -----

def with_outputs(fn, change):
    """A right answer ``fn`` with ``change(outputs, args)`` applied to what it returns."""
    return lambda *args, **kwargs: change(fn(*args, **kwargs), args)


def adam_formula(no_sqrt=False, power_outside=False, correct_m_only=False, one_minus=True, step_factor=False):
    def adam_update(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        a1, a2 = (1 - b1, 1 - b2) if one_minus else (1, 1)
        m, v = b1 * m + a1 * grad, b2 * v + a2 * grad ** 2
        c1, c2 = ((1 - b1) ** step, (1 - b2) ** step) if power_outside else (1 - b1 ** step, 1 - b2 ** step)
        if correct_m_only:
            c2 = 1
        root = v / c2 if no_sqrt else np.sqrt(v / c2)
        if step_factor:
            return param - lr * m / (np.sqrt(v) + eps) / c1, m, v
        return param - lr * (m / c1) / (root + eps), m, v
    return adam_update


def bn_eps_outside(x, gamma, dy, eps=1e-5):
    n, sigma = len(x), np.sqrt(x.var(axis=0)) + eps
    x_hat = (x - x.mean(axis=0)) / sigma
    return gamma / (n * sigma) * (n * dy - dy.sum(0) - x_hat * (dy * x_hat).sum(0)), (dy * x_hat).sum(0), dy.sum(0)


def bn_mean_path_sign(x, gamma, dy, eps=1e-5):
    n, sigma = len(x), np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) / sigma
    return gamma / (n * sigma) * (n * dy + dy.sum(0) - x_hat * (dy * x_hat).sum(0)), (dy * x_hat).sum(0), dy.sum(0)


def leaky_loop_swapped(x, g, negative_slope=0.02):
    return np.array([[gi * (negative_slope if xi > 0 else 1) for xi, gi in zip(xr, gr)] for xr, gr in zip(x, g)])


def unstable_ce(z, t):
    with np.errstate(all="ignore"):
        return (np.exp(z) / np.exp(z).sum(1, keepdims=True) - np.eye(z.shape[1])[t]) / len(t)


def pad_back(x, g, k, s, padding=0):
    grad = max_pool2d_backward(x, g, k, s, padding)
    return np.pad(grad, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def im2col_batch_inner(x, k, s, p):
    cols = im2col(x, k, s, p)
    return cols.reshape(len(x), -1, cols.shape[1]).transpose(1, 0, 2).reshape(cols.shape)


def conv_both_flipped(x, w, g, stride=1, padding=0):
    _, dw, db = conv2d_backward(x, w, g, stride, padding)
    dx, _, _ = conv2d_backward(x, w[:, :, ::-1, ::-1], g, stride, padding)
    return dx, dw[:, :, ::-1, ::-1], db


def one_hot(z, t):
    return np.eye(z.shape[1])[t]


L, R, CE, M = (exercises.check_linear_backward, exercises.check_leaky_relu_backward,
               exercises.check_softmax_cross_entropy_backward, exercises.check_mlp_gradients)
BN, SGD, ADAM = exercises.check_batch_norm_backward, exercises.check_sgd_update, exercises.check_adam_update
COLS, CONV, POOL = exercises.check_im2col, exercises.check_conv2d_backward, exercises.check_max_pool2d_backward
MORE = [
    ("bias with keepdims", L, lambda x, w, g: (g @ w, g.T @ x, g.sum(0, keepdims=True))),
    ("x^T g", L, lambda x, w, g: (g @ w, x.T @ g, g.sum(0))),
    ("everything over N", L, lambda x, w, g: (g @ w / len(x), g.T @ x / len(x), g.sum(0) / len(x))),
    ("bias summed to a number", L, lambda x, w, g: (g @ w, g.T @ x, g.sum())),
    ("grad_x is x", L, lambda x, w, g: (x.copy(), g.T @ x, g.sum(0))),
    ("two over N", L, lambda x, w, g: (g @ w, g.T @ x / len(x), g.mean(0))),
    ("outputs in another order", L, lambda x, w, g: (g.T @ x, g.sum(0), g @ w)),
    ("slope's sign flipped", R, lambda x, g, negative_slope=0.02: g * np.where(x > 0, 1, -negative_slope)),
    ("slope added", R, lambda x, g, negative_slope=0.02: np.where(x > 0, g, g + negative_slope)),
    ("integer mask", R, lambda x, g, negative_slope=0.02: g * (x > 0).astype(int)),
    ("branches swapped, in a loop", R, leaky_loop_swapped),
    ("slope only where x < 0, 0 elsewhere", R,
     lambda x, g, negative_slope=0.02: g * np.where(x < 0, negative_slope, 0)),
    ("grad_output unchanged", R, lambda x, g, negative_slope=0.02: g.copy()),
    ("no max subtracted", CE, unstable_ce),
    ("one-hot of the batch size", CE, lambda z, t: (softmax(z) - np.eye(len(t), z.shape[1])[t]) / len(t)),
    ("one-hot minus p", CE, lambda z, t: (one_hot(z, t) - softmax(z)) / len(t)),
    ("no softmax, no N", CE, lambda z, t: z - one_hot(z, t)),
    ("log of softmax", CE, lambda z, t: (np.log(softmax(z)) - one_hot(z, t)) / len(t)),
    ("one-hot minus p, no N", CE, lambda z, t: one_hot(z, t) - softmax(z)),
    ("over N and C", CE, lambda z, t: (softmax(z) - one_hot(z, t)) / (len(t) * z.shape[1])),
    ("sigmoid for softmax", CE, lambda z, t: (1 / (1 + np.exp(-np.clip(z, -500, 500))) - one_hot(z, t)) / len(t)),
    ("bias gradients as means", M, mlp_with(bias_grad=lambda g: g.mean(axis=0))),
    ("ReLU, and after the last layer", M, mlp_variant(relu=True, last_activation=True)),
    ("loss summed", M, with_outputs(mlp_gradients, lambda r, a: (r[0] * len(a[0]), r[1], r[2]))),
    ("bias gradients reversed", M, with_outputs(mlp_gradients, lambda r, a: (r[0], r[1], r[2][::-1]))),
    ("no 1/N in the loss's gradient", M, mlp_with(ce_backward=ce_times_n)),
    ("eps outside the root", BN, bn_eps_outside),
    ("grad_beta as a mean", BN, with_outputs(batch_norm_backward, lambda r, a: (r[0], r[1], a[2].mean(0)))),
    ("the mean path's sign", BN, bn_mean_path_sign),
    ("only the direct path", BN, batch_norm_with(keep=("direct",))),
    ("dgamma and dbeta over axis 1", BN, with_outputs(batch_norm_backward, lambda r, a: (
        r[0], (a[2] * (a[0] - a[0].mean(0)) / np.sqrt(a[0].var(0) + 1e-5)).sum(1), a[2].sum(1)))),
    ("1/sigma left out of dx", BN, with_outputs(batch_norm_backward, lambda r, a: (
        r[0] * np.sqrt(a[0].var(0) + 1e-5), r[1], r[2]))),
    ("Bessel's correction, three paths", BN, batch_norm_with(ddof=1)),
    ("no update", SGD, lambda p, g, lr: p.copy()),
    ("gradient squared", SGD, lambda p, g, lr: p - lr * g * g),
    ("float32", SGD, lambda p, g, lr: (p - lr * g).astype(np.float32)),
    ("lr * grad and grad", SGD, lambda p, g, lr: p - lr * g - g),
    ("two steps", SGD, lambda p, g, lr: p - 2 * lr * g),
    ("(1 - beta)^t", ADAM, adam_formula(power_outside=True)),
    ("m corrected, v not", ADAM, adam_formula(correct_m_only=True)),
    ("no (1 - beta)", ADAM, adam_formula(one_minus=False)),
    ("uphill", ADAM, adam_with(sign=-1)),
    ("no square root", ADAM, adam_formula(no_sqrt=True)),
    ("m's correction on the step", ADAM, adam_formula(step_factor=True)),
    ("rows (r, t, n)", COLS, im2col_batch_inner),
    ("cols transposed", COLS, lambda *a: im2col(*a).T),
    ("PyTorch's column order", COLS, im2col_pytorch_order),
    ("no padding, no stride", COLS, im2col_variant(pad=False, strided=False)),
    ("cols (N, OH*OW, k*k*C)", COLS, lambda x, k, s, p: im2col(x, k, s, p).reshape(len(x), -1, k * k * x.shape[1])),
    ("bias per pixel row", CONV, with_outputs(conv2d_backward, lambda r, a: (r[0], r[1], a[2].sum(axis=(0, 2))))),
    ("dW over N", CONV, with_outputs(conv2d_backward, lambda r, a: (r[0], r[1] / len(a[0]), r[2]))),
    ("dx over N", CONV, with_outputs(conv2d_backward, lambda r, a: (r[0] / len(a[0]), r[1], r[2]))),
    ("= for += by windows", CONV, conv2d_with(by="windows", add=False)),
    ("dx and dW both flipped", CONV, conv_both_flipped),
    ("dW summed over C_in", CONV, with_outputs(conv2d_backward, lambda r, a: (r[0], r[1].sum(1), r[2]))),
    ("= for +=", POOL, max_pool_with(write="winner")),
    ("average pooling", POOL, pool_variant(mode="average")),
    ("padding not cut off", POOL, pad_back),
    ("twice the gradient", POOL, with_outputs(max_pool2d_backward, lambda r, a: 2 * r)),
    ("no stride, winner swapped", POOL, pool_variant(strided=False, mode="swapped")),
]


def test_nine_in_ten_mistakes_written_after_the_patterns_are_named():
    missed = []
    for name, checker, fn in MORE:
        with np.errstate(all="ignore"):
            report = run(checker, fn)
        assert not report.passed, f"{name} is not a mistake"
        if not report.mistakes or not all(row.correct or row.mistakes for row in report.rows):
            missed.append(name)
    print(f"{len(MORE) - len(missed)} of {len(MORE)} named; missed: {missed}")
    assert len(missed) <= 0.1 * len(MORE), f"{len(MORE) - len(missed)} of {len(MORE)} named; missed: {missed}"
