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
from torch_reference import torch_convnet  # noqa: E402
from common import (interleaved_times, our_training_step, print_rows, torch_training_step,  # noqa: E402
                    try_import_torch)

from tinygrad_dl1 import models, optim  # noqa: E402
from tinygrad_dl1 import manual_seed  # noqa: E402

BATCH, LR = 32, 1e-4


def make_ours(x, t):
    model = models.ConvNet()
    return our_training_step(model, optim.Adam(model.parameters(), lr=LR), x, t), model.state_dict()


def make_torch(torch, x, t, state):
    model = torch_convnet(torch)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return torch_training_step(torch, model, torch.optim.Adam(model.parameters(), lr=LR), x, t)


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
    ours, state = make_ours(x, t)
    steps = {"ours": ours}
    torch = try_import_torch()
    if torch is not None:
        steps["torch"] = make_torch(torch, x, t, state)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    best = interleaved_times(steps, repeats=3, number=5, warmup=1)
    print_rows([("ConvNet Adam step, batch 32", best["ours"], best.get("torch"))])
    print(f"peak memory of one step (ours, NumPy allocations): {peak_memory_mb(ours):.0f} MB")


if __name__ == "__main__":
    main()
