"""The strict CuPy stand-in (fake_cupy.py) keeps each of its promises: one test per rule."""
import os
import sys
from collections import Counter

import numpy as np
import pytest

from fake_cupy import FakeCupy

THIS_FILE = os.path.relpath(__file__, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def xp():
    """A fresh fake ``cupy`` (with 2 fake GPUs): its own counts, device 0 current."""
    return FakeCupy(device_count=2)


def _line():
    """The line number of the caller."""
    return sys._getframe(1).f_lineno


def test_numpy_refuses_fake_arrays(xp):
    x = xp.ones(3)
    assert not isinstance(x, np.ndarray)
    assert isinstance(x, xp.ndarray)
    for implicit in (np.asarray, np.array, np.exp, np.sum, lambda a: np.concatenate([a]),
                     lambda a: np.testing.assert_allclose(a, 1.0)):
        with pytest.raises(TypeError):
            implicit(x)


@pytest.mark.parametrize("mix", [
    lambda x, h: x + h,
    lambda x, h: h + x,                       # NumPy on the left hands over to the fake, which refuses
    lambda x, h: h * x,
    lambda x, h: x < h,
    lambda x, h: x @ h.reshape(3, 1),
    lambda x, h: x.__iadd__(h),
    lambda x, h: x.__setitem__(slice(None), h),
    lambda x, h: x.__setitem__(x.__gt__(0), h),
    lambda x, h: x.fill(h[0:1]),
    lambda x, h: x.dot(h),
])
def test_mixing_with_a_numpy_array_raises(xp, mix):
    with pytest.raises(TypeError):
        mix(xp.ones(3), np.ones(3))


@pytest.mark.parametrize("function", ["maximum", "multiply", "where", "concatenate", "stack", "zeros_like"])
def test_xp_functions_refuse_numpy_arrays(xp, function):
    x, h = xp.ones(3), np.ones(3)
    args = {"where": (x > 0, x, h), "concatenate": ([x, h],), "stack": ([x, h],), "zeros_like": (h,)}
    with pytest.raises(TypeError):
        getattr(xp, function)(*args.get(function, (x, h)))


def test_numpy_and_python_scalars_are_fine(xp):
    x = xp.ones(3, xp.float32)
    for y in (x * np.float32(2), np.float32(2) * x, x + 1, 2.0 - x, xp.maximum(x, np.float32(0)), x ** 2):
        assert isinstance(y, xp.ndarray) and y.dtype == np.float32
    x[0] = np.float32(5)
    x[1] = 7
    assert x.get().tolist() == [5.0, 7.0, 1.0]
    assert xp.get_array_module(x) is xp and xp.get_array_module(np.ones(1)) is np


@pytest.mark.parametrize("op", [
    lambda x: x * 2.0, lambda x: 2.0 - x, lambda x: x / 3, lambda x: 1 / x, lambda x: x ** 2, lambda x: -x,
    lambda x: abs(x), lambda x: x.sum(), lambda x: x.mean(axis=0), lambda x: x.max(), lambda x: x.std(),
], ids=["mul", "rsub", "div", "rdiv", "pow", "neg", "abs", "sum", "mean", "max", "std"])
def test_float32_stays_float32_with_python_scalars(xp, op):
    x = xp.asarray(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    assert op(x).dtype == np.float32
    for f in (xp.exp, xp.log, xp.sqrt, lambda a: xp.maximum(a, 0.0), lambda a: xp.where(a > 1, a, 0.0)):
        assert f(x).dtype == np.float32


def test_new_results_are_c_contiguous_even_from_transposed_inputs(xp):
    host = np.arange(24.0).reshape(2, 3, 4)
    t = xp.asarray(host).transpose(2, 1, 0)
    assert not t.flags.c_contiguous
    assert not (host.transpose(2, 1, 0) + 1).flags.c_contiguous       # NumPy would keep the transposed layout
    results = [t + 1, xp.exp(t), t * t, -t, xp.maximum(t, 0.0), xp.where(t > 2, t, 0.0), t.sum(axis=1),
               t.copy(), t[xp.asarray([0, 1])], t.reshape(24)]
    for r in results:
        assert r.flags.c_contiguous and r.base is None


def test_views_share_memory_and_base_names_the_owner(xp):
    x = xp.asarray(np.arange(6.0).reshape(2, 3))
    assert x.base is None
    views = [x.T, x.reshape(3, 2), x.ravel(), x[1:], x[1:][:, 1:], x[0, 1], x.swapaxes(0, 1), x.transpose(1, 0),
             xp.broadcast_to(x, (4, 2, 3)), xp.lib.stride_tricks.as_strided(x, (2, 2), (24, 8)), x[None], x[...],
             x.reshape(3, 2).T, x.T.transpose().ravel()[::2]]
    for v in views:
        assert v.base is x                        # the owner, also for a view of a view
    x.T[2, 1] = 50.0                              # a write through a view shows in its owner
    element = x[0, 1]                             # a 0-d view (CuPy returns no scalars)
    element += 10.0                               # an in-place op on it writes into x
    assert x.get().tolist() == [[0.0, 11.0, 2.0], [3.0, 4.0, 50.0]]
    for new in (x + 0, x.copy(), x.astype(np.float32), x[xp.asarray([1])], x.T.reshape(6), x.sum()):
        assert new.base is None                   # computed, copied, fancy-indexed: a new owner


def test_out_of_range_integer_array_indices_wrap_around(xp):
    x = xp.arange(10) * 10
    idx = xp.asarray([12, -12, -1, 3])
    assert x[idx].get().tolist() == [20, 80, 90, 30]           # 12 -> 2, -12 -> 8: no error, as in CuPy
    assert x[[12]].get().tolist() == [20]                     # a list index is an array index too
    m = xp.asarray(np.arange(6).reshape(2, 3))
    assert m[:, xp.asarray([4])].get().tolist() == [[1], [4]]  # along the axis the array indexes
    assert m[xp.asarray([3]), xp.asarray([-4])].get().tolist() == [5]
    x[xp.asarray([11, 11])] = -1                              # writing wraps too
    assert x.get()[1] == -1
    with pytest.raises(IndexError):
        x[12]                                                 # a plain int out of range still raises
    with pytest.raises(IndexError):
        m[5, xp.asarray([0])]                                 # also next to an array index
    g = xp.zeros(4, xp.float32)
    xp.cupyx.scatter_add(g, xp.asarray([1, 5, 1, -1]), 1.0)   # repeats add up; 5 -> 1, -1 -> 3
    assert g.get().tolist() == [0.0, 3.0, 0.0, 1.0]
    with pytest.raises(TypeError):                            # CuPy's atomics take no int64
        xp.cupyx.scatter_add(xp.zeros(4, xp.int64), xp.asarray([1]), 1)


def test_syncs_are_counted_with_the_callers_line(xp):
    x = xp.asarray(np.array([1.5, 2.0, 3.0]))
    i = xp.asarray(np.array(1))
    with xp.counting() as c:
        # host metadata and views: no sync
        assert (len(x), x.shape, x.dtype, x.ndim, x.size, x.strides) == (3, (3,), np.float64, 1, 3, (8,))
        x.T, x[1:], list(x)
        first = _line()
        float(x[0])
        int(x[1])
        bool(x[2] > 0)
        x.item(0)
        x.tolist()
        xp.asnumpy(x)
        x.get()
        repr(x)
        [10, 20, 30][i]                           # __index__
        x[x > 2]                                  # a boolean mask: CuPy reads the count back
    assert c.syncs == 10
    assert c.sync_sites == [f"{THIS_FILE}:{first + k}" for k in range(1, 11)]
    assert [e.kind for e in c.sync_events][:3] == ["float()", "int()", "bool()"]
    assert xp.counts().syncs == 10                # the fake's totals saw them too
    xp.reset_counts()
    assert xp.counts().syncs == 0


def test_forbid_syncs_raises_at_the_sync(xp):
    x = xp.ones(2)
    with xp.forbid_syncs():
        y = (x * 2).sum()                         # launches are fine
        with pytest.raises(RuntimeError, match=f"{THIS_FILE}:{_line() + 1}"):
            float(y)
    assert float(y) == 4.0


def test_launches_are_counted_and_views_are_free(xp):
    x = xp.ones((2, 3), xp.float32)
    with xp.counting() as free:
        x.T, x.reshape(3, 2), x[1:], x[0, 1], x.swapaxes(0, 1), x.ravel(), xp.broadcast_to(x, (4, 2, 3))
        xp.lib.stride_tricks.as_strided(x, (3,), (4,)), xp.asarray(x), x.astype(xp.float32, copy=False)
        xp.empty(3), x.shape, x.dtype, len(x)
    assert (free.launches, free.syncs) == (0, 0)
    with xp.counting() as c:
        y = x + 1
        xp.exp(y, out=y)
        x.sum(axis=0)
        x.copy()
        x.astype(xp.float64)
        x[0] = 2
        xp.zeros(3)
        xp.arange(4)
        x.T.reshape(6)                            # a transposed array cannot be reshaped without a copy
        x[xp.asarray([0])]
        z = x
        z += 1
    assert z is x                                 # in place: the same array
    assert c.launches == 11 and c.syncs == 0
    assert c.launch_names == Counter(add=2, exp=1, sum=1, copy=1, astype=1, setitem=1, zeros=1, arange=1,
                                     reshape=1, getitem=1)
    assert c.uploads == 1                         # the index list [0]
    assert sum(c.launch_sites.values()) == 11 and all(s.startswith(THIS_FILE) for s in c.launch_sites)


def test_fuse_counts_one_launch_per_call(xp):
    @xp.fuse()
    def axpy_exp(a, x, y):
        return a * x + y + xp.exp(x)

    x, y = xp.ones(3), xp.zeros(3)
    with xp.counting() as c:
        r = axpy_exp(2.0, x, y)
    assert (c.launches, dict(c.launch_names)) == (1, {"fuse:axpy_exp": 1})
    np.testing.assert_allclose(r.get(), 2.0 + np.e)

    @xp.fuse
    def reads(x):
        return float(x.sum())                     # a fused kernel cannot read a value back

    with pytest.raises(TypeError):
        reads(x)


def test_run_kernel_runs_the_twin_as_one_launch(xp):
    def twin(x, alpha, y, z):                     # y += alpha * x in place; z = x[::-1], written in place
        y += alpha * x
        z[...] = x[::-1]
        return y, z

    x, y, z = xp.arange(3.0), xp.ones(3), xp.empty(3)
    with xp.counting() as c:
        out = xp.run_kernel("axpy", twin, x, 2.0, y, z)
    assert out[0] is y and out[1] is z            # outputs given come back as they are, written in place
    assert (c.launches, dict(c.launch_names), c.syncs) == (1, {"kernel:axpy": 1}, 0)
    assert y.get().tolist() == [1, 3, 5] and z.get().tolist() == [2, 1, 0]

    new = xp.run_kernel("reverse", lambda x: x[::-1], x)     # a new output: its own C-contiguous array
    assert new.flags.c_contiguous and new.base is None and new.get().tolist() == [2, 1, 0]
    with pytest.raises(TypeError, match="mixed"):
        xp.run_kernel("axpy", twin, np.arange(3.0), 2.0, y, z)
    with xp.cuda.Device(1), pytest.raises(ValueError, match="different from the current device"):
        xp.run_kernel("axpy", twin, x, 2.0, y, z)


def test_arrays_live_on_the_device_current_when_made(xp):
    assert xp.cuda.runtime.getDeviceCount() == 2
    a = xp.zeros(3)
    with xp.cuda.Device(1) as device:
        assert device.id == 1 and xp.cuda.Device().id == 1
        b = xp.ones(3)
        assert (b + b).device.id == 1
        with pytest.raises(ValueError):
            a + b                                 # two devices in one op: no peer access
    assert (a.device.id, b.device.id, b[1:].device.id, b.T.device.id) == (0, 1, 1, 1)
    with pytest.raises(ValueError):
        b * 2                                     # device 0 is current again
    with pytest.raises(ValueError):
        xp.zeros(3) + b
    assert b.copy().device.id == 0                # a copy may come from another device
    assert xp.asnumpy(b).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError), xp.cuda.Device(2):
        pass


@pytest.mark.parametrize("name", ["errstate", "insert", "geomspace", "nanquantile", "ElementwiseKernel"])
def test_numpy_names_that_cupy_lacks_are_refused(xp, name):
    with pytest.raises(AttributeError, match=f"module 'cupy' has no attribute '{name}'"):
        getattr(xp, name)
    assert xp.concatenate is not None and xp.float32 is np.float32      # the names CuPy has pass


def test_empty_is_not_zeros(xp):
    assert np.isnan(xp.empty(3).get()).all()
    assert (xp.empty_like(xp.zeros(2, xp.int32)).get() != 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_])
def test_asnumpy_round_trips_exactly(xp, dtype):
    rng = np.random.default_rng(0)
    host = (rng.normal(size=(3, 4)) * 100).astype(dtype)
    if host.dtype.kind == "f":
        host[0, :3] = [np.nan, -np.inf, -0.0]
        host[1, 0] = np.finfo(dtype).smallest_subnormal
    x = xp.asarray(host)
    host_copy = host.copy()
    host.fill(0)                                  # the device array is a copy, not a view of host memory
    for back in (xp.asnumpy(x), x.get()):
        assert isinstance(back, np.ndarray) and back.dtype == host_copy.dtype and back.shape == host_copy.shape
        assert back.tobytes() == host_copy.tobytes()
    assert not np.shares_memory(xp.asnumpy(x), xp.asnumpy(x))   # each read is a fresh host copy
