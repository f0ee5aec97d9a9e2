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

Run it as ``python -m tinygrad_dl1.exercises.student_edition OUT [--tutorials DIR] [--install-from SOURCE]``.

The edition never holds a solution: a line that looks like a marker but is not one (``# BEGIN SOLUTON``)
is refused, every exercise that grading knows must come out as a NotImplementedError, and no line of a
solution may survive. It is written into a temporary folder beside OUT and moved into place only when
whole: a refusal leaves nothing behind.
"""
import argparse
import ast
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from .grading import EXERCISES
from .loading import read_tutorial
from .sandbox import PACKAGE_ROOT

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?:\s+hint:\s*(?P<hint>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
LOOKS_LIKE_A_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)[\s_-]*SOL\w*\s*(hint\b.*)?$", re.IGNORECASE)

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


README = """# Exercises

The tutorials of tinygrad_dl1, with the solutions of their exercises taken out. Install the library and
grade every exercise, in one command, from this folder:

```bash
python3 -m venv .venv && .venv/bin/pip install {source} && .venv/bin/python -m tinygrad_dl1.exercises.grade
```

Each exercise is a function in `tutorials/` that raises `NotImplementedError` with a hint: write it,
then grade again (each exercise runs in a process of its own, so a mistake cannot hang or crash the
grading; a wrong answer gets a table and the likely mistake, by name):

```bash
.venv/bin/python -m tinygrad_dl1.exercises.grade                   # every exercise
.venv/bin/python -m tinygrad_dl1.exercises.grade linear_backward   # one (or several)
.venv/bin/pip install pytest && .venv/bin/python -m pytest         # the same, with pytest (-m TASK for one)
```

| exercise | tutorial | what to write |
|---|---|---|
{table}

Grading loads your function from its tutorial without running the tutorial: only its imports and its
function definitions run, so your function may use the tutorial's imports and its other functions, but
not variables the tutorial computes as it runs.
"""


class EditionError(ValueError):
    """A tutorial that cannot become a student edition; the message names file:line."""


SolutionMarkerError = EditionError      # solution markers that do not pair up, lack a hint, or sit outside a function


def strip_solutions(text, filename="<tutorial>"):
    """``text`` with each solution block replaced by a NotImplementedError naming the function, what it
    computes (its docstring's first paragraph) and the hint on the BEGIN marker."""
    return strip(text, filename)[0]


def strip(text, filename="<tutorial>"):
    """(the edition's text, the lines of code of the solutions that appear nowhere else in ``text``)."""
    lines = text.splitlines(keepends=True)
    functions = enclosing_functions(text, filename)
    out, begin, inside, outside = [], None, set(), set()
    for number, line in enumerate(lines, 1):
        if begin is None:
            match = BEGIN.match(line)
            if match is None:
                if END.match(line):
                    raise EditionError(f"{filename}:{number}: '# END SOLUTION' without a BEGIN before it")
                if LOOKS_LIKE_A_MARKER.match(line):
                    raise EditionError(f"{filename}:{number}: {line.strip()!r} looks like a solution marker but is "
                                       f"not one: write '# BEGIN SOLUTION hint: ...' or '# END SOLUTION'")
                out.append(line)
                outside.add(line.strip())
                continue
            if not match["hint"]:
                raise EditionError(f"{filename}:{number}: write a hint on the marker: '# BEGIN SOLUTION hint: ...'")
            if number not in functions:
                raise EditionError(f"{filename}:{number}: a solution must be inside a function")
            begin = number
            name, summary = functions[number]
            message = f"{name}: {summary} Hint: {match['hint']}" if summary else f"{name}. Hint: {match['hint']}"
            out.append(f"{match['indent']}raise NotImplementedError({message!r})\n")
        elif BEGIN.match(line):
            raise EditionError(f"{filename}:{number}: a BEGIN SOLUTION inside the one of line {begin}")
        elif END.match(line):
            begin = None
        elif LOOKS_LIKE_A_MARKER.match(line):
            raise EditionError(f"{filename}:{number}: {line.strip()!r} looks like a solution marker but is not "
                               f"one: write '# END SOLUTION'")
        elif line.strip() and not line.strip().startswith("#"):
            inside.add(line.strip())
    if begin is not None:
        raise EditionError(f"{filename}:{begin}: '# BEGIN SOLUTION' without an END after it")
    return "".join(out), inside - outside


def enclosing_functions(text, filename="<tutorial>"):
    """{line number: (name, the docstring's first paragraph on one line)} for every line inside a function's
    body (the innermost function wins)."""
    functions = {}
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        raise EditionError(f"{filename}:{error.lineno}: SyntaxError: {error.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            summary = " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
            for number in range(node.body[0].lineno, node.end_lineno + 1):
                if number not in functions or functions[number][2] < node.lineno:
                    functions[number] = (node.name, summary, node.lineno)
    return {number: (name, doc) for number, (name, doc, _) in functions.items()}


def check_edition(edition, solution_lines, filename, tasks):
    """Refuse an edition's text that still holds a solution: every exercise of ``tasks`` must raise
    NotImplementedError at the top of its body, and no line of ``solution_lines`` may survive."""
    for number, line in enumerate(edition.splitlines(), 1):
        if line.strip() in solution_lines:
            raise EditionError(f"{filename}:{number}: a line of a solution survives in the edition: {line.strip()!r}")
    tree = ast.parse(edition, filename=filename)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    for task in tasks:
        if task not in functions:
            raise EditionError(f"{filename}:1: no function {task}, an exercise that grading knows")
        raises = [node for node in functions[task].body if isinstance(node, ast.Raise) and isinstance(
            node.exc, ast.Call) and getattr(node.exc.func, "id", None) == "NotImplementedError"]
        if not raises:
            raise EditionError(f"{filename}:{functions[task].lineno}: the exercise {task} holds no solution "
                               f"between '# BEGIN SOLUTION hint: ...' and '# END SOLUTION', so the edition would "
                               f"give it away")


def default_source():
    """What the edition's README installs: the checkout this package runs from, or the package's name."""
    return str(PACKAGE_ROOT) if (PACKAGE_ROOT / "pyproject.toml").is_file() else "tinygrad_dl1"


def write_student_edition(out, tutorials, source=None):
    """Write the student edition of the tutorials in ``tutorials`` into the new or empty folder ``out``:
    out/tutorials/ (solutions replaced), out/README.md (how to install and grade; ``source`` is what it
    installs, default ``default_source()``), out/test_exercises.py and out/pytest.ini. Returns out."""
    out, tutorials = Path(out), Path(tutorials)
    if not tutorials.is_dir():
        raise FileNotFoundError(f"no tutorials folder at {tutorials}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} is not empty: the student edition goes into a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        write_into(staging, tutorials, source or default_source())
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def write_into(folder, tutorials, source):
    (folder / "tutorials").mkdir()
    for path in sorted(tutorials.iterdir()):
        if path.suffix == ".py":
            try:
                text, _ = read_tutorial(path)
            except ValueError as error:
                raise EditionError(str(error)) from None
            edition, solution_lines = strip(text, path.name)
            check_edition(edition, solution_lines, path.name,
                          [e.task for e in EXERCISES if e.tutorial == path.name])
            (folder / "tutorials" / path.name).write_text(edition, encoding="utf-8")
        elif path.suffix == ".md":
            shutil.copyfile(path, folder / "tutorials" / path.name)
    missing = sorted({e.tutorial for e in EXERCISES} - {p.name for p in tutorials.iterdir()})
    if missing:
        raise EditionError(f"{tutorials}: no {', '.join(missing)}, which hold exercises that grading knows")
    (folder / "test_exercises.py").write_text(GRADING_TESTS, encoding="utf-8")
    markers = "".join(f"    {e.task}: {e.what} (tutorials/{e.tutorial})\n" for e in EXERCISES)
    (folder / "pytest.ini").write_text(f"[pytest]\naddopts = -p no:cacheprovider\nmarkers =\n{markers}",
                                       encoding="utf-8")
    table = "\n".join(f"| `{e.task}` | `tutorials/{e.tutorial}` | {e.what} |" for e in EXERCISES)
    quoted = f'"{source}"' if " " in source else source
    (folder / "README.md").write_text(README.format(source=quoted, table=table), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.exercises.student_edition",
                                     description="Write the student edition of the tutorials: solutions "
                                                 "replaced by NotImplementedError, and its grading.")
    parser.add_argument("out", help="a new or empty folder")
    parser.add_argument("--tutorials", default="tutorials", help="the tutorials folder (default: ./tutorials)")
    parser.add_argument("--install-from", default=None, metavar="SOURCE",
                        help="what the edition's README tells students to pip install (default: this checkout, "
                             f"{default_source()}); e.g. a git URL: git+https://...")
    args = parser.parse_args(argv)
    try:
        out = write_student_edition(args.out, args.tutorials, args.install_from)
    except (OSError, EditionError) as e:
        print(f"student_edition: error: {e}", file=sys.stderr)
        return 1
    print(f"student edition written to {out}: open its tutorials, then grade with "
          f"`cd {out} && python -m tinygrad_dl1.exercises.grade` (one task: `... grade linear_backward`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
