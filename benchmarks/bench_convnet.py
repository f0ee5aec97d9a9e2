"""One Adam training step of the assignment's ConvNet (batch 32, float32) next to PyTorch CPU,
and the peak memory of a step.

    python benchmarks/bench_convnet.py
"""
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))   # the PyTorch twin
from tinygrad_dl1 import manual_seed, models, optim  # noqa: E402

from common import interleaved_times, our_training_step, print_blas, print_rows, torch_training_step, try_import_torch  # noqa: E402
from torch_reference import torch_twin  # noqa: E402

BATCH, LR = 32, 1e-4


def make_ours(model, x, t):
    return our_training_step(model, optim.Adam(model.parameters(), lr=LR), x, t)


def make_torch(torch, model, x, t):
    twin = torch_twin(torch, model)
    return torch_training_step(torch, twin, torch.optim.Adam(twin.parameters(), lr=LR), x, t)


def peak_memory_mb(step):
    """Peak memory allocated through Python/NumPy during one step (tracemalloc), in MB."""
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    t = rng.integers(0, 10, BATCH)
    manual_seed(0)
    model = models.ConvNet()
    torch = try_import_torch()
    if torch is not None:
        torch_step = make_torch(torch, model, x, t)     # from the initial weights, before ours trains
    ours = make_ours(model, x, t)
    steps = {"ours": ours}
    print_blas()
    if torch is not None:
        steps["torch"] = torch_step
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    best = interleaved_times(steps, repeats=3, number=5, warmup=1)
    print_rows([("ConvNet Adam step, batch 32", best["ours"], best.get("torch"))])
    print(f"peak memory of one step (ours, NumPy allocations): {peak_memory_mb(ours):.0f} MB")


if __name__ == "__main__":
    main()
