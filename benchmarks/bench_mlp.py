"""One SGD training step of the assignment's 3072-100-10 MLP (leaky ReLU, softmax cross-entropy,
batch 200, float32), built from tinygrad_dl1's ops, next to the same step in PyTorch CPU.

    python benchmarks/bench_mlp.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved_times, print_rows, try_import_torch  # noqa: E402

from tinygrad_dl1 import Tensor  # noqa: E402
from tinygrad_dl1.ops import cross_entropy, linear  # noqa: E402

BATCH, SIZES, LR, SLOPE = 200, (3072, 100, 10), 2e-3, 0.02


def make_ours(x, t, weights):
    params = [Tensor(a, requires_grad=True) for a in weights]
    x = Tensor(x)

    def step():
        w1, b1, w2, b2 = params
        loss = cross_entropy(linear(linear(x, w1, b1).leaky_relu(SLOPE), w2, b2), t)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
            p.grad = None
    return step


def make_torch(torch, x, t, weights):
    F = torch.nn.functional
    params = [torch.tensor(a, requires_grad=True) for a in weights]
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    opt = torch.optim.SGD(params, lr=LR)

    def step():
        w1, b1, w2, b2 = params
        loss = F.cross_entropy(F.linear(F.leaky_relu(F.linear(x, w1, b1), SLOPE), w2, b2), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    t = rng.integers(0, SIZES[-1], BATCH)
    weights = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        weights += [rng.normal(0, 1e-4, (n_out, n_in)).astype(np.float32), np.zeros(n_out, np.float32)]
    steps = {"ours": make_ours(x, t, weights)}
    torch = try_import_torch()
    if torch is not None:
        steps["torch"] = make_torch(torch, x, t, weights)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    best = interleaved_times(steps, repeats=7, number=50)
    print_rows([("MLP 3072-100-10 SGD step, batch 200", best["ours"], best.get("torch"))])


if __name__ == "__main__":
    main()
