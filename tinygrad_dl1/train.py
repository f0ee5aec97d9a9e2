"""The training loop shared by every model: steps, evaluations, and the state a checkpoint saves.

``train`` runs steps of gradient descent on batches of the training set and, every
``eval_freq`` steps and at the end, evaluates the model on the whole test set. All that
changes as it goes lives in one ``TrainingState``: saved and loaded again, it continues
the run exactly where it was. Run folders (files, checkpoints, Ctrl-C, resume) are the
business of ``run_folder.py``.

    state = TrainingState(model, optimizer, training_batches(data, batch_size=200, seed=42))
    train(state, data, max_steps=1500, eval_freq=100)
    state.history[-1]["test_acc"]
"""
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from . import rng
from .data import BatchStream
from .grad_mode import no_grad
from .nn import functional as F
from .tensor import Tensor

# the columns of a row of ``TrainingState.history`` (and of metrics.csv)
METRICS = ("step", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s")


class TrainingDiverged(RuntimeError):
    """The training or test loss became NaN or infinite."""


@dataclass
class TrainingState:
    """What training changes: the model, the optimizer, the batches still to come and what was measured."""

    model: object
    optimizer: object
    batches: BatchStream
    step: int = 0                                  # training steps done
    history: list = field(default_factory=list)    # one row (a dict of METRICS) per evaluation
    train_loss_sum: float = 0.0                    # since the last evaluation: the training loss summed
    train_correct: int = 0                         # over images, how many of them were classified right
    train_seen: int = 0                            # and how many images there were
    elapsed_s: float = 0.0                         # time spent training, over every resumed part of the run

    def state_dict(self):
        """Everything needed to continue exactly, as plain values and NumPy arrays (a checkpoint)."""
        return {"step": self.step, "history": self.history, "train_loss_sum": self.train_loss_sum,
                "train_correct": self.train_correct, "train_seen": self.train_seen, "elapsed_s": self.elapsed_s,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "batches": self.batches.state_dict(), "rng": rng.get_rng_state()}

    def load_state_dict(self, saved):
        """Continue from ``saved`` (a ``state_dict()``): weights, optimizer, batch order and dropout masks."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.batches.load_state_dict(saved["batches"])
        rng.set_rng_state(saved["rng"])
        self.step, self.history, self.elapsed_s = saved["step"], saved["history"], saved["elapsed_s"]
        self.train_loss_sum, self.train_correct = saved["train_loss_sum"], saved["train_correct"]
        self.train_seen = saved["train_seen"]


def training_batches(data, batch_size, seed):
    """Endless batches of (data.train_x, data.train_y), in an order fixed by ``seed``."""
    # the batch order draws from a stream of its own, independent of tinygrad_dl1.rng's
    # (weight inits, dropout), even when both are seeded with the same number
    return BatchStream(data.train_x, data.train_y, batch_size, seed=np.random.SeedSequence(seed).spawn(1)[0])


def n_correct(logits, labels):
    """How many rows of ``logits`` have their largest entry at the row's label."""
    return int((logits.numpy().argmax(axis=1) == labels).sum())


def evaluate(model, x, y, batch_size=1000, device="cpu"):
    """Mean cross-entropy and accuracy of ``model`` on all of (x, y), in chunks, without a graph."""
    model.eval()
    loss_sum, correct = 0.0, 0
    with no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            logits = model(Tensor(xb, device=device))
            loss_sum += F.cross_entropy(logits, Tensor(yb, device=device)).item() * len(xb)
            correct += n_correct(logits, yb)
    return loss_sum / len(x), correct / len(x)


def train_step(model, optimizer, xb, yb, device="cpu"):
    """One step of gradient descent on a batch; returns (the batch's loss, correctly classified images).

    A non-finite loss is returned without updating anything.
    """
    model.train()
    logits = model(Tensor(xb, device=device))
    loss = F.cross_entropy(logits, Tensor(yb, device=device))
    value = loss.item()
    if math.isfinite(value):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return value, n_correct(logits, yb)


def train(state, data, *, max_steps, eval_freq, device="cpu", eval_batch_size=1000, show_progress=True,
          after_evaluation=None, stop_requested=None):
    """Train from ``state`` up to step ``max_steps``; evaluate every ``eval_freq`` steps and at the end.

    ``data`` has train_x, train_y, test_x, test_y (the batches come from ``state.batches``). Each
    evaluation appends a row to ``state.history`` and then calls ``after_evaluation(state)``, if given.
    Training stops early, after a whole step, once ``stop_requested()`` returns True. A NaN or
    infinite loss raises TrainingDiverged before the state takes it in. Returns ``state``.
    """
    started = time.perf_counter() - state.elapsed_s
    with progress_bar(max_steps, state.step, show_progress) as bar:
        while state.step < max_steps and not (stop_requested and stop_requested()):
            xb, yb = next(state.batches)
            loss, correct = train_step(state.model, state.optimizer, xb, yb, device)
            if not math.isfinite(loss):
                raise TrainingDiverged(f"the training loss became {loss} at step {state.step + 1}; "
                                       "try a lower learning rate")
            state.step += 1
            state.train_loss_sum += loss * len(yb)
            state.train_correct += correct
            state.train_seen += len(yb)
            state.elapsed_s = time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

            if state.step % eval_freq == 0 or state.step == max_steps:
                test_loss, test_acc = evaluate(state.model, data.test_x, data.test_y, eval_batch_size, device)
                if not math.isfinite(test_loss):
                    raise TrainingDiverged(f"the test loss became {test_loss} at step {state.step}; "
                                           "try a lower learning rate")
                state.elapsed_s = time.perf_counter() - started
                row = dict(step=state.step, train_loss=state.train_loss_sum / state.train_seen,
                           train_acc=state.train_correct / state.train_seen, test_loss=test_loss,
                           test_acc=test_acc, elapsed_s=round(state.elapsed_s, 2))
                state.history.append(row)
                state.train_loss_sum, state.train_correct, state.train_seen = 0.0, 0, 0
                bar.write(f"step {state.step:>6}/{max_steps}: train loss {row['train_loss']:.4f} "
                          f"acc {row['train_acc']:.4f} | test loss {test_loss:.4f} acc {test_acc:.4f} "
                          f"| {row['elapsed_s']:.0f} s", file=sys.stderr)
                if after_evaluation:
                    after_evaluation(state)
    return state


def progress_bar(total, initial, show=True):
    """A tqdm bar of training steps on stderr: a widget in Jupyter, a line redrawn in place on a terminal.

    Anywhere else (a log file, CI) there is no bar, since each redraw would add to the log;
    there the evaluation lines, one line each, tell how training goes.
    """
    on_screen = issubclass(tqdm, notebook_tqdm) or sys.stderr.isatty()
    return tqdm(total=total, initial=initial, unit="step", disable=not (show and on_screen), dynamic_ncols=True)
