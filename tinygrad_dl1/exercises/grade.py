"""Grade a student edition's exercises, without pytest:

    python -m tinygrad_dl1.exercises.grade [DIR] [TASK ...]

DIR is the student edition (the folder holding tutorials/) or its tutorials/ folder itself (default: the
current folder); TASK names exercises to grade (default: all of them). Each exercise runs in a process of
its own (``sandbox``); the report of each that fails is printed, then one line per exercise. The exit
status is 0 when every exercise graded passed, 1 otherwise, 2 for a bad command line.
"""
import argparse
import sys
from pathlib import Path

from .grading import BY_TASK, EXERCISES, grade_exercise
from .sandbox import TIMEOUT_S


def tutorials_folder(folder):
    """The tutorials folder of a student edition given the edition's folder or the tutorials folder."""
    folder = Path(folder)
    if (folder / "tutorials").is_dir():
        return folder / "tutorials"
    if any((folder / exercise.tutorial).is_file() for exercise in EXERCISES):
        return folder
    raise FileNotFoundError(f"{folder} holds neither tutorials/ nor a tutorial with exercises "
                            f"({', '.join(sorted({e.tutorial for e in EXERCISES}))})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.exercises.grade",
                                     description="Grade the exercises of a student edition, each in a process "
                                                 "of its own.")
    parser.add_argument("folder", nargs="?", default=".", help="the student edition (default: the current folder)")
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"exercises to grade (default: all): "
                                                                  f"{', '.join(BY_TASK)}")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S,
                        help=f"seconds one exercise may run (default {TIMEOUT_S:g})")
    args = parser.parse_args(argv)
    if args.folder in BY_TASK and not Path(args.folder).exists():     # `grade im2col`: a task, from here
        args.folder, args.tasks = ".", [args.folder, *args.tasks]
    unknown = [task for task in args.tasks if task not in BY_TASK]
    if unknown:
        parser.error(f"no exercise named {', '.join(unknown)}; the exercises: {', '.join(BY_TASK)}")
    try:
        tutorials = tutorials_folder(args.folder)
    except FileNotFoundError as error:
        print(f"grade: error: {error}", file=sys.stderr)
        return 2
    exercises = [BY_TASK[task] for task in args.tasks] or EXERCISES
    graded = {}
    grades = [grade_exercise(exercise, tutorials, args.timeout, graded=graded) for exercise in exercises]
    for result in grades:
        if not result.passed:
            print(result.text, end="\n\n")
    width = max(len(result.task) for result in grades)
    for result in grades:
        print(f"{result.task.ljust(width)}  {result.short}")
    passed = sum(result.passed for result in grades)
    print(f"{passed} of {len(grades)} exercises passed")
    return 0 if passed == len(grades) else 1


if __name__ == "__main__":
    sys.exit(main())
