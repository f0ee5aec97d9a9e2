"""The training loop, checkpoints and the command line, on small fake data and on real CIFAR-10."""
import csv
import json
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from cifar_files import REAL_DATA, make_cifar
from tinygrad_dl1 import cli, models, optim
from tinygrad_dl1 import manual_seed
from tinygrad_dl1.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_dl1.train import TrainingDiverged, evaluate, train


def fake_data(n_train=120, n_test=50, seed=0):
    """Linearly separable-ish 3x4x4 images in 10 classes."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((10, 3, 4, 4)).astype(np.float32)
    def draw(n):
        y = rng.integers(0, 10, n)
        return (centers[y] + 0.3 * rng.standard_normal((n, 3, 4, 4))).astype(np.float32), y
    (train_x, train_y), (test_x, test_y) = draw(n_train), draw(n_test)
    return SimpleNamespace(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)


def make_run(out, data, max_steps=30, resume=False, lr=1e-2, seed=3):
    manual_seed(seed)
    model = models.MLP(48, [32], 10, batch_norm=True, dropout=0.2, init="default")
    opt = optim.Adam(model.parameters(), lr=lr)
    summary = train(model, opt, data, max_steps=max_steps, batch_size=16, eval_freq=10, out_dir=str(out),
                    seed=seed, config={"lr": lr}, resume=resume, show_progress=False, log=lambda m: None)
    return model, summary


# ----- checkpoints -----

def test_checkpoint_round_trip_keeps_arrays_and_plain_values(tmp_path):
    tree = {"step": 3, "w": np.arange(6.0).reshape(2, 3), "nested": [{"a": np.int64(4)}, None, "x"]}
    save_checkpoint(tmp_path / "c.npz", tree)
    back = load_checkpoint(tmp_path / "c.npz")
    assert back["step"] == 3 and back["nested"][0]["a"] == 4 and back["nested"][1:] == [None, "x"]
    np.testing.assert_array_equal(back["w"], tree["w"])


def test_a_save_killed_midway_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"step": 1})

    def crash(*args, **kwargs):
        args[0].write(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["c.npz"]            # no temporary file left behind


def test_a_damaged_checkpoint_gets_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(RuntimeError, match="damaged"):
        load_checkpoint(path)


# ----- the training loop -----

def test_a_run_writes_metrics_curves_summary_and_checkpoint(tmp_path):
    _, summary = make_run(tmp_path, fake_data(), max_steps=30)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert float(rows[-1]["test_acc"]) > 0.5              # the classes are easy to separate
    assert (tmp_path / "curves.png").stat().st_size > 1000
    saved = json.load(open(tmp_path / "summary.json"))
    assert saved["final_test_acc"] == summary["final_test_acc"] == float(rows[-1]["test_acc"])
    assert saved["best_test_acc"] == max(float(r["test_acc"]) for r in rows)
    assert load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 30


class InterruptAt:
    """Wrap a model so that a Ctrl-C (SIGINT) arrives during its ``n``-th training forward."""

    def __init__(self, model, n):
        self.model, self.n = model, n

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, x):
        if self.model.training:
            self.n -= 1
            if self.n == 0:
                signal.raise_signal(signal.SIGINT)
        return self.model(x)


def test_resume_after_an_interrupt_ends_exactly_as_an_uninterrupted_run(tmp_path):
    data = fake_data()
    full, full_summary = make_run(tmp_path / "full", data, max_steps=40)

    manual_seed(3)
    model = models.MLP(48, [32], 10, batch_norm=True, dropout=0.2, init="default")
    opt = optim.Adam(model.parameters(), lr=1e-2)
    with pytest.raises(KeyboardInterrupt):
        train(InterruptAt(model, 27), opt, data, max_steps=40, batch_size=16, eval_freq=10,
              out_dir=str(tmp_path / "cut"), seed=3, config={"lr": 1e-2}, show_progress=False,
              log=lambda m: None)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.npz")["step"] == 27   # the step finished
    resumed, resumed_summary = make_run(tmp_path / "cut", data, max_steps=40, resume=True, seed=99)

    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert open(tmp_path / "full" / "metrics.csv").read().count("\n") == 5
    for key in ("final_test_acc", "best_test_acc", "final_test_loss"):
        assert resumed_summary[key] == full_summary[key]


def test_an_existing_run_is_not_overwritten_and_resume_checks_settings(tmp_path):
    make_run(tmp_path, fake_data(), max_steps=10)
    with pytest.raises(FileExistsError, match="--resume"):
        make_run(tmp_path, fake_data(), max_steps=10)
    with pytest.raises(ValueError, match="lr: 0.01 -> 0.5"):
        make_run(tmp_path, fake_data(), max_steps=20, resume=True, lr=0.5)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    data = fake_data()
    make_run(tmp_path, data, max_steps=10)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    data.train_x[:] = np.nan                      # from here on every loss is NaN
    with pytest.raises(TrainingDiverged, match=r"nan at step 11.*step 10"):
        make_run(tmp_path, data, max_steps=30, resume=True)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_evaluate_uses_every_test_image_in_chunks():
    data = fake_data(n_test=53)
    model = models.MLP(48, [], 10, init="default")
    loss, acc = evaluate(model, data.test_x, data.test_y, batch_size=10)
    logits = data.test_x.reshape(53, -1).astype(np.float64) @ model[0].weight.numpy().T + model[0].bias.numpy()
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(53), data.test_y].mean(), rel=1e-5)
    assert acc == np.mean(logits.argmax(1) == data.test_y)


# ----- the command line -----

def test_cli_fills_in_each_models_assignment_defaults():
    mlp = cli.parse_config(["train", "mlp"])
    assert (mlp["learning_rate"], mlp["max_steps"], mlp["batch_size"], mlp["eval_freq"], mlp["optimizer"],
            mlp["dnn_hidden_units"], mlp["neg_slope"], mlp["seed"]) == (2e-3, 1500, 200, 100, "sgd", [100], 0.02, 42)
    conv = cli.parse_config(["train", "convnet"])
    assert (conv["learning_rate"], conv["max_steps"], conv["batch_size"], conv["eval_freq"],
            conv["optimizer"]) == (1e-4, 5000, 32, 500, "adam")
    assert cli.parse_config(["train", "mlp", "--dnn-hidden-units", ""])["dnn_hidden_units"] == []


@pytest.mark.parametrize("argv, message", [
    (["--dnn-hidden-units", "10,x"], "integers"),
    (["--learning-rate", "-1"], "positive"),
    (["--dropout", "1.5"], r"\[0, 1\)"),
    (["--resume"], "--out"),
])
def test_cli_rejects_bad_flags(argv, message):
    with pytest.raises(SystemExit, match=message):
        cli.parse_config(["train", "mlp", *argv])


def test_cli_trains_end_to_end_on_fake_cifar_files(tmp_path):
    make_cifar(tmp_path / "data" / "cifar-10-batches-py")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tinygrad_dl1", "train", "mlp", "--data-dir", str(tmp_path / "data"),
           "--max-steps", "6", "--eval-freq", "3", "--batch-size", "10", "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 6
    assert {"metrics.csv", "summary.json", "checkpoint.npz", "curves.png"} <= set(os.listdir(out))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "--resume" in again.stderr


def test_cli_names_the_missing_data_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tinygrad_dl1", "train", "mlp", "--data-dir",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "nowhere" in done.stderr


# ----- real CIFAR-10 -----

@pytest.mark.skipif(not REAL_DATA.exists(), reason=f"real CIFAR-10 not found at {REAL_DATA}")
def test_the_assignment_mlp_learns_real_cifar10(tmp_path):
    from tinygrad_dl1.data import load_cifar10
    data = load_cifar10(REAL_DATA)
    manual_seed(42)
    model = models.MLP(3072, [100], 10)
    summary = train(model, optim.SGD(model.parameters(), lr=2e-3), data, max_steps=300, batch_size=200,
                    eval_freq=100, out_dir=str(tmp_path), seed=42, show_progress=False, log=lambda m: None)
    assert summary["best_test_acc"] > 0.35              # chance is 0.10
