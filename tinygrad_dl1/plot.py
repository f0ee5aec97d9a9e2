"""The assignment's figures: loss and accuracy, train and test, against training steps."""
import os


def plot_curves(rows, path, title=""):
    """Draw ``rows`` (dicts with step, train_loss, train_acc, test_loss, test_acc) into ``path``.

    Returns False (and draws nothing) when matplotlib is missing: it is the optional
    ``plot`` extra (pip install "tinygrad_dl1[plot]").
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [r["step"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
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
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True
