"""How a training step's cost grows with the batch: the ConvNet at batch 32, 64 and 128 and the better
MLP at 250, 500 and 1000, ours next to PyTorch CPU, in one process and from the same weights.

    python benchmarks/bench_scaling.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))   # the PyTorch twins
from tinygrad_dl1 import manual_seed, models, optim  # noqa: E402

from common import interleaved_times, our_training_step, print_blas, print_rows, torch_training_step, try_import_torch  # noqa: E402
from torch_reference import torch_twin  # noqa: E402

CASES = [   # (name, make the model, lr, batch sizes, one input's shape)
    ("ConvNet, Adam", lambda: models.ConvNet(), 1e-4, (32, 64, 128), (3, 32, 32)),
    ("better MLP, Adam", lambda: models.MLP(3072, [1000, 500, 200, 50], 10, batch_norm=True, dropout=0.2,
                                            init="default"), 1e-3, (250, 500, 1000), (3072,)),
]


def main():
    print_blas()
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    rows = []
    for name, make, lr, batches, shape in CASES:
        for batch in batches:
            x = rng.standard_normal((batch, *shape)).astype(np.float32)
            t = rng.integers(0, 10, batch)
            manual_seed(0)
            model = make()
            steps = {}
            if torch is not None:
                twin = torch_twin(torch, model)      # from the initial weights, before ours trains
                steps["torch"] = torch_training_step(torch, twin, torch.optim.Adam(twin.parameters(), lr=lr), x, t)
            steps["ours"] = our_training_step(model, optim.Adam(model.parameters(), lr=lr), x, t)
            best = interleaved_times(steps, repeats=3, number=3 if "ConvNet" in name else 5, warmup=1)
            rows.append((f"{name}, batch {batch}", best["ours"], best.get("torch")))
            print_rows(rows[-1:])
    print()
    print_rows(rows)


if __name__ == "__main__":
    main()
