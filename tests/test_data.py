"""The data layer: locating, downloading, safe reading and preprocessing CIFAR-10; batching; progress."""
import functools
import hashlib
import http.server
import io
import itertools
import json
import os
import pickle
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_dl1.data import (CIFAR10_MD5, BatchStream, ChecksumError, CorruptFileError,
                               DatasetError, DatasetNotFoundError, DownloadError,
                               UnsafePickleError, default_cache_dir, download_cifar10,
                               iterate_minibatches, load_cifar10, load_pickle, locate_cifar10,
                               read_cifar10)
from tinygrad_dl1.progress import Progress

from cifar_files import (CLASSES, N_PER_BATCH, REAL_DATA, TRAIN_FILES, make_cifar,  # noqa: E402
                         write_batch, write_pickle)


@pytest.fixture
def cifar_dir(tmp_path):
    """(parent folder, batches folder, raw data) of a small fake CIFAR-10."""
    batches = tmp_path / "data" / "cifar-10-batches-py"
    return tmp_path / "data", batches, make_cifar(batches)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the user's data folder, cache or proxy."""
    monkeypatch.delenv("TINYGRAD_DL1_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


# ---------------------------------------------------------------- reading and preprocessing

def test_preprocessing_matches_the_assignment(cifar_dir):
    parent, _, raw = cifar_dir
    ds = load_cifar10(parent)
    train = np.concatenate([raw[n][0] for n in TRAIN_FILES])
    train_labels = np.concatenate([raw[n][1] for n in TRAIN_FILES])
    test, test_labels = raw["test_batch"]
    mean = train.astype(np.float64).mean(axis=0).reshape(3, 32, 32)

    assert ds.train_x.shape == (5 * N_PER_BATCH, 3, 32, 32) and ds.train_x.dtype == np.float32
    assert ds.test_x.shape == (N_PER_BATCH, 3, 32, 32) and ds.test_x.dtype == np.float32
    assert ds.train_y.dtype == np.int64 and ds.test_y.dtype == np.int64
    assert ds.mean_image.shape == (3, 32, 32) and ds.mean_image.dtype == np.float32
    np.testing.assert_array_equal(ds.mean_image, mean.astype(np.float32))
    # both sets lose the *training* mean; values stay on the 0..255 scale
    np.testing.assert_allclose(ds.train_x, train.reshape(-1, 3, 32, 32) - mean, atol=1e-4)
    np.testing.assert_allclose(ds.test_x, test.reshape(-1, 3, 32, 32) - mean, atol=1e-4)
    assert ds.train_x.max() - ds.train_x.min() > 200
    # labels in file order: data_batch_1..5, then test_batch
    np.testing.assert_array_equal(ds.train_y, train_labels)
    np.testing.assert_array_equal(ds.test_y, test_labels)
    assert ds.classes == tuple(CLASSES)


def test_images_are_nchw(tmp_path):
    batches = tmp_path / "cifar-10-batches-py"
    make_cifar(batches)
    data = np.zeros((N_PER_BATCH, 3072), dtype=np.uint8)
    data[0, 1024 + 5 * 32 + 7] = 200  # green channel, row 5, column 7 of image 0
    write_batch(batches / "data_batch_1", data, np.arange(N_PER_BATCH) % 10)
    ds = load_cifar10(batches)
    image = ds.train_x[0] + ds.mean_image
    assert image[1, 5, 7] == pytest.approx(200)
    assert np.count_nonzero(np.round(image)) == 1


def test_folder_itself_or_its_parent(cifar_dir):
    parent, batches, _ = cifar_dir
    a = load_cifar10(str(parent))
    b = load_cifar10(batches)
    np.testing.assert_array_equal(a.train_x, b.train_x)


def test_batch_files_directly_in_an_odd_named_folder(tmp_path):
    folder = tmp_path / "mycifar"
    make_cifar(folder)
    assert locate_cifar10(folder).batches_dir == folder
    assert load_cifar10(folder).train_x.shape[0] == 5 * N_PER_BATCH


def test_numpy_1_global_names_load(tmp_path):
    """Official files name numpy.core.multiarray._reconstruct; that must load under any NumPy."""
    batches = tmp_path / "cifar-10-batches-py"
    make_cifar(batches)
    payload = pickle.dumps({b"data": np.arange(N_PER_BATCH * 3072, dtype=np.uint8)
                            .reshape(N_PER_BATCH, 3072), b"labels": [1] * N_PER_BATCH}, protocol=3)
    payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (batches / "data_batch_2").write_bytes(payload)
    ds = load_cifar10(batches)
    np.testing.assert_array_equal(ds.train_y[N_PER_BATCH:2 * N_PER_BATCH], 1)


# ---------------------------------------------------------------- where the data is

def test_argument_beats_environment_beats_cache(tmp_path, monkeypatch):
    arg, env = tmp_path / "arg", tmp_path / "env"
    monkeypatch.setenv("TINYGRAD_DL1_DATA", str(env))
    assert locate_cifar10(arg) == (arg / "cifar-10-batches-py", "argument")
    assert locate_cifar10() == (env / "cifar-10-batches-py", "environment")
    monkeypatch.delenv("TINYGRAD_DL1_DATA")
    assert locate_cifar10() == (tmp_path / "xdg-cache" / "tinygrad_dl1" / "cifar-10-batches-py",
                                "cache")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_dl1"


def test_environment_variable_is_read(cifar_dir, monkeypatch):
    parent, _, raw = cifar_dir
    monkeypatch.setenv("TINYGRAD_DL1_DATA", str(parent))
    np.testing.assert_array_equal(load_cifar10().test_y, raw["test_batch"][1])


def test_explicit_folder_without_data_is_not_downloaded_into(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="download=True") as err:
        load_cifar10(tmp_path / "empty", url="http://127.0.0.1:9/never")
    assert "TINYGRAD_DL1_DATA" in str(err.value) and str(tmp_path / "empty") in str(err.value)
    assert not (tmp_path / "empty").exists()
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(download=False)  # the cache folder, download forbidden


# ---------------------------------------------------------------- bad files

def assert_names_file_and_fix(err, path):
    message = str(err.value)
    assert str(path) in message
    assert "Delete the folder" in message and "TINYGRAD_DL1_DATA" in message


def test_missing_file(cifar_dir):
    parent, batches, _ = cifar_dir
    (batches / "data_batch_3").unlink()
    with pytest.raises(CorruptFileError, match="missing") as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, batches / "data_batch_3")


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5])
def test_truncated_file(cifar_dir, keep):
    parent, batches, _ = cifar_dir
    path = batches / "data_batch_2"
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(CorruptFileError, match="not a readable pickle") as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, path)


class CallsOsSystem:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').getpid()",)


@pytest.mark.parametrize("payload", ["os.system", "eval", "os.system in a dict"])
def test_malicious_pickle_is_refused(cifar_dir, tmp_path, payload):
    parent, batches, _ = cifar_dir
    marker = tmp_path / "pwned"
    evil = {"os.system": CallsOsSystem(marker), "eval": CallsEval(),
            "os.system in a dict": {b"data": CallsOsSystem(marker), b"labels": [0]}}[payload]
    path = batches / "data_batch_1"
    write_pickle(path, evil)
    with pytest.raises(UnsafePickleError) as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, path)
    assert ("system" in err.value.refused) or ("eval" in err.value.refused)
    assert err.value.refused in str(err.value)
    assert not marker.exists()


def test_restricted_unpickler_still_reads_arrays(tmp_path):
    path = tmp_path / "ok.pkl"
    write_pickle(path, {b"a": np.arange(6, dtype=np.uint8).reshape(2, 3), b"b": [1, 2]}, protocol=4)
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded[b"a"], [[0, 1, 2], [3, 4, 5]])
    write_pickle(path, np.float32(1.0))  # a NumPy scalar needs numpy's 'scalar': not allowed
    with pytest.raises(UnsafePickleError, match="scalar"):
        load_pickle(path)


BAD_BATCHES = {
    "not a dict": [np.zeros((N_PER_BATCH, 3072), np.uint8)],
    "no data key": {b"labels": [0] * N_PER_BATCH},
    "wrong width": {b"data": np.zeros((N_PER_BATCH, 3000), np.uint8), b"labels": [0] * N_PER_BATCH},
    "NHWC 4-d": {b"data": np.zeros((N_PER_BATCH, 32, 32, 3), np.uint8),
                 b"labels": [0] * N_PER_BATCH},
    "float data": {b"data": np.zeros((N_PER_BATCH, 3072), np.float32),
                   b"labels": [0] * N_PER_BATCH},
    "data as list": {b"data": [0] * 3072, b"labels": [0]},
    "too few labels": {b"data": np.zeros((N_PER_BATCH, 3072), np.uint8),
                       b"labels": [0] * (N_PER_BATCH - 1)},
    "label 10": {b"data": np.zeros((N_PER_BATCH, 3072), np.uint8),
                 b"labels": [0] * (N_PER_BATCH - 1) + [10]},
    "label -1": {b"data": np.zeros((N_PER_BATCH, 3072), np.uint8),
                 b"labels": [-1] + [0] * (N_PER_BATCH - 1)},
    "string labels": {b"data": np.zeros((N_PER_BATCH, 3072), np.uint8),
                      b"labels": ["cat"] * N_PER_BATCH},
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_wrong_contents(cifar_dir, case):
    parent, batches, _ = cifar_dir
    path = batches / "test_batch"
    write_pickle(path, BAD_BATCHES[case])
    with pytest.raises(CorruptFileError) as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, path)


def test_bad_meta(cifar_dir):
    parent, batches, _ = cifar_dir
    write_pickle(batches / "batches.meta", {b"label_names": [b"cat"]})
    with pytest.raises(CorruptFileError, match="label_names") as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, batches / "batches.meta")


def test_errors_are_runtime_errors():
    assert issubclass(DatasetError, RuntimeError)
    for cls in (DatasetNotFoundError, CorruptFileError, UnsafePickleError, DownloadError,
                ChecksumError):
        assert issubclass(cls, DatasetError)


# ---------------------------------------------------------------- download

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class TruncatingHandler(QuietHandler):
    """Announces the whole archive, sends half of it, then hangs up."""

    def do_GET(self):
        body = Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def archive(tmp_path):
    """(folder, md5) of a tar.gz of a fake cifar-10-batches-py, laid out as the official one."""
    src = tmp_path / "src"
    make_cifar(src / "cifar-10-batches-py", seed=1)
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return served, hashlib.md5((served / "cifar-10-python.tar.gz").read_bytes()).hexdigest()


@pytest.fixture
def serve():
    """serve(folder, handler) -> base URL of a local HTTP server; stopped after the test."""
    servers = []

    def start(folder, handler=QuietHandler):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def leftovers(folder):
    """Everything in ``folder`` apart from a finished archive and dataset."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in ("cifar-10-python.tar.gz", "cifar-10-batches-py"))


def test_download_into_cache_by_default(archive, serve, tmp_path, capfd):
    folder, md5 = archive
    url = serve(folder)
    ds = load_cifar10(url=url, md5=md5)
    cache = tmp_path / "xdg-cache" / "tinygrad_dl1"
    assert (cache / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert (cache / "cifar-10-python.tar.gz").is_file()
    assert leftovers(cache) == []
    assert ds.train_x.shape == (5 * N_PER_BATCH, 3, 32, 32)
    err = capfd.readouterr().err
    assert "downloading cifar-10-python.tar.gz" in err and "100%" in err
    # the second call reads what is there, without the server
    np.testing.assert_array_equal(load_cifar10(url="http://127.0.0.1:9/gone", md5=md5).train_y,
                                  ds.train_y)


def test_download_into_explicit_folder_only_when_asked(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder)
    target = tmp_path / "mine" / "cifar-10-batches-py"
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(target, url=url, md5=md5)
    ds = load_cifar10(target, download=True, url=url, md5=md5, progress=False)
    assert ds.test_x.shape == (N_PER_BATCH, 3, 32, 32) and target.is_dir()


def test_md5_mismatch_deletes_the_partial_file(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder)
    parent = tmp_path / "dl"
    wrong = "0" * 32
    with pytest.raises(ChecksumError) as err:
        download_cifar10(parent, url=url, md5=wrong, progress=False)
    message = str(err.value)
    assert "cifar-10-python.tar.gz" in message and wrong in message and md5 in message
    assert list(parent.iterdir()) == []
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_official_md5_is_the_default(archive, serve, tmp_path):
    folder, md5 = archive
    with pytest.raises(ChecksumError, match=CIFAR10_MD5):
        load_cifar10(tmp_path / "dl", download=True, url=serve(folder), progress=False)


def test_interrupted_download_leaves_nothing(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder, TruncatingHandler)
    parent = tmp_path / "dl"
    with pytest.raises(DownloadError, match="could not download"):
        load_cifar10(parent, download=True, url=url, md5=md5, progress=False)
    assert list(parent.iterdir()) == []
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_unreachable_server(tmp_path):
    with pytest.raises(DownloadError, match="127.0.0.1:9"):
        load_cifar10(tmp_path / "dl", download=True, url="http://127.0.0.1:9/x.tar.gz",
                     progress=False)


def test_interrupted_extraction_leaves_nothing_that_looks_complete(archive, serve, tmp_path,
                                                                   monkeypatch):
    folder, md5 = archive
    url = serve(folder)
    parent = tmp_path / "dl"
    real_extractall = tarfile.TarFile.extractall

    def crash_after_two_files(self, path, members, **kwargs):
        real_extractall(self, path, members=members[:3], **kwargs)
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-way

    monkeypatch.setattr(tarfile.TarFile, "extractall", crash_after_two_files)
    with pytest.raises(KeyboardInterrupt):
        load_cifar10(parent, download=True, url=url, md5=md5, progress=False)
    assert leftovers(parent) == [] and not (parent / "cifar-10-batches-py").exists()
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)

    # the verified archive is reused: no server needed to finish the job
    monkeypatch.setattr(tarfile.TarFile, "extractall", real_extractall)
    ds = load_cifar10(parent, download=True, url="http://127.0.0.1:9/gone", md5=md5)
    assert ds.train_x.shape == (5 * N_PER_BATCH, 3, 32, 32)


def test_leftovers_of_a_killed_run_do_not_look_complete(tmp_path):
    parent = tmp_path / "dl"
    half = parent / ".cifar-10-extract-abc" / "cifar-10-batches-py"
    make_cifar(half)
    (parent / ".cifar-10-python.tar.gz.xyz.part").write_bytes(b"partial")
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_existing_archive_with_wrong_md5_is_not_used(archive, tmp_path):
    folder, md5 = archive
    parent = tmp_path / "dl"
    parent.mkdir()
    (parent / "cifar-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(ChecksumError, match=md5):
        download_cifar10(parent, url="http://127.0.0.1:9/gone", md5=md5)
    assert not (parent / "cifar-10-batches-py").exists()


def test_existing_dataset_is_never_overwritten(cifar_dir):
    parent, batches, _ = cifar_dir
    before = (batches / "data_batch_1").read_bytes()
    with pytest.raises(DatasetError, match="not overwriting"):
        download_cifar10(parent, url="http://127.0.0.1:9/gone")
    assert (batches / "data_batch_1").read_bytes() == before


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_archive_members_are_refused(tmp_path, kind):
    parent = tmp_path / "dl"
    parent.mkdir()
    path = parent / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo({"dotdot": "cifar-10-batches-py/../../escaped",
                                "absolute": str(tmp_path / "escaped"),
                                "symlink": "cifar-10-batches-py/data_batch_1"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match="unsafe member"):
        download_cifar10(parent, md5=md5)
    assert not (tmp_path / "escaped").exists()
    assert leftovers(parent) == [] and not (parent / "cifar-10-batches-py").exists()


# ---------------------------------------------------------------- batches

def toy(n=50):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return x, np.arange(n) * 10


def test_iterate_minibatches_in_order_and_shuffled():
    x, y = toy(10)
    batches = list(iterate_minibatches(x, y, 4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert [len(b[1]) for b in iterate_minibatches(x, y, 4, shuffle=False, drop_last=True)] == [4, 4]

    a = [b[1] for b in iterate_minibatches(x, y, 4, seed=3)]
    b = [b[1] for b in iterate_minibatches(x, y, 4, seed=3)]
    c = np.concatenate([b[1] for b in iterate_minibatches(x, y, 4, seed=4)])
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert sorted(np.concatenate(a)) == list(y) and not np.array_equal(np.concatenate(a), y)
    assert not np.array_equal(np.concatenate(a), c)
    for xb, yb in iterate_minibatches(x, y, 4, seed=3):
        np.testing.assert_array_equal(xb[:, 0] / 2 * 10, yb)  # x and y stay paired


def take(stream, steps):
    return [stream.next_indices().copy() for _ in range(steps)]


@pytest.mark.parametrize("n,batch_size,drop_last", [(50, 10, True), (50, 7, True),
                                                    (50, 7, False)])
def test_stream_covers_each_sample_once_per_epoch(n, batch_size, drop_last):
    stream = BatchStream(*toy(n), batch_size, seed=0, drop_last=drop_last)
    per_epoch = n // batch_size if drop_last else -(-n // batch_size)
    epochs = [np.concatenate(take(stream, per_epoch)) for _ in range(3)]
    for order in epochs:
        assert len(set(order.tolist())) == len(order) == (per_epoch * batch_size if drop_last else n)
    assert stream.epoch == 2
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    if drop_last:
        assert all(len(idx) == batch_size for idx in take(stream, 3 * per_epoch))


def test_stream_is_seeded_and_pairs_x_with_y():
    x, y = toy()
    a, b, c = (BatchStream(x, y, 8, seed=s) for s in (1, 1, 2))
    for _ in range(20):
        (xa, ya), (xb, yb), (_, yc) = next(a), next(b), next(c)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa[:, 0] / 2 * 10, ya)
    assert not np.array_equal(np.concatenate(take(a, 6)), np.concatenate(take(c, 6)))


@pytest.mark.parametrize("steps_before", [0, 3, 6, 7, 13])
def test_stream_resumes_exactly(steps_before):
    x, y = toy()
    uninterrupted = BatchStream(x, y, 7, seed=5)  # 7 batches per epoch
    expected = take(uninterrupted, steps_before + 20)[steps_before:]

    first = BatchStream(x, y, 7, seed=5)
    take(first, steps_before)
    state = json.loads(json.dumps(first.state_dict()))  # survives a checkpoint file
    take(first, 4)  # the stream may move on after saving; the state must not
    resumed = BatchStream(x, y, 7, seed=999)
    resumed.load_state_dict(state)
    got = take(resumed, 20)
    assert all(np.array_equal(u, v) for u, v in zip(expected, got))


def test_stream_state_of_another_shape_is_refused():
    x, y = toy()
    state = BatchStream(x, y, 7).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(x, y, 8).load_state_dict(state)


# ---------------------------------------------------------------- progress bar

class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_prints_about_ten_lines():
    out = io.StringIO()
    with Progress(1000, desc="train", unit="step", file=out) as bar:
        for i in range(1000):
            bar.update(loss=1 / (i + 3), acc=0.5)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert 10 <= len(lines) <= 11
    assert lines[0].startswith("train: 100/1000  10%")
    assert "1000/1000 100%" in lines[-1] and "step/s" in lines[-1]
    assert lines[-1].endswith("loss=0.000998 acc=0.5")
    assert "eta" in lines[0]


def test_progress_on_a_terminal_redraws_in_place(monkeypatch):
    out = FakeTerminal()
    clock = itertools.count()  # one second per call: every update redraws
    monkeypatch.setattr("tinygrad_dl1.progress.time.monotonic", lambda: next(clock))
    with Progress(10_000_000, desc="dl", unit="B", file=out) as bar:
        for _ in range(4):
            bar.update(2_500_000)
    text = out.getvalue()
    assert text.count("\r") >= 5 and text.endswith("\n") and text.count("\n") == 1
    final = text.rstrip("\n").split("\r")[-1]
    assert final.startswith("dl: 10.0 MB/10.0 MB 100%")  # byte counts are scaled
    assert "MB/s" in final


def test_progress_disabled_and_unknown_total():
    out = io.StringIO()
    with Progress(10, file=out, disable=True) as bar:
        bar.update(10)
    assert out.getvalue() == ""
    with Progress(None, desc="x", file=out) as bar:
        for _ in range(5):
            bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("x: 5 ") and "%" not in lines[0]


# ---------------------------------------------------------------- the real copy

@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"no real CIFAR-10 copy at {REAL_DATA}")
def test_real_cifar10_copy():
    ds = read_cifar10(REAL_DATA)
    assert ds.train_x.shape == (50000, 3, 32, 32) and ds.test_x.shape == (10000, 3, 32, 32)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ds.train_y, minlength=10), 5000)
    np.testing.assert_array_equal(np.bincount(ds.test_y, minlength=10), 1000)
    np.testing.assert_array_equal(np.bincount(ds.train_y[:10000], minlength=10),
                                  [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981])
    np.testing.assert_array_equal(ds.train_y[:10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3])
    np.testing.assert_allclose(ds.mean_image.mean(axis=(1, 2)), [125.27, 122.93, 113.86],
                               atol=0.006)
    assert np.abs(ds.train_x.mean(axis=0)).max() < 1e-2
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
