"""Run a student's function in a process of its own, and take back only what it returns, by value.

The grader (this process) computes every reference; the student's process gets the inputs alone. It loads
the function from its tutorial (``loading.load_function``), calls it on each set of inputs, and writes
back what each call returned: arrays, numbers, tuples and lists of them, None, or the name of any other
type. So a function that reads its caller's frames finds the inputs and nothing else, one that patches a
module patches the student's copy of it, and one that ends its process (``os._exit(0)``, ``sys.exit``)
leaves no answer, which is graded as a failure, as are a process that runs past its time limit or prints
more than its output limit (both killed, with every process it started). Its memory is limited too: an
allocation beyond the limit is a MemoryError, a row of the report.

Run by the grader as ``python -m tinygrad_dl1.exercises.sandbox WORKDIR``: WORKDIR holds the job
(job.json, calls.npz) and receives the answer (answer.json, answer.npz) and what the process printed
(output.txt). The answer is read with ``allow_pickle=False``: it cannot run code in the grader.

The process is not a security boundary: the student's code runs as the grader's user, with its files.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TIMEOUT_S = 30.0                # for one exercise: all its calls, the process's start included
OUTPUT_LIMIT = 1_000_000        # bytes the student's process may print
ANSWER_LIMIT = 64_000_000       # bytes of answer files the grader reads
MEMORY_LIMIT = 4 * 2**30        # bytes of address space for the student's process (where the system allows)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder holding tinygrad_dl1/


class Stopped(Exception):
    """The student's process gave no answer: ``reason`` is 'timed out', 'exited', 'printed too much',
    'crashed' or 'bad answer'; the message says what happened, in a sentence."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class LoadError(Exception):
    """The student's function could not be loaded from its tutorial (the message says why)."""


# ----- values to and from the student's process: JSON for the structure, .npz for the arrays -----

def pack(value, arrays, depth=0):
    """``value`` as JSON-able data; its arrays (and numbers, as 0-d arrays) go into the dict ``arrays``."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float, complex, np.generic)) or (
            isinstance(value, np.ndarray) and value.dtype != object):
        key = f"a{len(arrays)}"
        arrays[key] = np.array(value)
        return {"array": key}
    if isinstance(value, (tuple, list)) and depth < 8 and len(value) <= 1000:
        return {type(value).__name__: [pack(item, arrays, depth + 1) for item in value]}
    if isinstance(value, dict) and depth < 8:
        return {"dict": {str(key): pack(item, arrays, depth + 1) for key, item in value.items()}}
    if isinstance(value, str):
        return {"str": value[:1000]}
    what = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
    return {"other": what}


class Other:
    """What stands for a returned value that is not an array, a number, a tuple or a list."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return self.what


def unpack(data, arrays):
    """The inverse of ``pack``; raises ValueError on anything it did not write."""
    if data is None:
        return None
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError(f"unexpected {type(data).__name__} in an answer")
    (kind, content), = data.items()
    if kind == "array":
        return arrays[str(content)]
    if kind in ("tuple", "list") and isinstance(content, list):
        items = [unpack(item, arrays) for item in content]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(content, dict):
        return {key: unpack(item, arrays) for key, item in content.items()}
    if kind == "str":
        return str(content)
    if kind == "other":
        return Other(str(content)[:200])
    raise ValueError(f"unexpected {kind!r} in an answer")


def write_values(folder, name, value):
    arrays = {}
    data = pack(value, arrays)
    np.savez(folder / f"{name}.npz", **arrays)
    (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


def read_values(folder, name):
    paths = [folder / f"{name}.json", folder / f"{name}.npz"]
    if sum(path.stat().st_size for path in paths) > ANSWER_LIMIT:
        raise ValueError(f"the answer is larger than {ANSWER_LIMIT} bytes")
    with np.load(paths[1], allow_pickle=False) as arrays:
        return unpack(json.loads(paths[0].read_text(encoding="utf-8")), {key: arrays[key] for key in arrays.files})


# ----- the grader's side -----

@dataclass
class Sandboxed:
    """The function ``name`` of the tutorial ``path``, to be called in a process of its own: ``call_all``."""
    path: Path
    name: str
    timeout: float = TIMEOUT_S
    output_limit: int = OUTPUT_LIMIT

    def call_all(self, calls):
        """For each (args, kwargs) of ``calls``, what the function did: ('returned', value) or
        ('raised', 'TypeError: ...'). Raises NotImplementedError with the function's message when a call
        raises one, LoadError when the function does not load, Stopped when the process gives no answer."""
        with tempfile.TemporaryDirectory(prefix="tinygrad_dl1_grading_") as folder:
            folder = Path(folder)
            write_values(folder, "calls", [list(call) for call in calls])
            (folder / "job.json").write_text(json.dumps({"path": str(Path(self.path).resolve()), "name": self.name}),
                                             encoding="utf-8")
            self.run(folder)
            try:
                answer = read_values(folder, "answer")
            except FileNotFoundError:
                raise Stopped("crashed", f"the process grading {self.name} ended without an answer") from None
            except (OSError, ValueError, KeyError, RecursionError) as error:
                raise Stopped("bad answer", f"the answer of {self.name}'s process could not be read: {error}") \
                    from None
        return results_of(answer, self.name)

    def run(self, folder):
        """Run the student's process on the job in ``folder``; raises Stopped unless it ends normally."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                                         os.environ.get("PYTHONPATH")])),
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        output = folder / "output.txt"
        with open(output, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "tinygrad_dl1.exercises.sandbox", str(folder)],
                                       cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            start = time.monotonic()
            try:
                while process.poll() is None:
                    if time.monotonic() - start > self.timeout:
                        raise Stopped("timed out", f"{self.name} ran for more than {self.timeout:g} s and was "
                                                   f"stopped: an endless loop (while True, a loop whose condition "
                                                   f"never changes)?")
                    if output.stat().st_size > self.output_limit:
                        raise Stopped("printed too much", f"{self.name} printed more than {self.output_limit} "
                                                          f"bytes and was stopped: a print inside a loop?")
                    time.sleep(0.02)
            finally:
                kill_group(process)
        if process.returncode != 0:
            last = tail(output)
            how = (f"killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exit status {process.returncode}")
            raise Stopped("crashed" if process.returncode < 0 else "exited",
                          f"the process grading {self.name} ended ({how}) before it answered"
                          + (f"; it printed: {last}" if last else ""))
        if not (folder / "answer.json").exists():
            raise Stopped("exited", f"the process grading {self.name} ended (exit status 0) before it answered: "
                                    f"something in it ended the process (os._exit, sys.exit, exit())")


def kill_group(process):
    """Kill the student's process and every process it started (they share its session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def tail(path, size=300):
    """The last ``size`` bytes of a file, on one line."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - size))
        return " ".join(f.read().decode("utf-8", "replace").split())


def results_of(answer, name):
    """The list of ('returned', value) / ('raised', text) from the student's answer, checked."""
    if not isinstance(answer, dict):
        raise Stopped("bad answer", f"the answer of {name}'s process is not one it writes")
    if "load_error" in answer:
        raise LoadError(str(answer["load_error"]))
    if "not_implemented" in answer:
        raise NotImplementedError(str(answer["not_implemented"]))
    results = answer.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) and len(r) == 1 and
                                                next(iter(r)) in ("returned", "raised") for r in results):
        raise Stopped("bad answer", f"the answer of {name}'s process is not one it writes")
    return [next(iter(r.items())) for r in results]


# ----- the student's side -----

def answer_calls(folder):
    """Load the function, call it on every set of inputs, write what each call returned."""
    from .loading import load_function
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    calls = read_values(folder, "calls")
    try:
        function = load_function(job["path"], job["name"])
    except Exception as error:  # noqa: BLE001 (whatever the tutorial's imports raise)
        return {"load_error": f"{type(error).__name__}: {error}"}
    results = []
    for args, kwargs in calls:
        try:
            results.append({"returned": function(*args, **kwargs)})
        except NotImplementedError as error:
            return {"not_implemented": str(error)}
        except Exception as error:  # noqa: BLE001 (a row of the report, as when graded in-process)
            results.append({"raised": f"{type(error).__name__}: {error}"})
    return {"results": results}


def limit_memory(size=MEMORY_LIMIT):
    """Cap this process's address space (POSIX; elsewhere, or where the cap is already lower, nothing)."""
    try:
        import resource
    except ImportError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (size if hard == resource.RLIM_INFINITY else min(size, hard), hard))


def main(folder):
    folder = Path(folder)
    limit_memory()
    answer = answer_calls(folder)
    write_values(folder, "answer.partial", answer)
    for suffix in (".npz", ".json"):     # the .json last: the grader takes its presence as an answer
        os.replace(folder / f"answer.partial{suffix}", folder / f"answer{suffix}")
    sys.stdout.flush()
    os._exit(0)     # no atexit handler or thread of the student's runs after the answer


if __name__ == "__main__":
    main(sys.argv[1])
