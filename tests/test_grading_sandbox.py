"""Grading runs the student's function in a process of its own and grades only what it returns: a function
that cheats (reads the reference from its caller's frames, patches the diagnosis, answers in complex
numbers) or that ends, hangs or floods the grading is graded as a failure that says why. Each cheat is
also shown to fool a checker called in-process, so that the test could fail."""
import os
import textwrap
import time

import numpy as np
import pytest

from tinygrad_dl1 import exercises
from tinygrad_dl1.exercises import diagnosis, grading
from tinygrad_dl1.exercises.loading import load_function
from tinygrad_dl1.exercises.sandbox import MEMORY_LIMIT, Sandboxed, Stopped

LINEAR = grading.BY_TASK["linear_backward"]
RIGHT = "return grad_output @ weight, grad_output.T @ x, grad_output.sum(axis=0)"

CHEATS = {
    "reads the reference from its caller's frames": """
        frame = sys._getframe(1)
        while frame is not None:
            for case in frame.f_locals.get("cases", []):
                if np.array_equal(case.args[0], x) and np.array_equal(case.args[2], grad_output):
                    return tuple(output.reference for output in case.outputs)
            frame = frame.f_back
        return None, None, None
    """,
    "patches the diagnosis": """
        from tinygrad_dl1.exercises import diagnosis
        diagnosis.verdict_of = lambda rel_error: "correct"
        return np.zeros((len(x), weight.shape[1])), np.zeros_like(weight), np.zeros(weight.shape[0])
    """,
    "answers in complex numbers": """
        rng = np.random.default_rng(0)
        def junk(shape):
            return 1j * rng.standard_normal(shape)
        return (grad_output @ weight + junk((len(x), weight.shape[1])), grad_output.T @ x + junk(weight.shape),
                grad_output.sum(axis=0) + junk(weight.shape[0]))
    """,
}


def tutorial(folder, body, name="linear_backward", header="import os\nimport sys\n\nimport numpy as np\n"):
    """A tutorial file for ``LINEAR`` in ``folder`` whose function has ``body``."""
    path = folder / LINEAR.tutorial
    body = textwrap.indent(textwrap.dedent(body), "    ")
    path.write_text(f"{header}\n\ndef {name}(x, weight, grad_output):\n{body}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("cheat", list(CHEATS))
def test_a_cheat_that_fools_the_checker_in_process_fails_when_graded(tmp_path, cheat, monkeypatch):
    path = tutorial(tmp_path, CHEATS[cheat])
    monkeypatch.setattr(diagnosis, "verdict_of", diagnosis.verdict_of)     # restored after the test
    fooled = exercises.check_linear_backward(load_function(path, "linear_backward"), verbose=False)
    monkeypatch.undo()
    if cheat == "answers in complex numbers":  # its real part is right: dropping the imaginary part passed it
        assert fooled.mistakes == ["complex"], fooled.text
        real = exercises.check_linear_backward(lambda *args: [np.real(g) for g in load_function(
            path, "linear_backward")(*args)], verbose=False)
        assert real.passed, real.text
    else:
        assert fooled.passed, f"the cheat should fool an in-process checker:\n{fooled.text}"
    graded = grading.grade_exercise(LINEAR, tmp_path, timeout=20)
    assert graded.status in (grading.WRONG, grading.NEEDS), graded.text
    assert not graded.passed
    if cheat == "answers in complex numbers":
        assert graded.mistakes == ("complex",) and "does not drop an imaginary part" in graded.text
    if cheat == "reads the reference from its caller's frames":
        assert graded.mistakes == ("not an array",), graded.text


def test_a_complex_answer_is_refused_in_process_too():
    report = exercises.check_linear_backward(
        lambda x, w, g: (g @ w + 0j, g.T @ x, g.sum(axis=0)), verbose=False)
    assert not report.passed and report.mistakes == ["complex"], report.text


@pytest.mark.parametrize("body, status, words", [
    ("os._exit(0)", grading.STOPPED, "os._exit"),
    ("sys.exit(0)", grading.STOPPED, "os._exit, sys.exit"),
    ("os._exit(3)", grading.STOPPED, "exit status 3"),
    ("os.kill(os.getpid(), 9)", grading.STOPPED, "killed by signal 9"),
    ("while True:\n    pass", grading.TIMED_OUT, "ran for more than 3 s"),
    ("while True:\n    print('x' * 1000)", grading.STOPPED, "printed more than"),
])
def test_ending_hanging_or_flooding_the_grading_is_a_failure_that_says_why(tmp_path, body, status, words):
    tutorial(tmp_path, body)
    graded = grading.grade_exercise(LINEAR, tmp_path, timeout=3)
    assert graded.status == status, graded.text
    assert words in graded.text and "linear_backward" in graded.text


def test_a_memory_hog_is_a_row_of_the_report_not_a_dead_machine(tmp_path):
    tutorial(tmp_path, "return np.ones(2**33), None, None")           # 64 GiB
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.mistakes == ("raised an exception",) and "MemoryError" in graded.text, graded.text


def test_the_students_process_has_its_address_space_capped(tmp_path):
    path = tutorial(tmp_path, "import resource\nreturn float(resource.getrlimit(resource.RLIMIT_AS)[0])")
    (kind, limit), = Sandboxed(path, "linear_backward").call_all([((1, 2, 3), {})])
    assert kind == "returned" and limit == MEMORY_LIMIT


def test_a_process_the_student_starts_is_stopped_with_theirs(tmp_path):
    marker = tmp_path / "child.pid"
    tutorial(tmp_path, f"""
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(marker)!r}, "w").write(str(child.pid))
        while True:
            pass
    """)
    graded = grading.grade_exercise(LINEAR, tmp_path, timeout=3)
    assert graded.status == grading.TIMED_OUT
    pid = int(marker.read_text())
    for _ in range(100):            # killed, then reaped by init: gone within a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the student's child process {pid} outlived the grading")


def test_a_right_answer_passes_and_a_wrong_one_is_diagnosed_from_its_process(tmp_path):
    tutorial(tmp_path, RIGHT)
    assert grading.grade_exercise(LINEAR, tmp_path).passed
    tutorial(tmp_path, "return grad_output @ weight, x.T @ grad_output, grad_output.sum(axis=0)")
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.status == grading.WRONG and graded.mistakes == ("missing transpose",), graded.text
    assert graded.short == "wrong: missing transpose"


def test_the_inputs_the_student_changes_in_place_do_not_reach_the_next_call(tmp_path):
    tutorial(tmp_path, "x *= 0\n" + RIGHT)
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert not graded.passed        # grad_weight = dY^T x needs x: zeroed, it is wrong, every case
    tutorial(tmp_path, "grad_output = grad_output.copy()\n" + RIGHT)
    assert grading.grade_exercise(LINEAR, tmp_path).passed


def test_an_exception_or_a_strange_return_is_a_row_not_a_crash(tmp_path):
    tutorial(tmp_path, "raise ValueError('shapes (4, 5) and (3, 5) not aligned')")
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.mistakes == ("raised an exception",) and "ValueError: shapes (4, 5)" in graded.text
    tutorial(tmp_path, "return {'grad_x': 1}, lambda: 0, 'text'")
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.mistakes == ("not an array",) and "a dict" in graded.text and "a function" in graded.text


def test_sandboxed_call_all_returns_values_by_value(tmp_path):
    path = tutorial(tmp_path, "return x.astype(np.float32), [weight, 2], (None, 1.5)")
    calls = [((np.ones((2, 3)), np.zeros((4, 3)), np.ones((2, 4))), {})]
    (kind, (a, (w, two), (none, number))), = Sandboxed(path, "linear_backward").call_all(calls)
    assert kind == "returned" and a.dtype == np.float32 and a.shape == (2, 3)
    assert np.array_equal(w, np.zeros((4, 3))) and two == 2 and none is None and number == 1.5


def test_a_function_that_does_not_load_is_named_with_why(tmp_path):
    tutorial(tmp_path, RIGHT, name="linear_backwards")
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.status == grading.NOT_LOADED and "defines no function linear_backward" in graded.text
    tutorial(tmp_path, RIGHT, header="import numpy as np\nimport no_such_module\n")
    graded = grading.grade_exercise(LINEAR, tmp_path)
    assert graded.status == grading.NOT_LOADED and "No module named 'no_such_module'" in graded.text


def test_stopped_names_its_reason():
    assert Stopped("timed out", "x").reason == "timed out"
