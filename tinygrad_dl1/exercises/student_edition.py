"""The student edition of the tutorials: every solution replaced by a NotImplementedError that says what to
write, and a pytest file that grades the exercises.

In a tutorial, an exercise is a function whose body holds a solution between two markers; the hint goes on
the first one:

    def linear_backward(x, weight, grad_output):
        '''The gradients of y = x weight^T + b: (grad_x, grad_weight, grad_bias).'''
        # BEGIN SOLUTION hint: grad_weight = grad_output^T x; grad_bias sums grad_output over the batch
        ...
        # END SOLUTION

The student edition has, in their place,

        raise NotImplementedError("linear_backward: The gradients of ... Hint: grad_weight = ...")

Run it as ``python -m tinygrad_dl1.exercises.student_edition OUT [--tutorials DIR]``.
"""
import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

from .grading import EXERCISES

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?:\s+hint:\s*(?P<hint>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")

# the grading tests of the student edition: `pytest` grades every exercise, `pytest -m TASK` one
GRADING_TESTS = '''"""Grades the exercises of the tutorials beside this file. Run `pytest` for all of them, or
`pytest -m linear_backward` (any task's name: see pytest.ini) for one."""
from pathlib import Path

import pytest

from tinygrad_dl1.exercises.grading import EXERCISES, grade

TUTORIALS = Path(__file__).resolve().parent / "tutorials"


@pytest.mark.parametrize("exercise", [pytest.param(e, id=e.task, marks=getattr(pytest.mark, e.task))
                                      for e in EXERCISES])
def test_exercise(exercise):
    failure = grade(exercise, TUTORIALS)
    if failure is not None:
        pytest.fail(failure, pytrace=False)     # the checker's diagnosis, not a traceback
'''


class SolutionMarkerError(ValueError):
    """Solution markers that do not pair up, lack a hint, or sit outside a function."""


def strip_solutions(text, filename="<tutorial>"):
    """``text`` with each solution block replaced by a NotImplementedError naming the function, what it
    computes (its docstring's first paragraph) and the hint on the BEGIN marker."""
    lines = text.splitlines(keepends=True)
    functions = enclosing_functions(text)
    out, begin = [], None
    for number, line in enumerate(lines, 1):
        if begin is None:
            match = BEGIN.match(line)
            if match is None:
                if END.match(line):
                    raise SolutionMarkerError(f"{filename}:{number}: '# END SOLUTION' without a BEGIN before it")
                out.append(line)
                continue
            if not match["hint"]:
                raise SolutionMarkerError(f"{filename}:{number}: write a hint on the marker: "
                                          f"'# BEGIN SOLUTION hint: ...'")
            if number not in functions:
                raise SolutionMarkerError(f"{filename}:{number}: a solution must be inside a function")
            begin = number
            name, summary = functions[number]
            message = f"{name}: {summary} Hint: {match['hint']}" if summary else f"{name}. Hint: {match['hint']}"
            out.append(f"{match['indent']}raise NotImplementedError({message!r})\n")
        elif BEGIN.match(line):
            raise SolutionMarkerError(f"{filename}:{number}: a BEGIN SOLUTION inside the one of line {begin}")
        elif END.match(line):
            begin = None
    if begin is not None:
        raise SolutionMarkerError(f"{filename}:{begin}: '# BEGIN SOLUTION' without an END after it")
    return "".join(out)


def enclosing_functions(text):
    """{line number: (name, the docstring's first paragraph on one line)} for every line inside a function's
    body (the innermost function wins)."""
    functions = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            summary = " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
            for number in range(node.body[0].lineno, node.end_lineno + 1):
                if number not in functions or functions[number][2] < node.lineno:
                    functions[number] = (node.name, summary, node.lineno)
    return {number: (name, doc) for number, (name, doc, _) in functions.items()}


def write_student_edition(out, tutorials):
    """Write the student edition of the tutorials in ``tutorials`` into the new or empty folder ``out``:
    out/tutorials/ (solutions replaced), out/test_exercises.py and out/pytest.ini. Returns out."""
    out, tutorials = Path(out), Path(tutorials)
    if not tutorials.is_dir():
        raise FileNotFoundError(f"no tutorials folder at {tutorials}")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: the student edition goes into a new or empty folder")
    (out / "tutorials").mkdir(parents=True, exist_ok=True)
    for path in sorted(tutorials.iterdir()):
        if path.suffix == ".py":
            (out / "tutorials" / path.name).write_text(strip_solutions(path.read_text(encoding="utf-8"), path.name),
                                                       encoding="utf-8")
        elif path.suffix == ".md":
            shutil.copyfile(path, out / "tutorials" / path.name)
    (out / "test_exercises.py").write_text(GRADING_TESTS, encoding="utf-8")
    markers = "".join(f"    {e.task}: {e.what} (tutorials/{e.tutorial})\n" for e in EXERCISES)
    (out / "pytest.ini").write_text(f"[pytest]\naddopts = -p no:cacheprovider\nmarkers =\n{markers}",
                                    encoding="utf-8")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.exercises.student_edition",
                                     description="Write the student edition of the tutorials: solutions "
                                                 "replaced by NotImplementedError, and pytest grading.")
    parser.add_argument("out", help="a new or empty folder")
    parser.add_argument("--tutorials", default="tutorials", help="the tutorials folder (default: ./tutorials)")
    args = parser.parse_args(argv)
    try:
        out = write_student_edition(args.out, args.tutorials)
    except (OSError, SolutionMarkerError) as e:
        print(f"student_edition: error: {e}", file=sys.stderr)
        return 1
    print(f"student edition written to {out}: open its tutorials, then grade with `cd {out} && pytest` "
          f"(one task: `pytest -m linear_backward`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
