"""Compare a student's array with the reference and, when they differ, name the likely mistake.

One number measures the difference of two arrays a (the student's) and b (the reference):

    relative error = max|a - b| / max(max|a|, max|b|)

the largest difference against the largest entry of either array (never a division by an
entry near 0). In float64 the verdict is

    correct        relative error < 1e-7   (another valid order of the same operations rounds
                                            differently, by about 1e-15)
    close: check   relative error < 1e-4   (a step done in float32, an eps placed differently)
    wrong          above; or a different shape, NaN or inf, an exception

A correct answer is never diagnosed. A wrong one is matched against patterns, and the first
that fits (to a relative error below 1e-6) names the mistake:

- known wrong answers that a checker computes from the case's inputs (``WrongAnswer``): a
  formula with a known slip, an input returned unchanged, or the reference minus a named partial
  term (``terms``), which is what ``=`` instead of ``+=`` leaves where a value feeds two places
  (or with that term's sign flipped); a known slip is named even when its answer is close;
- any of those off by a factor N, 1/N or -1 on top (both mistakes named);
- the reference of another output (the gradient of the wrong input);
- NaN or inf (an overflow, a division by zero);
- the reference with its axes in another order (a missing transpose);
- the reference times a constant (a flipped sign, a missing or extra 1/N with N the batch size);
- the reference times a factor per feature or channel (a gamma, a 1/sigma, a slope);
- the sum over the batch of a larger array (a bias gradient not summed);
- the same numbers in other places (a wrong layout).
"""
import itertools
from dataclasses import dataclass

import numpy as np

CORRECT_BELOW = 1e-7    # relative error of a correct float64 answer
CLOSE_BELOW = 1e-4      # "close: check" up to here, "wrong" above
MATCH_BELOW = 1e-6      # an answer equals a pattern when their relative error is below this
TINY = 1e-300           # keeps the relative error of two zero arrays at 0 / TINY = 0

THRESHOLDS = (f"verdict: correct if the relative error is below {CORRECT_BELOW:.0e}, close: check below "
              f"{CLOSE_BELOW:.0e}, wrong above; relative error = max|yours - reference| / "
              f"max(max|yours|, max|reference|)")


@dataclass
class WrongAnswer:
    """A known mistake: the names of its mistakes, what a student who made it returns, and a sentence
    that says what they probably did and what the formula should be."""
    mistakes: tuple
    answer: np.ndarray
    hint: str

    def __post_init__(self):
        if isinstance(self.mistakes, str):
            self.mistakes = (self.mistakes,)
        self.answer = np.asarray(self.answer, dtype=np.float64)


@dataclass
class Row:
    """One compared output: the table's columns, the verdict and the diagnosis."""
    case: str
    name: str
    shape: str
    exact: bool | None = None           # np.array_equal
    close: bool | None = None           # np.allclose (rtol 1e-5, atol 1e-8)
    max_abs_diff: float | None = None
    rel_error: float | None = None
    verdict: str = "wrong"
    mistakes: tuple = ()
    hint: str = ""

    @property
    def correct(self):
        return self.verdict == "correct"


def relative_error(a, b):
    """max|a - b| / max(max|a|, max|b|), 0 for two zero arrays, NaN when either holds a NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.abs(a - b).max(initial=0.0)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), TINY)
    return float(diff / scale)


def verdict_of(rel_error):
    """'correct', 'close: check' or 'wrong' (NaN is wrong)."""
    if rel_error < CORRECT_BELOW:
        return "correct"
    if rel_error < CLOSE_BELOW:
        return "close: check"
    return "wrong"


def matches(a, b):
    """True when a and b have one shape and a relative error below MATCH_BELOW; NaN and inf must sit in the
    same places (a known mistake that divides by zero), and the finite entries are compared."""
    if a.shape != b.shape:
        return False
    finite = np.isfinite(a)
    if finite.all() and np.isfinite(b).all():
        return relative_error(a, b) < MATCH_BELOW
    same = (finite == np.isfinite(b)) & ((np.isnan(a) == np.isnan(b)) | finite)
    return bool(same.all() and np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)])
                and relative_error(a[finite], b[finite]) < MATCH_BELOW)


def lost_terms(name, reference, terms, what):
    """WrongAnswers for ``=`` instead of ``+=``: the reference without one or more of ``terms``, named
    partial gradients that add up to it (``what`` says what reaches the loss several ways, e.g. 'x')."""
    names = list(terms)
    answers = []
    for count in range(1, len(names)):
        for lost in itertools.combinations(names, count):
            kept = [name for name in names if name not in lost]
            answer = reference - sum(terms[name] for name in lost)
            answers.append(WrongAnswer(
                "= instead of +=", answer,
                f"Your {name} is the right one without {' and '.join(lost)} (it keeps only {' and '.join(kept)}). "
                f"{what} reaches the loss {len(names)} ways ({', '.join(names)}); the gradients of all of them add "
                f"up: accumulate them (grad += ...), do not overwrite (grad = ...) or leave one out."))
    for flipped in names:
        answers.append(WrongAnswer(
            "flipped sign", reference - 2 * terms[flipped],
            f"Your {name} has {flipped} with its sign flipped: the other paths are right. Check the sign of that "
            f"term's derivative (d(-x)/dx = -1, d(a - b)/db = -1)."))
    return answers


def compare(name, student, reference, case="", batch_size=None, wrong_answers=(), terms=None, terms_of="x",
            others=None, baseline=None):
    """A Row comparing ``student`` with ``reference`` (float64 arrays or numbers), diagnosed when not correct.

    batch_size: N, for the patterns "missing 1/N" and "extra 1/N" (None: not tried).
    wrong_answers: WrongAnswers computed from the case's inputs, tried first.
    terms: {name: array}, partial terms that add up to the reference: the reference without
        any of them is "= instead of +=" (``terms_of`` names what feeds the several paths).
    others: {name: reference} of the function's other outputs ("gradient of the wrong input").
    baseline: for an update (new = old + change), the old value: the verdict, the known wrong
        answers and the constant-ratio patterns then look at the change, new - old, so that a step
        that is wrong is wrong even when it is small against the parameter, and a step taken the
        wrong way is a flipped sign.
    """
    reference = np.asarray(reference, dtype=np.float64)
    if student is None:
        return Row(case, name, "None", mistakes=("not an array",), verdict="wrong type",
                   hint=f"Your {name} is None: a missing return? Expected an array of shape {reference.shape}.")
    refused = refuse_type(name, student, reference, case)
    if refused:
        return refused
    dtype = student.dtype if isinstance(student, np.ndarray) else None
    student = np.asarray(student, dtype=np.float64)
    shape = str(student.shape) if student.shape == reference.shape else f"{student.shape}, want {reference.shape}"
    if student.shape != reference.shape:
        row = Row(case, name, shape, verdict="wrong shape")
    else:
        changes = (student, reference) if baseline is None else (student - baseline, reference - baseline)
        rel, diff = relative_error(*changes), float(np.abs(student - reference).max(initial=0.0))
        row = Row(case, name, shape, exact=bool(np.array_equal(student, reference)),
                  close=bool(np.allclose(student, reference)), max_abs_diff=diff, rel_error=rel,
                  verdict=verdict_of(rel))
    if row.correct:
        return row
    if row.verdict == "close: check":
        for candidate in wrong_answers:       # a known slip whose effect is small (an eps misplaced)
            if matches(student, candidate.answer):
                row.mistakes, row.hint = candidate.mistakes, candidate.hint
                return row
        row.hint = (f"Your {name} agrees to about {-np.log10(max(row.rel_error, TINY)):.0f} digits, not to float64's "
                    f"(correct needs a relative error below {CORRECT_BELOW:.0e}): a step done in float32, or a "
                    f"small constant (eps) placed differently from the formula, gives differences of this size.")
        if dtype in (np.float32, np.float16):
            row.mistakes, row.hint = ("float32",), row.hint + f" Your array is {dtype}: compute in float64."
        return row
    candidates = list(wrong_answers)
    if terms:
        candidates += lost_terms(name, reference, terms, terms_of)
    for other, value in (others or {}).items():
        candidates.append(WrongAnswer(
            "gradient of the wrong input", value,
            f"Your {name} equals the right {other}: check which input each gradient belongs to, and the order "
            f"of the values you return."))
    row.mistakes, row.hint = diagnose(name, student, reference, candidates, batch_size, baseline)
    return row


def refuse_type(name, student, reference, case):
    """A Row for an answer that is not real floating numbers (a complex, an integer or an object array, a
    list of arrays of different shapes, ...), else None: only real floating values are compared."""
    try:
        dtype = np.asarray(student).dtype
    except (TypeError, ValueError):
        dtype = np.dtype(object)
    if dtype.kind == "f":
        return None
    what = getattr(student, "what", None) or (f"an array of dtype {dtype}" if isinstance(student, np.ndarray)
                                              else f"a {type(student).__name__}")
    if dtype.kind == "c":
        return Row(case, name, "complex", verdict="wrong type", mistakes=("complex",), hint=(
            f"Your {name} is complex ({what}): the answer is real, and grading compares real floating values "
            f"only, it does not drop an imaginary part. A complex number comes from the square root or log of a "
            f"negative number (np.emath, np.lib.scimath, cmath) or from an FFT."))
    if dtype.kind in "iub":
        return Row(case, name, str(dtype), verdict="wrong type", mistakes=("not floating",), hint=(
            f"Your {name} is {what}, not floating numbers: an array made with an integer dtype (np.zeros(shape, "
            f"dtype=int), np.zeros_like of an integer array) or integer division (//)? Expected float64, shape "
            f"{reference.shape}."))
    return Row(case, name, type(student).__name__, verdict="wrong type", mistakes=("not an array",), hint=(
        f"Your {name} is {what}, not an array of numbers: expected a NumPy array of shape {reference.shape}."))


def diagnose(name, student, reference, candidates, batch_size, baseline):
    """(mistake names, hint) for a student's answer that is not correct."""
    for candidate in candidates:
        if baseline is None or candidate.answer.shape != student.shape:
            fits = matches(student, candidate.answer)
        else:
            fits = matches(student - baseline, candidate.answer - baseline)
        if fits:
            return candidate.mistakes, candidate.hint
    for candidate in candidates:        # a known slip, and off by a factor of N, 1/N or -1 on top of it
        if candidate.answer.shape == student.shape and not matches(candidate.answer, reference):
            scaled = ratio_mistake(name, student, candidate.answer, batch_size, baseline)
            if scaled and not set(scaled[0]) - {"missing 1/N", "extra 1/N", "flipped sign"}:
                return (*candidate.mistakes, *scaled[0]), (f"{candidate.hint} And on top of that, against that "
                                                           f"answer: {scaled[1]}")
    if student.shape != reference.shape:
        return shape_mistake(name, student, reference)
    if not np.isfinite(student).all():
        count = int((~np.isfinite(student)).sum())
        return ("not finite",), (f"Your {name} holds {count} NaN or inf values: an overflow (exp of a large number: "
                                 f"subtract the largest entry first) or a division by zero (0 / 0, log(0)).")
    transposed = transpose_mistake(name, student, reference)
    if transposed:
        return transposed
    scaled = ratio_mistake(name, student, reference, batch_size, baseline)
    if scaled:
        return scaled
    per_slice = factor_per_slice(name, student, reference, baseline)
    if per_slice:
        return per_slice
    if matches(np.sort(student, axis=None), np.sort(reference, axis=None)):
        return ("wrong layout",), (f"Your {name} holds the right numbers in the wrong places: a reshape where a "
                                   f"transpose was needed, or the axes in another order than the layout asks for.")
    worst = np.unravel_index(int(np.abs(student - reference).argmax()), student.shape)
    return (), (f"No known mistake matches your {name}; the largest difference is at index {tuple(map(int, worst))}: "
                f"yours {student[worst]:.6g}, the reference {reference[worst]:.6g}.")


def transpose_mistake(name, student, reference):
    """("missing transpose",) and a hint when some order of the student's axes gives the reference."""
    if student.ndim != reference.ndim or not 2 <= student.ndim <= 4:
        return None
    identity = tuple(range(student.ndim))
    for axes in itertools.permutations(identity):
        if axes == identity or student.transpose(axes).shape != reference.shape:
            continue
        if matches(student.transpose(axes), reference):
            how = ".T" if student.ndim == 2 else f".transpose{axes}"
            return ("missing transpose",), (
                f"Your {name}{how} is the right answer: a transpose is missing (or one too many). Let the shapes "
                f"guide each product: a gradient has the shape of what it is the gradient of (dL/dW has W's shape).")
    return None


def ratio_mistake(name, student, reference, batch_size, baseline):
    """A constant factor between the answer and the reference (or between the changes from ``baseline``)."""
    a, b = (student, reference) if baseline is None else (student - baseline, reference - baseline)
    if not np.any(b):
        return None
    factor = float((a * b).sum() / (b * b).sum())        # the least-squares c of a = c * b
    if not relative_error(a, factor * b) < MATCH_BELOW:
        return None
    what = f"Your {name}" if baseline is None else f"The change of your {name}"
    if abs(factor) < MATCH_BELOW:
        if baseline is None:
            return ("all zeros",), (f"Your {name} is all zeros: an array made with np.zeros and never filled in, or a "
                                    f"mask that is False everywhere.")
        return ("no update",), f"Your {name} is the parameter unchanged: the update was never applied."
    mistakes, sign = [], ""
    if factor < 0:
        mistakes, sign, factor = ["flipped sign"], "minus ", -factor
    n = batch_size
    if n and n > 1 and abs(factor - n) < MATCH_BELOW * n:
        return tuple(mistakes + ["missing 1/N"]), (
            f"{what} is {sign}N times the right one (N the batch size): the loss is the MEAN over the "
            f"batch, so its gradient carries a factor 1/N.")
    if n and n > 1 and abs(factor - 1 / n) < MATCH_BELOW / n:
        return tuple(mistakes + ["extra 1/N"]), (
            f"{what} is {sign}1/N times the right one (N the batch size): it divides by N where the "
            f"formula has no 1/N. The mean's 1/N enters once, in the loss's gradient, and reaches every layer "
            f"through grad_output.")
    if mistakes and abs(factor - 1) < MATCH_BELOW:
        if baseline is None:
            return ("flipped sign",), (f"Your {name} is minus the right one: a sign is flipped (d(-x)/dx = -1, "
                                       f"d(a - b)/db = -1).")
        return ("flipped sign",), (f"Your {name} moves the parameter the wrong way, uphill: the step goes "
                                   f"against the gradient, param - lr * (...), not param + lr * (...).")
    return tuple(mistakes + ["constant factor"]), (
        f"{what} is {sign}{factor:.6g} times the right one: a constant factor is wrong or missing.")


def factor_per_slice(name, student, reference, baseline):
    """("a factor per slice",) and a hint when the answer is the reference times a factor that depends only on
    the index along one axis (a per-feature or per-channel factor such as gamma or 1/sigma, missing or wrong)."""
    a, b = (student, reference) if baseline is None else (student - baseline, reference - baseline)
    for axis in range(a.ndim):
        if a.shape[axis] < 2 or a.shape[axis] == a.size:
            continue
        others = tuple(k for k in range(a.ndim) if k != axis)
        norms = (b * b).sum(axis=others, keepdims=True)
        empty = norms == 0                          # slices where the reference is 0: any factor fits
        if (empty & np.any(a != 0, axis=others, keepdims=True)).any() or empty.all():
            continue
        factors = (a * b).sum(axis=others, keepdims=True) / np.where(empty, 1, norms)   # least squares, per slice
        if relative_error(a, factors * b) < MATCH_BELOW:
            shown = ", ".join(f"{f:.4g}" for f in factors.ravel()[:6]) + (", ..." if factors.size > 6 else "")
            return ("a factor per slice",), (
                f"{'Your' if baseline is None else 'The change of your'} {name} is the right one times a factor that "
                f"depends only on the index along axis {axis} ({shown}): a per-feature (or per-channel) factor, "
                f"such as gamma, 1/sigma or a slope, is missing or wrong.")
    return None


def shape_mistake(name, student, reference):
    """(mistake names, hint) for an answer whose shape is not the reference's."""
    transposed = transpose_mistake(name, student, reference)
    if transposed:
        return transposed
    if reference.ndim == 1 and student.ndim > 1 and student.size > reference.size:
        for axis in range(student.ndim):
            if student.shape[axis] != reference.shape[0]:
                continue
            summed_axes = tuple(a for a in range(student.ndim) if a != axis)
            if matches(student.sum(axis=summed_axes), reference):
                return ("bias not summed over the batch",), (
                    f"Your {name} has one value per example (and pixel), and its sum over axes "
                    f"{summed_axes} is the right answer: the bias is added to every example, so its gradient is "
                    f"grad_output summed over them, e.g. grad_output.sum(axis=0) for a linear layer.")
    if student.size == reference.size and matches(student.reshape(reference.shape), reference):
        return ("wrong shape",), (f"Your {name} holds the right numbers but has shape {student.shape}, not "
                                  f"{reference.shape}: reshape it (or sum without keepdims=True).")
    return ("wrong shape",), f"Your {name} has shape {student.shape}, but the right answer has shape {reference.shape}."
