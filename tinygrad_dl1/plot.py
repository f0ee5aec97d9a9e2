"""The assignment's figures: loss and accuracy, train and test, against training steps.

matplotlib is the optional ``plot`` extra (pip install "tinygrad_dl1[plot]"): without it
runs write no curves.png.
"""
import importlib.util


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
