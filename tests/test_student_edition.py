"""The student edition: solutions replaced by NotImplementedError hints, and pytest grading of the exercises."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_dl1.exercises import grading, student_edition
from tinygrad_dl1.exercises.student_edition import SolutionMarkerError, strip_solutions, write_student_edition

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"

EXERCISE = '''import numpy as np


def double(x):
    """Twice x."""
    y = x
    # BEGIN SOLUTION hint: add x to itself
    y = x + x
    # END SOLUTION
    return y


print(double(np.ones(2)))
'''


def test_a_solution_becomes_a_not_implemented_error_with_the_hint():
    student = strip_solutions(EXERCISE)
    assert "x + x" not in student and "SOLUTION" not in student
    assert "    raise NotImplementedError('double: Twice x. Hint: add x to itself')\n" in student
    assert student.count("\n") == EXERCISE.count("\n") - 2, "the three lines of the block become one"
    namespace = {}
    exec(compile(ast.parse(student.replace("print(double(np.ones(2)))", "")), "<student>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Hint: add x to itself"):
        namespace["double"](1.0)


def test_text_without_markers_is_left_alone():
    text = "# %% [markdown]\n# # 01 Title\n\n# %%\nx = 1\n"
    assert strip_solutions(text) == text


@pytest.mark.parametrize("broken, complaint", [
    (EXERCISE.replace("    # END SOLUTION\n", ""), "without an END"),
    (EXERCISE.replace("    # BEGIN SOLUTION hint: add x to itself\n", ""), "without a BEGIN"),
    (EXERCISE.replace(" hint: add x to itself", ""), "write a hint"),
    (EXERCISE.replace("    y = x + x\n", "    # BEGIN SOLUTION hint: again\n"), "inside the one of line 7"),
    ("# BEGIN SOLUTION hint: h\nx = 1\n# END SOLUTION\n", "inside a function"),
])
def test_broken_markers_are_refused_with_the_file_and_line(broken, complaint):
    with pytest.raises(SolutionMarkerError, match=complaint) as error:
        strip_solutions(broken, "07_example.py")
    assert "07_example.py:" in str(error.value)


def test_the_edition_goes_into_a_new_or_empty_folder(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        write_student_edition(tmp_path / "full", TUTORIALS)
    with pytest.raises(FileNotFoundError, match="no tutorials folder"):
        write_student_edition(tmp_path / "new", tmp_path / "nothing")


def test_every_exercise_is_a_marked_function_in_its_tutorial():
    for exercise in grading.EXERCISES:
        text = (TUTORIALS / exercise.tutorial).read_text(encoding="utf-8")
        functions = {node.name for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
        assert exercise.task in functions, f"{exercise.tutorial} should define {exercise.task}"
        inside = student_edition.enclosing_functions(text)
        begins = [n for n, line in enumerate(text.splitlines(), 1) if student_edition.BEGIN.match(line)]
        assert [n for n in begins if inside[n][0] == exercise.task], \
            f"{exercise.task} in {exercise.tutorial} should hold its solution between the markers"
        assert callable(exercise.checker), f"no checker for {exercise.task}"


@pytest.mark.parametrize("exercise", grading.EXERCISES, ids=[e.task for e in grading.EXERCISES])
def test_the_solutions_pass_their_grading(exercise):
    assert grading.grade(exercise, TUTORIALS) is None


def test_the_student_edition_fails_every_exercise_with_its_hint(tmp_path):
    out = write_student_edition(tmp_path / "edition", TUTORIALS)
    for exercise in grading.EXERCISES:
        student = (out / "tutorials" / exercise.tutorial).read_text(encoding="utf-8")
        markers = [line for line in student.splitlines()
                   if student_edition.BEGIN.match(line) or student_edition.END.match(line)]
        assert not markers, f"{exercise.tutorial}: solution markers left: {markers}"
        assert re.search(rf"raise NotImplementedError\(['\"]{exercise.task}: ", student), exercise.task
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf"], cwd=out, env=env,
                            capture_output=True, text=True, timeout=300)
    report = result.stdout
    assert result.returncode == 1, report[-3000:]
    assert f"{len(grading.EXERCISES)} failed" in report, report[-3000:]
    for exercise in grading.EXERCISES:
        assert f"{exercise.task} is not written yet ({exercise.tutorial})" in report, \
            f"{exercise.task}'s NotImplementedError message is missing:\n{report[-3000:]}"
    assert "Traceback" not in report, "grading prints the message, not a traceback"
    one = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "im2col"], cwd=out, env=env,
                         capture_output=True, text=True, timeout=300)
    assert "1 failed" in one.stdout and f"{len(grading.EXERCISES) - 1} deselected" in one.stdout, one.stdout[-2000:]


def test_a_wrong_answer_is_graded_with_its_diagnosis(tmp_path):
    out = write_student_edition(tmp_path / "edition", TUTORIALS)
    tutorial = out / "tutorials" / "02_backprop_by_hand.py"
    text, count = re.subn(r"    raise NotImplementedError\('linear_backward: .*\n",
                          "    return grad_output @ weight, x.T @ grad_output, grad_output.sum(axis=0)\n",
                          tutorial.read_text(encoding="utf-8"))
    assert count == 1
    tutorial.write_text(text, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "linear_backward"], cwd=out,
                            capture_output=True, text=True, timeout=300)
    assert "1 failed" in result.stdout, result.stdout[-3000:]
    assert "missing transpose" in result.stdout and "grad_weight" in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout
