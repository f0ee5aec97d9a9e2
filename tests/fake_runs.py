"""Small training runs on fake data, for the tests of the training loop, run folders and command line."""
from types import SimpleNamespace

import numpy as np
import pytest

from tinygrad_dl1 import manual_seed, models, optim
from tinygrad_dl1.run_folder import RunFolder, train_in_folder
from tinygrad_dl1.train import TrainingState, training_batches


@pytest.fixture
def quick_curves(monkeypatch):
    """curves.png as a few bytes instead of a matplotlib figure, which takes a while to draw."""
    monkeypatch.setattr("tinygrad_dl1.run_folder.plot_curves", lambda rows, f, title: f.write(b"curves"))
    monkeypatch.setattr("tinygrad_dl1.run_folder.have_matplotlib", lambda: True)


def fake_data(n_train=120, n_test=50, seed=0):
    """Linearly separable-ish 3x4x4 images in 10 classes."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((10, 3, 4, 4)).astype(np.float32)

    def draw(n):
        y = rng.integers(0, 10, n)
        return (centers[y] + 0.3 * rng.standard_normal((n, 3, 4, 4))).astype(np.float32), y
    (train_x, train_y), (test_x, test_y) = draw(n_train), draw(n_test)
    return SimpleNamespace(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)


def new_state(data, lr=1e-2, seed=3, device="cpu"):
    """A fresh TrainingState: an MLP with batch norm and dropout on ``device``, Adam, batches of 16."""
    manual_seed(seed)
    model = models.MLP(48, [32], 10, batch_norm=True, dropout=0.2, init="default").to(device)
    return TrainingState(model, optim.Adam(model.parameters(), lr=lr), training_batches(data, 16, seed))


class WatchTraining:
    """A model wrapped so that ``at_forward(i, output)`` sees each of its training forwards (i = 1, 2, ...)
    and returns the output to use instead."""

    def __init__(self, model, at_forward):
        self.model, self.at_forward, self.forwards = model, at_forward, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, x):
        if not self.model.training:
            return self.model(x)
        self.forwards += 1
        return self.at_forward(self.forwards, self.model(x))


def nan_from(model, n):
    """``model`` with its output, and so the loss, NaN from its ``n``-th training forward on."""
    return WatchTraining(model, lambda i, output: output * float("nan") if i >= n else output)


def run_in_folder(path, data, max_steps=30, resume=False, lr=1e-2, seed=3, state=None):
    """Train a new state (or ``state``) in the run folder ``path``, evaluating every 10 steps;
    returns (state, summary)."""
    state = state or new_state(data, lr, seed)
    with RunFolder(str(path), resume=resume) as folder:
        summary = train_in_folder(folder, state, data, {"lr": lr}, max_steps=max_steps, eval_freq=10,
                                  show_progress=False)
    return state, summary
