"""Grade a folder of student editions, one per student, into a table:

    python -m tinygrad_dl1.exercises.instructor SUBMISSIONS [--out DIR] [--jobs N] [--timeout S]

SUBMISSIONS holds one folder per student (its name is the student's), each a student edition (or its
tutorials/ folder). Every exercise of every edition is graded as ``grade`` grades it, in a process of its
own with a time limit, editions in parallel (``--jobs``, default: the machine's cores), with a progress
bar. Written into DIR (default ./grades):

- grades.csv: a row per student, a column per exercise: passed, wrong: <the named mistakes>, needs
  <another exercise>, not written, timed out, stopped, not loaded; and the number passed;
- grades.html: the same table, each cell opening onto the report the student would read;
- reports/<student>.txt: every report of one student.
"""
import argparse
import csv
import html
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from .grade import tutorials_folder
from .grading import EXERCISES, NOT_LOADED, Grade, grade_exercise
from .sandbox import TIMEOUT_S


def grade_edition(folder, timeout=TIMEOUT_S):
    """[Grade per exercise, in the order of EXERCISES] of the student edition in ``folder``."""
    try:
        tutorials = tutorials_folder(folder)
    except FileNotFoundError as error:
        return [Grade(exercise.task, NOT_LOADED, str(error)) for exercise in EXERCISES]
    graded = {}
    return [grade_exercise(exercise, tutorials, timeout, graded=graded) for exercise in EXERCISES]


def grade_all(submissions, jobs=None, timeout=TIMEOUT_S, progress=True):
    """{student: [Grade per exercise]} for every folder in ``submissions``, sorted by name, ``jobs`` editions
    at a time (each exercise in a process of its own)."""
    students = sorted(path for path in Path(submissions).iterdir() if path.is_dir() and not path.name.startswith("."))
    results = {}
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool, \
            tqdm(total=len(students), unit="edition", desc="grading", disable=not progress, file=sys.stderr) as bar:
        futures = {pool.submit(grade_edition, folder, timeout): folder.name for folder in students}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
    return dict(sorted(results.items()))


STYLE = {"passed": "#d4f7d4", "wrong": "#fbd3d3", "needs": "#fde9c4", "not written": "#eeeeee",
         "timed out": "#e3d3fb", "stopped": "#e3d3fb", "not loaded": "#e3d3fb"}


def write_table(results, out):
    """Write grades.csv, grades.html and reports/ for ``results`` into the folder ``out``; returns out."""
    out = Path(out)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    tasks = [exercise.task for exercise in EXERCISES]
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *tasks, "passed"])
        for student, grades in results.items():
            writer.writerow([student, *(g.short for g in grades), sum(g.passed for g in grades)])
    for student, grades in results.items():
        (out / "reports" / f"{student}.txt").write_text(
            "\n\n".join(f"== {g.task}: {g.short}\n{g.text}" for g in grades) + "\n", encoding="utf-8")
    head = "".join(f"<th>{html.escape(task)}</th>" for task in tasks)
    rows = []
    for student, grades in results.items():
        cells = "".join(
            f'<td style="background:{STYLE.get(g.status, "#fff")}"><details><summary>{html.escape(g.short)}'
            f"</summary><pre>{html.escape(g.text)}</pre></details></td>" for g in grades)
        rows.append(f"<tr><th>{html.escape(student)}</th>{cells}<td>{sum(g.passed for g in grades)} / "
                    f"{len(grades)}</td></tr>")
    counts = " · ".join(f"{task}: {sum(grades[k].passed for grades in results.values())} passed"
                        for k, task in enumerate(tasks))
    (out / "grades.html").write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Exercise grades</title>
<style>body {{ font-family: sans-serif; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #999; padding: 4px; vertical-align: top; font-size: 90%; }}
pre {{ font-size: 80%; max-width: 60em; white-space: pre-wrap; }}</style></head>
<body><h1>Exercise grades</h1>
<p>{len(results)} students. {html.escape(counts)}. Click a cell for the report the student reads.</p>
<table><tr><th>student</th>{head}<th>passed</th></tr>
{chr(10).join(rows)}
</table></body></html>
""", encoding="utf-8")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.exercises.instructor",
                                     description="Grade a folder of student editions (one folder per student) "
                                                 "into grades.csv and grades.html.")
    parser.add_argument("submissions", help="the folder holding one student edition per student")
    parser.add_argument("--out", default="grades", help="where to write the table (default: ./grades)")
    parser.add_argument("--jobs", type=int, default=None, help="editions graded at once (default: the cores)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S,
                        help=f"seconds one exercise may run (default {TIMEOUT_S:g})")
    args = parser.parse_args(argv)
    if not Path(args.submissions).is_dir():
        print(f"instructor: error: no folder {args.submissions}", file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    results = grade_all(args.submissions, args.jobs, args.timeout)
    if not results:
        print(f"instructor: error: {args.submissions} holds no student folders", file=sys.stderr)
        return 2
    out = write_table(results, args.out)
    print(f"{len(results)} editions graded: {out / 'grades.csv'}, {out / 'grades.html'}, {out / 'reports'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
