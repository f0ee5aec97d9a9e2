"""Hostile files, special files and tampered state: each a one-line error naming the file, never a hang, a
crash, a traceback or a write outside the project's folders."""
import contextlib
import errno
import json
import os
import signal
import stat
import zipfile

import numpy as np
import pytest
from fake_runs import fake_data, new_state, quick_curves, run_in_folder  # noqa: F401 (a fixture)

from tinygrad_dl1 import nn
from tinygrad_dl1.checkpoint import DamagedCheckpointError, UnreadableCheckpointError, load_checkpoint, save_checkpoint
from tinygrad_dl1.data import CorruptFileError, DownloadError, UnreadableFileError, download_cifar10, load_cifar10
from tinygrad_dl1.files import SpecialFileError, make_folders, open_regular
from tinygrad_dl1.lock import file_lock
from tinygrad_dl1.run_folder import RunFolder, RunFolderError

from cifar_files import isolated_env, make_cifar  # noqa: F401 (isolated_env: autouse)

pytestmark = pytest.mark.usefixtures("quick_curves")


@contextlib.contextmanager
def within(seconds):
    """Fail, instead of hanging, when the block takes longer than ``seconds`` (an alarm interrupts a blocked open)."""
    def too_slow(signum, frame):
        raise TimeoutError(f"blocked for more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_line(error):
    message = str(error)
    assert "\n" not in message, message
    return message


@pytest.fixture
def cifar(tmp_path):
    batches = tmp_path / "data" / "cifar-10-batches-py"
    make_cifar(batches)
    return batches


def plant(path, kind, outside):
    """Put a FIFO, a symbolic link or a hard link (to ``outside``) at ``path``."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(outside)
    else:
        os.link(outside, path)


# ----- special files -----

@pytest.mark.parametrize("kind", ["fifo", "symlink", "hard link"])
def test_a_special_data_file_is_refused_without_blocking(cifar, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.write_bytes((cifar / "data_batch_2").read_bytes())
    plant(cifar / "data_batch_2", kind, outside)
    with within(10), pytest.raises(UnreadableFileError) as err:
        load_cifar10(cifar)
    message = one_line(err.value)
    assert f"cannot read {cifar / 'data_batch_2'}" in message and "not a regular file of its own" in message
    assert "Delete" not in message      # nothing is damaged: no advice to delete the data


def test_a_device_as_a_data_file_is_refused(cifar):
    path = cifar / "test_batch"
    path.unlink()
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))    # /dev/zero: endless bytes
    except OSError:
        pytest.skip("cannot make a device node here")
    with within(10), pytest.raises(UnreadableFileError, match="a device"):
        load_cifar10(cifar)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "hard link"])
def test_a_special_checkpoint_is_refused_on_resume(tmp_path, kind):
    run = tmp_path / "run"
    run_in_folder(run, fake_data(), max_steps=10)
    outside = tmp_path / "outside.npz"
    outside.write_bytes((run / "checkpoint.npz").read_bytes())
    plant(run / "checkpoint.npz", kind, outside)
    with within(10), pytest.raises(UnreadableCheckpointError) as err:
        run_in_folder(run, fake_data(), max_steps=20, resume=True)
    assert f"cannot read the checkpoint {run}/checkpoint.npz" in one_line(err.value)
    assert "not a regular file of its own" in str(err.value)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "hard link"])
def test_a_special_lock_file_is_refused_and_nothing_outside_is_written(tmp_path, kind):
    run = tmp_path / "run"
    run.mkdir()
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    plant(run / ".lock", kind, outside)
    with within(10), pytest.raises(RunFolderError) as err:
        RunFolder(run)
    assert f"{run}/.lock is " in one_line(err.value) and "not a regular file of its own" in str(err.value)
    assert outside.read_text() == "keep me"


def test_a_hard_linked_download_lock_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    (tmp_path / "data").mkdir()
    os.link(outside, tmp_path / "data" / ".cifar-10-download.lock")
    with within(10), pytest.raises(DownloadError, match="not a regular file of its own"):
        download_cifar10(tmp_path / "data", url="http://127.0.0.1:9/none", progress=False)
    assert outside.read_text() == "keep me"


def test_a_fifo_as_the_downloaded_archive_is_refused_without_blocking(tmp_path):
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "cifar-10-python.tar.gz")
    with within(10), pytest.raises(DownloadError, match="FIFO"):
        download_cifar10(tmp_path / "data", url="http://127.0.0.1:9/none", progress=False)


def test_open_regular_refuses_folders_and_makes_new_files(tmp_path):
    with pytest.raises(SpecialFileError, match="a folder"):
        open_regular(tmp_path)
    os.close(open_regular(tmp_path / "new", os.O_RDWR | os.O_CREAT))
    assert (tmp_path / "new").is_file()


def test_the_lock_opens_no_link_even_if_one_appears_after_the_check(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    (tmp_path / ".lock").symlink_to(outside)
    # the check before the open sees nothing there, as when the link appears just after it
    monkeypatch.setattr(os, "lstat", lambda path: (_ for _ in ()).throw(FileNotFoundError(path)))
    with pytest.raises(SpecialFileError, match="symbolic link"), file_lock(tmp_path / ".lock"):
        pass
    assert outside.read_text() == "keep me"


# ----- unreadable is not damaged -----

def refuse_to_open(monkeypatch, name):
    """Opening a file whose name ends in ``name`` fails with EACCES, as for a file without read permission
    (the tests may run as root, whom permissions do not stop)."""
    real_open = os.open

    def open_or_refuse(path, *args, **kwargs):
        if str(path).endswith(name):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", open_or_refuse)


def test_an_unreadable_checkpoint_is_not_called_damaged(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run_in_folder(run, fake_data(), max_steps=10)
    before = (run / "checkpoint.npz").read_bytes()
    refuse_to_open(monkeypatch, "checkpoint.npz")
    with pytest.raises(UnreadableCheckpointError) as err:
        run_in_folder(run, fake_data(), max_steps=20, resume=True)
    message = one_line(err.value)
    assert f"cannot read the checkpoint {run}/checkpoint.npz: Permission denied" in message
    assert "damaged" not in message and "delete" not in message.lower()
    assert (run / "checkpoint.npz").read_bytes() == before


def test_an_unreadable_data_file_is_not_called_damaged(cifar, monkeypatch):
    refuse_to_open(monkeypatch, "data_batch_4")
    with pytest.raises(UnreadableFileError) as err:
        load_cifar10(cifar)
    message = one_line(err.value)
    assert f"cannot read {cifar / 'data_batch_4'}: Permission denied" in message and "Delete" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_checkpoint_without_read_permission_is_unreadable(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"step": 1})
    path.chmod(0)
    with pytest.raises(UnreadableCheckpointError, match="Permission denied"):
        load_checkpoint(path)


# ----- tampered checkpoints -----

def rewrite_array_header(path, key, shape):
    """The checkpoint at ``path`` with the header of its array ``key`` claiming ``shape`` (its bytes kept)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    raw = members[f"{key}.npy"]
    header_len = int.from_bytes(raw[8:10], "little")
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    header = header.ljust(header_len - 1) + b"\n"
    members[f"{key}.npy"] = raw[:10] + header + raw[10 + header_len:]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_an_array_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.zeros(4)})
    rewrite_array_header(path, "a0", (10 ** 12,))
    assert path.stat().st_size < 1000
    with pytest.raises(DamagedCheckpointError, match=r"claims shape \(1000000000000,\)") as err:
        load_checkpoint(path)
    assert f"checkpoint {path} is damaged" in one_line(err.value)


def test_deep_nesting_in_a_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "c.npz"
    skeleton = "[" * 100_000 + "]" * 100_000
    np.savez(path, __skeleton__=np.array(skeleton))
    with pytest.raises(DamagedCheckpointError, match=f"checkpoint {path} is damaged"):
        load_checkpoint(path)
    np.savez(path, __skeleton__=np.array("[" * 50 + "]" * 50))
    with pytest.raises(DamagedCheckpointError, match="nest more than"):
        load_checkpoint(path)


def tamper(path, edit):
    saved = load_checkpoint(path)
    edit(saved)
    save_checkpoint(path, saved)


def set_lr(value):
    return lambda saved: saved["optimizer"]["param_groups"][0].update(lr=value)


def set_moment(value):
    def edit(saved):
        saved["optimizer"]["state"]["0"]["exp_avg"] = value
    return edit


TAMPERED = {
    "lr None": (set_lr(None), "lr must be"),
    "lr 'abc'": (set_lr("abc"), "lr must be"),
    "lr NaN": (set_lr(float("nan")), "lr must be"),
    "betas of three": (lambda s: s["optimizer"]["param_groups"][0].update(betas=[0.9, 0.9, 0.9]), "betas"),
    "rng state -1": (lambda s: s["rng"]["state"].update(state=-1), "rng.state.state"),
    "rng state a string": (lambda s: s["rng"]["state"].update(inc="x"), "rng.state.inc"),
    "rng of another generator": (lambda s: s["rng"].update(bit_generator="MT19937"), "rng.bit_generator"),
    "batches' rng -1": (lambda s: s["batches"]["rng_state"]["state"].update(state=-1), "batches.rng_state"),
    "batches' position past n": (lambda s: s["batches"].update(position=10 ** 9), "position"),
    "batches' epoch -1": (lambda s: s["batches"].update(epoch=-1), "batches.epoch"),
    "step -1": (lambda s: s.update(step=-1), "step is -1"),
    "step 2^200": (lambda s: s.update(step=2 ** 200), "step is"),
    "elapsed_s NaN": (lambda s: s.update(elapsed_s=float("nan")), "elapsed_s"),
    "history after the step": (lambda s: s["history"][-1].update(step=10 ** 6), "history"),
    "history loss infinite": (lambda s: s["history"][-1].update(test_loss=float("inf")), "history"),
    "Adam step None": (lambda s: s["optimizer"]["state"]["0"].update(step=None), "keeps ['step', 'exp_avg'"),
    "Adam without exp_avg_sq": (lambda s: s["optimizer"]["state"]["0"].pop("exp_avg_sq"), "keeps ['step'"),
    "Adam with more": (lambda s: s["optimizer"]["state"]["0"].update(extra=1), "keeps ['step'"),
    "history row with more": (lambda s: s["history"][-1].update(extra=1), "history"),
    "Adam step -5": (lambda s: s["optimizer"]["state"]["0"].update(step=-5), "'step' is -5"),
    "moment of the wrong shape": (set_moment(np.zeros(3)), "has shape (3,)"),
    "moment of strings": (set_moment(np.array(["a"] * 5)), "dtype <U1"),
    "moment NaN": (lambda s: s["optimizer"]["state"]["0"]["exp_avg"].__setitem__(0, np.nan), "NaN"),
    "state of parameter 99": (lambda s: s["optimizer"]["state"].update({"99": {}}), "parameter '99'"),
    "state of parameter -1": (lambda s: s["optimizer"]["state"].update({"-1": {}}), "parameter '-1'"),
    "bias as strings": (lambda s: s["model"].update({"0.bias": np.array(["x"] * 32)}), "dtype <U1"),
    "bias as a list": (lambda s: s["model"].update({"0.bias": [0.0] * 32}), "model entry 0.bias is list"),
    "a missing weight": (lambda s: s["model"].pop("0.weight"), "model holds"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_checkpoint_is_one_error_naming_the_entry_and_changes_nothing(tmp_path, case):
    edit, entry = TAMPERED[case]
    run = tmp_path / "run"
    run_in_folder(run, fake_data(), max_steps=10)
    tamper(run / "checkpoint.npz", edit)
    state = new_state(fake_data())
    before = {k: v.copy() for k, v in state.model.state_dict().items()}
    with pytest.raises(RuntimeError) as err:      # a RunFolderError, or a DamagedCheckpointError for arrays
        run_in_folder(run, fake_data(), max_steps=20, resume=True, state=state)
    message = one_line(err.value)
    assert message.startswith(f"checkpoint {run}/checkpoint.npz is damaged") and entry in message, message
    assert state.step == 0 and state.optimizer.state == {}
    for key, value in state.model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_checkpoint_larger_than_the_run_needs_is_refused_before_reading(tmp_path):
    run = tmp_path / "run"
    run_in_folder(run, fake_data(), max_steps=10)
    with open(run / "checkpoint.npz", "ab") as f:
        f.truncate(200 << 20)        # sparse: 200 MB that take no room
    with pytest.raises(DamagedCheckpointError, match="more than the .* this run's state needs"):
        run_in_folder(run, fake_data(), max_steps=20, resume=True)


# ----- Module.load_state_dict checks every entry first -----

def test_load_state_dict_changes_nothing_before_refusing():
    layer = nn.Linear(3, 2)
    before = layer.state_dict()
    good_weight = np.full((2, 3), 7.0, dtype=np.float32)
    for bad_bias in (np.array(["a", "b"]), np.array([None, None], dtype=object), [[1.0], [2.0, 3.0]]):
        with pytest.raises(ValueError, match="bias"):
            layer.load_state_dict({"weight": good_weight, "bias": bad_bias})
        np.testing.assert_array_equal(layer.weight.numpy(), before["weight"])


# ----- a folder that changes under a run -----

def test_a_run_folder_removed_mid_run_is_one_line(tmp_path, monkeypatch):
    import shutil

    from tinygrad_dl1 import run_folder as run_folder_module
    run = tmp_path / "run"
    real_write_metrics = run_folder_module.RunFolder.write_metrics
    calls = []

    def remove_after_the_first(self, history, title):
        calls.append(1)
        if len(calls) == 2:
            shutil.rmtree(self.path)
        return real_write_metrics(self, history, title)
    monkeypatch.setattr(run_folder_module.RunFolder, "write_metrics", remove_after_the_first)
    with pytest.raises(RunFolderError) as err:
        run_in_folder(run, fake_data(), max_steps=30)
    message = one_line(err.value)
    assert f"the run folder {run} was removed during the run" in message


def test_a_run_folder_made_read_only_mid_run_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    from tinygrad_dl1 import checkpoint
    run = tmp_path / "run"
    run_in_folder(run, fake_data(), max_steps=10)
    before = (run / "checkpoint.npz").read_bytes()
    real_mkstemp, real_unlink = checkpoint.tempfile.mkstemp, os.unlink

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    def unlink_refused(path, *args, **kwargs):
        if str(path).startswith(str(run)):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_unlink(path, *args, **kwargs)
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(os, "unlink", unlink_refused)      # the lock file cannot be removed either
    with pytest.raises(RunFolderError) as err:
        run_in_folder(run, fake_data(), max_steps=20, resume=True)
    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", real_mkstemp)
    monkeypatch.setattr(os, "unlink", real_unlink)
    message = one_line(err.value)
    assert f"cannot write {run}/" in message and "Read-only file system" in message
    assert (run / "checkpoint.npz").read_bytes() == before
    assert not [n for n in os.listdir(run) if n.endswith(".tmp")]


# ----- depths a user controls -----

def remove_chain(top, depth):
    """Remove the folders top/d/d/... (``depth`` of them) from the bottom up: shutil.rmtree (and so pytest's
    cleanup) recurses once per level."""
    for level in range(depth, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(top.joinpath(*["d"] * level))


def test_a_path_of_any_depth_the_system_accepts_is_accepted(tmp_path):
    depth = 1500        # 3,000 characters: below PATH_MAX, deeper than Python's recursion limit
    deep = tmp_path.joinpath(*["d"] * depth)
    try:
        make_folders(deep)
        assert deep.is_dir()
        with RunFolder(deep / "run") as folder:
            assert os.path.isdir(folder.path)
        assert not (deep / "run").exists()      # made and left empty: removed
    finally:
        remove_chain(tmp_path, depth)


def test_a_checkpoint_of_the_usual_form_still_round_trips(tmp_path):
    path = tmp_path / "c.npz"
    tree = {"a": [1, 2.5, None, "x"], "b": {"c": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    save_checkpoint(path, tree)
    back = load_checkpoint(path)
    assert back["a"] == [1, 2.5, None, "x"]
    np.testing.assert_array_equal(back["b"]["c"], tree["b"]["c"])
    assert json.loads(str(np.load(path)["__skeleton__"]))["b"]["c"] == {"__array__": "a0"}


# ----- data errors name the file and what is wrong -----

@pytest.mark.parametrize("labels, problem", [
    ([[0, 1]] * 20, "it nests containers more than 2 deep"),
    ([0] * 19 + [1.0], "must be a list of ints, but holds a float"),
    ([0] * 19 + [2 ** 80], "must lie in 0..9"),
    ([0] * 19 + [True], "but holds a bool"),
    ({b"a": 1}, "must be 20 ints, got dict"),
])
def test_odd_labels_name_the_file_and_the_problem(cifar, labels, problem):
    import pickle
    path = cifar / "data_batch_5"
    path.write_bytes(pickle.dumps({b"data": np.zeros((20, 3072), np.uint8), b"labels": labels}))
    with pytest.raises(CorruptFileError) as err:
        load_cifar10(cifar)
    message = one_line(err.value)
    assert str(path) in message and problem in message


@pytest.mark.parametrize("names, problem", [
    ([b"\xff\xfe"] * 10, "not UTF-8"), ([1] * 10, "a list of 10 names"), ([None] * 10, "a list of 10 names")])
def test_odd_class_names_name_the_file(cifar, names, problem):
    import pickle
    path = cifar / "batches.meta"
    path.write_bytes(pickle.dumps({b"label_names": names}))
    with pytest.raises(CorruptFileError) as err:
        load_cifar10(cifar)
    assert str(path) in one_line(err.value) and problem in str(err.value)


# ----- draw_graph has a bound -----

def chain(n):
    from tinygrad_dl1 import Tensor
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    return y


def test_draw_graph_refuses_a_graph_too_big_to_draw_in_reasonable_time_and_says_how_to_draw_part():
    import time

    from tinygrad_dl1.graph import MAX_DRAWN_OPS, draw_graph
    y = chain(20_000)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"the graph has 20,000 ops, more than max_ops=1,000 .*pass depth=N") as err:
        draw_graph(y)
    assert time.perf_counter() - start < 5 and MAX_DRAWN_OPS == 1000
    one_line(err.value)
    with pytest.raises(ValueError, match="has 5,000 ops up to depth 5000"):
        draw_graph(y, depth=5000)


def test_to_dot_and_draw_graph_stop_at_a_depth():
    pytest.importorskip("matplotlib")
    from tinygrad_dl1.graph import draw_graph, to_dot
    y = chain(20_000)
    text = to_dot(y, depth=3)
    assert text.count("shape=ellipse") == 3 and text.count("shape=box") == 7     # 4 of the chain, 3 constants
    assert draw_graph(y, depth=3) is not None
    assert to_dot(chain(4)) == to_dot(chain(4), depth=4)


# ----- a batch stream's state -----

@pytest.mark.parametrize("edit, problem", [
    (lambda s: s.update(position=-1), "position=-1"),
    (lambda s: s.update(position=10 ** 9), "position=1000000000"),
    (lambda s: s.update(epoch="x"), "epoch='x'"),
    (lambda s: s.pop("rng_state"), "lacks rng_state"),
    (lambda s: s["rng_state"]["state"].update(state=-1), "rng_state that PCG64 refuses"),
    (lambda s: s["rng_state"].update(bit_generator="MT19937"), "rng_state that PCG64 refuses"),
])
def test_a_stream_refuses_a_bad_state_and_keeps_its_own(edit, problem):
    from tinygrad_dl1.data import BatchStream
    x, y = np.zeros((10, 2)), np.arange(10)
    stream = BatchStream(x, y, 3, seed=1)
    next(stream)
    state = stream.state_dict()
    edit(state)
    other = BatchStream(x, y, 3, seed=2)
    before = other.state_dict()
    with pytest.raises(ValueError, match=problem):
        other.load_state_dict(state)
    assert other.state_dict() == before


# ----- an archive that cannot be unpacked: damaged, or a folder that cannot be written -----

def small_archive(parent):
    import hashlib
    import tarfile
    make_cifar(parent / "src" / "cifar-10-batches-py")
    path = parent / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(parent / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def test_a_damaged_archive_is_to_be_deleted_a_full_disk_is_not(tmp_path, monkeypatch):
    import hashlib
    import tarfile
    parent = tmp_path / "dl"
    parent.mkdir()
    path, _ = small_archive(parent)
    raw = path.read_bytes()
    path.write_bytes(raw[:10] + bytes(b ^ 0x55 for b in raw[10:200]) + raw[200:])
    with pytest.raises(DownloadError, match="Delete the archive") as err:
        download_cifar10(parent, md5=hashlib.md5(path.read_bytes()).hexdigest(), progress=False)
    one_line(err.value)
    path, md5 = small_archive(parent)

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tarfile.TarFile, "extractall", disk_full)
    with pytest.raises(DownloadError) as err:
        download_cifar10(parent, md5=md5, progress=False)
    message = one_line(err.value)
    assert "No space left on device" in message and "Nothing was deleted" in message and "Delete" not in message
    assert path.exists()


def test_a_zip_entry_claiming_more_than_the_file_holds_is_refused(tmp_path):
    import struct
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.zeros(4)})
    raw = bytearray(path.read_bytes())
    at = raw.rindex(b"PK\x01\x02")             # the last central directory entry: a0.npy's
    struct.pack_into("<II", raw, at + 20, 0x7FFFFFF0, 0x7FFFFFF0)     # its sizes, stored and unpacked: 2 GB
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedCheckpointError, match="claims 2,147,483,632 bytes, more than the file's") as err:
        load_checkpoint(path)
    assert f"checkpoint {path} is damaged" in one_line(err.value)


def test_what_a_lock_file_holds_is_named_in_one_word(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with file_lock(run / ".lock"):
        (run / ".lock").write_text("123\nand a second line")
        with pytest.raises(RunFolderError) as err:
            RunFolder(run)
    assert "(pid 123)" in one_line(err.value)


def test_odd_file_names_in_a_run_folder_keep_the_error_on_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "two\nlines").write_text("x")
    for i in range(20):
        (run / f"file{i:02d}").write_text("x")
    with pytest.raises(RunFolderError, match=r"is not empty \(file00, .*file09, \.\.\.\)") as err:
        RunFolder(run)
    one_line(err.value)
    for i in range(20):
        (run / f"file{i:02d}").unlink()
    with pytest.raises(RunFolderError, match=r"is not empty \('two\\nlines'\)") as err:
        RunFolder(run)
    one_line(err.value)


def test_mutated_checkpoints_are_read_or_refused_in_one_line(tmp_path):
    import random
    import time

    from test_pickle_fuzz import mutate

    from tinygrad_dl1.checkpoint import CheckpointError
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"step": 3, "w": np.ones((20, 5), np.float32), "history": [{"a": 1.5}],
                           "rng": {"state": 2 ** 100}})
    raw = path.read_bytes()
    rng = random.Random(0)
    refused = 0
    for _ in range(300):
        path.write_bytes(mutate(rng, raw))
        start = time.perf_counter()
        try:
            load_checkpoint(path, max_bytes=1 << 20)
        except CheckpointError as e:
            one_line(e)
            refused += 1
        assert time.perf_counter() - start < 1
    assert refused > 250


def test_the_command_line_says_another_out(tmp_path):
    from tinygrad_dl1 import cli
    path = tmp_path / "c.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(DamagedCheckpointError) as err:
        load_checkpoint(path)
    assert "another folder" in str(err.value) and "another --out" in cli.error_line(err.value)


def test_an_archive_member_nested_deeper_than_cifar10s_is_refused(tmp_path):
    import hashlib
    import io
    import tarfile
    parent = tmp_path / "dl"
    parent.mkdir()
    path = parent / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/" + "d/" * 1500 + "x")    # deeper than the recursion limit
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match="unsafe member") as err:
        download_cifar10(parent, md5=md5, progress=False)
    assert len(str(err.value)) < 400 and sorted(os.listdir(parent)) == ["cifar-10-python.tar.gz"]
