"""python -m tinygrad_dl1.exercises.grade: grading without pytest, all exercises or some, with exit statuses."""
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_dl1.exercises import grade, grading

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def test_the_solutions_pass_and_the_exit_status_says_so(capsys):
    assert grade.main([str(TUTORIALS)]) == 0
    out = capsys.readouterr().out
    assert f"{len(grading.EXERCISES)} of {len(grading.EXERCISES)} exercises passed" in out
    assert all(f"{e.task.ljust(30)}  passed" in out for e in grading.EXERCISES), out


def test_some_tasks_only(capsys):
    assert grade.main([str(TUTORIALS), "im2col", "sgd_update"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 exercises passed" in out and "linear_backward" not in out


def test_a_task_alone_grades_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(TUTORIALS.parent)
    assert grade.main(["im2col"]) == 0
    assert "1 of 1 exercises passed" in capsys.readouterr().out


def test_bad_command_lines(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        grade.main([str(TUTORIALS), "no_such_task"])
    assert exit_.value.code == 2 and "no exercise named no_such_task" in capsys.readouterr().err
    assert grade.main([str(tmp_path)]) == 2
    assert "holds neither tutorials/ nor a tutorial with exercises" in capsys.readouterr().err


def test_it_runs_as_a_module_with_a_failing_status():
    result = subprocess.run([sys.executable, "-m", "tinygrad_dl1.exercises.grade", "/nonexistent"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
