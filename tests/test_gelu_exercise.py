"""Tutorial 11's exercise, gelu_backward: a right answer passes its checker, each known slip is named
(and nothing else), an exercise not written yet passes its NotImplementedError through, and the
tutorial's solution passes its grading."""
import math
from pathlib import Path

import numpy as np
import pytest

from tinygrad_dl1 import exercises
from tinygrad_dl1.exercises import grading

C, A = math.sqrt(2 / math.pi), 0.044715
TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def parts(x):
    t = np.tanh(C * (x + A * x ** 3))
    return t, C * (1 + 3 * A * x ** 2)


def right(x, grad_output):
    t, du = parts(x)
    return grad_output * ((1 + t) / 2 + x / 2 * (1 - t ** 2) * du)


def right_another_way(x, grad_output):      # x Phi-like form expanded: the same numbers, other roundings
    t, du = parts(x)
    return 0.5 * grad_output * (1 + t + x * du - x * du * t * t)


PLANTED = {
    "missing chain-rule factor du/dx": lambda x, g: g * ((1 + parts(x)[0]) / 2 + x / 2 * (1 - parts(x)[0] ** 2)),
    "missing product-rule term": lambda x, g: g * (1 + parts(x)[0]) / 2,
    "grad_output not multiplied in": lambda x, g: right(x, np.ones_like(g)),
    "d(x^3)/dx written as x^2": lambda x, g: g * ((1 + parts(x)[0]) / 2 + x / 2 * (1 - parts(x)[0] ** 2)
                                                  * C * (1 + A * x ** 2)),
    "tanh' written as 1 - tanh": lambda x, g: g * ((1 + parts(x)[0]) / 2 + x / 2 * (1 - parts(x)[0]) * parts(x)[1]),
}


@pytest.mark.parametrize("fn", [right, right_another_way])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_right_answer_passes(fn, seed):
    assert exercises.check_gelu_backward(fn, seed=seed, verbose=False).passed


@pytest.mark.parametrize("mistake", PLANTED)
def test_a_planted_mistake_is_named_and_nothing_else(mistake):
    report = exercises.check_gelu_backward(PLANTED[mistake], verbose=False)
    assert not report.passed and report.mistakes == [mistake], report.text


def test_not_written_passes_through():
    def not_written(x, grad_output):
        raise NotImplementedError("gelu_backward: write it in tutorial 11")
    with pytest.raises(NotImplementedError, match="tutorial 11"):
        exercises.check_gelu_backward(not_written, verbose=False)


def test_the_tutorials_solution_passes_its_grading():
    assert grading.grade(grading.BY_TASK["gelu_backward"], TUTORIALS) is None
