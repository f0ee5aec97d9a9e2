"""The assignment's figures: loss and accuracy, train and test, against training steps.

matplotlib is the optional ``plot`` extra (pip install "tinygrad_dl1[plot]"): without it
runs write no curves.png.
"""
import importlib.util
import sys
from pathlib import Path


def have_matplotlib():
    """True when matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def plot_curves(rows, file, title=""):
    """Draw ``rows`` (dicts with step, train_loss, train_acc, test_loss, test_acc) as a PNG into ``file``
    (a path or a binary file)."""
    from matplotlib.figure import Figure  # not pyplot: no window, and a notebook's own plots stay as they are

    steps = [r["step"] for r in rows]
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(steps, [r[f"train_{key}"] for r in rows], label="train")
        ax.plot(steps, [r[f"test_{key}"] for r in rows], label="test")
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(file, format="png", dpi=100)


FIGURES_DIR = "tutorial_figures"     # the tutorials' pictures, in the folder they run from


def tutorial_pyplot():
    """matplotlib.pyplot for a tutorial: inline in a notebook, off-screen (Agg) in a script; None, with a
    message, when matplotlib is not installed (the tutorials then skip their pictures)."""
    if not have_matplotlib():
        print("matplotlib is not installed (pip install matplotlib): no pictures")
        return None
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, name):
    """Save a tutorial's figure as tutorial_figures/<name>.png (beside the run), show it in a notebook,
    close it, and return the file's path."""
    import matplotlib.pyplot as plt

    path = Path(FIGURES_DIR) / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"figure: {path}")
    if "ipykernel" in sys.modules:
        plt.show()
    plt.close(fig)
    return path
