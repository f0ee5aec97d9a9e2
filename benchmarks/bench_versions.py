"""The training steps of the three models with this checkout's library (fast paths on, and off with
``plain_ops()``), with the library as it was at a git commit, and with PyTorch CPU, all in one process
and from the same weights, timed in turns: the ratio of one version to another is then measured on the
same machine at the same moment.

    python benchmarks/bench_versions.py [COMMIT]        # default: HEAD~1

The commit's ``tinygrad_dl1`` is extracted (git archive) into a temporary folder under another name
and imported beside this one.
"""
import importlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))   # the PyTorch twins
import tinygrad_dl1 as new  # noqa: E402
import tinygrad_dl1.models  # noqa: E402, F401
import tinygrad_dl1.nn.functional  # noqa: E402, F401
import tinygrad_dl1.optim  # noqa: E402, F401

from common import interleaved_times, our_training_step, print_blas, torch_training_step, try_import_torch  # noqa: E402
from torch_reference import torch_twin  # noqa: E402

MODELS = {   # name -> (make the model with a library, its optimizer and lr, batch, one input's shape)
    "MLP 3072-100-10, SGD, batch 200": (lambda lib: lib.models.MLP(3072, [100], 10), "SGD", 2e-3, 200, (3072,)),
    "better MLP, Adam, batch 500": (lambda lib: lib.models.MLP(3072, [1000, 500, 200, 50], 10, batch_norm=True,
                                                               dropout=0.2, init="default"),
                                    "Adam", 1e-3, 500, (3072,)),
    "ConvNet, Adam, batch 32": (lambda lib: lib.models.ConvNet(), "Adam", 1e-4, 32, (3, 32, 32)),
}


def library_at(commit):
    """The package tinygrad_dl1 as it was at ``commit``, imported as tinygrad_dl1_at_<commit>."""
    name = "tinygrad_dl1_at_" + re.sub(r"\W", "_", commit)
    folder = Path(tempfile.mkdtemp())
    archive = subprocess.run(["git", "archive", commit, "tinygrad_dl1"], cwd=HERE.parent, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "tinygrad_dl1").rename(folder / name)
    for path in (folder / name).rglob("*.py"):       # absolute imports of the package, if any
        text = path.read_text()
        path.write_text(re.sub(r"\btinygrad_dl1\b(?=[.\s])", name, text))
    sys.path.insert(0, str(folder))
    lib = importlib.import_module(name)
    for sub in ("models", "optim", "nn.functional"):
        importlib.import_module(f"{name}.{sub}")
    return lib


def training_step(lib, model, optimizer, lr, x, t, plain=False):
    """A closure: one optimizer step on cross_entropy(model(x), t) with the library ``lib``, inside
    ``plain_ops()`` when ``plain``."""
    step = our_training_step(model, getattr(lib.optim, optimizer)(model.parameters(), lr=lr), x, t, lib.__name__)

    def step_with_plain_ops():
        with lib.plain_ops():
            step()
    return step_with_plain_ops if plain else step


def main():
    commit = sys.argv[1] if len(sys.argv) > 1 else "HEAD~1"
    old = library_at(commit)
    print_blas()
    torch = try_import_torch()
    print(f"{'model':<34} {'fast ms':>9} {'plain ms':>9} {commit + ' ms':>12} {'torch ms':>9}   "
          f"{'fast/torch':>10} {'plain/torch':>11} {'old/torch':>9} {'fast/old':>8}")
    rng = np.random.default_rng(0)
    for name, (make, optimizer, lr, batch, shape) in MODELS.items():
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        t = rng.integers(0, 10, batch)
        new.manual_seed(0)
        models = {"fast": make(new), "plain": make(new), "old": make(old)}
        weights = models["fast"].state_dict()
        for model in models.values():
            model.load_state_dict(weights)
        steps = {}
        if torch is not None:
            twin = torch_twin(torch, models["fast"])
            steps["torch"] = torch_training_step(torch, twin, getattr(torch.optim, optimizer)(twin.parameters(),
                                                                                                lr=lr), x, t)
        steps["fast"] = training_step(new, models["fast"], optimizer, lr, x, t)
        steps["plain"] = training_step(new, models["plain"], optimizer, lr, x, t, plain=True)
        steps["old"] = training_step(old, models["old"], optimizer, lr, x, t)
        number = 3 if "ConvNet" in name else 10
        best = interleaved_times(steps, repeats=3, number=number, warmup=1)
        ms = {k: v * 1e3 for k, v in best.items()}
        torch_ms = ms.get("torch", float("nan"))
        print(f"{name:<34} {ms['fast']:9.2f} {ms['plain']:9.2f} {ms['old']:12.2f} {torch_ms:9.2f}   "
              f"{ms['fast'] / torch_ms:10.2f} {ms['plain'] / torch_ms:11.2f} {ms['old'] / torch_ms:9.2f} "
              f"{ms['fast'] / ms['old']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
