"""The fast paths (tinygrad_dl1/fast_paths/) against the plain ops, values and gradients.

Checked three ways, each in float64 (tight) and float32 (loose):
- on each backend of the ``device`` fixture, the fast path against ``plain_ops()``: on the CPU the
  kernels' CPU versions against the ops' readable code, on the stand-in the plumbing too (arguments,
  outputs written in place, one launch per kernel), on a real GPU the CUDA code;
- the CUDA code compiled for the CPU with g++ and run on it, one loop over ``i`` playing the GPU's
  threads, against the plain ops on NumPy: here, without a GPU, this is what runs each kernel's
  own C code (its index arithmetic, ties, NaN, bounds), though not in parallel;
- nvcc compiles each kernel as CuPy would hand it to the GPU compiler (approximately): no run.
The benchmark's launch counts are checked at the end.
"""
import ctypes
import functools
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_dl1 import Tensor, backend, fast_paths, optim, plain_ops
from tinygrad_dl1 import ops as F
from tinygrad_dl1.fast_paths import kernel as kernels
from tinygrad_dl1.ops.conv import Conv2d, Im2Col
from tinygrad_dl1.ops.normalization import BatchNorm
from tinygrad_dl1.ops.pool import MaxPool2d
from tinygrad_dl1.ops.regularization import Dropout

from fake_cupy import FakeCupy
from fake_cupy import ndarray as FakeArray

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import bench_launches  # noqa: E402

TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=1e-5)}


# ----- the cases: each runs ops on a device and returns its results as NumPy arrays -----

def conv_case(x_shape, w_shape, stride, padding, composed=False):
    """conv2d (im2col, col2im) forward and backward."""
    def run(device, dtype):
        rng = np.random.default_rng(0)
        x, w, b = (Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True, device=device)
                   for s in (x_shape, w_shape, w_shape[:1]))
        y = (F.conv2d_composed if composed else F.conv2d)(x, w, b, stride, padding)
        y.backward(backend.to_device(rng.standard_normal(y.shape).astype(dtype), device))
        return {"y": y, "dx": x.grad, "dw": w.grad, "db": b.grad}
    return run


def pool_case(x_shape, kernel, stride, padding, values="normal", grad=True):
    """max_pool2d forward and backward (forward alone without ``grad``); ``values``: 'normal', 'ties'
    (few distinct values) or 'nan'."""
    def run(device, dtype):
        rng = np.random.default_rng(1)
        x = rng.standard_normal(x_shape)
        if values == "ties":
            x = rng.integers(0, 3, x_shape).astype(float)
        elif values == "nan":
            x[rng.random(x_shape) < 0.15] = np.nan
        x = Tensor(x.astype(dtype), requires_grad=grad, device=device)
        y = F.max_pool2d(x, kernel, stride, padding)
        if not grad:
            return {"y": y}
        y.backward(backend.to_device(rng.standard_normal(y.shape).astype(dtype), device))
        return {"y": y, "dx": x.grad}
    return run


def batch_norm_case(x_shape, training=True):
    """batch_norm forward and backward, and the running statistics it updates."""
    def run(device, dtype):
        rng = np.random.default_rng(2)
        c = x_shape[1]
        x = Tensor((3 + 2 * rng.standard_normal(x_shape)).astype(dtype), requires_grad=True, device=device)
        gamma, beta = (Tensor(rng.uniform(0.5, 2, c).astype(dtype), requires_grad=True, device=device)
                       for _ in range(2))
        running = [backend.to_device(a.astype(dtype), device) for a in (rng.standard_normal(c), rng.uniform(1, 2, c))]
        y = F.batch_norm(x, gamma, beta, *running, training=training, momentum=0.2)
        y.backward(backend.to_device(rng.standard_normal(x_shape).astype(dtype), device))
        return {"y": y, "dx": x.grad, "dgamma": gamma.grad, "dbeta": beta.grad, "mean": running[0],
                "var": running[1]}
    return run


def dropout_case(shape, p):
    """dropout forward and backward (its mask: a hash of each entry's index, keyed by two draws)."""
    def run(device, dtype):
        rng = np.random.default_rng(4)
        x = Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True, device=device)
        y = F.dropout(x, p, generator=np.random.default_rng(5))
        y.backward(backend.to_device(rng.standard_normal(shape).astype(dtype), device))
        return {"y": y, "dx": x.grad}
    return run


def optimizer_case(make):
    """Three steps of an optimizer on parameters of a few shapes, with made-up gradients."""
    def run(device, dtype):
        rng = np.random.default_rng(3)
        params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True, device=device)
                  for s in [(3, 4), (5,), (2, 3, 2, 2)]]
        opt = make(params)
        for _ in range(3):
            for p in params:
                p.grad = backend.to_device(rng.standard_normal(p.shape).astype(dtype), device)
            opt.step()
        state = {f"{i}.{k}": v for i, s in opt.state_dict()["state"].items() for k, v in s.items() if k != "step"}
        return {**{f"w{i}": p for i, p in enumerate(params)}, **state}
    return run


CASES = {   # name -> (case, the kernels it runs)
    "conv 3x3 stride 1 pad 1": (conv_case((2, 3, 6, 5), (4, 3, 3, 3), 1, 1), {"im2col", "col2im"}),
    "conv 3x3 stride 2 pad 1 (overlapping windows)": (conv_case((2, 2, 7, 6), (3, 2, 3, 3), 2, 1),
                                                      {"im2col", "col2im"}),
    "conv 2x2 stride 3 (stride > kernel)": (conv_case((1, 2, 8, 7), (2, 2, 2, 2), 3, 0), {"im2col", "col2im"}),
    "conv 2x3 stride (1, 2) pad (1, 0)": (conv_case((2, 3, 5, 7), (2, 3, 2, 3), (1, 2), (1, 0)),
                                          {"im2col", "col2im"}),
    "conv2d_composed 3x3 stride 2 pad 1": (conv_case((2, 2, 6, 6), (3, 2, 3, 3), 2, 1, composed=True),
                                           {"im2col", "col2im"}),
    "pool 3x3 stride 2 pad 1 (overlapping)": (pool_case((2, 3, 7, 6), 3, 2, 1), {"max_pool", "max_pool_backward"}),
    "pool 2x2 stride 2": (pool_case((2, 2, 6, 6), 2, 2, 0), {"max_pool", "max_pool_backward"}),
    "pool 2x2 stride 3 (stride > kernel)": (pool_case((1, 2, 8, 7), 2, 3, 0), {"max_pool", "max_pool_backward"}),
    "pool 3x2 stride 1 pad (1, 1), ties": (pool_case((2, 2, 5, 6), (3, 2), 1, 1, "ties"),
                                           {"max_pool", "max_pool_backward"}),
    "pool 3x3 stride 1 pad 1, NaN": (pool_case((2, 2, 6, 5), 3, 1, 1, "nan"), {"max_pool", "max_pool_backward"}),
    "pool 3x3 stride 2 pad 1, no gradient": (pool_case((2, 3, 7, 6), 3, 2, 1, grad=False), {"max_pool_values"}),
    "pool 3x2 stride (1, 2) pad (1, 0), NaN, no gradient": (pool_case((2, 2, 6, 5), (3, 2), (1, 2), (1, 0), "nan",
                                                                      grad=False), {"max_pool_values"}),
    "batch norm (N, C, H, W)": (batch_norm_case((4, 3, 2, 3)), {"batch_norm", "batch_norm_backward",
                                                                "running_stats"}),
    "batch norm (N, C)": (batch_norm_case((6, 4)), {"batch_norm", "batch_norm_backward", "running_stats"}),
    "batch norm (N, C, L)": (batch_norm_case((3, 2, 5)), {"batch_norm", "batch_norm_backward", "running_stats"}),
    "batch norm (N, C, H, W), eval": (batch_norm_case((2, 3, 2, 2), training=False), {"batch_norm"}),
    "dropout 0.2": (dropout_case((4, 5, 3), 0.2), {"dropout_mask"}),
    "dropout 0.9 (1 / (1 - p) not exact in binary)": (dropout_case((257,), 0.9), {"dropout_mask"}),
    "Adam with weight decay": (optimizer_case(lambda p: optim.Adam(p, lr=1e-2, weight_decay=0.1)), {"adam_step"}),
    "SGD": (optimizer_case(lambda p: optim.SGD(p, lr=0.1)), {"sgd_step"}),
    "SGD with momentum and weight decay": (optimizer_case(lambda p: optim.SGD(p, lr=0.1, momentum=0.9,
                                                                              weight_decay=0.01)),
                                           {"sgd_momentum_step"}),
}
DTYPES = [np.float64, np.float32]


def host_results(results):
    return {k: backend.to_numpy(v.data if isinstance(v, Tensor) else v) for k, v in results.items()}


def assert_same(got, expected, dtype):
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key].dtype == expected[key].dtype, key
        np.testing.assert_allclose(got[key], expected[key], err_msg=key, **TOLERANCE[dtype])


def test_every_kernel_and_fast_path_has_a_case():
    assert {k.name for k in kernels.ALL} == set().union(*(names for _, names in CASES.values()))
    assert fast_paths.registered() == {Conv2d, Im2Col, MaxPool2d, BatchNorm, Dropout, optim.SGD, optim.Adam}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_fast_paths_match_the_plain_ops(device, name, dtype):
    case, names = CASES[name]
    with plain_ops():
        expected = host_results(case(device.name, dtype))
    if device.fake is None:
        got = host_results(case(device.name, dtype))
    else:           # on the stand-in, each kernel is one launch
        with device.fake.counting() as counts:
            got = host_results(case(device.name, dtype))
        assert {k.split(":")[1] for k in counts.launch_names if k.startswith("kernel:")} == names
    assert_same(got, expected, dtype)


def test_plain_ops_run_no_kernel(device):
    if device.fake is None:
        pytest.skip("counts launches on the stand-in")
    for case, _ in CASES.values():
        with plain_ops(), device.fake.counting() as counts:
            case(device.name, np.float32)
        assert not [k for k in counts.launch_names if k.startswith("kernel:")]


def test_a_fast_backward_follows_its_fast_forward():
    """What a fast forward saved is its own (max-pool's int8 winners): its backward runs even inside
    plain_ops(), and a plain forward's backward stays plain outside it."""
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 4, 4)), requires_grad=True)
    fast = F.max_pool2d(x, 2)
    with plain_ops():
        plain = F.max_pool2d(x, 2)
        fast.sum().backward()
    fast_grad, x.grad = x.grad, None
    plain.sum().backward()
    np.testing.assert_array_equal(fast_grad, x.grad)
    assert fast_grad.sum() == 4


def test_a_training_step_of_adam_is_one_launch_per_parameter(device):
    if device.fake is None:
        pytest.skip("counts launches on the stand-in")
    params = [device.tensor(np.ones(s, np.float32), requires_grad=True) for s in [(3, 4), (5,), (2, 2)]]
    opt = optim.Adam(params)
    for p in params:
        p.grad = device.array(np.ones(p.shape, np.float32))
    opt.step()                                  # the first step makes m and v
    with device.fake.counting() as counts:
        opt.step()
    assert counts.launches == 3 and counts.launch_names == {"kernel:adam_step": 3}


def test_a_kernel_refuses_what_cupy_refuses():
    add = kernels.Kernel("test_add", "T x, T y", "T z", "z = x + y;", cpu=lambda x, y, z=None: x + y)
    kernels.ALL.remove(add)
    with pytest.raises(TypeError, match=r"takes 2 inputs \(and optionally 1 outputs\), got 4"):
        add(np.ones(2), np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="T is float64 for one argument and float32 for y"):
        add(np.ones(2), np.ones(2, np.float32))
    assert add(np.ones(2), 1.0).tolist() == [2, 2]
    with pytest.raises(ValueError, match="'n' is reserved by CuPy"):
        kernels.Kernel("test_count", "T x, T n", "T z", "z = x * n;", cpu=lambda x, n: x * n)
    with pytest.raises(ValueError, match=r"output z has shape \(2,\), the loop runs over \(2, 2\)"):
        add(np.ones((2, 2)), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"shapes \[\(2, 2\), \(2,\), \(3,\)\] do not broadcast"):
        add(np.ones((2, 2)), np.ones(2), np.ones(3))


def test_a_kernel_needs_a_plain_array_to_size_its_loop():
    """CuPy sizes an elementwise loop by its plain arrays: given raw arrays and scalars only, it needs the outputs."""
    copy = kernels.Kernel("test_copy", "raw T x, T scale", "T y", "y = x[i] * scale;",
                          cpu=lambda x, scale, y: np.multiply(x.reshape(y.shape), scale, out=y))
    kernels.ALL.remove(copy)
    with pytest.raises(ValueError, match="kernel test_copy: no plain .* pass the outputs"):
        copy(np.ones(4), 2.0)
    assert copy(np.ones(4), 2.0, np.empty(4)).tolist() == [2, 2, 2, 2]


# ----- the CUDA code compiled for the CPU (g++) and run there -----

C_TYPES = {"float32": "float", "float64": "double", "int8": "signed char", "int32": "int", "int64": "long long",
           "uint32": "unsigned int", "bool": "bool"}
CTYPES = {"float": ctypes.c_float, "double": ctypes.c_double, "signed char": ctypes.c_byte, "int": ctypes.c_int,
          "long long": ctypes.c_longlong, "unsigned int": ctypes.c_uint, "bool": ctypes.c_bool}


def kernel_source(kernel, types, arrays, gpu):
    """C++ for ``kernel`` wrapped about as cupy.ElementwiseKernel wraps it: ``types`` gives each type
    placeholder's dtype; the plain parameters named in ``arrays`` are arrays (one element each for i),
    the others scalars; raw ones are pointers to C-ordered data. ``gpu``: a __global__ function whose
    threads share the loop over i, else a function that runs the whole loop itself."""
    params, elements = ["ptrdiff_t _size"], []
    for p in kernel.params:
        ctype = p.ctype if p.ctype in types else C_TYPES[p.ctype]
        const = "" if p in kernel.outputs else "const "
        if p.raw:
            params.append(f"const {ctype}* {p.name}")
        elif p.name in arrays:
            params.append(f"{const}{ctype}* _{p.name}")
            elements.append(f"{const}{ctype}& {p.name} = _{p.name}[i];")
        else:
            params.append(f"const {ctype} {p.name}")
    loop = ("for (ptrdiff_t i = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x; i < _size; "
            "i += (ptrdiff_t)blockDim.x * gridDim.x)" if gpu else "for (ptrdiff_t i = 0; i < _size; i++)")
    qualifier = "__global__" if gpu else 'extern "C"'
    return "\n".join([*(f"typedef {C_TYPES[dtype]} {name};" for name, dtype in types.items()),
                      f"{qualifier} void {kernel.name}({', '.join(params)}) {{",
                      f"  {loop} {{", *elements, kernel.body, "  }", "}"])


class HostCompiler:
    """Runs kernels by their CUDA code compiled with g++ (one shared library per kernel, types and
    arrays), on NumPy arrays; ``ran`` names the kernels it ran."""

    def __init__(self, folder):
        self.folder, self.ran, self.libraries = folder, set(), {}

    def library(self, kernel, types, arrays):
        source = "#include <cmath>\n#include <cstddef>\nusing namespace std;\n" + \
            kernel_source(kernel, types, arrays, gpu=False)
        if source not in self.libraries:
            path = self.folder / f"{kernel.name}_{len(self.libraries)}"
            path.with_suffix(".cpp").write_text(source)
            subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", path.with_suffix(".so"),
                            path.with_suffix(".cpp")], check=True, capture_output=True, text=True)
            self.libraries[source] = ctypes.CDLL(str(path.with_suffix(".so")))
        return self.libraries[source]

    def run(self, kernel, *args):
        params = kernel.params
        given = dict(zip((p.name for p in params), args))
        types = {}
        for p in params:
            if isinstance(given.get(p.name), np.ndarray) and kernels.is_placeholder(p.ctype):
                types.setdefault(p.ctype, given[p.name].dtype.name)
        plain = [p for p in params if not p.raw and (p in kernel.outputs or isinstance(given[p.name], np.ndarray))]
        shape = np.broadcast_shapes(*(given[p.name].shape for p in plain if p.name in given))
        outputs = [given.get(p.name) if p.name in given else np.empty(shape, types.get(p.ctype, p.ctype))
                   for p in kernel.outputs]
        given.update(zip((p.name for p in kernel.outputs), outputs))
        buffers, c_args = {}, [ctypes.c_ssize_t(int(np.prod(shape)))]
        for p in params:
            value = given[p.name]
            if isinstance(value, np.ndarray):
                buffers[p.name] = np.ascontiguousarray(value if p.raw else np.broadcast_to(value, shape)).copy()
                c_args.append(buffers[p.name].ctypes.data_as(ctypes.c_void_p))
            else:
                c_args.append(CTYPES[C_TYPES[types.get(p.ctype, p.ctype)]](value))
        self.library(kernel, types, [p.name for p in plain])[kernel.name](*c_args)
        for p, out in zip(kernel.outputs, outputs):
            out[...] = buffers[p.name]
        self.ran.add(kernel.name)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


@pytest.fixture(scope="module")
def host_compiler(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to compile the kernels' CUDA code for the CPU")
    return HostCompiler(tmp_path_factory.mktemp("kernels"))


def run_compiled_for_the_host(host_compiler, monkeypatch, case, dtype):
    """``case`` on the stand-in (which takes every fast path a GPU takes) with every kernel run by its CUDA
    code compiled for the CPU, on the arrays' NumPy data."""
    host_compiler.ran.clear()
    fake = FakeCupy(device_count=1)
    previous = backend.use_gpu_library(fake, fake.cupyx)
    try:
        with monkeypatch.context() as m:
            for kernel in kernels.ALL:
                m.setattr(kernel, "cpu", functools.partial(host_compiler.run, kernel))
            return host_results(case("cuda:0", dtype))
    finally:
        backend.use_gpu_library(*previous)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_the_cuda_code_run_on_the_cpu_matches_the_plain_ops(host_compiler, monkeypatch, name, dtype):
    case, names = CASES[name]
    with plain_ops():
        expected = host_results(case("cpu", dtype))
    got = run_compiled_for_the_host(host_compiler, monkeypatch, case, dtype)
    assert host_compiler.ran == names
    assert_same(got, expected, dtype)


@pytest.mark.parametrize("name", CASES)
def test_the_gpu_path_compiles_each_kernel_once_and_runs_its_cuda_code(host_compiler, monkeypatch, name):
    """``Kernel.__call__``'s CuPy path, which otherwise runs only on a GPU: on the stand-in without its test
    hook, ``ElementwiseKernel`` (here: the CUDA code compiled by g++) is made once per kernel from its
    declaration, then called with the arguments as given, the outputs written in place."""
    case, names = CASES[name]
    expected = host_results(case("cpu", np.float64))
    fake, made = FakeCupy(device_count=1), []

    def elementwise_kernel(in_params, out_params, body, kernel_name):
        kernel = next(k for k in kernels.ALL if k.name == kernel_name)
        assert (in_params, out_params, body) == (kernel.in_params, kernel.out_params, kernel.body)
        made.append(kernel_name)

        def call(*args):
            result = host_compiler.run(kernel, *(a._data if isinstance(a, FakeArray) else a for a in args))
            outputs = args[len(kernel.inputs):] or [fake.asarray(r) for r in
                                                    (result if isinstance(result, tuple) else (result,))]
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        return call

    monkeypatch.setattr(fake, "run_kernel", None, raising=False)
    monkeypatch.setattr(fake, "ElementwiseKernel", elementwise_kernel, raising=False)
    for kernel in kernels.ALL:
        monkeypatch.setattr(kernel, "_compiled", None)      # put back afterwards: made here, on the stand-in
    previous = backend.use_gpu_library(fake, fake.cupyx)
    try:
        got = host_results(case("cuda:0", np.float64))
    finally:
        backend.use_gpu_library(*previous)
    assert sorted(made) == sorted(names)
    assert_same(got, expected, np.float64)


def test_adams_cuda_code_rounds_its_constants_as_its_cpu_version_does(host_compiler, monkeypatch):
    """In float32, 1 - b2 must be rounded once from the exact number (0.001f, as the CPU version and PyTorch do), not
    computed from b2 rounded to float32 (0.99900001f: 1 - b2 = 0.00099998713, a 1e-5 error in every v)."""
    adam = next(k for k in kernels.ALL if k.name == "adam_step")
    g, w = np.random.default_rng(0).standard_normal((2, 50)).astype(np.float32)

    def first_step():
        """w, m and v after a first step of Adam from w with gradient g."""
        p = Tensor(w.copy(), requires_grad=True)
        p.grad = g.copy()
        opt = optim.Adam([p], lr=1e-3)
        opt.step()
        state = opt.state_dict()["state"][0]
        return p.numpy(), state["exp_avg"], state["exp_avg_sq"]

    expected = first_step()
    monkeypatch.setattr(adam, "cpu", functools.partial(host_compiler.run, adam))
    for got, want in zip(first_step(), expected):
        np.testing.assert_array_max_ulp(got, want, maxulp=1)


def test_a_wrong_cuda_kernel_is_caught(host_compiler, monkeypatch):
    """col2im with the kernel offsets' roles swapped (ki for kj): right on square windows, wrong on others."""
    col2im = next(k for k in kernels.ALL if k.name == "col2im")
    case, _ = CASES["conv 2x3 stride (1, 2) pad (1, 0)"]
    expected = host_results(case("cpu", np.float64))
    monkeypatch.setattr(col2im, "body", col2im.body.replace("* kw + kj) * C", "* kw + (kw - 1 - kj)) * C"))
    got = run_compiled_for_the_host(host_compiler, monkeypatch, case, np.float64)
    with pytest.raises(AssertionError, match="dx"):
        assert_same(got, expected, np.float64)


# ----- nvcc -----

KERNEL_TYPES = [{"T": "float32", "Offset": "int8", "Stat": "float32"},
                {"T": "float64", "Offset": "int32", "Stat": "float32"}]


def test_nvcc_compiles_every_kernel(tmp_path):
    """Every kernel, in float32 and float64, as a CUDA C++ __global__ function (no GPU needed; none ran them)."""
    if shutil.which("nvcc") is None:
        pytest.skip("needs nvcc (the CUDA toolkit) to compile the kernels")
    units = []
    for i, types in enumerate(KERNEL_TYPES):
        for kernel in kernels.ALL:
            params = kernel.params
            # plain parameters of a placeholder type as arrays, of a fixed type (int32 C) as scalars
            arrays = [p.name for p in params if not p.raw and kernels.is_placeholder(p.ctype)]
            used = {k: v for k, v in types.items() if k in {p.ctype for p in params}}
            source = kernel_source(kernel, used, arrays, gpu=True)
            units.append(f"namespace v{i} {{\n{source}\n}}")
    path = tmp_path / "kernels.cu"
    path.write_text("#include <cstddef>\n" + "\n".join(units))
    result = subprocess.run(["nvcc", "-c", "-Werror", "all-warnings", "-o", tmp_path / "kernels.o", path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ----- launches per training step -----

@pytest.mark.parametrize("name", bench_launches.MODELS)
def test_fast_paths_cut_the_launches_of_a_training_step(name):
    fused, plain = bench_launches.count_step(name), bench_launches.count_step(name, fast=False)
    assert fused.syncs == 0 and plain.syncs == 0
    assert fused.launches < plain.launches
    if name.startswith("ConvNet"):
        assert fused.launches <= 300, fused.launch_sites.most_common(10)
