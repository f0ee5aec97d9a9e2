"""Kernel launches and device-to-host syncs per training step of the three models, counted on the
strict CuPy stand-in (tests/fake_cupy.py), without a GPU:

- the assignment's MLP (3072-100-10, SGD),
- the better MLP (1000-500-200-50, batch norm, dropout 0.2, Adam),
- the ConvNet (Adam),

with the fast paths (tinygrad_dl1/fast_paths/: fused kernels) and with the plain ops
(``plain_ops()``: each op's readable code, as separate array ops). On a GPU each launch costs the CPU some microseconds
whatever the array's size, so a step of small arrays is as slow as its launches are many. The counts
do not depend on the batch size, so the batches here are small.

    python benchmarks/bench_launches.py              # add --sites to see where the launches come from
"""
import contextlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))   # the stand-in
from tinygrad_dl1 import Tensor, backend, manual_seed, models, optim, plain_ops  # noqa: E402
from tinygrad_dl1.nn import functional as F  # noqa: E402

from fake_cupy import FakeCupy  # noqa: E402

MODELS = {   # name -> (make the model and its optimizer, the shape of one input)
    "MLP, SGD": (lambda: (models.MLP(3072, [100], 10), optim.SGD, 1e-3), (3072,)),
    "better MLP, Adam, batch norm, dropout": (
        lambda: (models.MLP(3072, [1000, 500, 200, 50], 10, batch_norm=True, dropout=0.2), optim.Adam, 1e-3),
        (3072,)),
    "ConvNet, Adam": (lambda: (models.ConvNet(), optim.Adam, 1e-4), (3, 32, 32)),
}
BATCH = 4


def count_step(name, fast=True):
    """The stand-in's Counts of the second training step of model ``name`` (the first makes the optimizer's state)."""
    fake = FakeCupy()
    previous = backend.use_gpu_library(fake, fake.cupyx)
    try:
        make, input_shape = MODELS[name]
        manual_seed(0)
        model, optimizer, lr = make()
        model.to("cuda")
        optimizer = optimizer(model.parameters(), lr=lr)
        rng = np.random.default_rng(0)
        x = Tensor(rng.standard_normal((BATCH, *input_shape)).astype(np.float32), device="cuda")
        t = Tensor(rng.integers(0, 10, BATCH), device="cuda")

        def step():     # train.train_step without its count of correct predictions
            loss = F.cross_entropy(model(x), t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        with contextlib.nullcontext() if fast else plain_ops():
            step()
            with fake.counting() as counts:
                step()
        return counts
    finally:
        backend.use_gpu_library(*previous)


def main():
    show_sites = "--sites" in sys.argv
    print(f"per training step, counted by the CuPy stand-in (tests/fake_cupy.py), batch {BATCH}")
    print(f"{'model':<40} {'launches':>9} {'(plain)':>10} {'syncs':>6} {'(plain)':>8}")
    for name in MODELS:
        fused, plain = count_step(name), count_step(name, fast=False)
        print(f"{name:<40} {fused.launches:>9} {plain.launches:>10} {fused.syncs:>6} {plain.syncs:>8}")
        if show_sites:
            for site, n in fused.launch_sites.most_common():
                print(f"    {n:>5}  {site}")


if __name__ == "__main__":
    main()
