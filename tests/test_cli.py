"""The command line: flags, what a run records, and a clear one-line error for each bad input."""
import json
import os
import re
import subprocess
import sys
import time

import pytest
from fake_runs import quick_curves  # noqa: F401 (a fixture)

from tinygrad_dl1 import cli
from tinygrad_dl1.run_folder import RunFolder

from cifar_files import make_cifar

SMALL_RUN = ["--max-steps", "4", "--eval-freq", "2", "--batch-size", "10", "--no-progress"]
pytestmark = pytest.mark.usefixtures("quick_curves")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_cifar(folder / "cifar-10-batches-py")
    return str(folder)


def train(data_dir, *flags, model="mlp"):
    """``tinygrad-dl1 train`` in this process; returns its exit code."""
    return cli.main(["train", model, "--data-dir", data_dir, *SMALL_RUN, *flags])


# ----- flags -----

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
    (["--dnn-hidden-units", "0", "--init", "default"], "--dnn-hidden-units must be positive.*'0'"),
    (["--dnn-hidden-units", "100,-5"], "--dnn-hidden-units must be positive"),
    (["--learning-rate", "-1"], "--learning-rate must be a finite number > 0, got -1.0"),
    (["--dropout", "1.5"], r"\[0, 1\)"),
    (["--seed", "-1"], "--seed must be 0 or more, got -1"),
    (["--out", " "], "--out is empty"),
    (["--resume"], "--out"),
])
def test_cli_rejects_bad_flags(argv, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.parse_config(["train", "mlp", *argv])


@pytest.mark.parametrize("flag", ["--learning-rate", "--weight-decay", "--momentum", "--dropout", "--neg-slope"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_every_float_flag_must_be_finite(flag, value):
    with pytest.raises(cli.UsageError, match=f"^{flag} must be .*, got {value}$"):
        cli.parse_config(["train", "mlp", flag, value])


@pytest.mark.parametrize("argv, message", [
    (["--momentum", "1"], "--momentum must be in \\[0, 1\\)"),
    (["--momentum", "-0.5"], "--momentum must be in"),
    (["--neg-slope", "1e30"], "--neg-slope must be in \\[0, 1\\]"),
    (["--weight-decay", "-1e-3"], "--weight-decay must be a finite number >= 0"),
    (["--learning-rate", "0"], "--learning-rate must be a finite number > 0"),
])
def test_float_flags_out_of_their_range_are_refused(argv, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.parse_config(["train", "mlp", *argv])


@pytest.mark.parametrize("argv, message", [
    (["convnet", "--dnn-hidden-units", "10"], "--dnn-hidden-units does not apply to the convnet"),
    (["convnet", "--batch-norm", "--dropout", "0.1"], "--batch-norm, --dropout do not apply to the convnet"),
    (["convnet", "--neg-slope", "0.1"], "--neg-slope does not apply to the convnet"),
    (["convnet", "--init", "default"], "--init does not apply to the convnet"),
    (["mlp", "--optimizer", "adam", "--momentum", "0.9"], "--momentum does not apply to --optimizer adam"),
    (["convnet", "--momentum", "0.9"], "--momentum does not apply to --optimizer adam"),
])
def test_flags_that_do_not_apply_to_the_model_are_refused(argv, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.parse_config(["train", *argv])
    assert cli.parse_config(["train", "convnet", "--optimizer", "sgd", "--momentum", "0.9"])["momentum"] == 0.9


@pytest.mark.parametrize("argv, message", [
    (["train"], "the following arguments are required: model"),
    (["train", "resnet"], "invalid choice: 'resnet'"),
    (["train", "mlp", "--batch-size", "ten"], "argument --batch-size: invalid int value: 'ten'"),
    (["train", "mlp", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ([], "the following arguments are required: command"),
    (["train", "mlp", "--dropout", "1.5"], r"--dropout must be in \[0, 1\), got 1.5"),
    (["train", "mlp", "--resume"], "--resume needs --out"),
])
def test_every_bad_command_line_is_one_line_of_one_form_and_exit_status_1(argv, message, capsys):
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("tinygrad-dl1: error: ") and captured.err.count("\n") == 1, captured.err
    assert re.search(message, captured.err)


def test_the_command_lines_exit_status_for_a_bad_flag_is_1():
    done = subprocess.run([sys.executable, "-m", "tinygrad_dl1", "train", "mlp", "--batch-size", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("tinygrad-dl1: error: argument --batch-size")


def test_the_summary_records_only_the_settings_the_run_uses():
    convnet = cli.recorded_settings(cli.parse_config(["train", "convnet", "--out", "x", "--no-progress"]))
    assert sorted(convnet) == ["batch_size", "device", "eval_freq", "learning_rate", "max_steps", "model",
                               "optimizer", "seed", "weight_decay"]
    mlp = cli.recorded_settings(cli.parse_config(["train", "mlp", "--data-dir", "d", "--resume", "--out", "x"]))
    assert sorted(mlp) == ["batch_norm", "batch_size", "device", "dnn_hidden_units", "dropout", "eval_freq", "init",
                           "learning_rate", "max_steps", "model", "momentum", "neg_slope", "optimizer", "seed",
                           "weight_decay"]
    assert "momentum" not in cli.recorded_settings(cli.parse_config(["train", "mlp", "--optimizer", "adam"]))


# ----- runs -----

def test_cli_trains_end_to_end_on_fake_cifar_files(tmp_path, data_dir):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tinygrad_dl1", "train", "mlp", "--data-dir", data_dir, "--max-steps", "6",
           "--eval-freq", "3", "--batch-size", "10", "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 6
    assert {"metrics.csv", "summary.json", "checkpoint.npz"} <= set(os.listdir(out))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "--resume" in again.stderr


def test_log_output_stays_short(tmp_path, data_dir, capsys):
    assert cli.main(["train", "mlp", "--data-dir", data_dir, "--max-steps", "300", "--eval-freq", "150",
                     "--batch-size", "10", "--dnn-hidden-units", "8", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err                        # not a terminal: as in a log file or CI
    assert "\r" not in err
    assert len(err.splitlines()) == 3                    # "training ...", then one line per evaluation


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    frozen = time.localtime()
    real_strftime = time.strftime
    monkeypatch.setattr(time, "strftime", lambda format, t=frozen: real_strftime(format, t))
    assert train(data_dir) == 0 and train(data_dir) == 0
    stamp = real_strftime("%Y%m%d-%H%M%S", frozen)
    assert sorted(os.listdir(tmp_path / "runs")) == [f"mlp-{stamp}", f"mlp-{stamp}-2"]
    for run in os.listdir(tmp_path / "runs"):
        assert "summary.json" in os.listdir(tmp_path / "runs" / run)


def test_a_run_folder_in_use_is_refused_naming_the_holder(tmp_path, data_dir, capsys):
    with RunFolder(tmp_path / "run"):
        assert train(data_dir, "--out", str(tmp_path / "run")) == 1
        assert os.listdir(tmp_path / "run") == [".lock"]
    assert f"in use by another run (pid {os.getpid()})" in capsys.readouterr().err


def test_an_unwritable_out_fails_in_one_line_before_loading_data(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr("tinygrad_dl1.data.load_cifar10", lambda *a, **k: pytest.fail("loaded the data"))
    assert train(str(tmp_path), "--out", str(tmp_path / "file" / "run")) == 1
    assert capsys.readouterr().err == (f"tinygrad-dl1: error: cannot create the run folder {tmp_path}/file/run: "
                                       "a folder above it is a file\n")


@pytest.mark.parametrize("flags, message", [(["--data-dir", "nowhere"], "nowhere"),
                                           (["--data-dir", ""], "empty string"),
                                           (["--batch-size", "1000"], "--batch-size 1000")])
def test_a_run_that_fails_early_leaves_no_folder(tmp_path, data_dir, capsys, monkeypatch, flags, message):
    monkeypatch.setattr("tinygrad_dl1.data.download.fetch", lambda *a, **k: pytest.fail("started a download"))
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--data-dir", data_dir, "--out", str(out), *flags]) == 1
    assert message in capsys.readouterr().err.splitlines()[-1]
    assert not out.exists()


def test_cli_names_the_missing_data_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tinygrad_dl1", "train", "mlp", "--data-dir",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "nowhere" in done.stderr and "Traceback" not in done.stderr
    # only the command line's words, and nothing printed about training that does not start
    assert done.stderr.startswith("tinygrad-dl1: error: No CIFAR-10 at") and done.stderr.count("\n") == 1
    assert "--download" in done.stderr and "download=True" not in done.stderr and "data_dir" not in done.stderr


@pytest.mark.parametrize("flags, message", [(["--data-dir", "nowhere"], "No CIFAR-10"),
                                           (["--batch-size", "1000"], "--batch-size 1000 is more than the 100")])
def test_nothing_is_said_about_training_before_an_early_error(tmp_path, data_dir, capsys, flags, message):
    assert cli.main(["train", "mlp", "--data-dir", data_dir, "--out", str(tmp_path / "run"), *flags]) == 1
    err = capsys.readouterr().err
    assert "writing to" not in err and err.startswith("tinygrad-dl1: error: ") and message in err


def test_an_mlp_too_large_for_memory_is_refused_before_allocating(tmp_path, data_dir, capsys):
    assert train(data_dir, "--dnn-hidden-units", "1000000000", "--out", str(tmp_path / "run")) == 1
    err = capsys.readouterr().err
    assert "--dnn-hidden-units 1000000000 needs about" in err and "GB of memory" in err
    assert not (tmp_path / "run").exists()


def test_resume_with_fewer_steps_than_done_is_a_clear_error(tmp_path, data_dir, capsys):
    out = str(tmp_path / "run")
    assert train(data_dir, "--out", out) == 0
    assert train(data_dir, "--out", out, "--resume", "--max-steps", "2") == 1
    assert "is at step 4; pass --max-steps 4 or more" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["config"]["max_steps"] == 4


def test_a_damaged_checkpoint_on_resume_is_one_error_line(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert train(data_dir, "--out", str(out)) == 0
    (out / "checkpoint.npz").write_bytes((out / "checkpoint.npz").read_bytes()[:100])
    capsys.readouterr()
    assert train(data_dir, "--out", str(out), "--resume", "--max-steps", "6") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"tinygrad-dl1: error: checkpoint {out}/checkpoint.npz is damaged")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_nan_test_loss_fails_the_run_and_leaves_no_summary(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert train(data_dir, "--out", str(out), "--learning-rate", "1e30", "--max-steps", "1", "--eval-freq", "1") == 1
    assert "loss became" in capsys.readouterr().err
    assert not (out / "summary.json").exists()


def test_resuming_with_another_model_size_names_the_settings_not_damage(tmp_path, data_dir, capsys):
    out = str(tmp_path / "run")
    assert train(data_dir, "--out", out) == 0
    capsys.readouterr()
    assert train(data_dir, "--out", out, "--resume", "--dnn-hidden-units", "5") == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert "with other settings (dnn_hidden_units: [100] -> [5])" in err and "damaged" not in err
