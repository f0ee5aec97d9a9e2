"""Student editions for the grading tests: the tutorials' own solutions, and writing one into an edition."""
import re
from pathlib import Path

from tinygrad_dl1.exercises import grading

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


def solution(task):
    """The lines between the markers of ``task`` in the tutorials (the solution, indented as in its function)."""
    text = (TUTORIALS / grading.BY_TASK[task].tutorial).read_text(encoding="utf-8")
    begin = text.index("# BEGIN SOLUTION", text.index(f"\ndef {task}("))
    start = text.index("\n", begin) + 1
    return text[start:text.index("    # END SOLUTION", start)]


def fill_in(edition, task, code=None):
    """Write ``code`` (default: the tutorials' solution) in place of ``task``'s NotImplementedError."""
    path = edition / "tutorials" / grading.BY_TASK[task].tutorial
    text, count = re.subn(rf"    raise NotImplementedError\(['\"]{task}: .*\n", lambda _: code or solution(task),
                          path.read_text(encoding="utf-8"))
    assert count == 1, task
    path.write_text(text, encoding="utf-8")
