"""Training steps of the assignment's MLPs next to the same steps in PyTorch CPU, float32:

- the 3072-100-10 MLP (leaky ReLU, softmax cross-entropy, SGD, batch 200) built from the ops;
- the better MLP (1000-500-200-50, batch norm, leaky ReLU, dropout 0.2, Adam, batch 500)
  built from tinygrad_dl1.nn and tinygrad_dl1.optim.

    python benchmarks/bench_mlp.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))   # the PyTorch twin
from tinygrad_dl1 import Tensor, models, optim  # noqa: E402
from tinygrad_dl1.ops import cross_entropy, linear  # noqa: E402

from common import interleaved_times, our_training_step, print_blas, print_rows, torch_training_step, try_import_torch  # noqa: E402
from torch_reference import torch_twin  # noqa: E402

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


BETTER = {"hidden": [1000, 500, 200, 50], "batch": 500, "lr": 1e-3, "dropout": 0.2}


def make_better_ours(model, x, t):
    return our_training_step(model, optim.Adam(model.parameters(), lr=BETTER["lr"]), x, t)


def make_better_torch(torch, model, x, t):
    twin = torch_twin(torch, model)
    return torch_training_step(torch, twin, torch.optim.Adam(twin.parameters(), lr=BETTER["lr"]), x, t)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    t = rng.integers(0, SIZES[-1], BATCH)
    weights = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        weights += [rng.normal(0, 1e-4, (n_out, n_in)).astype(np.float32), np.zeros(n_out, np.float32)]
    steps = {"ours": make_ours(x, t, weights)}
    print_blas()
    torch = try_import_torch()
    if torch is not None:
        steps["torch"] = make_torch(torch, x, t, weights)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    best = interleaved_times(steps, repeats=7, number=50)
    rows = [("MLP 3072-100-10 SGD step, batch 200", best["ours"], best.get("torch"))]

    xb = rng.standard_normal((BETTER["batch"], SIZES[0])).astype(np.float32)
    tb = rng.integers(0, SIZES[-1], BETTER["batch"])
    model = models.MLP(3072, BETTER["hidden"], 10, batch_norm=True, dropout=BETTER["dropout"], init="default")
    steps = {}
    if torch is not None:
        steps["torch"] = make_better_torch(torch, model, xb, tb)    # from the initial weights
    steps["ours"] = make_better_ours(model, xb, tb)
    best = interleaved_times(steps, repeats=5, number=5, warmup=2)
    rows.append(("better MLP 1000-500-200-50 Adam, batch 500", best["ours"], best.get("torch")))
    print_rows(rows)


if __name__ == "__main__":
    main()
