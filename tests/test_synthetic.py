"""The synthetic CIFAR-shaped data of fast runs, and the tutorials' choice between it and the real data."""
import numpy as np

from tinygrad_dl1 import Tensor, manual_seed, models, optim
from tinygrad_dl1.data import FAST_MODE_ENV, synthetic_cifar10, tutorial_cifar10
from tinygrad_dl1.nn import functional as F

from cifar_files import REAL_DATA, isolated_env  # noqa: F401  (keeps the tests away from the user's data)


def test_synthetic_data_has_cifar10s_shapes_dtypes_and_preprocessing():
    data = synthetic_cifar10(n_train=300, n_test=100, seed=1)
    assert data.train_x.shape == (300, 3, 32, 32) and data.test_x.shape == (100, 3, 32, 32)
    assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int64 and len(data.classes) == 10
    assert abs(float(data.train_x.mean(axis=0).mean())) < 1e-3          # the training mean image subtracted
    assert set(np.unique(data.train_y)) <= set(range(10))
    np.testing.assert_array_equal(synthetic_cifar10(300, 100, seed=1).train_x, data.train_x)
    assert not np.array_equal(synthetic_cifar10(300, 100, seed=2).train_x, data.train_x)


def test_synthetic_data_can_be_learned_quickly():
    data = synthetic_cifar10(n_train=500, n_test=200, seed=0)
    manual_seed(0)
    model = models.MLP(3072, [], 10, init="default")                     # logistic regression
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = Tensor(data.train_x / 255)
    for _ in range(30):
        loss = F.cross_entropy(model(x), data.train_y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    accuracy = (model(Tensor(data.test_x / 255)).numpy().argmax(axis=1) == data.test_y).mean()
    assert accuracy > 0.8, accuracy


def test_tutorials_use_synthetic_data_in_fast_mode(monkeypatch):
    monkeypatch.setenv(FAST_MODE_ENV, "1")
    assert tutorial_cifar10().train_x.shape == synthetic_cifar10().train_x.shape
    monkeypatch.delenv(FAST_MODE_ENV)
    monkeypatch.setenv("TINYGRAD_DL1_DATA", str(REAL_DATA.parent))
    if REAL_DATA.exists():
        assert tutorial_cifar10().train_x.shape == (50000, 3, 32, 32)
