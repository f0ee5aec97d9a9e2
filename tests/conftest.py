"""Shared test settings: hypothesis profiles, and the ``device`` fixture that runs a test on every backend.

Hypothesis: pick a profile with ``HYPOTHESIS_PROFILE=<name>`` or ``pytest --hypothesis-profile=<name>``:
- ``dev`` (default): few examples, so the op suite runs in well under a minute on 2 cores;
- ``ci``: the same budget, derandomized (the same examples on every run) and printing
  the reproduction blob of a failure;
- ``thorough``: many more examples, for hunting bugs locally.
No deadline anywhere: a gradcheck's time depends on the shape drawn and on the machine's load.
A test that takes the ``device`` fixture keeps its device (and stand-in) for all its examples, and
runs a third of them off the CPU (see ``_fewer_examples``).

Devices: a test that takes ``device`` runs three times,
- ``cpu``: NumPy;
- ``stand-in``: the strict CuPy stand-in of fake_cupy.py (a fresh one per test, with two fake GPUs),
  plugged into the backend and taken out afterwards;
- ``cuda``: real CuPy, only when it is installed and sees a GPU (skipped otherwise).
The test makes its tensors with ``device.tensor(...)`` (or ``device.array(...)`` for a bare array,
``.to(device.name)`` for a model) and compares through a host copy, ``device.to_host(...)``.
A test marked ``second_gpu`` gets GPU 1 instead of GPU 0 (where there is one): CuPy runs kernels on
the current device, GPU 0 unless told, so only there do the library's missing device scopes show.

A test that also takes ``implementation`` runs with the fast paths and with the plain ops (see below).

Tests marked ``slow`` (the tutorials in full on the real CIFAR-10) run only with ``pytest --run-slow``.
"""
import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinygrad_dl1 import Tensor, backend, plain_ops
from tinygrad_dl1.site import browser

from fake_cupy import FakeCupy

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("ci", max_examples=30, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=300, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

BACKENDS = ["cpu", "stand-in", "cuda"]
_REAL_GPU_LIBRARY = backend.cupy, backend.cupyx     # what backend found at import: CuPy, or None
# Off the CPU a hypothesis test runs this fraction of its examples: an example costs two to three
# times as much on the stand-in as on NumPy (every array op goes through its checks and counts; a
# GPU is launch-bound on such small arrays), and the CPU run covers the math with the whole budget.
# The stand-in's runs of the library's tests take about 30 s of CPU time so, 50 s with every example.
DEVICE_EXAMPLES = 1 / 3


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true",
                     help="also run the tests marked slow (training for minutes on the real CIFAR-10)")


def pytest_configure(config):
    config.addinivalue_line("markers", "second_gpu: run on GPU 1 rather than GPU 0 (the stand-in has two)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: trains for minutes on the real CIFAR-10 (run with --run-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class Device:
    """The backend a test runs on: its name for ``device=`` ('cpu', 'cuda:0', 'cuda:1'), helpers to
    put data there and to read it back, and ``fake``, the stand-in (for counting), or None."""

    def __init__(self, kind, name, fake=None):
        self.kind, self.name, self.fake = kind, name, fake

    @property
    def is_cpu(self):
        return self.name == "cpu"

    def tensor(self, data, requires_grad=False, dtype=None):
        """A Tensor on this device made from host data (a NumPy array, a list, a number)."""
        return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=self.name)

    def array(self, data, dtype=None):
        """A bare array on this device (a NumPy array on the CPU) made from host data."""
        return backend.to_device(np.asarray(data, dtype=dtype), self.name)

    def errstate(self, **kwargs):
        """``np.errstate(**kwargs)`` on the CPU, so that NumPy's floating-point errors raise; nothing on a
        GPU, which has no such error states (an overflow gives inf silently): there a test checks values."""
        return np.errstate(**kwargs) if self.is_cpu else contextlib.nullcontext()

    @staticmethod
    def to_host(x):
        """A Tensor's data or an array as a NumPy array: a copy from a GPU, the array itself on the CPU."""
        return backend.to_numpy(x.data if isinstance(x, Tensor) else x)

    def __repr__(self):
        return f"Device({self.kind!r}, {self.name!r})"


@pytest.fixture(params=BACKENDS)
def device(request):
    """A Device for each backend (see the module's docstring); takes ``indirect`` parameters too."""
    index = 1 if request.node.get_closest_marker("second_gpu") else 0
    if request.param == "cpu":
        yield Device("cpu", "cpu")
    elif request.param == "stand-in":
        fake = FakeCupy(device_count=2)
        previous = backend.use_gpu_library(fake, fake.cupyx)
        try:
            with _fewer_examples(request.function, DEVICE_EXAMPLES):
                yield Device("stand-in", f"cuda:{index}", fake)
        finally:
            backend.use_gpu_library(*previous)
    else:
        previous = backend.use_gpu_library(*_REAL_GPU_LIBRARY)
        try:
            if not backend.gpu_available():
                pytest.skip("needs CuPy and a GPU")
            count = backend.cupy.cuda.runtime.getDeviceCount()
            with _fewer_examples(request.function, DEVICE_EXAMPLES):
                yield Device("cuda", f"cuda:{min(index, count - 1)}")
        finally:
            backend.use_gpu_library(*previous)


@pytest.fixture(params=["fast paths", "plain ops"])
def implementation(request):
    """Runs a test twice: with the fast paths (the default, tinygrad_dl1/fast_paths/) and inside
    ``plain_ops()``, where each op runs its own readable code: both are checked the same way."""
    with contextlib.nullcontext() if request.param == "fast paths" else plain_ops():
        yield request.param


@contextlib.contextmanager
def _fewer_examples(test, fraction):
    """While in the block, the hypothesis test ``test`` runs ``fraction`` of its examples (at least 5);
    other tests are left alone. Hypothesis reads a test's settings when it runs, from the attribute that
    @given and @settings set; this sets it for the block and puts the test's own settings back."""
    own = getattr(test, "_hypothesis_internal_use_settings", None)
    if own is None:
        yield
        return
    test._hypothesis_internal_use_settings = settings(own, max_examples=max(5, round(own.max_examples * fraction)))
    try:
        yield
    finally:
        test._hypothesis_internal_use_settings = own


# ----- the browser tests (tests/test_site.py, tests/test_replay.py) -----

@pytest.fixture(scope="session")
def screenshots(tmp_path_factory, request):
    """The folder the browser tests save their screenshots into (printed, so that a run shows where)."""
    folder = browser.screenshot_folder(tmp_path_factory.getbasetemp() / "screenshots")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\nscreenshots of the site and the replay: {folder}")
    return folder


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by playwright; the test skips, with the reason, where either is missing,
    and fails instead when $TINYGRAD_DL1_BROWSER_REQUIRED (browser.REQUIRED_ENV) is set, as in .ci/run."""
    reason = browser.unavailable()
    if reason and os.environ.get(browser.REQUIRED_ENV):
        pytest.fail(f"${browser.REQUIRED_ENV} is set, but {reason}")
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    with browser.chromium() as b:
        yield b
