"""python -m tinygrad_dl1.notebooks: tutorials as executed notebooks and HTML pages."""
import json
from pathlib import Path

import pytest

from tinygrad_dl1 import notebooks

ROOT = Path(__file__).resolve().parent.parent
needs_jupyter = pytest.mark.skipif(bool(notebooks.missing_packages()),
                                   reason=f"{', '.join(notebooks.missing_packages())} not installed "
                                          f"(pip install -e \".[notebooks]\")")


@needs_jupyter
def test_a_tutorial_becomes_an_executed_notebook_and_a_page(tmp_path, capsys):
    assert notebooks.main([str(tmp_path), "01_derivatives", "--fast", "--tutorials", str(ROOT / "tutorials")]) == 0
    notebook = json.loads((tmp_path / "01_derivatives.ipynb").read_text(encoding="utf-8"))
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(c["execution_count"] for c in code_cells), "every code cell ran"
    outputs = [o for c in code_cells for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"], "no cell failed"
    assert any("image/png" in o.get("data", {}) for o in outputs), "the figure is drawn inline"
    html = (tmp_path / "01_derivatives.html").read_text(encoding="utf-8")
    assert "<html" in html and "central" in html, "the page holds the text and the outputs"
    assert (tmp_path / "tutorial_figures" / "01_difference_error.png").is_file(), "the tutorial ran in the folder"
    assert str(tmp_path / "01_derivatives.html") in capsys.readouterr().out


@needs_jupyter
def test_a_failing_cell_is_reported_with_the_tutorial_name(tmp_path, capsys):
    tutorials = tmp_path / "tutorials"
    tutorials.mkdir()
    (tutorials / "01_broken.py").write_text("# %% [markdown]\n# # 01 Broken\n\n# %%\nassert 1 == 2, 'planted'\n")
    assert notebooks.main([str(tmp_path / "out"), "--tutorials", str(tutorials)]) == 1
    err = capsys.readouterr().err
    assert "01_broken.py failed" in err and "planted" in err, err


def test_unknown_tutorial_names_are_refused_with_the_list(tmp_path, capsys):
    if notebooks.missing_packages():
        pytest.skip("the command stops earlier without the notebooks extra")
    assert notebooks.main([str(tmp_path), "99_nothing", "--tutorials", str(ROOT / "tutorials")]) == 1
    err = capsys.readouterr().err
    assert "no tutorial named 99_nothing" in err and "01_derivatives" in err, err


def test_missing_packages_are_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(notebooks, "missing_packages", lambda: ["nbclient"])
    assert notebooks.main([str(tmp_path)]) == 1
    assert "nbclient not installed" in capsys.readouterr().err
