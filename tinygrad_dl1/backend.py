"""The array backends: NumPy on the CPU, CuPy on a GPU.

Every op asks this module for the array module (``xp``) of its inputs, so the
ops themselves never name NumPy or CuPy.
"""
import contextlib

import numpy as np

try:  # CuPy is optional: only a GPU machine has it.
    import cupy
    import cupyx
except ImportError:  # pragma: no cover - depends on the machine
    cupy = cupyx = None


def use_gpu_library(cupy_module, cupyx_module):
    """Test-only hook: run the CuPy code path on a stand-in (tests/fake_cupy.py), or on
    ``None, None`` for no GPU library. Returns the pair it replaces, to put back afterwards."""
    global cupy, cupyx
    previous = cupy, cupyx
    cupy, cupyx = cupy_module, cupyx_module
    return previous


def array_module(*arrays):
    """NumPy, or CuPy when any of ``arrays`` lives on a GPU."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


def is_array(x):
    """True for a NumPy or CuPy array."""
    return isinstance(x, np.ndarray) or (cupy is not None and isinstance(x, cupy.ndarray))


def ensure_array(value):
    """``value`` if it is an array; a NumPy scalar (NumPy's result of many 0-d ops) as a 0-d array."""
    return value if is_array(value) else np.asarray(value)


def same_memory(a, b):
    """True when the arrays ``a`` and ``b`` are views of the same memory (or one array);
    an array computed from another (a copy, a sum) has memory of its own."""
    return is_array(a) and is_array(b) and _owner(a) is _owner(b)


def _owner(array):
    """The array that owns the memory of ``array`` (itself unless it is a view)."""
    return array if array.base is None else array.base


def device_of(array):
    """'cpu' for a NumPy array, 'cuda:N' for a CuPy array on GPU N."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return f"cuda:{array.device.id}"
    return "cpu"


def device_scope(array):
    """A context in which ``array``'s GPU is CuPy's current device, so that kernels and new arrays
    go there (CuPy uses the current device, not the arrays'); nothing to do for a NumPy array."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy.cuda.Device(array.device.id)
    return _NO_SCOPE


_NO_SCOPE = contextlib.nullcontext()     # does nothing, so one serves every call


def parse_device(device):
    """Normalise 'cpu', 'cuda' and 'cuda:N' (or None, meaning 'cpu')."""
    if device is None or device == "cpu":
        return "cpu"
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        index = device[5:] or "0"
        if not index.isdigit():
            raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        count = gpu_count()
        if count == 0:
            raise RuntimeError(f"device {device!r} needs CuPy and a GPU: on a machine with an NVIDIA GPU, "
                               "pip install 'tinygrad_dl1[cuda12]' or 'tinygrad_dl1[cuda13]', after the CUDA "
                               "version of its driver")
        if int(index) >= count:
            raise ValueError(f"no device {device!r}: CuPy sees {count} GPU{'s' if count > 1 else ''}, "
                             f"cuda:0 to cuda:{count - 1}")
        return f"cuda:{int(index)}"
    raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def gpu_available():
    """True when CuPy is installed and sees at least one GPU."""
    return gpu_count() > 0


def gpu_count():
    """How many GPUs CuPy sees (0 without CuPy, or without a working CUDA driver)."""
    if cupy is None:
        return 0
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CUDA driver missing or broken
        return 0


def to_device(array, device):
    """Copy ``array`` to ``device`` ('cpu' or 'cuda:N'); no copy if it is already there."""
    device = parse_device(device)
    if device == device_of(array):
        return array
    if device == "cpu":
        return cupy.asnumpy(array)
    with cupy.cuda.Device(int(device[5:])):
        return cupy.array(array)      # a copy onto that GPU, from the host or from another GPU


def to_numpy(value):
    """A NumPy array of a NumPy or CuPy array (copied from the GPU), or of anything ``np.asarray``
    takes (lists, torch tensors); no copy when ``value`` is a NumPy array already."""
    if cupy is not None and isinstance(value, cupy.ndarray):
        return cupy.asnumpy(value)
    return np.asarray(value)


def scatter_add(target, index, values):
    """``target[index] += values``, adding repeated indices once per occurrence."""
    if isinstance(target, np.ndarray):
        np.add.at(target, index, values)
    else:
        cupyx.scatter_add(target, index, values)
