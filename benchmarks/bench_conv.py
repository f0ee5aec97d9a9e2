"""Time conv2d and max_pool2d (forward + backward) at the ConvNet's layer shapes, next to PyTorch CPU.

    python benchmarks/bench_conv.py [--repeats 5] [--rounds 2] [--threads N]

Both libraries get the same number of threads (default: every core): NumPy's BLAS through
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS, set before NumPy loads, and PyTorch
through torch.set_num_threads. Inputs are float32, batch 32. Ours is timed twice: on plain NCHW
arrays, and on channels-last arrays, the layout in which conv2d and max_pool2d hand their outputs
and gradients to each other inside the network. The last row chains all the convs and pools as
in the ConvNet (without its batch norms and ReLUs). Each time is the best of all runs, in ms.
"""
import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed runs per block")
    p.add_argument("--rounds", type=int, default=2, help="blocks per step, taking turns")
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
CONVS = [("conv1", 3, 64, 32), ("conv2", 64, 128, 16), ("conv3_a", 128, 256, 8),
         ("conv3_b", 256, 256, 8), ("conv4_a", 256, 512, 4), ("conv4_b", 512, 512, 4),
         ("conv5_a", 512, 512, 2), ("conv5_b", 512, 512, 2)]
POOL_AFTER = {"conv1", "conv2", "conv3_b", "conv4_b", "conv5_b"}
# (name, channels, side) of its max-pools: 3x3, stride 2, pad 1
POOLS = [("pool1", 64, 32), ("pool2", 128, 16), ("pool3", 256, 8), ("pool4", 512, 4), ("pool5", 512, 2)]


def best_ms(steps):
    """The best time of each step, in ms. Each step runs in blocks of its own, after a pause (the
    other library's idle threads spin for a while after their work, taking a core); the blocks
    take turns for a few rounds, so that a moment when the machine is busy does not hit one alone."""
    best = [float("inf")] * len(steps)
    for _ in range(args.rounds):
        for s, step in enumerate(steps):
            time.sleep(0.3)
            step()  # warm-up
            for _ in range(args.repeats):
                start = time.perf_counter()
                step()
                best[s] = min(best[s], time.perf_counter() - start)
    return [1000 * b for b in best]


def channels_last(a):
    """The same (N, C, H, W) values, stored as (N, H, W, C) in memory."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def ours(op, arrays, grad_of_x, layout):
    x, *params = arrays
    x = channels_last(x) if layout == "channels-last" else x
    gy = None

    def step():
        nonlocal gy
        y = op(Tensor(x, requires_grad=grad_of_x), *[Tensor(p, requires_grad=True) for p in params])
        if gy is None:
            gy = np.ones(y.shape, np.float32)
            gy = channels_last(gy) if layout == "channels-last" else gy
        y.backward(gy)
    return step


def theirs(op, arrays, grad_of_x):
    tensors = [torch.from_numpy(a).requires_grad_(grad_of_x or i > 0) for i, a in enumerate(arrays)]

    def step():
        for t in tensors:
            t.grad = None
        y = op(*tensors)
        y.backward(torch.ones_like(y))
    return step


def row(name, shape, our_op, their_op, arrays, grad_of_x):
    steps = [ours(our_op, arrays, grad_of_x, "nchw"), ours(our_op, arrays, grad_of_x, "channels-last")]
    times = best_ms(steps + ([theirs(their_op, arrays, grad_of_x)] if torch else [])) + [float("nan")]
    nchw, cl, ref = times[:3]
    print(f"{name:8s} {shape:22s} {nchw:9.2f} {cl:11.2f} {ref:9.2f} {nchw / ref:8.2f} {cl / ref:8.2f}")
    return nchw, cl, ref


def chained(x, params, conv, pool):
    for (name, *_), (w, b) in zip(CONVS, params):
        x = conv(x, w, b, 1, 1)
        x = pool(x, 3, 2, 1) if name in POOL_AFTER else x
    return x.sum()


def stack_row(rng, n):
    x = rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
    weights = [(rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) * 0.05, np.zeros(cout, np.float32))
               for _, cin, cout, _ in CONVS]

    def our_step():
        params = [(Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)) for w, b in weights]
        chained(Tensor(x), params, conv2d, max_pool2d).backward()

    steps = [our_step]
    if torch:
        params = [(torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_())
                  for w, b in weights]

        def their_step():
            for w, b in params:
                w.grad = b.grad = None
            chained(torch.from_numpy(x), params, TF.conv2d, TF.max_pool2d).backward()
        steps.append(their_step)
    mine, ref = (best_ms(steps) + [float("nan")])[:2]
    print(f"{'stack':8s} {'all chained':22s} {'':9s} {mine:11.2f} {ref:9.2f} {'':8s} {mine / ref:8.2f}")


def main():
    rng = np.random.default_rng(0)
    n = args.batch
    print(f"threads: {args.threads} (OPENBLAS/OMP/MKL_NUM_THREADS and torch.set_num_threads), batch {n}, "
          f"float32, forward + backward, best of {args.rounds} x {args.repeats} runs, ms")
    print(f"{'layer':8s} {'shape':22s} {'ours NCHW':>9s} {'ours ch-last':>11s} {'torch':>9s} "
          f"{'ratio':>8s} {'ratio cl':>8s}")
    totals = np.zeros(3)
    for name, cin, cout, side in CONVS:
        x = rng.standard_normal((n, cin, side, side), dtype=np.float32)
        w = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) * 0.05
        b = rng.standard_normal(cout, dtype=np.float32)
        totals += row(name, f"{cin}->{cout} {side}x{side}",
                      lambda x, w, b: conv2d(x, w, b, 1, 1), lambda x, w, b: TF.conv2d(x, w, b, 1, 1),
                      [x, w, b], grad_of_x=name != "conv1")   # the images need no gradient
    for name, c, side in POOLS:
        x = rng.standard_normal((n, c, side, side), dtype=np.float32)
        totals += row(name, f"{c}x{side}x{side} k3 s2 p1",
                      lambda x: max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1),
                      [x], grad_of_x=True)
    nchw, cl, ref = totals
    print(f"{'sum':8s} {'':22s} {nchw:9.2f} {cl:11.2f} {ref:9.2f} {nchw / ref:8.2f} {cl / ref:8.2f}")
    stack_row(rng, n)


if __name__ == "__main__":
    main()
