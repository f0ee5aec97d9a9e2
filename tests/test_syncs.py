"""No device-to-host syncs in a training step, and the data copied to the device once per run,
counted on the strict CuPy stand-in (fake_cupy.py).

A sync (reading a value back: ``float``, ``.item()``, ``asnumpy``, ...) makes the host wait for every
kernel queued so far, and the GPU then idles while Python queues the next ones. So a step leaves its
loss and its count of correct images on the device; an evaluation reads them all at once.
"""
import io

import numpy as np
import pytest
from fake_runs import fake_data, new_state

from tinygrad_dl1 import Tensor, backend, manual_seed, models, optim
from tinygrad_dl1.nn import functional as F
from tinygrad_dl1.train import train, train_step

from fake_cupy import FakeCupy


@pytest.fixture
def fake():
    """The stand-in as the GPU library, with two fake GPUs."""
    stand_in = FakeCupy(device_count=2)
    previous = backend.use_gpu_library(stand_in, stand_in.cupyx)
    yield stand_in
    backend.use_gpu_library(*previous)


MODELS = {   # the three models of the command line, on small inputs
    "default MLP, SGD": (lambda: models.MLP(3 * 8 * 8, [100], 10), optim.SGD, 1e-3, (8, 3, 8, 8)),
    "better MLP: batch norm, dropout, Adam": (
        lambda: models.MLP(3 * 8 * 8, [64, 32], 10, batch_norm=True, dropout=0.2), optim.Adam, 1e-3, (8, 3, 8, 8)),
    "ConvNet, Adam": (lambda: models.ConvNet(3, 10), optim.Adam, 1e-4, (2, 3, 32, 32)),
}


@pytest.mark.parametrize("name", MODELS)
def test_a_training_step_makes_no_sync_and_copies_nothing_to_the_device(fake, name):
    build, optimizer, lr, shape = MODELS[name]
    manual_seed(0)
    model = build().to("cuda:1")                   # not the current GPU: every kernel must still find its data
    opt = optimizer(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    with fake.cuda.Device(1):
        xb = fake.asarray(rng.standard_normal(shape).astype(np.float32))
        yb = fake.asarray(rng.integers(0, 10, shape[0]))
    for _ in range(2):                             # the first step, and one with the optimizer's state made
        with fake.forbid_syncs(), fake.counting() as counts:
            loss, correct = train_step(model, opt, xb, yb)
        assert (counts.syncs, counts.uploads) == (0, 0), counts.sync_sites
    assert backend.device_of(loss) == backend.device_of(correct) == "cuda:1"
    assert np.isfinite(float(loss)) and 0 <= int(correct) <= shape[0]


def run(fake, data, **options):
    """Train the fake-data MLP on the stand-in's GPU 0; returns what the run did there (a Counts)."""
    with fake.counting() as counts:
        train(new_state(data, device="cuda"), data, show_progress=False, device="cuda", **options)
    return counts


def test_a_runs_syncs_come_from_its_evaluations_not_its_steps(fake):
    data = fake_data()
    few, many = run(fake, data, max_steps=3, eval_freq=3), run(fake, data, max_steps=30, eval_freq=30)
    # one evaluation each, whatever its steps: the training losses and counts, the test loss and count
    assert few.syncs == many.syncs == 4, many.sync_sites
    assert all(site.startswith("tinygrad_dl1/") for site in many.sync_sites)
    assert run(fake, data, max_steps=30, eval_freq=10).syncs == 3 * many.syncs


def test_the_data_goes_to_the_device_once_per_run(fake):
    """The training and test sets go up once; then only each epoch's order of the samples (a small
    index array) does: evaluations read the test set from its copy there, batches are gathered there
    and dropout masks are made there."""
    data = fake_data()                             # 120 training images: 7 batches of 16 per epoch
    state = new_state(data, device="cuda")
    with fake.counting() as counts:
        train(state, data, max_steps=12, eval_freq=3, show_progress=False, device="cuda")
    assert state.batches.epoch == 1                # two orders: the first epoch's and the second's
    assert counts.uploads == 4 + 2                 # train x and y, test x and y, the two orders
    assert backend.device_of(state.batches.x) == backend.device_of(state.batches.y) == "cuda:0"


def test_the_progress_bar_reads_the_loss_at_most_once_a_second(fake, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    data = fake_data()
    quiet = run(fake, data, max_steps=40, eval_freq=40)
    with fake.counting() as shown:
        state = train(new_state(data, device="cuda"), data, max_steps=40, eval_freq=40, device="cuda")
    reads = shown.syncs - quiet.syncs
    assert 1 <= reads <= 1 + state.elapsed_s
    assert "loss=" in terminal.getvalue()


def test_cross_entropy_on_a_gpu_turns_a_class_index_out_of_range_into_nan_without_a_sync(fake):
    logits = Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), device="cuda")
    with fake.forbid_syncs():
        good = F.cross_entropy(logits, Tensor(np.array([0, 2, 1, 2]), device="cuda"))
        bad = [F.cross_entropy(logits, Tensor(np.array(labels), device="cuda")) for labels in ([0, 3, 1, 2],
                                                                                               [0, 2, -1, 2])]
    assert np.isfinite(good.item()) and all(np.isnan(loss.item()) for loss in bad)
    with pytest.raises(ValueError, match=r"target must be class indices in \[0, 3\), got values in \[0, 3\]"):
        F.cross_entropy(Tensor(logits.numpy()), np.array([0, 3, 1, 2]))   # on the CPU, checking costs nothing
