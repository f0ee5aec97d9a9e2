"""Reading pickles that hold only what CIFAR-10's files hold: a dict with bytes keys whose values are
bytes, numbers, flat lists of them and NumPy arrays of numbers. No other code can run while loading,
and nothing is built before the file's size, its opcodes and their count are checked.

Three stages, each bounded:
1. The file is read (a regular file of its own, at most ``MAX_FILE_BYTES``) and its opcodes are
   listed without building anything (``pickletools.genops``): only the opcodes that pickles of
   those values use, at most ``MAX_OPCODES`` of them, memo indices below that count. So what the
   unpickler then builds is at most one object per opcode, at most the file's bytes in all.
2. The unpickler builds it, with stand-ins for NumPy's three globals. A pickled array is a call
   ``_reconstruct(ndarray, (0,), b"b")``, then ``__setstate__`` with its shape, dtype and bytes;
   its dtype a call ``dtype("u1", False, True)``, then ``__setstate__`` with (3, "|", None, None,
   None, -1, -1, 0). NumPy's own functions would allocate any shape a file asks for, and
   ``dtype.__setstate__`` crashes the process on a crafted state, so the stand-ins check the state
   and only then make the array, a read-only view of the file's bytes, with a dtype made afresh.
3. The result is walked, containers at most ``MAX_DEPTH`` deep and none reached twice (a pickle
   can share a list between many places: ``x = [x, x]`` forty deep would be 2^40 items to copy),
   and each stand-in replaced by its array.
"""
import io
import math
import pickle
import pickletools
from pathlib import Path

import numpy as np

from ..files import read_regular
from .errors import CorruptFileError, UnreadableFileError, UnsafePickleError

MAX_ARRAY_BYTES = 10_000 * 3 * 32 * 32  # CIFAR-10's largest array: one batch of 10,000 uint8 images
MAX_FILE_BYTES = 64 << 20    # a CIFAR-10 batch is 31 MB
MAX_OPCODES = 200_000        # a CIFAR-10 batch has about 30,100
MAX_DEPTH = 2                # containers within containers: a dict of lists
MAX_NDIM = 32                # NumPy's limit
DTYPE_NAMES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"}  # numbers only
PLAIN_DTYPE_STATE = (None, None, None, -1, -1, 0)   # no subarray, fields, metadata or flags
# the opcodes of pickles (protocols 2 to 4, Python 2's str included) of dicts, lists, tuples,
# bytes, str, ints, floats, bools, None and NumPy arrays; never sets, objects or persistent ids
ALLOWED_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1",
    "TUPLE2", "TUPLE3", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "BINPUT", "LONG_BINPUT", "MEMOIZE",
    "BINGET", "LONG_BINGET", "SHORT_BINBYTES", "BINBYTES", "SHORT_BINSTRING", "BINSTRING", "BINUNICODE",
    "SHORT_BINUNICODE", "BININT", "BININT1", "BININT2", "LONG1", "NONE", "NEWTRUE", "NEWFALSE",
    "BINFLOAT", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD",
}
MEMO_OPCODES = {"BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET"}


class ArrayRefused(ValueError):
    """The pickle holds something CIFAR-10's files never hold, or more of it."""


def _text(value):
    """A str from a str, or from the bytes that Python 2's str becomes with encoding="bytes"."""
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return value if isinstance(value, str) else None


class DtypeStandIn:
    """Where a pickle makes a dtype; ``dtype`` is set once ``__setstate__`` brought a plain number dtype's state."""
    __hash__ = None
    dtype = None

    def __init__(self, name=None, align=False, copy=True, *rest):
        self.name = _text(name)
        if self.name not in DTYPE_NAMES or rest or align not in (False, 0) or copy not in (True, 1):
            raise ArrayRefused(f"it makes the dtype {name!r:.40}; only booleans, integers and floats are allowed")

    def __setstate__(self, state):
        ok = (isinstance(state, tuple) and len(state) == 8 and type(state[0]) is int and state[0] == 3
              and _text(state[1]) in ("|", "<", ">", "=") and state[2:] == PLAIN_DTYPE_STATE)
        if not ok:
            raise ArrayRefused(f"it gives the dtype {self.name} the state {state!r:.80}, not a plain number "
                               "dtype's")
        order = _text(state[1])
        self.dtype = np.dtype(self.name) if order == "|" else np.dtype(self.name).newbyteorder(order)


class ArrayStandIn:
    """Where a pickle makes an array; ``array`` is set once ``__setstate__`` brought consistent data."""
    __hash__ = None  # as an array: no dict key, no set member
    array = None

    def __init__(self, *args):
        if args:
            raise ArrayRefused(f"it calls numpy.ndarray{args!r:.60} directly, which makes an array of any "
                               "size without data, as pickled arrays never do")

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise ArrayRefused(f"it gives an array the state {state!r:.80}, not (shape, dtype, order, bytes)")
        shape, dtype, fortran_order, data = state[-4:]  # older NumPy wrote no version in front
        if not (isinstance(dtype, DtypeStandIn) and dtype.dtype is not None):
            raise ArrayRefused(f"it gives an array the dtype {dtype!r:.60}, not a pickled plain dtype")
        dtype = dtype.dtype
        if not (isinstance(shape, tuple) and len(shape) <= MAX_NDIM
                and all(type(n) is int and n >= 0 for n in shape)):
            raise ArrayRefused(f"it holds an array of shape {shape!r:.80}, not a tuple of sizes")
        if fortran_order not in (True, False, 0, 1):
            raise ArrayRefused(f"it gives an array the order {fortran_order!r:.40}")
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
    if subtype is not ArrayStandIn:
        raise ArrayRefused(f"it calls numpy's _reconstruct for {subtype!r:.40}, not numpy.ndarray")
    return ArrayStandIn()


# The only globals the official CIFAR-10 pickles refer to: NumPy's array reconstruction.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): reconstruct,
    ("numpy", "ndarray"): ArrayStandIn,
    ("numpy", "dtype"): DtypeStandIn,
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


def check_opcodes(data):
    """Refuse, before anything is built, an opcode outside ``ALLOWED_OPCODES``, more than ``MAX_OPCODES``
    of them, or a memo index that the unpickler would make a table that large for."""
    for count, (op, arg, pos) in enumerate(pickletools.genops(data)):
        if count >= MAX_OPCODES:
            raise ArrayRefused(f"it has more than {MAX_OPCODES:,} pickle opcodes, more than CIFAR-10's files")
        if op.name not in ALLOWED_OPCODES:
            raise ArrayRefused(f"it uses the pickle opcode {op.name} (at byte {pos}), which CIFAR-10's files "
                               "never use")
        if op.name in MEMO_OPCODES and arg >= MAX_OPCODES:
            raise ArrayRefused(f"it uses the memo index {arg:,} (at byte {pos}), more than its opcodes")


def with_arrays(root):
    """``root`` with each stand-in replaced by its array, dicts, lists and tuples rebuilt; refuses containers
    nested deeper than ``MAX_DEPTH``, a container reached twice, and keys other than bytes or str."""
    seen = set()

    def rebuild(obj, depth):   # recursion at most MAX_DEPTH + 1 deep; depth: containers around obj
        if isinstance(obj, ArrayStandIn):
            if obj.array is None:
                raise ArrayRefused("it names an array but never gives its shape and bytes")
            return obj.array
        if isinstance(obj, DtypeStandIn):
            raise ArrayRefused("it holds a dtype outside an array")
        if not isinstance(obj, (dict, list, tuple)):
            return obj
        if depth >= MAX_DEPTH:
            raise ArrayRefused(f"it nests containers more than {MAX_DEPTH} deep, deeper than CIFAR-10's files")
        if id(obj) in seen:
            raise ArrayRefused(f"it puts one {type(obj).__name__} in two places (or in itself), as CIFAR-10's "
                               "files never do")
        seen.add(id(obj))
        if isinstance(obj, dict):
            bad = next((k for k in obj if not isinstance(k, (bytes, str))), None)
            if bad is not None:
                raise ArrayRefused(f"it holds a dict key of type {type(bad).__name__}; only bytes and str")
            return {key: rebuild(value, depth + 1) for key, value in obj.items()}
        return type(obj)(rebuild(value, depth + 1) for value in obj)

    return rebuild(root, 0)


def load_pickle(path):
    """Load ``path`` as the official files are (encoding="bytes"), allowing only what they hold.

    Arrays come back read-only, sharing the file's bytes. Raises UnreadableFileError for a file that
    cannot be read (missing, its permissions, a FIFO, device or link); CorruptFileError for a truncated or
    garbled file or one that holds anything but CIFAR-10's kinds of values, within its bounds; and
    UnsafePickleError for a pickle that asks for any global but NumPy's array reconstruction.
    """
    path = Path(path)
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise CorruptFileError(path, "file is missing") from None
    except OSError as e:
        raise UnreadableFileError(path, e) from None
    except ValueError as e:
        raise CorruptFileError(path, f"refused to load: {e}, more than any CIFAR-10 file") from None
    try:
        check_opcodes(data)
        return with_arrays(RestrictedUnpickler(io.BytesIO(data), path, encoding="bytes").load())
    except UnsafePickleError:
        raise
    except ArrayRefused as e:
        raise CorruptFileError(path, f"refused to load: {e}") from None
    except Exception as e:  # truncated or garbled: pickle raises many kinds of errors
        problem = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise CorruptFileError(path, f"not a readable pickle ({problem})") from None
