"""Time conv2d and max_pool2d (forward + backward) at the ConvNet's layer shapes, next to PyTorch CPU.

    python benchmarks/bench_conv.py [--repeats 5] [--threads N]

Both libraries get the same thread count (default: every core): NumPy's BLAS through
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS (set before NumPy loads), PyTorch
through torch.set_num_threads. Inputs are float32, batch 32. Ours is timed twice: on plain
NCHW arrays, and on channels-last arrays, the layout conv2d and max_pool2d hand to each other
inside the network. Each time is the best of the repeats (the least disturbed by other work), in ms.
"""
import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch", type=int, default=32)
    return p.parse_args()


args = parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread settings)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tinygrad_dl1 import Tensor  # noqa: E402
from tinygrad_dl1.ops import conv2d, max_pool2d  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
    torch.set_num_threads(args.threads)
except ImportError:
    torch = None

# (name, in channels, out channels, side) of the ConvNet's convs: 3x3, stride 1, pad 1
CONVS = [("conv1", 3, 64, 32), ("conv2", 64, 128, 16), ("conv3_a", 128, 256, 8), ("conv3_b", 256, 256, 8),
         ("conv4_a", 256, 512, 4), ("conv4_b", 512, 512, 4), ("conv5_a", 512, 512, 2), ("conv5_b", 512, 512, 2)]
# (name, channels, side) of its max-pools: 3x3, stride 2, pad 1
POOLS = [("pool1", 64, 32), ("pool2", 128, 16), ("pool3", 256, 8), ("pool4", 512, 4), ("pool5", 512, 2)]


def best_ms(steps, repeats):
    """The best time of each step, in ms, the steps taking turns so that a busy moment hits all alike."""
    for step in steps:
        step()  # warm-up
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, t in zip(steps, times):
            start = time.perf_counter()
            step()
            t.append(time.perf_counter() - start)
    return [1000 * min(t) for t in times]


def channels_last(a):
    """The same (N, C, H, W) values, stored as (N, H, W, C) in memory."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def ours(op, arrays, grad_of_x, layout):
    x, *params = [channels_last(a) if layout == "cl" and a.ndim == 4 and i == 0 else a
                  for i, a in enumerate(arrays)]
    gy = None

    def step():
        nonlocal gy
        tensors = [Tensor(x, requires_grad=grad_of_x)] + [Tensor(p, requires_grad=True) for p in params]
        y = op(*tensors)
        if gy is None:
            gy = np.ones(y.shape, np.float32)
            gy = channels_last(gy) if layout == "cl" else gy
        y.backward(gy)
    return step


def theirs(op, arrays, grad_of_x):
    tensors = [torch.from_numpy(a).requires_grad_(grad_of_x or i > 0) for i, a in enumerate(arrays)]
    gy = None

    def step():
        nonlocal gy
        for t in tensors:
            t.grad = None
        y = op(*tensors)
        if gy is None:
            gy = torch.ones_like(y)
        y.backward(gy)
    return step


def row(name, shape, our_op, their_op, arrays, grad_of_x):
    steps = [ours(our_op, arrays, grad_of_x, "nchw"), ours(our_op, arrays, grad_of_x, "cl")]
    if torch:
        steps.append(theirs(their_op, arrays, grad_of_x))
    nchw, cl, ref = best_ms(steps, args.repeats) + ([] if torch else [float("nan")])
    print(f"{name:8s} {shape:22s} {nchw:9.2f} {cl:11.2f} {ref:9.2f} {nchw / ref:8.2f} {cl / ref:8.2f}")
    return nchw, cl, ref


def main():
    rng = np.random.default_rng(0)
    n = args.batch
    print(f"threads: {args.threads} (OPENBLAS/OMP/MKL_NUM_THREADS and torch.set_num_threads), "
          f"batch {n}, float32, forward + backward, best of {args.repeats}, ms")
    print(f"{'layer':8s} {'shape':22s} {'ours NCHW':>9s} {'ours ch-last':>11s} {'torch':>9s} "
          f"{'ratio':>8s} {'ratio cl':>8s}")
    totals = np.zeros(3)
    for name, cin, cout, side in CONVS:
        x = rng.standard_normal((n, cin, side, side), dtype=np.float32)
        w = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) * 0.05
        b = rng.standard_normal(cout, dtype=np.float32)
        totals += row(name, f"{cin}->{cout} {side}x{side}",
                      lambda x, w, b: conv2d(x, w, b, 1, 1),
                      lambda x, w, b: TF.conv2d(x, w, b, 1, 1),
                      [x, w, b], grad_of_x=name != "conv1")   # the images need no gradient
    for name, c, side in POOLS:
        x = rng.standard_normal((n, c, side, side), dtype=np.float32)
        totals += row(name, f"{c}x{side}x{side} k3 s2 p1",
                      lambda x: max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1),
                      [x], grad_of_x=True)
    nchw, cl, ref = totals
    print(f"{'total':8s} {'':22s} {nchw:9.2f} {cl:11.2f} {ref:9.2f} {nchw / ref:8.2f} {cl / ref:8.2f}")


if __name__ == "__main__":
    main()
