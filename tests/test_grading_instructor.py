"""The instructor's command grades a folder of student editions, each exercise isolated, into grades.csv,
grades.html and per-student reports: tried on planted editions (right, wrong, cheating, hanging, empty)."""
import csv

from tinygrad_dl1.exercises import grading, instructor
from tinygrad_dl1.exercises.student_edition import write_student_edition

from editions import TUTORIALS, fill_in


def planted(submissions):
    """Five editions: alice right, bob wrong, carol cheating, dave hanging, erin empty."""
    editions = {name: write_student_edition(submissions / name, TUTORIALS) for name in ("alice", "bob", "carol",
                                                                                         "dave")}
    for exercise in grading.EXERCISES:
        fill_in(editions["alice"], exercise.task)
    fill_in(editions["bob"], "linear_backward", "    return grad_output @ weight, x.T @ grad_output, "
                                                "grad_output.sum(axis=0)\n")
    fill_in(editions["carol"], "linear_backward", "    import sys\n    frame = sys._getframe(1)\n"
                                                  "    return frame.f_locals.get('reference')\n")
    fill_in(editions["carol"], "leaky_relu_backward", "    import os\n    os._exit(0)\n")
    fill_in(editions["dave"], "im2col", "    while True:\n        pass\n")
    (submissions / "erin").mkdir()


def test_a_folder_of_editions_becomes_a_table(tmp_path, capsys):
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    submissions.mkdir()
    planted(submissions)
    assert instructor.main([str(submissions), "--out", str(out), "--timeout", "3", "--jobs", "2"]) == 0
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin"]
    assert all(rows["alice"][e.task] == "passed" for e in grading.EXERCISES)
    assert rows["alice"]["passed"] == str(len(grading.EXERCISES))
    assert rows["bob"]["linear_backward"] == "wrong: missing transpose"
    assert rows["bob"]["sgd_update"] == "not written" and rows["bob"]["passed"] == "0"
    assert rows["carol"]["linear_backward"] == "wrong: wrong number of outputs"   # None: no reference found
    assert rows["carol"]["leaky_relu_backward"] == "stopped"
    assert rows["dave"]["im2col"] == "timed out"
    assert rows["dave"]["conv2d_backward"] == "not written"
    assert all(rows["erin"][e.task] == "not loaded" for e in grading.EXERCISES)
    page = (out / "grades.html").read_text(encoding="utf-8")
    assert page.count("<tr><th>") == 1 + 5 and "wrong: missing transpose" in page and "timed out" in page
    assert "ran for more than 3 s" in page, "each cell opens onto the report"
    report = (out / "reports" / "carol.txt").read_text(encoding="utf-8")
    assert "os._exit" in report and "== leaky_relu_backward: stopped" in report
    captured = capsys.readouterr()
    assert "5 editions graded" in captured.out and "5/5" in captured.err, "a progress bar on stderr"


def test_bad_command_lines_are_one_line(tmp_path, capsys):
    assert instructor.main([str(tmp_path / "nothing")]) == 2
    assert "no folder" in capsys.readouterr().err
    assert instructor.main([str(tmp_path), "--out", str(tmp_path / "g")]) == 2
    assert "holds no student folders" in capsys.readouterr().err
