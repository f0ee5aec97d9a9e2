"""The safe unpickler against hostile pickles: the known attacks, and many random and mutated pickles, each
refused within a time and memory bound with one line naming the file (or read as the plain values it holds).

``python tests/test_pickle_fuzz.py N SEED`` runs a longer fuzz and prints its figures."""
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_dl1.data import CorruptFileError, DatasetError, load_pickle, read_batch

N_PER_BATCH = 20
MEMORY_LIMIT = 1 << 30      # address space of the fuzzing process
TIME_LIMIT_S = 1.0          # per pickle
_reconstruct = np.zeros(1).__reduce__()[0]


def batch_bytes(protocol=3):
    rng = np.random.default_rng(0)
    return pickle.dumps({b"batch_label": b"training batch 1 of 5", b"labels": list(range(10)) * 2,
                         b"data": rng.integers(0, 256, (N_PER_BATCH, 3072), dtype=np.uint8),
                         b"filenames": [b"img%d.png" % i for i in range(N_PER_BATCH)]}, protocol=protocol)


def python2_batch_bytes(data, labels):
    """A batch as the official files are written (Python 2's cPickle, protocol 2: str is bytes)."""
    n = len(data)
    return (b"\x80\x02}q\x01(U\x04dataq\x02cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\nq\x04"
            b"K\x00\x85U\x01b\x87Rq\x05(K\x01M" + n.to_bytes(2, "little") + b"M\x00\x0c\x86cnumpy\ndtype\nq\x06"
            b"U\x02u1K\x00K\x01\x87Rq\x07(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
            + len(data.tobytes()).to_bytes(4, "little") + data.tobytes() + b"tbU\x06labelsq\x08](" +
            b"".join(b"K" + bytes([int(v)]) for v in labels) + b"eu.")


def nested_shared_lists(depth):
    x = []
    for _ in range(depth):
        x = [x, x]
    return x


class Dtype:
    """Pickles as numpy.dtype(name) with any state."""

    def __init__(self, name, state):
        self.name, self.state = name, state

    def __reduce__(self):
        return np.dtype, (self.name, False, True), self.state


class Array:
    """Pickles as an array of dtype ``dtype`` (a Dtype) with its bytes."""

    def __init__(self, dtype, shape=(1,), data=b"\0"):
        self.dtype, self.shape, self.data = dtype, shape, data

    def __reduce__(self):
        return _reconstruct, (np.ndarray, (0,), b"b"), (1, self.shape, self.dtype, False, self.data)


U1 = np.dtype("u1")
HOSTILE = {
    "shared lists 40 deep": {b"data": nested_shared_lists(40)},
    "lists 100,000 deep": b"\x80\x03" + b"]" * 100_000 + b"a" * 99_999 + b".",
    "a list inside itself": b"\x80\x03]q\x00h\x00a.",
    "memo index 2^32-1": b"\x80\x03K\x01r\xff\xff\xff\xff.",
    "bytes claiming 4 GB": b"\x80\x03B\xff\xff\xff\xffabc.",
    "dtype with fields": {b"data": Dtype("u1", (3, "|", None, ("a",), {"a": (U1, 1 << 40)}, 8, 1, 16))},
    "dtype with object flags": {b"data": Array(Dtype("u1", (3, "|", None, None, None, -1, -1, 63)))},
    "dtype state of a subarray": {b"data": Array(Dtype("u1", (3, "|", (U1, (1 << 40,)), None, None, -1, -1, 0)))},
    "dtype of negative size": {b"data": Array(Dtype("V8", (3, "|", None, ("a",), {"a": (U1, 0)}, -5, 1, 16)))},
    "dtype outside an array": {b"data": Dtype("u1", (3, "|", None, None, None, -1, -1, 0))},
    "a set": {b"data": {1, 2}},
    "an int key": {1: b"x"},
    "dict in a list in a dict": {b"a": [{b"b": 1}]},
}


def assert_refused_naming(path, error):
    message = str(error)
    assert isinstance(error, CorruptFileError), repr(error)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_pickles_are_refused_in_a_bounded_time(tmp_path, case):
    path = tmp_path / "data_batch_1"
    obj = HOSTILE[case]
    path.write_bytes(obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=3))
    start = time.perf_counter()
    with pytest.raises(CorruptFileError) as err:
        load_pickle(path)
    assert time.perf_counter() - start < TIME_LIMIT_S
    assert_refused_naming(path, err.value)


def test_shared_lists_are_small_on_disk_and_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": nested_shared_lists(40)}, protocol=3))
    assert path.stat().st_size < 400
    with pytest.raises(CorruptFileError, match="two places|deep"):
        load_pickle(path)


def test_the_official_python2_format_reads(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, (3, 3072), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_batch_bytes(data, [1, 2, 9]))
    images, labels = read_batch(path)
    np.testing.assert_array_equal(images, data)
    assert labels.tolist() == [1, 2, 9]


def mutate(rng, raw):
    """One random change of ``raw``: flipped bytes, a cut, a repeat, an inserted opcode, a spliced piece."""
    raw = bytearray(raw)
    kind = rng.randrange(6)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == 1:
        raw = raw[:rng.randrange(len(raw))]
    elif kind == 2:
        i, j = sorted(rng.randrange(len(raw)) for _ in range(2))
        raw[i:i] = raw[i:j] * rng.randint(1, 50)
    elif kind == 3:
        i = rng.randrange(len(raw))
        raw[i:i] = bytes([rng.choice(b"]}()atsuehgqrKJMBCTU.N\x85\x86\x87\x88\x89bRc\x93\x94\x95")])
    elif kind == 4:
        i, j = rng.randrange(len(raw)), rng.randrange(len(raw))
        raw[i:i + rng.randint(1, 40)] = raw[j:j + rng.randint(1, 40)]
    else:
        raw = bytearray(rng.randbytes(rng.randint(1, 300)))
        raw[:2] = b"\x80" + bytes([rng.randint(2, 5)])
    return bytes(raw)


def fuzz(n, seed, folder):
    """Load ``n`` mutated pickles; (refused, loaded, slowest seconds). Raises on anything else."""
    rng = random.Random(seed)
    seeds = [batch_bytes(3), batch_bytes(4), batch_bytes(2)[:4000],
             python2_batch_bytes(np.zeros((2, 3072), np.uint8), [0, 1])]
    seeds += [obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=3) for obj in HOSTILE.values()]
    path = Path(folder) / "data_batch_1"
    refused = loaded = 0
    slowest = 0.0
    for i in range(n):
        raw = mutate(rng, rng.choice(seeds))
        for _ in range(rng.randrange(3)):
            raw = mutate(rng, raw) if raw else raw
        path.write_bytes(raw)
        start = time.perf_counter()
        try:
            load_pickle(path)
            loaded += 1
        except DatasetError as e:
            assert str(path) in str(e) and "\n" not in str(e), f"case {i}: {e}"
            refused += 1
        spent = time.perf_counter() - start
        slowest = max(slowest, spent)
        assert spent < TIME_LIMIT_S, f"case {i} took {spent:.2f} s"
    return refused, loaded, slowest


def run_fuzz_in_a_capped_process(n, seed, folder, timeout):
    """``fuzz`` in a process of its own whose memory is capped: a crash, a MemoryError or a hang fails."""
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}));"
            f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_pickle_fuzz as t;"
            f"print(*t.fuzz({n}, {seed}, {str(folder)!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_fuzz_random_and_mutated_pickles(tmp_path):
    refused, loaded, slowest = run_fuzz_in_a_capped_process(1500, 0, tmp_path, timeout=120)
    assert int(refused) > 1000


if __name__ == "__main__":
    import tempfile
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        refused, loaded, slowest = run_fuzz_in_a_capped_process(n, seed, folder, timeout=3600)
        print(f"{n} pickles (seed {seed}): {refused} refused, {loaded} loaded; slowest {float(slowest) * 1000:.1f} ms; "
              f"{time.perf_counter() - start:.0f} s in all; memory capped at {MEMORY_LIMIT >> 20} MiB")
