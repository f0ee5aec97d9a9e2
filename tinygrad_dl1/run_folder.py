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
import math
import os
import signal
import sys
import threading

from .checkpoint import is_temporary, load_checkpoint, save_checkpoint, write_atomically
from .files import make_folders
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
        """Release the lock; remove the folder if this run made it and wrote nothing into it. A folder made
        read-only or removed meanwhile raises nothing here: the error that the run met says so."""
        self._lock.close()
        with contextlib.suppress(OSError):
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
            shown = ", ".join(n if n.isprintable() else repr(n) for n in files[:10]) + (", ..." if files[10:] else "")
            raise RunFolderError(f"{self.path} is not empty ({shown}) and holds no {CHECKPOINT}"
                                 f"{' to resume' if resume else ''}; choose a new or empty --out")
        for name in leftovers:       # temporary files of a run killed while writing
            os.unlink(os.path.join(self.path, name))

    def load_checkpoint(self, state=None, config=None):
        """The checkpoint's tree (a TrainingState's state_dict and "config"), or None if there is none yet.

        With ``config``, a checkpoint of other settings (but max_steps) is refused. With ``state`` (the
        run's TrainingState, not yet trained), the file may be no larger than that state needs, and every
        entry is checked against it (``check_checkpoint``) before any is used."""
        if not os.path.lexists(self.checkpoint):
            return None
        max_bytes = None if state is None else checkpoint_bytes_needed(state)
        saved = load_checkpoint(self.checkpoint, max_bytes=max_bytes)
        wrong = [key for key, kind in CHECKPOINT_ENTRIES.items()
                 if not isinstance(saved, dict) or not isinstance(saved.get(key), kind)
                 or isinstance(saved.get(key), bool)]
        if not wrong and not all(isinstance(row, dict) and set(row) == set(METRICS)
                                 and all(_is_number(row[k]) for k in METRICS) for row in saved["history"]):
            wrong = ["history"]
        if wrong:
            raise RunFolderError(f"checkpoint {self.checkpoint} is damaged: {', '.join(wrong)} missing or of the "
                                 f"wrong type; {DAMAGED_ADVICE}")
        if config is not None:
            changed = sorted(k for k in set(config) | set(saved["config"])
                             if k != "max_steps" and config.get(k) != saved["config"].get(k))
            if changed:
                diffs = ", ".join(f"{k}: {saved['config'].get(k)!r:.60} -> {config.get(k)!r:.60}" for k in changed)
                raise RunFolderError(f"cannot resume {self.checkpoint} with other settings ({diffs})")
        if state is not None:
            try:
                check_checkpoint(saved, state)
            except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
                problem = " ".join(str(e).split())      # on one line
                raise RunFolderError(f"checkpoint {self.checkpoint} is damaged ({problem}); "
                                     f"{DAMAGED_ADVICE}") from None
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
    saved = folder.load_checkpoint(state, config)
    if saved is None:
        return
    try:
        state.load_state_dict(saved)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
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
        make_folders(os.path.dirname(os.path.abspath(path)))
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
    """An OSError while writing ``path`` (a full disk, a read-only file system, the folder removed) as a
    one-line RunFolderError."""
    try:
        yield
    except OSError as e:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise RunFolderError(f"cannot write {path}: the run folder {folder} was removed during the run "
                                 f"({e.strerror or e}); nothing more can be saved") from None
        raise RunFolderError(f"cannot write {path}: {e.strerror or e}; its previous version is kept") from None


def _is_number(value):
    return isinstance(value, NUMBER) and not isinstance(value, bool) and math.isfinite(value)


MAX_STATE_INT = 2 ** 128    # the largest integers in a run's state: PCG64's 128-bit state and increment
HISTORY_BYTES = 64 << 20    # room for the history and the other plain entries in the skeleton


def checkpoint_bytes_needed(state):
    """The most bytes a checkpoint of ``state``'s run can hold: its model's arrays, three more copies of
    them for the optimizer's state (Adam keeps two), and room for the history."""
    return 4 * sum(array.nbytes for array in state.model.state_dict().values()) + HISTORY_BYTES


def check_checkpoint(saved, state):
    """A ValueError or TypeError naming the entry unless ``saved`` fits the run of ``state`` (a fresh
    TrainingState): plain entries in their ranges, the model's arrays of its shapes, the optimizer's
    entries as its load_state_dict checks them, the batch stream's and the RNG's states of the same
    form as ``state``'s; nothing is changed."""
    template = state.state_dict()
    for key in ("step", "train_correct", "train_seen"):
        if not (type(saved[key]) is int and 0 <= saved[key] < MAX_STATE_INT):
            raise ValueError(f"{key} is {saved[key]!r:.40}, not a count")
    for key in ("train_loss_sum", "elapsed_s"):
        if not (_is_number(saved[key]) and saved[key] >= 0):
            raise ValueError(f"{key} is {saved[key]!r:.40}, not a finite number >= 0")
    if saved["train_correct"] > saved["train_seen"]:
        raise ValueError(f"train_correct {saved['train_correct']} is more than train_seen {saved['train_seen']}")
    previous = 0
    for row in saved["history"]:
        if not (type(row["step"]) is int and previous < row["step"] <= saved["step"]):
            raise ValueError(f"history has a row of step {row['step']!r:.40} after step {previous}, at step "
                             f"{saved['step']}")
        previous = row["step"]
    model = saved.get("model")
    if not isinstance(model, dict) or set(model) != set(template["model"]):
        keys = sorted(model) if isinstance(model, dict) else type(model).__name__
        raise ValueError(f"model holds {str(keys):.200}, the model {sorted(template['model'])}")
    for key, want in template["model"].items():
        got = model[key]
        if not (hasattr(got, "dtype") and got.dtype.kind in "biuf" and got.shape == want.shape):
            found = f"{got.dtype} {got.shape}" if hasattr(got, "dtype") else type(got).__name__
            raise ValueError(f"model entry {key} is {found}, the model's {want.dtype} {want.shape}")
    state.optimizer.check_state_dict(saved.get("optimizer"))
    _check_like(saved.get("batches"), template["batches"], "batches")
    for key in ("n", "batch_size", "drop_last"):
        if saved["batches"][key] != template["batches"][key]:
            raise ValueError(f"batches has {key}={saved['batches'][key]!r}, this run {template['batches'][key]!r}")
    if saved["batches"]["position"] > saved["batches"]["n"]:
        raise ValueError(f"batches has position {saved['batches']['position']}, past its {saved['batches']['n']} "
                         "samples")
    _check_like(saved.get("rng"), template["rng"], "rng")


def _check_like(saved, template, where):
    """``saved`` has the form of ``template``: the same dict keys, the same strings and bools, integers where
    it has integers (from 0 to MAX_STATE_INT) and finite numbers where it has numbers. Walked without
    recursion; the template bounds the depth."""
    todo = [(saved, template, where)]
    while todo:
        got, want, name = todo.pop()
        if isinstance(want, dict):
            if not isinstance(got, dict) or set(got) != set(want):
                keys = sorted(got) if isinstance(got, dict) else type(got).__name__
                raise ValueError(f"{name} holds {str(keys):.200}, not {sorted(want)}")
            todo.extend((got[k], want[k], f"{name}.{k}") for k in want)
        elif isinstance(want, (str, bool)) or want is None:
            if got != want or type(got) is not type(want):
                raise ValueError(f"{name} is {got!r:.40}, not {want!r:.40}")
        elif isinstance(want, int):
            if not (type(got) is int and 0 <= got < MAX_STATE_INT):
                raise ValueError(f"{name} is {got!r:.40}, not an integer from 0 to 2^128")
        elif not _is_number(got):
            raise ValueError(f"{name} is {got!r:.40}, not a finite number")


def _write_csv(f, rows):
    writer = csv.DictWriter(f, fieldnames=METRICS)
    writer.writeheader()
    writer.writerows(rows)
