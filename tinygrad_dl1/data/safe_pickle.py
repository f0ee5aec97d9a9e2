"""Reading pickles that may only rebuild NumPy arrays: no other code can run while loading,
and no array is larger than the bytes the file holds for it, nor than CIFAR-10's largest.

A pickled array is a call ``_reconstruct(ndarray, (0,), b"b")`` and then ``__setstate__``
with its shape, dtype and bytes. NumPy's own functions would allocate any shape a file
asks for (a 205-byte file could claim 50,000 images, uninitialized) and crash on object
arrays, so the unpickler gets stand-ins: an ``ArrayStandIn`` takes the state, checks it
and only then makes the array, a read-only view of the file's bytes.
"""
import math
import pickle
from pathlib import Path

import numpy as np

from .errors import CorruptFileError, UnsafePickleError

MAX_ARRAY_BYTES = 10_000 * 3 * 32 * 32  # CIFAR-10's largest array: one batch of 10,000 uint8 images
ARRAY_KINDS = "biuf"  # booleans, integers, floats: never Python objects


class ArrayRefused(ValueError):
    """An array's shape, dtype and bytes do not agree, or it is larger than CIFAR-10's."""


class ArrayStandIn:
    """Where a pickle makes an array; ``array`` is set once ``__setstate__`` brought consistent data."""
    __hash__ = None  # as an array: no dict key, no set member
    array = None

    def __init__(self, *args):
        if args:
            raise ArrayRefused(f"it calls numpy.ndarray{args} directly, which makes an array of any "
                               "size without data, as pickled arrays never do")

    def __setstate__(self, state):
        shape, dtype, fortran_order, data = state[-4:]  # older NumPy wrote no version in front
        dtype = np.dtype(dtype.str)  # the plain dtype its text names, whatever the pickle did to it
        if dtype.kind not in ARRAY_KINDS:
            raise ArrayRefused(f"it holds an array of dtype {dtype}; only numbers are allowed")
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
            raise ArrayRefused(f"it holds an array of shape {shape!r}, not a tuple of sizes")
        size = math.prod(shape) * dtype.itemsize
        if size > MAX_ARRAY_BYTES:
            raise ArrayRefused(f"it holds an array of shape {shape} {dtype} ({size:,} bytes), larger than "
                               f"CIFAR-10's largest ({MAX_ARRAY_BYTES:,} bytes)")
        if not isinstance(data, bytes) or len(data) != size:
            given = f"{len(data):,} bytes" if isinstance(data, bytes) else type(data).__name__
            raise ArrayRefused(f"it holds an array of shape {shape} {dtype} that needs {size:,} bytes, "
                               f"but gives it {given}")
        self.array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")


def reconstruct(subtype, shape, dtype):
    """What a pickle calls where NumPy's ``_reconstruct`` would allocate ``shape``: a stand-in."""
    return ArrayStandIn()


# The only globals the official CIFAR-10 pickles refer to: NumPy's array reconstruction.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): reconstruct,
    ("numpy", "ndarray"): ArrayStandIn,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` hands out only ``ALLOWED_GLOBALS``."""

    def __init__(self, file, path, **kwargs):
        super().__init__(file, **kwargs)
        self.path = Path(path)

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.path, f"{module}.{name}") from None


def with_arrays(obj):
    """``obj`` with each stand-in replaced by its array, through dicts, lists and tuples."""
    if isinstance(obj, ArrayStandIn):
        if obj.array is None:
            raise ArrayRefused("it names an array but never gives its shape and bytes")
        return obj.array
    if isinstance(obj, dict):
        return {key: with_arrays(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(with_arrays(value) for value in obj)
    return obj


def load_pickle(path):
    """Load ``path`` as the official files are (encoding="bytes"), allowing only NumPy arrays.

    Arrays come back read-only, sharing the file's bytes. Raises CorruptFileError for a
    missing, truncated or unreadable file or an array that is inconsistent or too large,
    and UnsafePickleError for a pickle that asks for anything else.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return with_arrays(RestrictedUnpickler(f, path, encoding="bytes").load())
    except FileNotFoundError:
        raise CorruptFileError(path, "file is missing") from None
    except UnsafePickleError:
        raise
    except ArrayRefused as e:
        raise CorruptFileError(path, f"refused to load: {e}") from None
    except Exception as e:  # truncated or garbled: pickle raises many kinds of errors
        raise CorruptFileError(path, f"not a readable pickle ({type(e).__name__}: {e})") from e
