"""The training loop, its state and checkpoint files, on small fake data and on real CIFAR-10."""
import io
import os
import zipfile

import numpy as np
import pytest
from fake_runs import fake_data, nan_from, new_state

from tinygrad_dl1 import backend, manual_seed, models, optim
from tinygrad_dl1.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_dl1.train import TrainingDiverged, TrainingState, evaluate, train, training_batches

from cifar_files import REAL_DATA

# ----- checkpoint files -----


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


def _truncated(data):
    return data[:len(data) // 2]


def _one_byte_flipped(data):
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize("damage", [lambda data: b"", _truncated, lambda data: b"not a zip file", _one_byte_flipped])
def test_a_damaged_checkpoint_gets_a_clear_error_naming_it(tmp_path, damage):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"step": 3, "w": np.ones(100)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RuntimeError, match=f"checkpoint {path} is damaged"):
        load_checkpoint(path)


def test_a_checkpoint_is_a_plain_zip_without_pickles(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"w": np.ones(3), "name": "x"})
    with zipfile.ZipFile(tmp_path / "c.npz") as archive:
        assert sorted(archive.namelist()) == ["__skeleton__.npy", "a0.npy"]


# ----- the training loop -----

def test_train_evaluates_every_eval_freq_steps_and_at_the_end(capsys, device):
    data = fake_data()
    state = train(new_state(data, device=device.name), data, max_steps=25, eval_freq=10, show_progress=False,
                  device=device.name)
    assert state.step == 25
    assert [row["step"] for row in state.history] == [10, 20, 25]
    assert state.history[-1]["test_acc"] > 0.5              # the classes are easy to separate
    assert (state.train_loss_sum, state.train_correct, state.train_seen, state.unread) == (0.0, 0, 0, [])
    assert capsys.readouterr().err.count("\n") == 3         # one line per evaluation


def test_training_on_a_device_matches_the_cpu(device):
    """Same batches, same dropout masks, same arithmetic: the stand-in (NumPy underneath) matches the CPU
    exactly; a real GPU rounds differently, within float32."""
    data = fake_data()
    on_cpu = train(new_state(data), data, max_steps=30, eval_freq=10, show_progress=False)
    there = train(new_state(data, device=device.name), data, max_steps=30, eval_freq=10, show_progress=False,
                  device=device.name)
    exact = device.kind != "cuda"
    for row_a, row_b in zip(on_cpu.history, there.history, strict=True):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert row_a[key] == (row_b[key] if exact else pytest.approx(row_b[key], rel=1e-3, abs=0.02)), key
    for (name, a), (_, b) in zip(on_cpu.model.state_dict().items(), there.model.state_dict().items()):
        np.testing.assert_allclose(backend.to_numpy(b), a, rtol=0 if exact else 1e-3, atol=0 if exact else 1e-4,
                                   err_msg=name)


def test_a_state_saved_and_loaded_continues_exactly_as_if_never_stopped(tmp_path, device):
    data = fake_data()
    run = dict(max_steps=30, eval_freq=10, show_progress=False, device=device.name)
    straight = train(new_state(data, device=device.name), data, **run)

    first = new_state(data, device=device.name)
    train(first, data, **run, stop_requested=lambda: first.step == 15)
    save_checkpoint(tmp_path / "c.npz", first.state_dict())
    second = new_state(data, seed=99, device=device.name)      # other weights, batches and masks to start with
    second.load_state_dict(load_checkpoint(tmp_path / "c.npz"))
    assert (second.step, second.train_seen) == (15, 5 * 16)
    train(second, data, **run)

    for (name, a), (_, b) in zip(straight.model.state_dict().items(), second.model.state_dict().items()):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b), err_msg=name)
    for row_a, row_b in zip(straight.history, second.history, strict=True):
        assert {k: v for k, v in row_a.items() if k != "elapsed_s"} == {k: v for k, v in row_b.items()
                                                                        if k != "elapsed_s"}


def test_a_nan_training_loss_stops_the_run_at_the_next_evaluation_naming_its_step(device):
    """A step reads nothing back, so a NaN loss is found when the losses are read: at the next
    evaluation, which then records nothing (no row, no after_evaluation, so no checkpoint)."""
    data = fake_data()
    state = new_state(data, device=device.name)
    state.model = nan_from(state.model, 13)
    evaluated = []
    with pytest.raises(TrainingDiverged, match="the training loss became nan at step 13; try a lower"):
        train(state, data, max_steps=30, eval_freq=10, show_progress=False, device=device.name,
              after_evaluation=lambda s: evaluated.append(s.step))
    assert evaluated == [row["step"] for row in state.history] == [10]
    assert state.step == 20
    with pytest.raises(TrainingDiverged, match="at step 13"):    # a checkpoint of it is refused
        state.state_dict()


def test_a_stop_between_evaluations_after_a_nan_raises_instead_of_returning(device):
    data = fake_data()
    state = new_state(data, device=device.name)
    state.model = nan_from(state.model, 12)
    with pytest.raises(TrainingDiverged, match="became nan at step 12"):
        train(state, data, max_steps=30, eval_freq=10, show_progress=False, device=device.name,
              stop_requested=lambda: state.step == 15)
    assert state.step == 15 and [row["step"] for row in state.history] == [10]


def test_a_nan_test_loss_stops_training_too(device):
    data = fake_data()
    data.test_x[3] = np.nan                       # training stays finite, the evaluation does not
    state = new_state(data, device=device.name)
    with pytest.raises(TrainingDiverged, match="test loss became nan at step 10"):
        train(state, data, max_steps=20, eval_freq=10, show_progress=False, device=device.name)
    assert state.history == []


@pytest.mark.parametrize("bad", [10, -1])
def test_labels_that_are_not_class_indices_of_the_model_are_refused_before_any_step(device, bad):
    data = fake_data()
    data.train_y[7] = bad
    state = new_state(data, device=device.name)
    with pytest.raises(ValueError, match=rf"train: labels \(for a model with 10 outputs\) must be class indices "
                                         rf"in \[0, 10\), got values in \[{min(bad, 0)}, {max(bad, 9)}\]"):
        train(state, data, max_steps=20, eval_freq=10, show_progress=False, device=device.name)
    assert state.step == 0
    data.train_y[7], data.test_y[0] = 0, 12
    with pytest.raises(ValueError, match=r"got values in \[0, 12\]"):
        train(new_state(data, device=device.name), data, max_steps=20, eval_freq=10, show_progress=False,
              device=device.name)


def test_stop_requested_ends_training_after_a_whole_step():
    data = fake_data()
    calls = []
    state = new_state(data)
    train(state, data, max_steps=30, eval_freq=10, show_progress=False,
          stop_requested=lambda: calls.append(state.step) or state.step == 7)
    assert state.step == 7 and calls == list(range(8))
    assert state.train_seen == 7 * 16 and state.history == []


def test_evaluate_uses_every_test_image_in_chunks(device):
    data = fake_data(n_test=53)
    model = models.MLP(48, [], 10, init="default")
    logits = data.test_x.reshape(53, -1).astype(np.float64) @ model[0].weight.numpy().T + model[0].bias.numpy()
    loss, acc = evaluate(model.to(device.name), data.test_x, data.test_y, batch_size=10, device=device.name)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(53), data.test_y].mean(), rel=1e-5)
    assert acc == np.mean(logits.argmax(1) == data.test_y)


# ----- the progress bar -----

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_is_one_line_per_evaluation(capsys):
    data = fake_data()
    train(new_state(data), data, max_steps=400, eval_freq=200, show_progress=True)
    err = capsys.readouterr().err               # captured: not a terminal, as in CI or a log file
    assert "\r" not in err
    assert err.splitlines()[0].startswith("step    200/400: train loss ")
    assert len(err.splitlines()) == 2


def test_progress_on_a_terminal_is_a_tqdm_bar(monkeypatch):
    data = fake_data()
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train(new_state(data), data, max_steps=20, eval_freq=10, show_progress=True)
    assert "\r" in terminal.getvalue() and "20/20" in terminal.getvalue()
    assert terminal.getvalue().count("step     10/20: train loss") == 1


def test_no_progress_draws_no_bar_even_on_a_terminal(monkeypatch):
    data = fake_data()
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train(new_state(data), data, max_steps=20, eval_freq=10, show_progress=False)
    assert "\r" not in terminal.getvalue() and len(terminal.getvalue().splitlines()) == 2


# ----- real CIFAR-10 -----

@pytest.mark.skipif(not REAL_DATA.exists(), reason=f"real CIFAR-10 not found at {REAL_DATA}")
def test_the_assignment_mlp_learns_real_cifar10():
    from tinygrad_dl1.data import load_cifar10
    data = load_cifar10(REAL_DATA)
    manual_seed(42)
    model = models.MLP(3072, [100], 10)
    state = TrainingState(model, optim.SGD(model.parameters(), lr=2e-3), training_batches(data, 200, seed=42))
    train(state, data, max_steps=300, eval_freq=100, show_progress=False)
    assert max(row["test_acc"] for row in state.history) > 0.35     # chance is 0.10
