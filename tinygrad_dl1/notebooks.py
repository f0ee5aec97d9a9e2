"""Executed notebooks and HTML pages of the tutorials (jupytext's percent format, run by a Jupyter kernel).

    python -m tinygrad_dl1.notebooks OUT [--tutorials DIR] [--fast] [NAME ...]

writes OUT/NN_name.ipynb (with its outputs) and OUT/NN_name.html for each tutorial (or the ones named, e.g.
01_derivatives); the tutorials run in OUT, so their pictures land in OUT/tutorial_figures. ``--fast`` runs
them in fast mode (small synthetic data). It needs the ``notebooks`` extra:
pip install "tinygrad_dl1[notebooks]" (jupytext, nbclient, nbconvert, ipykernel).
"""
import argparse
import os
import sys
from pathlib import Path

from .data.synthetic import FAST_MODE_ENV

NEEDED = ("jupytext", "nbclient", "nbconvert", "ipykernel")


def missing_packages():
    """The packages of the notebooks extra that cannot be imported."""
    import importlib.util
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def execute_tutorial(path, out, fast=False, timeout_s=1800):
    """Run the tutorial ``path`` as a notebook in the folder ``out``; write the executed .ipynb and an
    .html beside it and return their paths. A failing cell raises nbclient's CellExecutionError."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    path, out = Path(path), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    saved = os.environ.get(FAST_MODE_ENV)
    os.environ[FAST_MODE_ENV] = "1" if fast else "0"    # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                       resources={"metadata": {"path": str(out)}}).execute()
    finally:
        if saved is None:
            os.environ.pop(FAST_MODE_ENV)
        else:
            os.environ[FAST_MODE_ENV] = saved
    ipynb, html = out / f"{path.stem}.ipynb", out / f"{path.stem}.html"
    nbformat.write(notebook, ipynb)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    html.write_text(body, encoding="utf-8")
    return ipynb, html


def tutorial_files(tutorials, names=()):
    """The tutorials NN_name.py in the folder ``tutorials``, all or those named (with or without .py)."""
    files = sorted(Path(tutorials).glob("[0-9][0-9]_*.py"))
    if not files:
        raise FileNotFoundError(f"no tutorials (NN_name.py) in {tutorials}")
    if not names:
        return files
    by_name = {f.stem: f for f in files}
    unknown = [n for n in names if n.removesuffix(".py") not in by_name]
    if unknown:
        raise FileNotFoundError(f"no tutorial named {', '.join(unknown)} in {tutorials} "
                                f"(there are {', '.join(by_name)})")
    return [by_name[n.removesuffix(".py")] for n in names]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_dl1.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the folder for the notebooks and HTML pages")
    parser.add_argument("names", nargs="*", help="tutorials to run, e.g. 01_derivatives (default: all)")
    parser.add_argument("--tutorials", default="tutorials", help="the tutorials folder (default: ./tutorials)")
    parser.add_argument("--fast", action="store_true", help="fast mode: small synthetic data, few steps")
    args = parser.parse_args(argv)
    missing = missing_packages()
    if missing:
        print(f"notebooks: error: {', '.join(missing)} not installed; pip install \"tinygrad_dl1[notebooks]\"",
              file=sys.stderr)
        return 1
    try:
        files = tutorial_files(args.tutorials, args.names)
    except FileNotFoundError as e:
        print(f"notebooks: error: {e}", file=sys.stderr)
        return 1
    for path in files:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        try:
            ipynb, html = execute_tutorial(path, args.out, fast=args.fast)
        except Exception as e:     # nbclient's CellExecutionError holds the cell and its traceback
            print(f"notebooks: error: {path.name} failed:\n{e}", file=sys.stderr)
            return 1
        print(f"{ipynb}\n{html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
