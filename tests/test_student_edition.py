"""The student edition: solutions replaced by NotImplementedError hints, and pytest grading of the exercises."""
import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_dl1 import exercises
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
        assert getattr(exercises, exercise.checker.__name__) is exercise.checker, "exported by the package"
        assert f"exercises.{exercise.checker.__name__}({exercise.task})" in text, "the tutorial checks it"


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


# ----- the edition never leaks a solution, and is written whole or not at all -----

def copy_of_tutorials(tmp_path):
    folder = tmp_path / "tutorials"
    shutil.copytree(TUTORIALS, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb", "tutorial_figures"))
    return folder


def replace_in(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("marker", ["# BEGIN SOLUTON hint: h", "# begin solution hint: h", "#BEGIN SOLUTION hint: h",
                                    "# BEGIN SOLUTION hint h", "# END SOLUTON", "# BEGIN_SOLUTION hint: h"])
def test_a_misspelled_marker_is_refused_with_the_file_and_line(marker):
    text = EXERCISE.replace("    # BEGIN SOLUTION hint: add x to itself\n", f"    {marker}\n") if "BEGIN" in \
        marker.upper() else EXERCISE.replace("    # END SOLUTION\n", f"    {marker}\n")
    with pytest.raises(SolutionMarkerError, match="looks like a solution marker") as error:
        strip_solutions(text.replace("# END SOLUTION", "# END SOLUTON") if "BEGIN" in marker.upper() else text,
                        "07_example.py")
    assert "07_example.py:" in str(error.value)


def test_prose_that_mentions_solutions_is_not_taken_for_a_marker():
    text = "# %% [markdown]\n# Begin solving the equation by hand; end solution checks come later.\nx = 1\n"
    assert strip_solutions(text) == text


def test_a_misspelled_pair_in_a_tutorial_writes_nothing_and_a_retry_works(tmp_path):
    tutorials = copy_of_tutorials(tmp_path)
    path = tutorials / "07_batchnorm.py"
    replace_in(path, "# BEGIN SOLUTION hint:", "# BEGIN SOLUTON hint:")
    replace_in(path, "# END SOLUTION", "# END SOLUTON")
    out = tmp_path / "edition"
    assert student_edition.main([str(out), "--tutorials", str(tutorials)]) == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["tutorials"], "nothing left behind"
    replace_in(path, "# BEGIN SOLUTON hint:", "# BEGIN SOLUTION hint:")
    replace_in(path, "# END SOLUTON", "# END SOLUTION")
    assert student_edition.main([str(out), "--tutorials", str(tutorials)]) == 0
    assert (out / "tutorials" / "07_batchnorm.py").is_file() and (out / "README.md").is_file()


def test_an_unpaired_marker_in_a_late_tutorial_leaves_no_partial_edition(tmp_path, capsys):
    tutorials = copy_of_tutorials(tmp_path)
    replace_in(tutorials / "09_convolution.py", "    # END SOLUTION\n", "")
    out = tmp_path / "edition"
    out.mkdir()                                 # an empty folder is accepted, and stays empty on failure
    assert student_edition.main([str(out), "--tutorials", str(tutorials)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "09_convolution.py:" in error and "inside the one of line" in error
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["edition", "tutorials"]


def test_an_exercise_without_markers_is_refused(tmp_path):
    tutorials = copy_of_tutorials(tmp_path)
    path = tutorials / "08_better_mlp.py"
    text = path.read_text(encoding="utf-8")
    start = text.index("    # BEGIN SOLUTION hint: a step against")
    end = text.index("# END SOLUTION\n", start) + len("# END SOLUTION\n")
    path.write_text(text[:start] + "    return param - lr * grad\n" + text[end:], encoding="utf-8")
    with pytest.raises(SolutionMarkerError, match="08_better_mlp.py:.*sgd_update holds no solution"):
        write_student_edition(tmp_path / "edition", tutorials)
    assert not (tmp_path / "edition").exists()


def test_a_surviving_solution_line_is_refused():
    edition = "def f(x):\n    raise NotImplementedError('f')\n    return x + x\n"
    with pytest.raises(SolutionMarkerError, match="x.py:3: a line of a solution survives"):
        student_edition.check_edition(edition, {"return x + x"}, "x.py", ["f"])
    student_edition.check_edition(edition, {"y = 2 * x"}, "x.py", ["f"])


@pytest.mark.parametrize("data, where", [(b"x = 1\ndef f(:\n    pass\n", "04_mlp.py:2: SyntaxError"),
                                         (b"# %%\nx = 1\n# caf\xe9\n", "04_mlp.py:3: not UTF-8")])
def test_a_tutorial_python_cannot_read_is_one_line_naming_file_and_line(tmp_path, capsys, data, where):
    tutorials = copy_of_tutorials(tmp_path)
    (tutorials / "04_mlp.py").write_bytes(data)
    assert student_edition.main([str(tmp_path / "edition"), "--tutorials", str(tutorials)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"student_edition: error: {where}") and error.count("\n") == 1, error
    assert "Traceback" not in error and not (tmp_path / "edition").exists()


def test_the_edition_says_how_to_install_and_grade_in_one_command(tmp_path):
    out = write_student_edition(tmp_path / "edition", TUTORIALS, source="git+https://example.org/tinygrad_dl1.git")
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert ("python3 -m venv .venv && .venv/bin/pip install git+https://example.org/tinygrad_dl1.git && "
            ".venv/bin/python -m tinygrad_dl1.exercises.grade") in readme
    for exercise in grading.EXERCISES:
        assert f"`{exercise.task}`" in readme
    result = subprocess.run([sys.executable, "-m", "tinygrad_dl1.exercises.grade"], cwd=out, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"0 of {len(grading.EXERCISES)} exercises passed" in result.stdout
    assert "linear_backward is not written yet (02_backprop_by_hand.py)" in result.stdout
    assert "conv2d_backward" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_the_hints_and_the_diagnoses_call_the_batch_size_n():
    for exercise in grading.EXERCISES:
        text = (TUTORIALS / exercise.tutorial).read_text(encoding="utf-8")
        for line in text.splitlines():
            match = student_edition.BEGIN.match(line)
            if match:
                assert not re.search(r"\bB\b", match["hint"]), f"{exercise.tutorial}: the batch size is N: {line}"
    from tinygrad_dl1.exercises import checkers
    source = Path(checkers.__file__).read_text(encoding="utf-8")
    assert not re.search(r"/ B\b|\bB = |\bB the batch", source), "the diagnoses call the batch size N"
    assert "N the batch size" in (TUTORIALS / "02_backprop_by_hand.py").read_text(encoding="utf-8").replace(
        "N = len(labels) the batch size", "N the batch size")
