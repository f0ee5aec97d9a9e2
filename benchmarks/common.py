"""Timing helpers shared by the benchmarks: best-of-repeats wall time, ratios, a table."""
import os
import time


def interleaved_times(steps, repeats=5, number=20, warmup=3, pause=0.3):
    """Best time per call of each of ``steps`` (a dict), measured in blocks that take turns.

    Each block starts after a pause and a warm-up: a library's idle BLAS/OpenMP threads keep
    spinning for a while after its work and would steal a core from the next block.
    """
    best = {name: float("inf") for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            time.sleep(pause)
            for _ in range(warmup):
                step()
            start = time.perf_counter()
            for _ in range(number):
                step()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def our_training_step(model, opt, x, t, library="tinygrad_dl1"):
    """A closure: one step of ``opt`` on cross_entropy(model(x), t), with tinygrad_dl1 (or the package
    named ``library``: another version of it, see bench_versions.py)."""
    import importlib
    Tensor = importlib.import_module(library).Tensor
    F = importlib.import_module(library + ".nn.functional")
    x = Tensor(x)

    def step():
        loss = F.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_training_step(torch, model, opt, x, t, device="cpu"):
    """The same step in PyTorch, on NumPy inputs ``x``, ``t`` copied to ``device``."""
    x, t = torch.from_numpy(x).to(device), torch.from_numpy(t).to(device)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def print_blas():
    """Which BLAS NumPy runs and which kernel it chose (an OPENBLAS_CORETYPE setting forces an older one)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("(threadpoolctl is not installed: BLAS kernel unknown)")
        return
    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            print(f"NumPy BLAS: {pool['internal_api']} {pool.get('version')}, kernel {pool.get('architecture')}, "
                  f"{pool['num_threads']} threads; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")


def try_import_torch():
    """PyTorch, or None with a note, for the baseline column."""
    try:
        import torch
        return torch
    except ImportError:
        print("(PyTorch is not installed: no baseline; pip install torch==2.13.0 to compare)")
        return None


def print_rows(rows):
    """A table of (name, ours seconds, torch seconds or None)."""
    print(f"{'case':<40} {'ours ms':>10} {'torch ms':>10} {'ratio':>7}")
    for name, ours, theirs in rows:
        t = f"{theirs * 1e3:10.3f}" if theirs else f"{'-':>10}"
        r = f"{ours / theirs:7.2f}" if theirs else f"{'-':>7}"
        print(f"{name:<40} {ours * 1e3:10.3f} {t} {r}")
