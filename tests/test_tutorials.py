"""The tutorials (tutorials/NN_name.py) run as scripts in fast mode and are valid jupytext percent files."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cifar_files import REAL_DATA

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
TIME_LIMIT_S = 120          # per tutorial, in fast mode; the whole set should take well under 90 s
FULL_TIME_LIMIT_S = 1800    # per tutorial, in full on the real data (pytest --run-slow)
CELL_MARKERS = ("# %%", "# %% [markdown]")


def tutorial_ids():
    return [path.name for path in TUTORIALS]


def test_tutorials_are_found():
    names = [path.name for path in TUTORIALS]
    assert "01_derivatives.py" in names and "02_backprop_by_hand.py" in names, names


@pytest.mark.parametrize("path", TUTORIALS, ids=tutorial_ids())
def test_tutorial_runs_as_a_script(path, tmp_path):
    env = {**os.environ, "TINYGRAD_DL1_TUTORIAL_FAST": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    try:
        result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name} ran longer than {TIME_LIMIT_S} s in fast mode")
    assert result.returncode == 0, (f"{path.name} exited with {result.returncode}\n"
                                    f"--- stdout (end) ---\n{result.stdout[-3000:]}\n"
                                    f"--- stderr (end) ---\n{result.stderr[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=tutorial_ids())
def test_tutorial_runs_in_full_on_the_real_data(path, tmp_path):
    if not REAL_DATA.is_dir() and not os.environ.get("TINYGRAD_DL1_DATA"):
        pytest.skip(f"no real CIFAR-10 at {REAL_DATA} and no $TINYGRAD_DL1_DATA")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    env.pop("TINYGRAD_DL1_TUTORIAL_FAST", None)
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=FULL_TIME_LIMIT_S)
    assert result.returncode == 0, (f"{path.name} exited with {result.returncode}\n"
                                    f"--- stdout (end) ---\n{result.stdout[-3000:]}\n"
                                    f"--- stderr (end) ---\n{result.stderr[-3000:]}")


@pytest.mark.parametrize("path", TUTORIALS, ids=tutorial_ids())
def test_tutorial_is_jupytext_percent_format(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0] == "# %% [markdown]", f"{path.name} should start with a markdown cell"
    assert len(lines) > 1 and re.match(r"# # \S", lines[1]), \
        f"{path.name}: the first markdown cell should start with a '# ' title, got {lines[1:2]}"
    for number, line in enumerate(lines, 1):
        if line.startswith("# %%"):
            assert line in CELL_MARKERS, f"{path.name}:{number}: a cell marker must be one of {CELL_MARKERS}: {line!r}"
    # a markdown cell holds only comment lines (or blank ones)
    in_markdown = False
    for number, line in enumerate(lines, 1):
        if line.startswith("# %%"):
            in_markdown = line == "# %% [markdown]"
        elif in_markdown and line.strip() and not line.startswith("#"):
            pytest.fail(f"{path.name}:{number}: code inside a markdown cell (add a '# %%' marker before it)")


@pytest.mark.parametrize("path", TUTORIALS, ids=tutorial_ids())
def test_tutorial_round_trips_through_a_notebook(path):
    jupytext = pytest.importorskip("jupytext", reason="jupytext is not installed (pip install jupytext)")
    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="py:percent")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# "), \
        f"{path.name}: the notebook should open with a markdown title"
    assert any(cell.cell_type == "code" for cell in notebook.cells), f"{path.name}: the notebook has no code"
    again = jupytext.reads(jupytext.writes(notebook, fmt="py:percent"), fmt="py:percent")
    assert [(c.cell_type, c.source) for c in again.cells] == [(c.cell_type, c.source) for c in notebook.cells], \
        f"{path.name}: the cells change in a round trip through a notebook"
