"""A strict CuPy stand-in for the tests: NumPy-backed, but it behaves like CuPy where it matters.

Machines without a GPU (and CI) cannot run CuPy, so the library's CuPy path is tested on this
fake instead. ``FakeCupy()`` plays the module ``cupy`` and ``FakeCupy().cupyx`` plays ``cupyx``::

    fake = FakeCupy(device_count=2)       # a fresh one per test: its own counts and current device
    x = fake.asarray(np.ones((2, 3), np.float32))          # an upload, to device 0
    with fake.counting() as c:
        y = fake.exp(x).sum()             # 2 kernel launches, no sync
        float(y)                          # 1 sync, recorded with the file:line that made it
    c.launches, c.syncs, c.sync_sites     # 2, 1, ['tests/test_x.py:12']

Rules it enforces, as CuPy does (the tests in test_fake_cupy.py prove each one):
- its ``ndarray`` wraps a NumPy array but is not one: ``np.asarray(x)``, ``np.array(x)`` and NumPy
  functions on it raise TypeError; mixing it with a NumPy array in an operator, an ``xp``
  function or as a value to ``x[...] = v`` raises TypeError; Python and NumPy scalars are fine;
- every array lives on the device that was current when it was made (``cuda.Device(i)``); an op
  that launches a kernel needs all its arrays on the current device, or it raises ValueError
  (CuPy without peer access); views and copies (``.copy()``, ``asarray``/``array``) may cross;
- results of elementwise ops, reductions and advanced indexing are new C-contiguous arrays,
  while views (basic indexing, reshape when possible, transpose, ``.T``, swapaxes, ravel,
  broadcast_to, as_strided) share memory, and ``.base`` is the wrapper that owns the memory;
- integer-array indices out of range wrap around (index 12 on an axis of 10 reads entry 2), when
  reading, assigning and in ``cupyx.scatter_add``; a plain int out of range raises IndexError;
- ``empty``/``empty_like`` hold garbage (NaN for floats, -1 or all ones otherwise), never zeros.

What it counts (``fake.counts()``, ``fake.reset_counts()``, ``with fake.counting() as c``):
- syncs, device-to-host reads: ``float()``, ``int()``, ``bool()``, ``complex()``, ``__index__``,
  ``.item()``, ``.tolist()``, ``.get()``, ``asnumpy``, ``repr``/``str``/``format``, boolean-mask
  indexing and ``nonzero``/``argwhere``/``unique``-style functions (their result's size is read
  back), and stream/device/event synchronisation; each with the caller's file:line (the first
  frame outside this file) and a short stack; ``len()``, ``.shape`` and ``.dtype`` are host
  metadata and count nothing;
- launches: each ufunc, operator, reduction, function computing on device data, copy/astype,
  setitem, fill, scatter, random draw and filled creation (zeros, ones, full, arange, ...); views
  and metadata are free; a ``fuse``-d function counts one launch per call;
- uploads, host-to-device copies: ``asarray``/``array`` of host data, NumPy or list indices.
``with fake.forbid_syncs():`` makes any sync raise at the line that made it.

Fused kernels: ``ElementwiseKernel``, ``RawKernel``, ``ReductionKernel`` and ``RawModule`` compile CUDA C,
which cannot run here, so they are left out; ``tinygrad_dl1.fast_paths.kernel`` calls the test-only hook
``run_kernel(name, twin, *args)`` instead, which runs a kernel's NumPy twin on the arrays' data and
counts one launch (``kernel:NAME``). Also left out: ``ufunc.at`` (use ``cupyx.scatter_add``), pickling
arrays, ``ndarray.shape`` assignment, the ``cupyx`` submodules (``cupyx.jit``, ``cupyx.scipy``).
Random numbers come from NumPy, so they differ from real CuPy's streams.
"""
import contextlib
import functools
import operator
import os
import sys
import time
import types
from collections import Counter, namedtuple

import numpy as np

_THIS_FILE = __file__
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the repository root
_SCALARS = (bool, int, float, complex, np.generic)
_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")
_MIXING = ("fake_cupy: a NumPy array was mixed with a (fake) CuPy array; CuPy refuses this: "
           "move one of them first (xp.asarray(...) or .get())")

# NumPy names that CuPy does not have, so that code using them fails here too: NumPy 2.4's functions, classes
# and submodules missing from CuPy 14.2's namespace (compared with dir() of both), and the kernels left out
_NOT_IN_CUPY = {
    "asmatrix", "block", "bmat", "busday_count", "busday_offset", "busdaycalendar", "char", "ctypeslib",
    "datetime_as_string", "datetime_data", "einsum_path", "emath", "errstate", "frompyfunc", "fromregex", "geomspace",
    "getbufsize", "geterr", "geterrcall", "histogram_bin_edges", "insert", "is_busday", "isnat", "ma", "matrix",
    "matvec", "memmap", "nanpercentile", "nanquantile", "ndenumerate", "nditer", "nested_iters", "polyder", "polydiv",
    "polyint", "rec", "recarray", "setbufsize", "seterr", "seterrcall", "spacing", "strings", "testing", "unstack",
    "vecdot", "vecmat",
    "ElementwiseKernel", "RawKernel", "ReductionKernel", "RawModule"}
# functions whose result's size depends on the data: CuPy reads a count back from the device
_SYNCING = {"nonzero", "argwhere", "flatnonzero", "unique", "compress", "extract"}
# functions that write into an argument and return None
_IN_PLACE = {"copyto", "put", "place", "putmask", "fill_diagonal"}
# functions that return a Python scalar in NumPy but a 0-d array in CuPy
_ARRAY_RESULT = {"allclose", "array_equal", "array_equiv", "count_nonzero"}
# creation functions whose result keeps the layout of their input (order="K"), as in NumPy and CuPy
_KEEP_LAYOUT = {"zeros_like", "ones_like", "full_like"}
# where a NumPy integer array is host metadata (a shape, axes), which CuPy takes, not data: every argument after
# the array of these functions and methods, the first argument of these creation functions, and these keywords
_METADATA_AFTER_FIRST = {"reshape", "transpose", "swapaxes", "squeeze", "broadcast_to", "moveaxis", "expand_dims",
                         "tile", "lib.stride_tricks.as_strided"}
_METADATA_FIRST = {"zeros", "ones", "full"}
_METADATA_KEYWORDS = {"axis", "axes", "shape", "newshape", "strides", "reps", "source", "destination"}


# --- where an event came from -----------------------------------------------------------------

_short_names = {}


def _short(filename):
    """A file name relative to the repository root when it is inside it."""
    name = _short_names.get(filename)
    if name is None:
        path = os.path.abspath(filename)
        inside = not filename.startswith("<") and path.startswith(_ROOT + os.sep)
        name = os.path.relpath(path, _ROOT) if inside else filename
        _short_names[filename] = name
    return name


def _metadata(value):
    """A NumPy integer array given as a shape or axes, as the tuple of ints (or int) that CuPy makes of it."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim <= 1:
        return tuple(value.tolist()) if value.ndim else int(value)
    return value


def _caller_stack(limit):
    """'file:line' of the first ``limit`` frames outside this file, innermost first."""
    frame, sites = sys._getframe(1), []
    while frame is not None and len(sites) < limit:
        if frame.f_code.co_filename != _THIS_FILE:
            sites.append(f"{_short(frame.f_code.co_filename)}:{frame.f_lineno}")
        frame = frame.f_back
    return sites


SyncEvent = namedtuple("SyncEvent", "kind site stack")


class Counts:
    """What happened on the fake device while these counts were active."""

    def __init__(self):
        self.sync_events = []            # SyncEvent(kind, site, stack), in order
        self.launches = 0                # kernel launches
        self.launch_names = Counter()    # launches by op name ('add', 'sum', 'setitem', 'fuse:step', ...)
        self.launch_sites = Counter()    # launches by the caller's file:line
        self.uploads = 0                 # host-to-device copies

    @property
    def syncs(self):
        return len(self.sync_events)

    @property
    def sync_sites(self):
        return [event.site for event in self.sync_events]

    def __repr__(self):
        return f"Counts(syncs={self.syncs}, launches={self.launches}, uploads={self.uploads})"


# --- the array ----------------------------------------------------------------------------------

class ndarray:  # noqa: N801 - CuPy's name
    """A (fake) CuPy array: a NumPy array it does not let out, the device it lives on, its owner."""

    __slots__ = ("_xp", "_data", "_device", "_base", "__weakref__")
    __array_ufunc__ = None       # NumPy ufuncs and operators with a NumPy array on the left refuse it
    __hash__ = None              # unhashable, like CuPy's arrays

    def __init__(self, *args, **kwargs):
        raise TypeError("fake_cupy: make arrays with xp.empty/zeros/asarray, not ndarray(...)")

    @classmethod
    def _make(cls, xp, data, device, base):
        array = object.__new__(cls)
        array._xp, array._data, array._device, array._base = xp, data, device, base
        return array

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented    # np.concatenate, np.sum, ... raise TypeError

    def __reduce__(self):
        raise TypeError("fake_cupy: arrays cannot be pickled; copy them to the host with .get() first")

    def _owner(self):
        return self if self._base is None else self._base

    # metadata: host-side, free
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    strides = property(lambda self: self._data.strides)
    nbytes = property(lambda self: self._data.nbytes)
    itemsize = property(lambda self: self._data.itemsize)
    base = property(lambda self: self._base, doc="the array owning this view's memory, None if it owns it")
    device = property(lambda self: _Device(self._xp, self._device))
    T = property(lambda self: self.transpose())

    @property
    def flags(self):
        f = self._data.flags
        return types.SimpleNamespace(c_contiguous=f.c_contiguous, f_contiguous=f.f_contiguous,
                                     owndata=self._base is None, writeable=f.writeable)

    @property
    def data(self):              # CuPy's MemoryPointer: .ptr and .device_id
        return types.SimpleNamespace(ptr=self._data.__array_interface__["data"][0], device_id=self._device)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    # device-to-host reads: each one is a sync
    def _read(self, kind):
        self._xp._sync(kind)
        return self._data

    def __float__(self):
        return float(self._read("float()"))

    def __int__(self):
        return int(self._read("int()"))

    def __bool__(self):
        return bool(self._read("bool()"))

    def __complex__(self):
        return complex(self._read("complex()"))

    def __index__(self):
        return operator.index(self._read("__index__"))

    def item(self, *args):
        return self._read(".item()").item(*args)

    def tolist(self):
        return self._read(".tolist()").tolist()

    def get(self, stream=None, order="C", out=None, blocking=True):
        """A NumPy copy (a sync)."""
        return self._xp._to_host(self, ".get()", order, out)

    def __repr__(self):
        return repr(self._read("repr()"))

    def __str__(self):
        return str(self._read("str()"))

    def __format__(self, spec):
        return format(self._read("format()"), spec)

    # copies
    def copy(self, order="C"):
        self._xp._launch("copy", ())             # a copy may come from another device (peer copy)
        return self._xp._new(self._data.copy(order=order), contiguous=False)

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy()

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        self._xp._launch("astype", (self,))
        return self._xp._new(self._data.astype(dtype, order=order), contiguous=False)

    def fill(self, value):
        inputs = [self]
        value = self._xp._operand(value, inputs)
        self._xp._launch("fill", inputs)
        self._data.fill(value)

    def set(self, array, stream=None):
        """Copy a NumPy array of the same shape into this one (an upload)."""
        if not isinstance(array, np.ndarray) or array.shape != self.shape:
            raise ValueError("fake_cupy: set() takes a NumPy array of the same shape")
        self._xp._upload("set")
        self._data[...] = array

    # indexing
    def __getitem__(self, key):
        xp = self._xp
        key, inputs, advanced, mask = xp._index(self, key)
        if not advanced:                          # a view, even of a single element (a 0-d array)
            result = self._data[key]
            if not isinstance(result, np.ndarray):
                result = self._data[key + (Ellipsis,)]
            return ndarray._make(xp, result, self._device, self._owner())
        if mask:
            xp._sync("boolean mask indexing")
        xp._launch("getitem", [self, *inputs])
        return xp._new(self._data[key])

    def __setitem__(self, key, value):
        xp = self._xp
        key, inputs, _, mask = xp._index(self, key)
        value = xp._operand(value, inputs)
        if mask:
            xp._sync("boolean mask assignment")
        xp._launch("setitem", [self, *inputs])
        self._data[key] = value


def _method(name):
    """An ndarray method computed by NumPy's method of the same name (a view or a new array)."""
    numpy_method = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        return self._xp._call(name, numpy_method, (self, *args), kwargs)

    method.__name__ = name
    return method


for _name in ("sum", "mean", "max", "min", "argmax", "argmin", "all", "any", "std", "var", "prod", "cumsum",
              "cumprod", "clip", "round", "dot", "conj", "nonzero", "argsort", "repeat",   # compute
              "reshape", "transpose", "swapaxes", "ravel", "flatten", "squeeze", "view", "diagonal"):  # views
    setattr(ndarray, _name, _method(_name))


def _binary(ufunc_name, reflected=False, in_place=False):
    def op(self, other):
        if isinstance(other, np.ndarray):
            raise TypeError(_MIXING)
        if not isinstance(other, (ndarray, *_SCALARS)):
            return NotImplemented
        ufunc = getattr(self._xp, ufunc_name)
        if in_place:
            return ufunc(self, other, out=self)
        return ufunc(other, self) if reflected else ufunc(self, other)
    return op


for _op, _ufunc in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                    ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("matmul", "matmul"),
                    ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                    ("lshift", "left_shift"), ("rshift", "right_shift"), ("divmod", "divmod")]:
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_op}__", _binary(_ufunc, reflected=True))
    if _op not in ("matmul", "divmod"):
        setattr(ndarray, f"__i{_op}__", _binary(_ufunc, in_place=True))
for _op, _ufunc in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                    ("eq", "equal"), ("ne", "not_equal")]:
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
for _op, _ufunc in [("neg", "negative"), ("pos", "positive"), ("abs", "absolute"), ("invert", "invert")]:
    setattr(ndarray, f"__{_op}__", lambda self, _u=_ufunc: getattr(self._xp, _u)(self))


# --- the module ----------------------------------------------------------------------------------

class FakeCupy:
    """Plays the module ``cupy``; ``.cupyx`` plays ``cupyx``. Make a fresh one per test."""

    __version__ = "0.0.0+fake"
    ndarray = ndarray

    def __init__(self, device_count=2):
        self.device_count = device_count
        self._devices = [0]                     # a stack: the last entry is the current device
        self._totals = Counts()
        self._active = [self._totals]           # every Counts that events go to
        self._fused = 0                         # > 0 inside a fuse-d function
        self._syncs_forbidden = False
        self._legacy_random = np.random.RandomState()
        self.cuda = _Cuda(self)
        self.random = _Random(self)
        self.linalg = _Namespace(self, np.linalg, "linalg")
        stride_tricks = _Namespace(self, np.lib.stride_tricks, "lib.stride_tricks")
        self.lib = types.SimpleNamespace(stride_tricks=stride_tricks)
        self.cupyx = _Cupyx(self)

    @property
    def _current(self):
        return self._devices[-1]

    # counting
    def counts(self):
        """The counts since this fake was made or last reset."""
        return self._totals

    def reset_counts(self):
        self._totals = self._active[0] = Counts()

    @contextlib.contextmanager
    def counting(self):
        """``with fake.counting() as c:`` counts what the block does in ``c`` (a Counts)."""
        counts = Counts()
        self._active.append(counts)
        try:
            yield counts
        finally:
            self._active.remove(counts)

    @contextlib.contextmanager
    def forbid_syncs(self):
        """Any sync inside the block raises RuntimeError, naming the line that made it."""
        before, self._syncs_forbidden = self._syncs_forbidden, True
        try:
            yield
        finally:
            self._syncs_forbidden = before

    def _sync(self, kind):
        if self._fused:
            raise TypeError(f"fake_cupy: {kind} inside a fused function: a fused kernel cannot read values")
        stack = _caller_stack(8)
        if self._syncs_forbidden:
            raise RuntimeError(f"fake_cupy: device-to-host sync ({kind}) at {stack[0]} while syncs are forbidden")
        event = SyncEvent(kind, stack[0] if stack else "?", tuple(stack))
        for counts in self._active:
            counts.sync_events.append(event)

    def _launch(self, name, arrays):
        """Count a kernel launch on the current device, which must hold every one of ``arrays``."""
        current = self._current
        for a in arrays:
            if a._device != current:
                raise ValueError(f"fake_cupy: the device where the array resides ({a._device}) is different from "
                                 f"the current device ({current}). Peer access is unavailable between these devices.")
        if self._fused:
            return
        site = _caller_stack(1)[0]
        for counts in self._active:
            counts.launches += 1
            counts.launch_names[name] += 1
            counts.launch_sites[site] += 1

    def _upload(self, name):
        for counts in self._active:
            counts.uploads += 1

    # wrapping
    def _new(self, data, contiguous=True):
        """A new array owning ``data`` (a NumPy array or scalar), on the current device."""
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        elif contiguous and not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)     # CuPy's kernels write new C-contiguous arrays
        return ndarray._make(self, data, self._current, None)

    def _operand(self, value, inputs):
        """The NumPy data of an operand (a fake array, appended to ``inputs``, or a scalar)."""
        if isinstance(value, ndarray):
            inputs.append(value)
            return value._data
        if isinstance(value, np.ndarray):
            raise TypeError(_MIXING)
        if not isinstance(value, _SCALARS):
            raise TypeError(f"fake_cupy: unsupported type {type(value)}")
        return value

    def _unwrap(self, value, inputs):
        """``value`` with fake arrays replaced by their data (found in lists and tuples too)."""
        if isinstance(value, ndarray):
            inputs.append(value)
            return value._data
        if isinstance(value, np.ndarray):
            raise TypeError(_MIXING)
        if type(value) in (list, tuple):
            return type(value)(self._unwrap(v, inputs) for v in value)
        return value

    def _call(self, name, func, args, kwargs, always_launch=False, array_result=False):
        """Run a NumPy function on the data of fake arrays; wrap its result: a view of an input when it
        shares that input's memory (free), otherwise a new array (one launch for the call)."""
        inputs = []
        if name in _METADATA_AFTER_FIRST or name in _METADATA_FIRST:
            first = 0 if name in _METADATA_FIRST else 1
            args = (*args[:first], *map(_metadata, args[first:]))
        kwargs = {k: _metadata(v) if k in _METADATA_KEYWORDS else v for k, v in kwargs.items()}
        args = self._unwrap(args, inputs)
        kwargs = {k: self._unwrap(v, inputs) for k, v in kwargs.items()}
        if name in _SYNCING or (name == "where" and len(args) == 1):
            self._sync(name)
        result = func(*args, **kwargs)
        contiguous = name not in _KEEP_LAYOUT and "order" not in kwargs
        launched = always_launch or "out" in kwargs or name in _IN_PLACE

        def wrap(r):
            nonlocal launched
            if isinstance(r, np.ndarray):
                for a in inputs:
                    if r is a._data:              # out=, or a function that returned its input
                        return a
                for a in inputs:
                    if np.may_share_memory(r, a._data):
                        return ndarray._make(self, r, a._device, a._owner())
                launched = True
                return self._new(r, contiguous)
            if isinstance(r, np.generic) or ((array_result or name in _ARRAY_RESULT) and isinstance(r, _SCALARS)):
                launched = True
                return self._new(r)
            if type(r) in (list, tuple):
                return type(r)(wrap(x) for x in r)
            return r                               # metadata: a shape, a dtype, None

        result = wrap(result)
        if launched:
            self._launch(name, inputs)
        return result

    def _index(self, array, key):
        """NumPy's form of index ``key`` into ``array``: (key tuple, fake arrays in it, advanced?, mask?).
        Integer arrays are wrapped into range along their axis, as CuPy's kernels do."""
        items = list(key) if isinstance(key, tuple) else [key]
        inputs = []
        for i, k in enumerate(items):
            if isinstance(k, ndarray):
                inputs.append(k)
                items[i] = k._data
            elif isinstance(k, (np.ndarray, list)):    # CuPy uploads these
                self._upload("index")
                items[i] = np.asarray(k)
                if isinstance(k, list) and items[i].size == 0:
                    items[i] = items[i].astype(np.intp)
        arrays = [k for k in items if isinstance(k, np.ndarray)]
        if not arrays:
            return tuple(items), inputs, False, False
        # the axis each entry indexes: arrays of bools take k.ndim axes, None/Ellipsis/True none, the rest one
        explicit = sum(k.ndim if k.dtype.kind == "b" else 1 for k in arrays)
        explicit += sum(1 for k in items if not isinstance(k, np.ndarray) and k is not None and k is not Ellipsis
                        and not isinstance(k, (bool, np.bool_)))
        axis, mask = 0, False
        for i, k in enumerate(items):
            if k is Ellipsis:
                axis += array.ndim - explicit
            elif isinstance(k, np.ndarray):
                if k.dtype.kind == "b":
                    mask = True
                    axis += k.ndim
                    continue
                if k.dtype.kind not in "iu":
                    raise IndexError("arrays used as indices must be of integer or boolean type")
                if axis < array.ndim:
                    n = array.shape[axis]
                    if n == 0 and k.size:
                        raise IndexError("cannot do a non-empty take from an empty axes.")
                    items[i] = k.astype(np.intp, copy=False) % max(n, 1)
                axis += 1
            elif k is not None and not isinstance(k, (bool, np.bool_)):
                axis += 1
        return tuple(items), inputs, True, mask

    def _to_host(self, array, kind, order="C", out=None):
        data = array._read(kind)
        if out is not None:
            out[...] = data
            return out
        return np.array(data, order=order)

    # the cupy functions that NumPy's do not cover
    def asarray(self, a, dtype=None, order=None, *, blocking=False):
        if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
            return a
        return self.array(a, dtype=dtype, order=order or "K")

    def array(self, obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
        if isinstance(obj, ndarray):
            if not copy and (dtype is None or np.dtype(dtype) == obj.dtype) and obj.ndim >= ndmin:
                return obj
            self._launch("copy", ())              # may copy from another device
            return self._new(np.array(obj._data, dtype=dtype, order=order, ndmin=ndmin), contiguous=False)
        inputs = []

        def unwrap(v):                            # a list of fake arrays stacks them on the device
            if isinstance(v, ndarray):
                inputs.append(v)
                return v._data
            return type(v)(unwrap(x) for x in v) if type(v) in (list, tuple) else v

        data = np.array(unwrap(obj), dtype=dtype, order=order, ndmin=ndmin)   # always a copy
        if inputs:
            self._launch("array", inputs)
        else:
            self._upload("array")
        return self._new(data, contiguous=False)

    def ascontiguousarray(self, a, dtype=None):
        if isinstance(a, ndarray):
            return self._call("ascontiguousarray", np.ascontiguousarray, (a,), {"dtype": dtype})
        return self.array(a, dtype=dtype, order="C")

    def asanyarray(self, a, dtype=None, order=None):
        return self.asarray(a, dtype, order)

    def asnumpy(self, a, stream=None, order="C", out=None, *, blocking=True):
        if isinstance(a, ndarray):
            return self._to_host(a, "asnumpy", order, out)
        return np.asarray(a, order=order)

    def empty(self, shape, dtype=float, order="C"):
        return self._new(_garbage(np.empty(shape, dtype, order)), contiguous=False)   # no kernel

    def empty_like(self, prototype, dtype=None, order="K", subok=None, shape=None):
        if not isinstance(prototype, ndarray):
            raise TypeError(_MIXING if isinstance(prototype, np.ndarray) else "fake_cupy: empty_like needs an array")
        data = np.empty_like(prototype._data, dtype=dtype, order=order, shape=shape)
        return self._new(_garbage(data), contiguous=False)

    def get_array_module(self, *args):
        return self if any(isinstance(a, ndarray) for a in args) else np

    def get_default_memory_pool(self):
        return _MemoryPool()

    get_default_pinned_memory_pool = get_default_memory_pool

    def fuse(self, *args, kernel_name=None):
        """``@fuse`` or ``@fuse(kernel_name=...)``: runs the function as it is, counting one launch per
        call on fake arrays; on NumPy arrays it is the plain function, as in CuPy."""
        def decorate(func):
            name = f"fuse:{kernel_name or func.__name__}"

            @functools.wraps(func)
            def fused(*a, **kw):
                values = [*a, *kw.values()]
                arrays = [v for v in values if isinstance(v, ndarray)]
                if not arrays:
                    return func(*a, **kw)
                if any(isinstance(v, np.ndarray) for v in values):
                    raise TypeError(_MIXING)
                self._launch(name, arrays)
                self._fused += 1
                try:
                    return func(*a, **kw)
                finally:
                    self._fused -= 1
            return fused

        if len(args) == 1 and callable(args[0]):
            return decorate(args[0])
        return decorate

    def run_kernel(self, name, cpu, *args):
        """Test-only hook for ``tinygrad_dl1.fast_paths.kernel``: a fused kernel's CUDA code cannot run here, so
        run its NumPy version ``cpu`` on the arrays' data instead and count one launch (``kernel:NAME``), as
        the compiled kernel makes. Outputs given are written in place; new ones come back C-contiguous."""
        inputs = []
        data = [self._operand(a, inputs) for a in args]     # fake arrays or scalars; NumPy arrays raise
        self._launch(f"kernel:{name}", inputs)              # every array on the current device
        result = cpu(*data)

        def wrap(r):
            for a in inputs:
                if r is a._data:                            # an output given: written in place
                    return a
            return self._new(r)
        return tuple(map(wrap, result)) if isinstance(result, tuple) else wrap(result)

    def __getattr__(self, name):
        """Every other NumPy name: ufuncs and functions run on the fake arrays; types and constants as they are."""
        if name.startswith("__") or name in _NOT_IN_CUPY:
            raise AttributeError(f"module 'cupy' has no attribute {name!r} (fake_cupy: not in CuPy, or left out)")
        value = getattr(np, name)                  # AttributeError for names NumPy lacks too
        if isinstance(value, np.ufunc):
            value = _Ufunc(self, value)
        elif isinstance(value, types.ModuleType):
            raise AttributeError(f"fake_cupy: the submodule {name!r} is left out")
        elif callable(value) and not isinstance(value, type):
            value = _Function(self, name, value)
        self.__dict__[name] = value                # found once per fake
        return value


def _garbage(data):
    """Fill a new 'empty' array with what fresh device memory may hold: not zeros."""
    if data.dtype.kind in "fc":
        data.fill(np.nan)
    elif data.dtype.kind == "b":
        data.fill(True)
    elif data.dtype.kind in "iu":
        data.fill(-1 if data.dtype.kind == "i" else np.iinfo(data.dtype).max)
    return data


class _Function:
    """A NumPy function run on fake arrays (see FakeCupy._call)."""

    def __init__(self, xp, name, func, **options):
        self._xp, self.__name__, self._func, self._options = xp, name, func, options

    def __call__(self, *args, **kwargs):
        return self._xp._call(self.__name__, self._func, args, kwargs, **self._options)

    def __repr__(self):
        return f"<fake_cupy function {self.__name__}>"


class _Ufunc:
    """A NumPy ufunc whose operands must be fake arrays or scalars; the result is new and C-contiguous."""

    def __init__(self, xp, ufunc):
        self._xp, self._ufunc, self.__name__ = xp, ufunc, ufunc.__name__

    def __call__(self, *args, out=None, **kwargs):
        xp, inputs, nin = self._xp, [], self._ufunc.nin
        if len(args) > nin:                        # outputs given by position
            args, out = args[:nin], (args[nin] if len(args) == nin + 1 else tuple(args[nin:]))
        data = [xp._operand(a, inputs) for a in args]
        kwargs = {k: xp._unwrap(v, inputs) for k, v in kwargs.items()}   # where=, dtype=, ...
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            if not all(isinstance(o, ndarray) for o in outs):
                raise TypeError("Output arguments type must be cupy.ndarray")
            inputs.extend(outs)
            kwargs["out"] = tuple(o._data for o in outs) if isinstance(out, tuple) else out._data
        xp._launch(self.__name__, inputs)
        result = self._ufunc(*data, **kwargs)
        if out is not None:
            return out
        if isinstance(result, tuple):
            return tuple(xp._new(r) for r in result)
        return xp._new(result)

    def __getattr__(self, name):
        if name in ("reduce", "accumulate", "outer", "reduceat"):
            return _Function(self._xp, f"{self.__name__}.{name}", getattr(self._ufunc, name), always_launch=True)
        if name == "at":
            raise AttributeError("fake_cupy: ufunc.at is left out; use cupyx.scatter_add")
        return getattr(self._ufunc, name)          # nin, nout, types, ...

    def __repr__(self):
        return f"<fake_cupy ufunc {self.__name__}>"


class _Namespace:
    """A NumPy submodule (linalg, lib.stride_tricks) whose functions run on fake arrays."""

    def __init__(self, xp, module, name):
        self._xp, self._module, self._name = xp, module, name

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if callable(value) and not isinstance(value, type):
            value = _Function(self._xp, f"{self._name}.{name}", value)
        setattr(self, name, value)
        return value


class _Cupyx:
    """Plays ``cupyx``: scatter_add/max/min (``np.add.at`` semantics, indices wrapped as CuPy does)."""

    # the dtypes CuPy's atomic scatter kernels accept
    _ADD = {np.dtype(t) for t in (np.int32, np.float16, np.float32, np.float64, np.uint32, np.uint64)}
    _MAX = _ADD - {np.dtype(np.float16)}

    def __init__(self, xp):
        self._xp = xp

    def scatter_add(self, a, slices, value):
        self._scatter("scatter_add", np.add, self._ADD, a, slices, value)

    def scatter_max(self, a, slices, value):
        self._scatter("scatter_max", np.maximum, self._MAX, a, slices, value)

    def scatter_min(self, a, slices, value):
        self._scatter("scatter_min", np.minimum, self._MAX, a, slices, value)

    def _scatter(self, name, ufunc, dtypes, a, slices, value):
        xp = self._xp
        if not isinstance(a, ndarray):
            raise TypeError(_MIXING if isinstance(a, np.ndarray) else f"fake_cupy: {name} needs a cupy.ndarray")
        if a.dtype not in dtypes:
            raise TypeError(f"fake_cupy: {name} does not support dtype {a.dtype} (CuPy's atomics)")
        key, inputs, _, mask = xp._index(a, slices)
        value = xp._operand(value, inputs)
        if mask:
            xp._sync(f"{name} with a boolean mask")
        xp._launch(name, [a, *inputs])
        ufunc.at(a._data, key, np.asarray(value).astype(a.dtype, copy=False))


# --- cupy.cuda and cupy.random ---------------------------------------------------------------

class CUDARuntimeError(RuntimeError):
    pass


class _Device:
    """``cupy.cuda.Device(i)``: ``with`` makes it current; ``.id``; compares by id."""

    def __init__(self, xp, device=None):
        self._xp = xp
        self.id = xp._current if device is None else int(device)

    def _check(self):
        if not 0 <= self.id < self._xp.device_count:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self):
        self._check()
        self._xp._devices.append(self.id)
        return self

    def __exit__(self, *exc):
        self._xp._devices.pop()

    def use(self):
        self._check()
        self._xp._devices[-1] = self.id

    def synchronize(self):
        self._xp._sync("Device.synchronize()")

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class _Stream:
    def __init__(self, xp):
        self._xp = xp

    def synchronize(self):
        self._xp._sync("Stream.synchronize()")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class _StreamType:
    def __init__(self, xp):
        self._xp, self.null = xp, _Stream(xp)

    def __call__(self, null=False, non_blocking=False, ptds=False, priority=None):
        return _Stream(self._xp)


class _Event:
    def __init__(self, xp, block=False, disable_timing=False, interprocess=False):
        self._xp, self._time = xp, None

    def record(self, stream=None):
        self._time = time.perf_counter()

    def synchronize(self):
        self._xp._sync("Event.synchronize()")


class _Runtime:
    CUDARuntimeError = CUDARuntimeError

    def __init__(self, xp):
        self._xp = xp

    def getDeviceCount(self):  # noqa: N802 - CuPy's names
        return self._xp.device_count

    def getDevice(self):  # noqa: N802
        return self._xp._current

    def setDevice(self, device):  # noqa: N802
        _Device(self._xp, device).use()

    def deviceSynchronize(self):  # noqa: N802
        self._xp._sync("deviceSynchronize()")

    def getDeviceProperties(self, device):  # noqa: N802
        _Device(self._xp, device)._check()
        return {"name": f"Fake GPU {device}".encode(), "totalGlobalMem": 16 << 30, "major": 9, "minor": 0,
                "multiProcessorCount": 1}

    def runtimeGetVersion(self):  # noqa: N802
        return 12080

    def driverGetVersion(self):  # noqa: N802
        return 12080


class _Cuda:
    """Plays ``cupy.cuda``."""

    CUDARuntimeError = CUDARuntimeError

    def __init__(self, xp):
        self._xp = xp
        self.runtime = _Runtime(xp)
        self.Stream = _StreamType(xp)             # Stream(), Stream.null.synchronize()
        self.get_current_stream = lambda device=None: self.Stream.null

    def Device(self, device=None):  # noqa: N802 - CuPy's name
        return _Device(self._xp, device)

    def Event(self, block=False, disable_timing=False, interprocess=False):  # noqa: N802
        return _Event(self._xp, block, disable_timing, interprocess)

    def get_elapsed_time(self, start_event, end_event):
        return (end_event._time - start_event._time) * 1000.0     # milliseconds

    def is_available(self):
        return self._xp.device_count > 0


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class _Random:
    """Plays ``cupy.random``: NumPy's generators, results on the current device, one launch per draw."""

    def __init__(self, xp):
        self._xp = xp

    def default_rng(self, seed=None):
        return _Generator(self._xp, np.random.default_rng(seed))

    def seed(self, seed=None):
        self._xp._legacy_random.seed(seed)

    def __getattr__(self, name):          # rand, randn, uniform, normal, randint, permutation, ...
        return _Function(self._xp, f"random.{name}", getattr(self._xp._legacy_random, name),
                         always_launch=True, array_result=True)


class _Generator:
    def __init__(self, xp, generator):
        self._xp, self._generator = xp, generator

    def __getattr__(self, name):          # random, standard_normal, integers, uniform, normal, ...
        return _Function(self._xp, f"Generator.{name}", getattr(self._generator, name),
                         always_launch=True, array_result=True)
