"""The training loop shared by every model: steps, evaluations, and the state a checkpoint saves.

``train`` runs steps of gradient descent on batches of the training set and, every
``eval_freq`` steps and at the end, evaluates the model on the whole test set. All that
changes as it goes lives in one ``TrainingState``: saved and loaded again, it continues
the run exactly where it was. Run folders (files, checkpoints, Ctrl-C, resume) are the
business of ``run_folder.py``.

    state = TrainingState(model, optimizer, training_batches(data, batch_size=200, seed=42))
    train(state, data, max_steps=1500, eval_freq=100)
    state.history[-1]["test_acc"]

On a GPU a training step reads nothing back to the host (a read waits for every kernel
queued so far, and the GPU then idles while Python queues the next ones): the training and
test sets go to the device once per run, batches are gathered there, dropout masks are made
there, and each step's loss and count of correct images stay there until the next evaluation
reads them all at once (``TrainingState.collect``). A NaN or infinite training loss is
therefore found at the next evaluation, not at its step; that evaluation then stops the run
before it records anything, so no checkpoint is ever written from after it.
"""
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from . import backend, checks, rng
from .data import BatchStream
from .grad_mode import no_grad
from .nn import functional as F
from .tensor import Tensor

# the columns of a row of ``TrainingState.history`` (and of metrics.csv)
METRICS = ("step", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s")

# a loss that is not finite comes from too large steps most often, else from NaN or inf in the data
DIVERGED_ADVICE = "try a lower learning rate, and check the inputs and labels for NaN or inf values"


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
    # (loss, correct, batch size) of each step since the last collect(): the first two still on the device
    unread: list = field(default_factory=list, repr=False)

    def collect(self):
        """Read the losses and counts of the steps in ``unread`` from the device at once and add them
        to the sums. Raises TrainingDiverged, naming the first of those steps whose loss is NaN or
        infinite, and then keeps them unread: the sums never take in such a loss."""
        if not self.unread:
            return
        losses, corrects, sizes = zip(*self.unread)
        with backend.device_scope(losses[0]):
            xp = backend.array_module(losses[0])
            losses, corrects = backend.to_numpy(xp.stack(losses)), backend.to_numpy(xp.stack(corrects))
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            raise TrainingDiverged(f"the training loss became {float(losses[bad[0]])} at step "
                                   f"{self.step - len(sizes) + 1 + bad[0]}; {DIVERGED_ADVICE}")
        for loss, size in zip(losses, sizes):
            self.train_loss_sum += float(loss) * size
        self.train_correct += int(corrects.sum())
        self.train_seen += sum(sizes)
        self.unread = []

    def state_dict(self):
        """Everything needed to continue exactly, as plain values and NumPy arrays (a checkpoint).
        Collects first, so a state holding a non-finite training loss raises TrainingDiverged."""
        self.collect()
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
        self.train_seen, self.unread = saved["train_seen"], []


def training_batches(data, batch_size, seed):
    """Endless batches of (data.train_x, data.train_y), in an order fixed by ``seed``."""
    # the batch order draws from a stream of its own, independent of tinygrad_dl1.rng's
    # (weight inits, dropout), even when both are seeded with the same number
    return BatchStream(data.train_x, data.train_y, batch_size, seed=np.random.SeedSequence(seed).spawn(1)[0])


def n_correct(logits, labels):
    """How many rows of ``logits`` have their largest entry at the row's label (an array where the
    logits are), as a 0-d integer array there: on a GPU it stays there until read."""
    with backend.device_scope(logits.data):
        return (logits.data.argmax(axis=1) == labels).sum()


def check_labels(model, x, *labels):
    """A ValueError unless each array of ``labels`` holds class indices of ``model``'s outputs, 0 to C - 1,
    with C read from the model's output for the first image of ``x``. ``train`` checks its labels so, on
    the host, before they go to the device: on a GPU cross_entropy only turns a bad one into a NaN loss
    (reading the labels back at every step would stall it), which a run would find at its next evaluation."""
    model.eval()
    with no_grad():
        n_classes = model(Tensor(x[:1])).shape[1]
    for y in labels:
        checks.check_class_indices(backend.to_numpy(y), n_classes, "train",
                                   what=f"labels (for a model with {n_classes} outputs)")


def evaluate(model, x, y, batch_size=1000, device=None):
    """Mean cross-entropy and accuracy of ``model`` on all of (x, y), in chunks, without a graph.

    x and y are copied to ``device`` first when it is given; the chunks are views of them, and the
    sums stay where the model computes until the end reads them back.
    """
    if device is not None:
        x, y = backend.to_device(x, device), backend.to_device(y, device)
    model.eval()
    loss_sum = correct = 0
    with no_grad(), backend.device_scope(x):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            logits = model(Tensor(xb))
            loss = F.cross_entropy(logits, Tensor(yb))
            loss_sum = loss_sum + loss.data.astype(np.float64) * len(xb)
            correct = correct + n_correct(logits, yb)
    return float(loss_sum) / len(x), int(correct) / len(x)


def train_step(model, optimizer, xb, yb):
    """One step of gradient descent on a batch (arrays on the model's device). Returns the batch's loss
    and how many of its images were classified right, as 0-d arrays on that device, unread: the step
    makes no device-to-host sync, so a non-finite loss updates the weights too (``train`` finds it later).
    """
    model.train()
    logits = model(Tensor(xb))
    loss = F.cross_entropy(logits, Tensor(yb))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.data, n_correct(logits, yb)


def train(state, data, *, max_steps, eval_freq, device="cpu", eval_batch_size=1000, show_progress=True,
          after_evaluation=None, stop_requested=None):
    """Train from ``state`` up to step ``max_steps``; evaluate every ``eval_freq`` steps and at the end.

    ``data`` has train_x, train_y, test_x, test_y (the batches come from ``state.batches``); the
    batches' samples and the test set are put on ``device`` once, their labels checked on the host
    first (``check_labels``). Each evaluation appends a row to ``state.history`` and then calls
    ``after_evaluation(state)``, if given. Training stops early, after a whole step, once
    ``stop_requested()`` returns True. A NaN or infinite loss raises TrainingDiverged: a training loss
    at the next evaluation (or when training stops), naming its step, before the row is appended; the
    state in memory has then trained past it (its weights may hold NaN) and ``state.state_dict()``
    refuses it. Returns ``state``.
    """
    test_x = backend.to_device(data.test_x, device)
    check_labels(state.model, test_x, state.batches.y, data.test_y)
    test_y = backend.to_device(data.test_y, device)
    batches = state.batches.to(device)
    started = time.perf_counter() - state.elapsed_s
    with progress_bar(max_steps, state.step, show_progress) as bar:
        shown = -1.0
        while state.step < max_steps and not (stop_requested and stop_requested()):
            xb, yb = next(batches)
            loss, correct = train_step(state.model, state.optimizer, xb, yb)
            state.step += 1
            state.unread.append((loss, correct, len(yb)))
            state.elapsed_s = time.perf_counter() - started
            bar.update(1)
            if not bar.disable and state.elapsed_s - shown >= 1:    # the bar reads a loss once a second
                bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
                shown = state.elapsed_s

            if state.step % eval_freq == 0 or state.step == max_steps:
                state.collect()
                test_loss, test_acc = evaluate(state.model, test_x, test_y, eval_batch_size)
                if not np.isfinite(test_loss):
                    raise TrainingDiverged(f"the test loss became {test_loss} at step {state.step}; {DIVERGED_ADVICE}")
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
    state.collect()         # stopped between evaluations: what a checkpoint of the state would hold
    return state


def progress_bar(total, initial, show=True):
    """A tqdm bar of training steps on stderr: a widget in Jupyter, a line redrawn in place on a terminal.

    Anywhere else (a log file, CI) there is no bar, since each redraw would add to the log;
    there the evaluation lines, one line each, tell how training goes.
    """
    on_screen = issubclass(tqdm, notebook_tqdm) or sys.stderr.isatty()
    return tqdm(total=total, initial=initial, unit="step", disable=not (show and on_screen), dynamic_ncols=True)
