"""A training run's folder: checkpoint.npz, metrics.csv, curves.png and summary.json; Ctrl-C and resume.

What a run folder promises:
- One run at a time. A run holds the folder's lock (``.lock``, naming its pid) while it
  lives; a second run on the folder stops with an error naming that pid. The lock dies with
  its process, so a killed run never blocks the next one.
- Nothing is overwritten. A new run needs a new or empty folder; a resumed one, a folder
  holding its checkpoint. A run that fails before writing anything leaves no folder behind.
- No file is ever half-written. Each is written to a fresh temporary file in the folder and
  renamed over the old one (``checkpoint.write_atomically``): a kill or a full disk leaves
  the previous version, and a symlink planted in the folder is replaced, never followed.
- Resuming continues exactly. The checkpoint holds the whole ``TrainingState``, so a run
  stopped anywhere (Ctrl-C, a kill, a crash) and resumed ends with the weights, metrics and
  summary of a run that never stopped. A first Ctrl-C finishes the step, saves and stops;
  a second one stops at once.
- Only good checkpoints. One is written after each evaluation whose losses are finite (and
  at a first Ctrl-C); a NaN or infinite loss stops the run and keeps the last one. A step
  does not read its loss back from the device, so a non-finite training loss is found at the
  next evaluation or Ctrl-C, which then writes nothing: no checkpoint holds a step after it.
"""
import contextlib
import csv
import json
import os
import signal
import sys
import threading

from .checkpoint import is_temporary, load_checkpoint, save_checkpoint, write_atomically
from .lock import file_lock
from .plot import have_matplotlib, plot_curves
from .train import METRICS, TrainingDiverged, train

CHECKPOINT, METRICS_CSV, CURVES, SUMMARY = "checkpoint.npz", "metrics.csv", "curves.png", "summary.json"
LOCK = ".lock"
DAMAGED_ADVICE = "restore a good copy of it, or start again in another --out"
NUMBER = (int, float)
# the plain entries of a checkpoint and their types (the model, optimizer, batches and rng
# entries are checked by the load_state_dict that takes them)
CHECKPOINT_ENTRIES = {"config": dict, "step": int, "history": list, "train_loss_sum": NUMBER, "train_correct": int,
                      "train_seen": int, "elapsed_s": NUMBER}


class RunFolderError(RuntimeError):
    """A run folder that cannot be used, written or resumed; the message names the path and the cause."""


class RunFolder:
    """The folder ``path`` of one run, locked from here until ``close()`` (or the end of a with block).

    ``resume=False``: the folder must be new or empty; with ``numbered``, an existing ``path``
    is not used but the first free one of path-2, path-3, ... ``resume=True``: the folder must
    hold a checkpoint, or nothing yet (a run killed before its first checkpoint starts again).
    """

    def __init__(self, path, resume=False, numbered=False):
        self.path, self.created = _make_folder(path, resume, numbered)
        self.checkpoint = os.path.join(self.path, CHECKPOINT)
        self.metrics = os.path.join(self.path, METRICS_CSV)
        self.curves = os.path.join(self.path, CURVES)
        self.summary = os.path.join(self.path, SUMMARY)
        self.saved_step = None       # the step of the checkpoint on disk, once known
        self._lock = contextlib.ExitStack()
        try:
            self._lock.enter_context(file_lock(os.path.join(self.path, LOCK), on_wait=self._refuse))
            self._check_contents(resume)
        except OSError as e:
            self.close()
            raise RunFolderError(f"cannot write into the run folder {self.path}: {e.strerror or e}") from None
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Release the lock; remove the folder if this run made it and wrote nothing into it."""
        self._lock.close()
        if self.created and not os.listdir(self.path):
            os.rmdir(self.path)
            self.created = False

    def _refuse(self, holder):
        raise RunFolderError(f"{self.path} is in use by another run (pid {holder}); one run per folder")

    def _check_contents(self, resume):
        names = os.listdir(self.path)
        leftovers = [n for n in names if any(is_temporary(n, f) for f in (CHECKPOINT, METRICS_CSV, CURVES, SUMMARY))]
        files = sorted(set(names) - set(leftovers) - {LOCK})
        if CHECKPOINT in files and not resume:
            raise RunFolderError(f"{self.path} already holds a run ({CHECKPOINT}); pass --resume to continue it "
                                 "or choose another --out")
        if files and CHECKPOINT not in files:
            raise RunFolderError(f"{self.path} is not empty ({', '.join(files)}) and holds no {CHECKPOINT}"
                                 f"{' to resume' if resume else ''}; choose a new or empty --out")
        for name in leftovers:       # temporary files of a run killed while writing
            os.unlink(os.path.join(self.path, name))

    def load_checkpoint(self):
        """The checkpoint's tree (a TrainingState's state_dict and "config"), or None if there is none yet."""
        if not os.path.exists(self.checkpoint):
            return None
        saved = load_checkpoint(self.checkpoint)
        wrong = [key for key, kind in CHECKPOINT_ENTRIES.items()
                 if not isinstance(saved, dict) or not isinstance(saved.get(key), kind)]
        if not wrong and not all(isinstance(row, dict) and all(isinstance(row.get(k), NUMBER) for k in METRICS)
                                 for row in saved["history"]):
            wrong = ["history"]
        if wrong:
            raise RunFolderError(f"checkpoint {self.checkpoint} is damaged: {', '.join(wrong)} missing or of the "
                                 f"wrong type; {DAMAGED_ADVICE}")
        return saved

    def save_checkpoint(self, state, config):
        with _writing(self.checkpoint):
            save_checkpoint(self.checkpoint, {**state.state_dict(), "config": config})
        self.saved_step = state.step

    def write_metrics(self, history, title):
        """metrics.csv, and curves.png when matplotlib is there."""
        with _writing(self.metrics):
            write_atomically(self.metrics, lambda f: _write_csv(f, history))
        if have_matplotlib():
            with _writing(self.curves):
                write_atomically(self.curves, lambda f: plot_curves(history, f, title), binary=True)

    def write_summary(self, summary):
        with _writing(self.summary):     # strict JSON: a NaN is an error, not a file that JSON readers refuse
            write_atomically(self.summary, lambda f: json.dump(summary, f, indent=2, allow_nan=False))


def train_in_folder(folder, state, data, config, *, max_steps, eval_freq, **train_options):
    """``train(state, data, ...)`` with the run's files in ``folder`` (a RunFolder); returns the summary.

    Continues from the folder's checkpoint if it holds one; saves a checkpoint, metrics.csv and
    curves.png at every evaluation and a checkpoint at a first Ctrl-C (then raises
    KeyboardInterrupt); writes summary.json at the end. ``config``: the run's settings, recorded
    in the checkpoint and the summary; a resumed run must have the same ones but for max_steps.
    ``train_options`` go to ``train`` (device, eval_batch_size, show_progress).
    """
    title = config.get("model", type(state.model).__name__)
    _resume(folder, state, config, max_steps, title)

    def save(state):
        folder.save_checkpoint(state, config)       # first: no metrics.csv without a checkpoint
        folder.write_metrics(state.history, title)

    with StopOnCtrlC() as stop_requested:
        try:
            train(state, data, max_steps=max_steps, eval_freq=eval_freq, after_evaluation=save,
                  stop_requested=stop_requested, **train_options)
        except TrainingDiverged as e:
            kept = (f"the last good checkpoint is {folder.checkpoint} (step {folder.saved_step})"
                    if folder.saved_step is not None else "no checkpoint was written")
            raise TrainingDiverged(f"{e}; {kept}") from None
    if state.step < max_steps:
        folder.save_checkpoint(state, config)
        print(f"stopped at step {state.step}: saved {folder.checkpoint}; continue with --resume", file=sys.stderr)
        raise KeyboardInterrupt
    summary = _summary(state, config)
    folder.write_summary(summary)
    return summary


class StopOnCtrlC:
    """Within a with block (in the main thread), a first Ctrl-C only makes the object, called, return
    True: training finishes its step and stops. A second Ctrl-C raises KeyboardInterrupt at once."""

    def __init__(self):
        self.requested = False
        self._installed = False

    def __call__(self):
        return self.requested

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_ctrl_c)
            self._installed = True
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _on_ctrl_c(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def _resume(folder, state, config, max_steps, title):
    """Load the folder's checkpoint (if any) into ``state``, after checking that it fits this run."""
    saved = folder.load_checkpoint()
    if saved is None:
        return
    changed = sorted(k for k in set(config) | set(saved["config"])
                     if k != "max_steps" and config.get(k) != saved["config"].get(k))
    if changed:
        diffs = ", ".join(f"{k}: {saved['config'].get(k)!r} -> {config.get(k)!r}" for k in changed)
        raise RunFolderError(f"cannot resume {folder.checkpoint} with other settings ({diffs})")
    try:
        state.load_state_dict(saved)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        problem = " ".join(str(e).split())      # on one line
        raise RunFolderError(f"checkpoint {folder.checkpoint} is damaged ({type(e).__name__}: {problem}); "
                             f"{DAMAGED_ADVICE}") from None
    folder.saved_step = state.step
    last_evaluated = state.history[-1]["step"] if state.history else 0
    fewest = state.step + (last_evaluated < state.step)   # a run that stopped between evaluations needs one more
    if max_steps < fewest:
        raise RunFolderError(f"cannot resume {folder.checkpoint} with --max-steps {max_steps}: the run is at step "
                             f"{state.step}; pass --max-steps {fewest} or more")
    if state.history:            # metrics.csv may lag behind the checkpoint by one evaluation
        folder.write_metrics(state.history, title)
    print(f"resumed from {folder.checkpoint} at step {state.step}", file=sys.stderr)


def _summary(state, config):
    final = state.history[-1]
    best = max(state.history, key=lambda row: row["test_acc"])
    return {"final_test_acc": final["test_acc"], "final_test_loss": final["test_loss"],
            "best_test_acc": best["test_acc"], "best_step": best["step"], "steps": state.step,
            "wall_time_s": round(state.elapsed_s, 1), "config": config}


def _make_folder(path, resume, numbered):
    """(the folder to use, whether this call made it)."""
    path = os.fspath(path)
    if resume:
        if not os.path.isdir(path):
            raise RunFolderError(f"nothing to resume: {path} is not a folder")
        return path, False
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        candidate, number = path, 1
        while True:
            try:
                os.mkdir(candidate)
                return candidate, True
            except FileExistsError:
                if not numbered:
                    if not os.path.isdir(path):
                        raise RunFolderError(f"cannot use {path} as a run folder: it is a file") from None
                    return path, False
            number += 1
            candidate = f"{path}-{number}"
    except (FileExistsError, NotADirectoryError):
        raise RunFolderError(f"cannot create the run folder {path}: a folder above it is a file") from None
    except OSError as e:
        raise RunFolderError(f"cannot create the run folder {path}: {e.strerror or e}") from None


@contextlib.contextmanager
def _writing(path):
    """An OSError while writing ``path`` (a full disk, a read-only file system) as a one-line RunFolderError."""
    try:
        yield
    except OSError as e:
        raise RunFolderError(f"cannot write {path}: {e.strerror or e}; its previous version is kept") from None


def _write_csv(f, rows):
    writer = csv.DictWriter(f, fieldnames=METRICS)
    writer.writeheader()
    writer.writerows(rows)
