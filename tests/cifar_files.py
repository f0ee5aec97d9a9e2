"""Small CIFAR-10 folders in the official python format, written by the tests themselves, and the
fixture that keeps data tests away from the user's data folder, cache and proxy."""
import pickle
from pathlib import Path

import numpy as np
import pytest

N_PER_BATCH = 20
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar-10-batches-py"


def write_pickle(path, obj, protocol=3):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def write_batch(path, data, labels):
    """One batch in the official layout: a dict with bytes keys."""
    write_pickle(path, {b"batch_label": path.name.encode(), b"labels": [int(v) for v in labels],
                        b"data": data, b"filenames": [b"img%d.png" % i for i in range(len(data))]})


def make_cifar(folder, seed=0):
    """Write a small cifar-10-batches-py into ``folder``; return its raw uint8 data and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    raw = {}
    for name in TRAIN_FILES + ["test_batch"]:
        data = rng.integers(0, 256, size=(N_PER_BATCH, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=N_PER_BATCH)
        write_batch(folder / name, data, labels)
        raw[name] = (data, labels)
    write_pickle(folder / "batches.meta", {b"label_names": [c.encode() for c in CLASSES],
                                           b"num_cases_per_batch": N_PER_BATCH, b"num_vis": 3072})
    return raw


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the user's data folder, cache or proxy (import it into a test module to use it)."""
    monkeypatch.delenv("TINYGRAD_DL1_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
