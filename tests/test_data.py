"""The data layer: locating, safe reading and preprocessing CIFAR-10; batching."""
import json
import os
import pickle

import numpy as np
import pytest

from tinygrad_dl1 import backend
from tinygrad_dl1 import data as data_layer
from tinygrad_dl1.data import (
    BatchStream,
    CorruptFileError,
    DatasetNotFoundError,
    UnsafePickleError,
    default_cache_dir,
    iterate_minibatches,
    load_cifar10,
    load_pickle,
    locate_cifar10,
    read_cifar10,
)
from tinygrad_dl1.data.safe_pickle import MAX_ARRAY_BYTES

from cifar_files import (  # noqa: F401 (isolated_env: autouse)
    CLASSES,
    N_PER_BATCH,
    REAL_DATA,
    TRAIN_FILES,
    isolated_env,
    make_cifar,
    write_batch,
    write_pickle,
)

_reconstruct = np.zeros(1).__reduce__()[0]  # NumPy's function that rebuilds a pickled array


@pytest.fixture
def cifar_dir(tmp_path):
    """(parent folder, batches folder, raw data) of a small fake CIFAR-10."""
    batches = tmp_path / "data" / "cifar-10-batches-py"
    return tmp_path / "data", batches, make_cifar(batches)


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


def test_empty_data_dir_is_an_error_not_the_default(tmp_path):
    with pytest.raises(ValueError, match="empty string"):
        load_cifar10("", url="http://127.0.0.1:9/never")
    with pytest.raises(ValueError, match="empty string"):
        locate_cifar10("")
    assert not (tmp_path / "xdg-cache").exists()


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
    assert loaded[b"b"] == [1, 2]
    odd = [np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(4, dtype=">f4"), np.zeros((0, 3))]
    write_pickle(path, (odd, odd[0]))  # Fortran order, big-endian, empty; one array twice
    loaded = load_pickle(path)
    for got, want in zip(loaded[0], odd):
        np.testing.assert_array_equal(got, want)
        assert got.shape == want.shape
    assert loaded[1] is loaded[0][0]
    write_pickle(path, np.float32(1.0))  # a NumPy scalar needs numpy's 'scalar': not allowed
    with pytest.raises(UnsafePickleError, match="scalar"):
        load_pickle(path)


class PickledArray:
    """Pickles as NumPy pickles an array, with any arguments to _reconstruct and any state."""

    def __init__(self, state=None, shape=(0,), dtype="u1"):
        self.state, self.shape, self.dtype = state, shape, np.dtype(dtype)

    def __reduce__(self):
        return _reconstruct, (np.ndarray, self.shape, self.dtype), self.state


class CallsNdarray:
    """Pickles as a direct call numpy.ndarray(shape, dtype): an array of any size, never filled."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __reduce__(self):
        return np.ndarray, (self.shape, self.dtype)


def array_state(shape, dtype, data):
    return (1, shape, np.dtype(dtype), False, data)


@pytest.mark.parametrize("how", ["reconstruct", "ndarray"])
def test_tiny_pickle_claiming_a_huge_array_is_refused(cifar_dir, how):
    parent, batches, _ = cifar_dir
    path = batches / "data_batch_1"
    if how == "reconstruct":  # what a pickled array calls first, with a shape, and no data after it
        batch = {b"data": PickledArray(shape=(50000, 3072)), b"labels": PickledArray(shape=(50000,), dtype="i8")}
    else:
        batch = {b"data": CallsNdarray((50000, 3072), "u1"), b"labels": CallsNdarray((50000,), "i8")}
    write_pickle(path, batch)
    assert path.stat().st_size < 300
    with pytest.raises(CorruptFileError, match="refused to load") as err:
        load_cifar10(parent)
    assert_names_file_and_fix(err, path)


@pytest.mark.parametrize("data,problem", [(b"\0" * 5, "needs 6 bytes, but gives it 5 bytes"),
                                          (b"\0" * 7, "needs 6 bytes, but gives it 7 bytes"),
                                          ([0] * 6, "gives it list")])
def test_array_bytes_must_match_its_shape(tmp_path, data, problem):
    path = tmp_path / "a.pkl"
    write_pickle(path, {b"a": PickledArray(array_state((2, 3), "u1", data))})
    with pytest.raises(CorruptFileError, match=f"refused to load: .*{problem}") as err:
        load_pickle(path)
    assert str(path) in str(err.value)


def test_arrays_larger_than_cifar10s_are_refused(tmp_path):
    path = tmp_path / "a.pkl"
    rows = MAX_ARRAY_BYTES // 3072
    assert rows == 10_000  # one batch of CIFAR-10 images fits, exactly
    write_pickle(path, np.zeros((rows, 3072), np.uint8))
    assert load_pickle(path).shape == (rows, 3072)
    write_pickle(path, np.zeros((rows + 1, 3072), np.uint8))
    with pytest.raises(CorruptFileError, match="larger than CIFAR-10's largest") as err:
        load_pickle(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("array", [np.array([1, "x"], dtype=object), np.zeros(2, dtype="i4,f4")],
                         ids=["object", "structured"])
def test_arrays_of_python_objects_or_records_are_refused(tmp_path, array):
    path = tmp_path / "a.pkl"
    write_pickle(path, array)
    with pytest.raises(CorruptFileError, match="refused to load: .*dtype"):
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


def test_every_error_of_the_data_layer_is_a_dataset_error():
    errors = [getattr(data_layer, name) for name in data_layer.__all__ if name.endswith("Error")]
    assert len(errors) == 7 and data_layer.DatasetError in errors
    assert all(issubclass(cls, data_layer.DatasetError) and issubclass(cls, RuntimeError) for cls in errors)


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
        (xa, ya), (_, yb), _ = next(a), next(b), next(c)
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


def test_a_stream_on_a_device_gathers_the_same_batches_there(device):
    x, y = toy()
    on_cpu, there = BatchStream(x, y, 7, seed=5), BatchStream(x, y, 7, seed=5).to(device.name)
    assert there.device == device.name and there.to(device.name) is there
    for _ in range(20):                          # nearly three epochs of 7 batches
        (xa, ya), (xb, yb) = next(on_cpu), next(there)
        assert backend.device_of(xb) == backend.device_of(yb) == device.name
        np.testing.assert_array_equal(device.to_host(xb), xa)
        np.testing.assert_array_equal(device.to_host(yb), ya)
    resumed = BatchStream(x, y, 7, seed=999).to(device.name)
    resumed.load_state_dict(json.loads(json.dumps(there.state_dict())))
    for _ in range(10):
        np.testing.assert_array_equal(device.to_host(next(resumed)[1]), next(on_cpu)[1])


def test_a_stream_on_a_gpu_copies_its_samples_once_and_then_one_order_per_epoch(device):
    if device.fake is None:
        pytest.skip("counts copies on the stand-in")
    stream = BatchStream(*toy(), 7, seed=5)      # 7 batches per epoch
    with device.fake.counting() as counts:
        stream.to(device.name)
        for _ in range(7):
            next(stream)
        assert (counts.uploads, counts.syncs) == (3, 0)   # x, y and the first epoch's order
        next(stream)
    assert counts.uploads == 4                   # and the second epoch's


def test_stream_state_of_another_shape_is_refused():
    x, y = toy()
    state = BatchStream(x, y, 7).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        BatchStream(x, y, 8).load_state_dict(state)

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
