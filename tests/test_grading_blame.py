"""An exercise that calls the student's other exercises (mlp_gradients calls linear_backward, conv2d_backward
calls im2col) has those graded first, and its failure names the one that is wrong or not written."""

import pytest

from tinygrad_dl1.exercises import grading
from tinygrad_dl1.exercises.student_edition import write_student_edition

from editions import TUTORIALS, fill_in


@pytest.fixture
def edition(tmp_path):
    return write_student_edition(tmp_path / "edition", TUTORIALS)


def test_the_exercises_each_one_calls_are_found():
    assert [e.task for e in grading.called_exercises(_tree("02_backprop_by_hand.py"), "mlp_gradients")] == [
        "linear_backward", "leaky_relu_backward", "softmax_cross_entropy_backward"]
    assert [e.task for e in grading.called_exercises(_tree("09_convolution.py"), "conv2d_backward")] == ["im2col"]
    assert grading.called_exercises(_tree("09_convolution.py"), "im2col") == []


def _tree(name):
    import ast
    return ast.parse((TUTORIALS / name).read_text(encoding="utf-8"))


def test_a_right_exercise_on_an_unwritten_one_says_which_to_write_first(edition):
    fill_in(edition, "conv2d_backward")
    graded = grading.grade_exercise(grading.BY_TASK["conv2d_backward"], edition / "tutorials")
    assert graded.status == grading.NEEDS and graded.needs == ("im2col",), graded.text
    assert "conv2d_backward (09_convolution.py) calls im2col, which is not written yet: write im2col first" \
        in graded.text
    assert "conv2d_backward is not written yet" not in graded.text
    assert graded.short == "needs im2col"
    fill_in(edition, "im2col")
    assert grading.grade_exercise(grading.BY_TASK["conv2d_backward"], edition / "tutorials").passed


def test_a_right_exercise_on_a_wrong_one_names_the_wrong_one(edition):
    for task in ("mlp_gradients", "leaky_relu_backward", "softmax_cross_entropy_backward"):
        fill_in(edition, task)
    fill_in(edition, "linear_backward", "    return grad_output @ weight, grad_output.T @ x, "
                                        "grad_output.sum(axis=0) * 2\n")
    graded = {}
    result = grading.grade_exercise(grading.BY_TASK["mlp_gradients"], edition / "tutorials", graded=graded)
    assert result.status == grading.NEEDS and result.needs == ("linear_backward",), result.text
    assert "linear_backward is wrong: constant factor" in result.text and "fix linear_backward first" in result.text
    assert graded["linear_backward"].status == grading.WRONG, "the one it calls is graded first, once"
    fill_in_again = edition / "tutorials" / "02_backprop_by_hand.py"
    fill_in_again.write_text(fill_in_again.read_text(encoding="utf-8").replace(
        "grad_output.sum(axis=0) * 2\n", "grad_output.sum(axis=0)\n"), encoding="utf-8")
    assert grading.grade_exercise(grading.BY_TASK["mlp_gradients"], edition / "tutorials").passed


def test_an_unwritten_exercise_that_calls_others_is_simply_not_written(edition):
    graded = grading.grade_exercise(grading.BY_TASK["mlp_gradients"], edition / "tutorials")
    assert graded.status == grading.NOT_WRITTEN and "mlp_gradients is not written yet" in graded.text
