"""benchmarks/gpu_check.py in its tiny mode on the CuPy stand-in, so that it cannot rot."""
import importlib.util
from pathlib import Path

import pytest

from tinygrad_dl1 import backend

from cifar_files import isolated_env  # noqa: F401  (keeps the run away from the user's data)
from fake_cupy import FakeCupy

GPU_CHECK = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", GPU_CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tiny(gpu_check, capsys, gpu_library="stand-in"):
    """gpu_check --tiny with the GPU library given (by default a fresh stand-in): (exit status, stdout, stderr)."""
    fake = FakeCupy(device_count=1)
    previous = backend.use_gpu_library(*((fake, fake.cupyx) if gpu_library == "stand-in" else gpu_library))
    try:
        status = gpu_check.main(["--tiny"])
    finally:
        backend.use_gpu_library(*previous)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_gpu_check_passes_in_tiny_mode_on_the_stand_in(gpu_check, capsys):
    status, out, _ = run_tiny(gpu_check, capsys)
    assert "## op parity" in out and "conv2d_composed" in out and "ConvNet, Adam" in out
    timed = out[out.index("## training step"):out.index("## ConvNet")]
    assert timed.count(" ours ") == 3, timed
    assert status == 0, out


def test_a_section_that_raises_fails_the_check_and_the_next_sections_still_run(gpu_check, capsys, monkeypatch):
    """On a GPU machine the check runs once, with little time: an error in one part must not lose the others."""
    def op_parity(device):
        yield "linear", "float64", 0.0, True
        raise RuntimeError("a kernel failed to compile")
    monkeypatch.setattr(gpu_check, "op_parity", op_parity)
    status, out, _ = run_tiny(gpu_check, capsys)
    assert status == 1
    assert "linear" in out and "RuntimeError: a kernel failed to compile" in out      # the row before, the traceback
    assert "ConvNet, Adam" in out and "step     2: GPU" in out                      # the sections after
    assert out.rstrip().splitlines()[-1].startswith("## FAILED: op parity, GPU against CPU: raised")


def test_gpu_check_says_when_there_is_no_gpu(gpu_check, capsys):
    status, _, err = run_tiny(gpu_check, capsys, gpu_library=(None, None))
    assert status == 1 and "no GPU" in err
