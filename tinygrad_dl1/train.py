"""The training loop shared by every model: steps, evaluation, logs, checkpoints, resume.

Every ``eval_freq`` steps and at the end the model is evaluated on the whole test
set; the row (step, mean train loss/accuracy since the last evaluation, test
loss/accuracy) goes to ``metrics.csv`` and ``curves.png``, and a checkpoint is
written atomically. ``resume=True`` continues from the checkpoint with the same
batches, dropout masks and optimizer state, so it ends where an uninterrupted run
would. A first Ctrl-C lets the current step finish, saves a checkpoint and stops;
a second one stops at once (the last checkpoint stays as it was).
"""
import contextlib
import csv
import json
import math
import os
import signal
import threading
import time

import numpy as np

from . import rng
from .checkpoint import load_checkpoint, save_checkpoint
from .data import BatchStream
from .grad_mode import no_grad
from .nn import functional as F
from .plot import plot_curves
from .progress import Progress
from .tensor import Tensor

METRICS = ("step", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


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


class Run:
    """Files of one training run in ``out_dir``: checkpoint, metrics.csv, curves.png, summary.json."""

    def __init__(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        self.checkpoint = os.path.join(out_dir, "checkpoint.npz")
        self.metrics = os.path.join(out_dir, "metrics.csv")
        self.curves = os.path.join(out_dir, "curves.png")
        self.summary = os.path.join(out_dir, "summary.json")

    def write_metrics(self, rows, title):
        _write_atomically(self.metrics, lambda f: _write_csv(f, rows))
        plot_curves(rows, self.curves, title)

    def write_summary(self, summary):
        _write_atomically(self.summary, lambda f: json.dump(summary, f, indent=2))


def train(model, optimizer, data, *, max_steps, batch_size, eval_freq, out_dir, seed=42,
          config=None, resume=False, device="cpu", eval_batch_size=1000, show_progress=True, log=print):
    """Train ``model`` on ``data`` (train_x, train_y, test_x, test_y) and return the run's summary.

    ``seed`` orders the batches; dropout masks come from ``tinygrad_dl1.rng`` (seed it first,
    as the command line does before building the model).
    """
    config = dict(config or {})
    run = Run(out_dir)
    # the batch order draws from a stream of its own, independent of tinygrad_dl1.rng's
    # (weight inits, dropout), even when both are seeded with the same number
    stream = BatchStream(data.train_x, data.train_y, batch_size, seed=np.random.SeedSequence(seed).spawn(1)[0])
    state = {"step": 0, "history": [], "elapsed_s": 0.0, "running": [0.0, 0, 0]}
    if resume:
        state = _restore(run, config, model, optimizer, stream)
        log(f"resumed from {run.checkpoint} at step {state['step']}")
    elif os.path.exists(run.checkpoint):
        raise FileExistsError(f"{out_dir} already holds a run (checkpoint.npz); pass --resume to continue "
                              "it or choose another --out")
    title = config.get("model", type(model).__name__)
    started = time.perf_counter() - state["elapsed_s"]
    step = state["step"]
    running = state["running"]       # [train loss sum, correct, seen] since the last evaluation

    def snapshot():
        state.update(step=step, running=running, elapsed_s=time.perf_counter() - started)
        save_checkpoint(run.checkpoint, {
            **state, "config": config, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "stream": stream.state_dict(), "random": rng.get_rng_state()})

    bar = Progress(max_steps, desc=title, unit="step", disable=not show_progress, initial=step)
    with bar, _stop_requests() as stop:
        while step < max_steps and not stop:
            xb, yb = next(stream)
            value, correct = train_step(model, optimizer, xb, yb, device)
            if not math.isfinite(value):
                where = (f"the last good checkpoint is {run.checkpoint} (step {state['step']})"
                         if os.path.exists(run.checkpoint) else "no checkpoint was written yet")
                raise TrainingDiverged(f"the loss became {value} at step {step + 1}; stopping ({where}). "
                                       "Try a lower --learning-rate.")
            step += 1
            running = [running[0] + value * len(yb), running[1] + correct, running[2] + len(yb)]
            bar.update(1, loss=value)
            if step % eval_freq == 0 or step == max_steps:
                test_loss, test_acc = evaluate(model, data.test_x, data.test_y, eval_batch_size, device)
                row = dict(step=step, train_loss=running[0] / running[2], train_acc=running[1] / running[2],
                           test_loss=test_loss, test_acc=test_acc, elapsed_s=round(time.perf_counter() - started, 2))
                state["history"].append(row)
                running = [0.0, 0, 0]
                message = (f"step {step:>6}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
                           f"test loss {test_loss:.4f} acc {test_acc:.4f}")
                (bar.write if show_progress else log)(message)
                run.write_metrics(state["history"], title)
                snapshot()
    if step < max_steps:      # stopped by Ctrl-C
        snapshot()
        log(f"stopped at step {step}: saved {run.checkpoint}; continue with --resume")
        raise KeyboardInterrupt
    summary = _summary(state["history"], time.perf_counter() - started, config)
    run.write_summary(summary)
    return summary


@contextlib.contextmanager
def _stop_requests():
    """A list that a first Ctrl-C makes non-empty; a second Ctrl-C raises KeyboardInterrupt as usual."""
    requests = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def on_ctrl_c(signum, frame):
        if requests:
            raise KeyboardInterrupt
        requests.append(signum)
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield requests
    finally:
        signal.signal(signal.SIGINT, previous)


def _summary(history, wall_time, config):
    best = max(history, key=lambda r: r["test_acc"])
    return {"final_test_acc": history[-1]["test_acc"], "final_test_loss": history[-1]["test_loss"],
            "best_test_acc": best["test_acc"], "best_step": best["step"], "steps": history[-1]["step"],
            "wall_time_s": round(wall_time, 1), "config": config}


def _restore(run, config, model, optimizer, stream):
    saved = load_checkpoint(run.checkpoint)
    changed = sorted(k for k in set(config) | set(saved["config"])
                     if k != "max_steps" and config.get(k) != saved["config"].get(k))
    if changed:
        diffs = ", ".join(f"{k}: {saved['config'].get(k)!r} -> {config.get(k)!r}" for k in changed)
        raise ValueError(f"cannot resume {run.checkpoint} with other settings ({diffs})")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    stream.load_state_dict(saved["stream"])
    rng.set_rng_state(saved["random"])
    return {"step": saved["step"], "history": saved["history"], "elapsed_s": saved["elapsed_s"],
            "running": saved["running"]}


def _write_csv(f, rows):
    writer = csv.DictWriter(f, fieldnames=METRICS)
    writer.writeheader()
    writer.writerows(rows)


def _write_atomically(path, write):
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        write(f)
    os.replace(tmp, path)

