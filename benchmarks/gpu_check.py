"""What tinygrad_dl1 does on a GPU, checked in one run, with a table at the end.

    python benchmarks/gpu_check.py --data-dir ../shared/data     # a machine with CuPy and a GPU
    python benchmarks/gpu_check.py                               # the same without part 5 (no data)
    PYTHONPATH=. python3 benchmarks/gpu_check.py                 # from a checkout, not installed (needs tqdm)
    python benchmarks/gpu_check.py --tiny                        # small synthetic data, a few steps

1. the GPU, the driver and the libraries;
2. op parity: each op's output and input gradients on the GPU against the CPU's
   (float64: 1e-9 relative, float32: 1e-4);
3. device-to-host syncs and kernel launches per training step of the three models, counted
   on the strict CuPy stand-in (tests/fake_cupy.py: real CuPy counts neither);
4. training-step times of the three models next to PyTorch CUDA from the same weights
   (TF32 off on both sides, cudnn.benchmark on, timed with device synchronisation);
5. the ConvNet trained 500 steps on the GPU, then resumed to 1,000: its test accuracy at
   steps 500 and 1,000 against the CPU's (docs/results/convnet-1000-cpu), within 0.03.

Rows are printed as they come. It exits 1 when a check fails; a part that raises is printed
with its traceback, counts as failed, and the next part runs. The test suite runs it with
--tiny on the stand-in, so it cannot rot; the full run takes a few minutes on one H100/H200.
"""
import argparse
import csv
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))   # the stand-in, the PyTorch twins, fake CIFAR files

from tinygrad_dl1 import Tensor, backend, cli, manual_seed, models, optim  # noqa: E402
from tinygrad_dl1.nn import functional as F  # noqa: E402

from common import our_training_step, try_import_torch  # noqa: E402

CPU_CONVNET_RUN = os.path.join(HERE, "..", "docs", "results", "convnet-1000-cpu", "metrics.csv")
ACCURACY_TOLERANCE = 0.03


# ----- 1. the machine -----

def environment():
    """(name, value) rows: the GPU, its driver and runtime, and the library versions."""
    cupy = backend.cupy
    yield "numpy", np.__version__
    yield "cupy", getattr(cupy, "__version__", "stand-in")
    try:
        props = cupy.cuda.runtime.getDeviceProperties(0)
    except AttributeError:
        yield "GPU", "the CuPy stand-in (tests/fake_cupy.py)"
    else:
        yield "GPU", props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        yield "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion()
        yield "CUDA driver", cupy.cuda.runtime.driverGetVersion()
    torch = _torch_cuda()
    yield "torch", f"{torch.__version__} (CUDA {torch.version.cuda})" if torch else "no CUDA build"


def _torch_cuda():
    """PyTorch when it has a GPU to run on, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# ----- 2. op parity -----

# name: (function of tensors, input shapes); inputs are drawn in [0.1, 1.1) x sign, away from kinks
OPS = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [(8, 5), (4, 5), (4,)]),
    "matmul": (lambda a, b: a @ b, [(3, 4, 5), (5, 2)]),
    "add, mul, div (broadcast)": (lambda a, b: (a + b) * a / (b * b + 1), [(4, 5), (5,)]),
    "exp, log, pow": (lambda a: (a.exp() + (a * a + 1).log()) ** 2, [(4, 5)]),
    "sum, mean, max": (lambda a: a.sum(dim=0) + a.mean(dim=0) + a.amax(dim=0), [(6, 5)]),
    "getitem": (lambda a: a[np.array([0, 2, 2]), 1:4], [(4, 5)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.02), [(4, 5)]),
    "softmax, log_softmax": (lambda a: F.softmax(a, 1) + F.log_softmax(a, 0), [(4, 5)]),
    "cross_entropy": (lambda a: F.cross_entropy(a, np.array([1, 0, 4, 2])), [(4, 5)]),
    "batch_norm (training)": (lambda x, g, b: F.batch_norm(x, g, b), [(6, 3, 2, 2), (3,), (3,)]),
    "conv2d (stride 2, pad 1)": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                                 [(2, 3, 7, 7), (4, 3, 3, 3), (4,)]),
    "conv2d_composed": (lambda x, w: F.conv2d_composed(x, w, padding=1), [(2, 3, 5, 5), (4, 3, 3, 3)]),
    "max_pool2d (3, 2, 1)": (lambda x: F.max_pool2d(x, 3, 2, 1), [(2, 3, 8, 8)]),
}


def run_op(fn, arrays, device):
    """fn's output and the gradient of sum(output * r) for each input, as NumPy arrays."""
    inputs = [Tensor(a, requires_grad=True, device=device) for a in arrays]
    out = fn(*inputs)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    out.backward(Tensor(weights, device=device))
    return [out.numpy()] + [backend.to_numpy(x.grad) for x in inputs]


def op_parity(device):
    """(name, dtype, worst relative difference, passed) for each op of OPS, one at a time."""
    for name, (fn, shapes) in OPS.items():
        for dtype, tolerance in ((np.float64, 1e-9), (np.float32, 1e-4)):
            rng = np.random.default_rng(0)
            arrays = [(rng.uniform(0.1, 1.1, s) * rng.choice([-1, 1], s)).astype(dtype) for s in shapes]
            cpu, gpu = run_op(fn, arrays, "cpu"), run_op(fn, arrays, device)
            worst = max(float(np.max(np.abs(c - g)) / (np.max(np.abs(c)) + 1e-30)) for c, g in zip(cpu, gpu))
            yield name, np.dtype(dtype).name, worst, worst <= tolerance


# ----- 3. syncs and launches -----

def three_models(device, tiny):
    """(name, model, optimizer, x, t) for the default MLP, the better MLP and the ConvNet, on ``device``."""
    rng = np.random.default_rng(0)
    out = []
    for name, make, lr, adam, (batch, tiny_batch), shape in (      # an MLP takes flattened images
            ("MLP 3072-100-10, SGD", lambda: models.MLP(3072, [100], 10), 2e-3, False, (200, 8), (3072,)),
            ("better MLP, Adam", lambda: models.MLP(3072, [1000, 500, 200, 50], 10, batch_norm=True, dropout=0.2,
                                                    init="default"), 1e-3, True, (500, 8), (3072,)),
            ("ConvNet, Adam", lambda: models.ConvNet(), 1e-4, True, (32, 2), (3, 32, 32))):
        manual_seed(0)
        model = make().to(device)
        opt = optim.Adam(model.parameters(), lr=lr) if adam else optim.SGD(model.parameters(), lr=lr)
        n = tiny_batch if tiny else batch
        x = Tensor(rng.standard_normal((n, *shape)).astype(np.float32), device=device)
        t = Tensor(rng.integers(0, 10, n), device=device)
        out.append((name, model, opt, x, t))
    return out


def syncs_and_launches():
    """(model, syncs, launches) of one training step of each model, counted on a fresh stand-in."""
    from fake_cupy import FakeCupy
    fake = FakeCupy(device_count=1)
    previous = backend.use_gpu_library(fake, fake.cupyx)
    try:
        rows = []
        for name, model, opt, x, t in three_models("cuda:0", tiny=True):
            step = our_training_step(model, opt, x, t)
            step()                                   # the first step makes the optimizer's state
            with fake.counting() as count:
                step()
            rows.append((name, count.syncs, count.launches))
    finally:
        backend.use_gpu_library(*previous)      # the real GPU library back before anyone reads a row
    yield from rows


# ----- 4. step times -----

def synchronize(torch=None):
    """Wait for the GPU to finish what was queued (CuPy's and, when given a CUDA PyTorch, PyTorch's)."""
    backend.cupy.cuda.Device().synchronize()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def time_steps(step, sync, repeats=5, number=10):
    """Best seconds per call of ``step`` over ``repeats`` blocks of ``number`` calls, after a warm-up."""
    step()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        sync()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def step_times(tiny=False):
    """(model, ours ms, PyTorch ms or None) of a training step on the GPU, PyTorch on CUDA. Tiny: small
    batches, one step timed, and PyTorch on the CPU when it has no CUDA (the code run, the figures moot)."""
    from common import torch_training_step
    from torch_reference import torch_twin
    torch, torch_device = _torch_cuda(), "cuda"
    if torch is None and tiny:
        torch, torch_device = try_import_torch(), "cpu"
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    repeats, number = (1, 1) if tiny else (5, 10)
    for name, model, opt, x, t in three_models("cuda", tiny):
        theirs = None
        if torch is not None:
            twin = torch_twin(torch, model).to(torch_device)
            their_opt = (torch.optim.Adam if isinstance(opt, optim.Adam) else torch.optim.SGD)(twin.parameters(),
                                                                                             lr=opt.lr)
            their_step = torch_training_step(torch, twin, their_opt, x.numpy(), t.numpy(), device=torch_device)
            theirs = time_steps(their_step, lambda: synchronize(torch), repeats, number)
        ours = time_steps(our_training_step(model, opt, x, t), synchronize, repeats, number)
        yield name, ours * 1e3, None if theirs is None else theirs * 1e3


# ----- 5. a ConvNet run, resumed -----

def test_accuracies(metrics_csv):
    """{step: test accuracy} of a run's metrics.csv."""
    with open(metrics_csv) as f:
        return {int(row["step"]): float(row["test_acc"]) for row in csv.DictReader(f)}


def train_convnet(data_dir, out, device, max_steps, eval_freq, resume=False, extra=()):
    """The command line's ConvNet training; raises if it fails."""
    argv = ["train", "convnet", "--data-dir", data_dir, "--out", out, "--device", device, "--no-progress",
            "--max-steps", str(max_steps), "--eval-freq", str(eval_freq), *extra] + (["--resume"] if resume else [])
    status = cli.main(argv)
    if status != 0:
        raise RuntimeError(f"tinygrad-dl1 {' '.join(argv)} exited with {status}")
    return test_accuracies(os.path.join(out, "metrics.csv"))


def convnet_run(data_dir, tiny, workdir):
    """(step, GPU accuracy, CPU accuracy, passed) at half way and at the end of a run resumed half way."""
    steps, extra = (2, ["--batch-size", "2"]) if tiny else (1000, [])
    gpu_out = os.path.join(workdir, "gpu")
    train_convnet(data_dir, gpu_out, "cuda", steps // 2, steps // 2, extra=extra)
    gpu = train_convnet(data_dir, gpu_out, "cuda", steps, steps // 2, resume=True, extra=extra)
    if tiny:        # the CPU's run, on the same tiny data
        cpu = train_convnet(data_dir, os.path.join(workdir, "cpu"), "cpu", steps, steps // 2, extra=extra)
    else:
        cpu = test_accuracies(CPU_CONVNET_RUN)
    for step in (steps // 2, steps):
        yield (step, gpu.get(step), cpu.get(step),
               gpu.get(step) is not None and cpu.get(step) is not None
               and abs(gpu[step] - cpu[step]) <= ACCURACY_TOLERANCE)


# ----- the table -----

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py, for part 5 (not with --tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="small synthetic data and few steps (the timings run, but mean nothing)")
    args = parser.parse_args(argv)
    if not backend.gpu_available():
        print("gpu_check: no GPU (CuPy missing or sees no device)", file=sys.stderr)
        return 1
    failed = []
    started = time.perf_counter()

    def section(title, rows, show, check=None):
        """Print ``title``, then each row of the generator ``rows`` as ``show(*row)`` makes it, as it comes;
        a row that ``check`` finds wrong (it returns a name) fails the run, and so does an exception,
        printed with its traceback, after which the next section runs."""
        print(f"\n## {title}", flush=True)
        try:
            for row in rows:
                print(show(*row), flush=True)
                problem = check(*row) if check else None
                failed.extend([problem] if problem else [])
        except Exception:
            traceback.print_exc(file=sys.stdout)
            failed.append(f"{title.split(':')[0]}: raised")

    section("the machine", environment(), lambda name, value: f"{name:<14} {value}")
    section("op parity, GPU against CPU: worst relative difference of output and gradients", op_parity("cuda"),
            lambda name, dtype, worst, passed: f"{name:<28} {dtype:<8} {worst:9.2e}  {'ok' if passed else 'FAIL'}",
            lambda name, dtype, worst, passed: None if passed else f"op parity: {name} {dtype}")
    section("per training step, counted on the CuPy stand-in", syncs_and_launches(),
            lambda name, syncs, launches: f"{name:<24} {syncs:3d} syncs {launches:5d} kernel launches",
            lambda name, syncs, launches: None if syncs == 0 else f"syncs: {name}")
    section("training step on the GPU, ms (PyTorch CUDA from the same weights, TF32 off)"
            + ("; tiny: the figures mean nothing" if args.tiny else ""), step_times(args.tiny),
            lambda name, ours, theirs: f"{name:<24} ours {ours:8.2f}  torch {theirs or float('nan'):8.2f}  "
                                       f"ratio {f'{ours / theirs:6.2f}' if theirs else '     -'}")
    if args.tiny or args.data_dir:
        with tempfile.TemporaryDirectory() as workdir:
            data_dir = args.data_dir
            if args.tiny:
                from cifar_files import make_cifar
                data_dir = os.path.join(workdir, "data")
                make_cifar(Path(data_dir) / "cifar-10-batches-py")
            section("ConvNet: half the steps, then resumed; test accuracy against the CPU's",
                    convnet_run(data_dir, args.tiny, workdir),
                    lambda step, gpu, cpu, ok: f"step {step:>5}: GPU {gpu}  CPU {cpu}  {'ok' if ok else 'FAIL'}",
                    lambda step, gpu, cpu, ok: None if ok else f"ConvNet run: step {step}")
    else:
        print("\n## ConvNet run: skipped, no --data-dir (CIFAR-10's files are needed)")

    print(f"\n## {'all checks passed' if not failed else 'FAILED: ' + '; '.join(failed)} "
          f"in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
