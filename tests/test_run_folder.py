"""Run folders: their files, one run per folder, atomic writes, Ctrl-C, resume, and runs killed anywhere.

Run as a script (``python test_run_folder.py ROOT``), this file is the driver of the
fault-injection test at its end.
"""
import csv
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_runs import WatchTraining, fake_data, nan_from, new_state, quick_curves, run_in_folder  # noqa: F401 (a fixture)

import tinygrad_dl1
from tinygrad_dl1.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_dl1.plot import have_matplotlib, plot_curves
from tinygrad_dl1.run_folder import RunFolder, RunFolderError
from tinygrad_dl1.train import TrainingDiverged

REPOSITORY = str(Path(tinygrad_dl1.__file__).parents[1])   # for subprocesses: the tinygrad_dl1 under test


pytestmark = pytest.mark.usefixtures("quick_curves")      # but in test_curves_png_is_a_png


def strict_json(path):
    """The JSON in ``path``, refusing NaN and Infinity as strict JSON readers do."""
    return json.loads(Path(path).read_text(), parse_constant=lambda name: pytest.fail(f"{path} holds {name}"))


# ----- what a run writes -----

def test_a_run_writes_metrics_summary_and_checkpoint(tmp_path):
    _, summary = run_in_folder(tmp_path / "run", fake_data(), max_steps=30)
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert float(rows[-1]["test_acc"]) > 0.5              # the classes are easy to separate
    saved = strict_json(tmp_path / "run" / "summary.json")
    assert saved["final_test_acc"] == summary["final_test_acc"] == float(rows[-1]["test_acc"])
    assert saved["best_test_acc"] == max(float(r["test_acc"]) for r in rows)
    assert saved["steps"] == 30 and saved["config"] == {"lr": 1e-2}
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz")["step"] == 30
    assert sorted(os.listdir(tmp_path / "run")) == ["checkpoint.npz", "curves.png", "metrics.csv", "summary.json"]


def test_curves_png_is_a_png(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="curves.png needs matplotlib (the plot extra)")
    monkeypatch.setattr("tinygrad_dl1.run_folder.plot_curves", plot_curves)
    monkeypatch.setattr("tinygrad_dl1.run_folder.have_matplotlib", have_matplotlib)
    run_in_folder(tmp_path, fake_data(), max_steps=10)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_a_run_writes_everything_but_the_curves(tmp_path, monkeypatch):
    monkeypatch.setattr("tinygrad_dl1.run_folder.have_matplotlib", lambda: False)
    run_in_folder(tmp_path, fake_data(), max_steps=10)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "metrics.csv", "summary.json"]


# ----- Ctrl-C and resume -----

def interrupt_at(model, n):
    """``model`` with a Ctrl-C (SIGINT) arriving during its ``n``-th training forward."""
    def at_forward(i, output):
        if i == n:
            signal.raise_signal(signal.SIGINT)
        return output
    return WatchTraining(model, at_forward)


def interrupted_run(path, data, at_step, max_steps=40):
    state = new_state(data)
    state.model = interrupt_at(state.model, at_step)
    with pytest.raises(KeyboardInterrupt):
        run_in_folder(path, data, max_steps=max_steps, state=state)


def test_resume_after_an_interrupt_ends_exactly_as_an_uninterrupted_run(tmp_path):
    data = fake_data()
    full, full_summary = run_in_folder(tmp_path / "full", data, max_steps=40)
    interrupted_run(tmp_path / "cut", data, at_step=27)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.npz")["step"] == 27   # the step finished
    resumed, resumed_summary = run_in_folder(tmp_path / "cut", data, max_steps=40, resume=True, seed=99)

    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert (tmp_path / "full" / "metrics.csv").read_text().count("\n") == 5
    for key in ("final_test_acc", "best_test_acc", "final_test_loss", "steps"):
        assert resumed_summary[key] == full_summary[key]


def test_resume_checks_the_settings(tmp_path):
    run_in_folder(tmp_path, fake_data(), max_steps=10)
    with pytest.raises(RunFolderError, match="lr: 0.01 -> 0.5"):
        run_in_folder(tmp_path, fake_data(), max_steps=20, resume=True, lr=0.5)


def test_resuming_with_fewer_steps_than_done_is_refused(tmp_path):
    run_in_folder(tmp_path / "done", fake_data(), max_steps=20)
    with pytest.raises(RunFolderError, match="is at step 20; pass --max-steps 20 or more"):
        run_in_folder(tmp_path / "done", fake_data(), max_steps=10, resume=True)
    assert strict_json(tmp_path / "done" / "summary.json")["steps"] == 20


def test_resuming_a_run_stopped_before_any_evaluation_needs_one_more_step(tmp_path):
    interrupted_run(tmp_path, fake_data(), at_step=5)
    for max_steps in (3, 5):
        with pytest.raises(RunFolderError, match="is at step 5; pass --max-steps 6 or more"):
            run_in_folder(tmp_path, fake_data(), max_steps=max_steps, resume=True)
    _, summary = run_in_folder(tmp_path, fake_data(), max_steps=6, resume=True)
    assert summary["steps"] == 6


def test_resuming_a_finished_run_rewrites_its_files_only(tmp_path):
    run_in_folder(tmp_path, fake_data(), max_steps=20)
    before = {name: (tmp_path / name).read_bytes() for name in ("checkpoint.npz", "metrics.csv")}
    (tmp_path / "summary.json").unlink()               # as if killed just before writing it
    _, summary = run_in_folder(tmp_path, fake_data(), max_steps=20, resume=True)
    assert summary["steps"] == 20 and strict_json(tmp_path / "summary.json")["steps"] == 20
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


# ----- divergence -----

def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    data = fake_data()
    run_in_folder(tmp_path, data, max_steps=10)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    data.train_x[:] = np.nan                      # from here on every loss is NaN
    with pytest.raises(TrainingDiverged, match=r"nan at step 11.*last good checkpoint is .*checkpoint.npz \(step 10\)"):
        run_in_folder(tmp_path, data, max_steps=30, resume=True)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_a_ctrl_c_after_a_nan_loss_writes_no_checkpoint(tmp_path):
    """A step does not read its loss, so a NaN is found at the next evaluation or, as here, when a
    Ctrl-C stops the run between evaluations: the checkpoint it would save is refused."""
    data = fake_data()
    run_in_folder(tmp_path, data, max_steps=10)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    state = new_state(data)
    state.model = interrupt_at(nan_from(state.model, 2), 5)        # NaN from step 12, Ctrl-C at step 15
    with pytest.raises(TrainingDiverged, match=r"nan at step 12.*last good checkpoint is .*\(step 10\)"):
        run_in_folder(tmp_path, data, max_steps=30, resume=True, state=state)
    assert state.step == 15 and (tmp_path / "checkpoint.npz").read_bytes() == before


def test_a_nan_test_loss_stops_the_run_and_writes_no_summary(tmp_path):
    data = fake_data()
    run_in_folder(tmp_path / "run", data, max_steps=10)
    files = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.name != "summary.json"}
    (tmp_path / "run" / "summary.json").unlink()
    data.test_x[:] = np.nan                       # training stays finite, evaluations do not
    with pytest.raises(TrainingDiverged, match=r"test loss became nan at step 20.*\(step 10\)"):
        run_in_folder(tmp_path / "run", data, max_steps=30, resume=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == files


def test_a_nan_in_the_summary_is_refused_not_written(tmp_path):
    with RunFolder(tmp_path / "run") as folder, pytest.raises(ValueError, match="not JSON compliant"):
        folder.write_summary({"final_test_loss": float("nan")})
    assert not (tmp_path / "run").exists()


# ----- one run per folder -----

def test_a_second_run_on_a_locked_folder_is_refused_naming_the_holder(tmp_path):
    with RunFolder(tmp_path / "run"):
        with pytest.raises(RunFolderError, match=f"in use by another run \\(pid {os.getpid()}\\)"):
            RunFolder(tmp_path / "run")
        with pytest.raises(RunFolderError, match=f"pid {os.getpid()}"):
            RunFolder(tmp_path / "run", resume=True)
    run_in_folder(tmp_path / "run", fake_data(), max_steps=10)      # free again once closed


def test_the_lock_of_a_killed_run_blocks_nobody(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.run([sys.executable, "-c", "import os, signal, sys\n"
                             "from tinygrad_dl1.run_folder import RunFolder\n"
                             "RunFolder(sys.argv[1])\n"
                             "os.kill(os.getpid(), signal.SIGKILL)", str(folder)],
                            timeout=60, env=dict(os.environ, PYTHONPATH=REPOSITORY))
    assert holder.returncode == -signal.SIGKILL and (folder / ".lock").exists()
    run_in_folder(folder, fake_data(), max_steps=10)
    assert not (folder / ".lock").exists()


def test_numbered_folders_started_in_the_same_second_differ(tmp_path):
    with RunFolder(tmp_path / "mlp", numbered=True) as first, RunFolder(tmp_path / "mlp", numbered=True) as second:
        assert (first.path, second.path) == (str(tmp_path / "mlp"), f"{tmp_path / 'mlp'}-2")
        with RunFolder(tmp_path / "mlp", numbered=True) as third:
            assert third.path == f"{tmp_path / 'mlp'}-3"


# ----- never overwrite, never follow a link -----

def test_a_folder_holding_a_run_or_other_files_is_refused(tmp_path):
    run_in_folder(tmp_path / "run", fake_data(), max_steps=10)
    with pytest.raises(RunFolderError, match="already holds a run.*--resume"):
        run_in_folder(tmp_path / "run", fake_data(), max_steps=10)

    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.csv").write_text("mine")
    (other / "summary.json").write_text("{}")
    for resume in (False, True):
        with pytest.raises(RunFolderError, match=r"not empty \(metrics.csv, summary.json\) and holds no checkpoint"):
            run_in_folder(other, fake_data(), max_steps=10, resume=resume)
    assert sorted(os.listdir(other)) == ["metrics.csv", "summary.json"]
    assert (other / "metrics.csv").read_text() == "mine"


def test_an_empty_folder_is_used_and_kept(tmp_path):
    (tmp_path / "run").mkdir()
    with RunFolder(tmp_path / "run"):
        pass
    assert (tmp_path / "run").is_dir()                   # it was there before: not removed


def test_a_folder_made_for_a_run_that_failed_early_is_removed(tmp_path):
    with pytest.raises(KeyError), RunFolder(tmp_path / "new" / "run"):
        raise KeyError("an error before the run wrote anything")
    assert os.listdir(tmp_path) == ["new"]


def test_links_planted_in_a_run_folder_are_replaced_not_followed(tmp_path):
    data = fake_data()
    run = tmp_path / "run"
    run_in_folder(run, data, max_steps=10)
    (run / "summary.json").unlink()
    outside = {}
    for name in ("metrics.csv", "summary.json", "curves.png", "metrics.csv.tmp", "summary.json.tmp",
                 "curves.png.tmp.png"):
        target = tmp_path / f"outside-{name}"
        target.write_text("keep me")
        outside[target] = "keep me"
        if (run / name).exists():
            (run / name).unlink()
        (run / name).symlink_to(target)
    run_in_folder(run, data, max_steps=20, resume=True)
    assert {path: path.read_text() for path in outside} == outside
    for name in ("metrics.csv", "summary.json"):
        assert not (run / name).is_symlink()
    assert strict_json(run / "summary.json")["steps"] == 20


# ----- unwritable folders and files -----

def test_a_run_folder_under_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    for below in ("run", "deeper/run"):
        with pytest.raises(RunFolderError, match=f"cannot create the run folder {tmp_path}/file/{below}: "
                                                 "a folder above it is a file"):
            RunFolder(tmp_path / "file" / below)
    with pytest.raises(RunFolderError, match=f"cannot use {tmp_path}/file as a run folder: it is a file"):
        RunFolder(tmp_path / "file")


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS])
def test_a_folder_that_cannot_be_written_is_a_one_line_error(tmp_path, monkeypatch, error):
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(error, os.strerror(error), path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(RunFolderError, match=f"cannot write into the run folder {tmp_path / 'run'}: "
                                             f"{os.strerror(error)}"):
        RunFolder(tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_a_folder_without_permission_is_a_one_line_error(tmp_path):
    (tmp_path / "locked").mkdir(mode=0o500)
    with pytest.raises(RunFolderError, match="Permission denied"):
        RunFolder(tmp_path / "locked" / "run")


def test_a_full_disk_during_a_save_keeps_the_previous_files(tmp_path, monkeypatch):
    data = fake_data()
    run_in_folder(tmp_path, data, max_steps=10)
    (tmp_path / "summary.json").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(RunFolderError, match=f"cannot write {tmp_path}/.*: No space left on device; its previous"):
        run_in_folder(tmp_path, data, max_steps=20, resume=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before     # no temporary file either


# ----- damaged checkpoints -----

def edit_checkpoint(path, edit):
    saved = load_checkpoint(path)
    edit(saved)
    save_checkpoint(path, saved)


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(b""),
    lambda path: path.write_bytes(path.read_bytes()[:1000]),
    lambda path: edit_checkpoint(path, lambda saved: saved.pop("step")),
    lambda path: edit_checkpoint(path, lambda saved: saved.update(step="ten")),
    lambda path: edit_checkpoint(path, lambda saved: saved.update(history=[{"step": 10}])),
    lambda path: edit_checkpoint(path, lambda saved: saved.pop("optimizer")),
    lambda path: edit_checkpoint(path, lambda saved: saved.update(rng={"state": 1})),
    lambda path: edit_checkpoint(path, lambda saved: saved["model"].update({"0.weight": np.zeros(3)})),
    lambda path: edit_checkpoint(path, lambda saved: saved["batches"].pop("epoch")),
    lambda path: save_checkpoint(path, [1, 2]),
], ids=["empty", "truncated", "no step", "step not a number", "history row without losses", "no optimizer",
        "bad rng", "weight of the wrong shape", "batches without epoch", "a list"])
def test_a_damaged_checkpoint_on_resume_is_one_error_naming_the_file(tmp_path, damage):
    run_in_folder(tmp_path, fake_data(), max_steps=10)
    damage(tmp_path / "checkpoint.npz")
    with pytest.raises(RuntimeError, match=f"^checkpoint {tmp_path}/checkpoint.npz is damaged") as error:
        run_in_folder(tmp_path, fake_data(), max_steps=20, resume=True)
    assert "\n" not in str(error.value)


# ----- runs killed anywhere -----

def test_runs_killed_anywhere_resume_to_the_same_end_and_touch_nothing_outside(tmp_path):
    """SIGKILL a run after each step and in the middle of, and after, each file it writes; resume each."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=REPOSITORY)
    driver = subprocess.run([sys.executable, __file__, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert driver.returncode == 0, driver.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outside_before"] == report["outside_after"]          # nothing touched outside the runs
    assert len(report["kills"]) >= 20 and {kind for kind, _ in report["kills"]} == {"step", "mid-write", "written"}

    reference = tmp_path / "runs" / "reference"
    expected_files = sorted(os.listdir(reference))
    expected = {name: comparable(reference / name) for name in expected_files}
    for (kind, number), (killed_by, resumed_with) in zip(report["kills"], report["results"], strict=True):
        folder = tmp_path / "runs" / f"{kind}-{number}"
        where = f"killed at {kind} {number}"
        assert (killed_by, resumed_with) == (-signal.SIGKILL, 0), where
        assert sorted(os.listdir(folder)) == expected_files, where
        for name in expected_files:
            assert comparable(folder / name) == expected[name], f"{where}: {name}"


def comparable(path):
    """A file's content without its wall-clock times (elapsed_s, wall_time_s)."""
    if path.suffix == ".npz":
        saved = load_checkpoint(path)
        saved["elapsed_s"] = None
        for row in saved["history"]:
            row["elapsed_s"] = None
        return json.dumps(saved, sort_keys=True, default=lambda array: array.tolist())
    if path.name == "summary.json":
        return {k: v for k, v in strict_json(path).items() if k != "wall_time_s"}
    lines = path.read_text().splitlines()          # metrics.csv, or the stand-in curves of the driver
    return [line.rsplit(",", 1)[0] for line in lines]


def _fault_injection_driver(root):
    """Train on fake CIFAR-10 files through the command line, first uninterrupted, then once per
    kill point in a forked child that SIGKILLs itself there, each followed by a resume in another child."""
    sys.path.insert(0, str(Path(__file__).parent))
    from tinygrad_dl1 import cli, run_folder, train

    from cifar_files import make_cifar

    make_cifar(root / "data" / "cifar-10-batches-py")
    (root / "outside.txt").write_text("not to be touched")
    os.chdir(root)

    def curves(rows, f, title):             # a stand-in for matplotlib: fast, and comparable as text
        f.write("".join(f"{r['step']},{r['test_acc']},{r['elapsed_s']}\n" for r in rows).encode())
    run_folder.plot_curves, run_folder.have_matplotlib = curves, lambda: True

    counts = {"step": 0, "write": 0}
    kill_at = [None]
    real_step, real_replace = train.train_step, os.replace

    def step(*args, **kwargs):
        result = real_step(*args, **kwargs)
        counts["step"] += 1
        if kill_at[0] == ("step", counts["step"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def replace(tmp, path):                 # every file of a run reaches its place through here
        counts["write"] += 1
        if kill_at[0] == ("mid-write", counts["write"]):
            os.truncate(tmp, os.path.getsize(tmp) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(tmp, path)
        if kill_at[0] == ("written", counts["write"]):
            os.kill(os.getpid(), signal.SIGKILL)
    train.train_step, os.replace = step, replace

    flags = ["train", "mlp", "--data-dir", "data", "--max-steps", "6", "--eval-freq", "3", "--batch-size", "10",
             "--dnn-hidden-units", "16", "--batch-norm", "--dropout", "0.2", "--optimizer", "adam", "--no-progress"]

    def start_child(out, *more_flags, kill):
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            kill_at[0] = kill
            counts.update(step=0, write=0)
            os._exit(cli.main([*flags, "--out", f"runs/{out}", *more_flags]))
        return pid

    def exit_status(pid):
        status = os.waitpid(pid, 0)[1]
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def outside():
        return sorted([str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in root.rglob("*")
                      if p.relative_to(root).parts[0] != "runs" and p.name != "report.json")

    before = outside()
    assert cli.main([*flags, "--out", "runs/reference"]) == 0           # here, to count its steps and writes
    kills = [("step", n) for n in range(1, counts["step"] + 1)]
    kills += [(kind, n) for n in range(1, counts["write"] + 1) for kind in ("mid-write", "written")]
    # each kill point has a folder of its own: all run at once, then all resume at once
    killed = [exit_status(pid) for pid in [start_child(f"{kind}-{n}", kill=(kind, n)) for kind, n in kills]]
    resumed = [exit_status(pid) for pid in [start_child(f"{kind}-{n}", "--resume", kill=None) for kind, n in kills]]
    results = list(zip(killed, resumed))
    report = {"kills": kills, "results": results, "outside_before": before, "outside_after": outside()}
    (root / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    _fault_injection_driver(Path(sys.argv[1]))
