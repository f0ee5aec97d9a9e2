"""CIFAR-shaped synthetic data, for fast runs (the tutorials' fast mode, tests): learnable,
small, and made in a moment, with the shapes, dtypes and preprocessing of ``load_cifar10``."""
import os
from pathlib import Path

import numpy as np

from .cifar10 import CIFAR10, load_cifar10
from .locate import ENV_VAR

FAST_MODE_ENV = "TINYGRAD_DL1_TUTORIAL_FAST"    # "1": the tutorials use synthetic_cifar10
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def synthetic_cifar10(n_train=2000, n_test=500, seed=0, noise=60.0):
    """Images x = pattern[y] + noise, one random smooth pattern per class on the 0-255 scale, as
    float32 (N, 3, 32, 32) with the training set's mean image subtracted, and int64 labels."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (10, 3, 4, 4))
    patterns = coarse.repeat(8, axis=2).repeat(8, axis=3)          # blocks of 8x8 pixels

    def draw(n):
        y = rng.integers(0, 10, n)
        return np.clip(patterns[y] + noise * rng.standard_normal((n, 3, 32, 32)), 0, 255), y
    (train_x, train_y), (test_x, test_y) = draw(n_train), draw(n_test)
    mean_image = train_x.mean(axis=0)
    return CIFAR10(train_x=(train_x - mean_image).astype(np.float32), train_y=train_y.astype(np.int64),
                   test_x=(test_x - mean_image).astype(np.float32), test_y=test_y.astype(np.int64),
                   mean_image=mean_image.astype(np.float32), classes=CLASSES)


def tutorial_cifar10():
    """The tutorials' data: synthetic_cifar10() in fast mode ($TINYGRAD_DL1_TUTORIAL_FAST=1), else the
    real CIFAR-10 from $TINYGRAD_DL1_DATA or from the shared/data folder beside the repository."""
    if os.environ.get(FAST_MODE_ENV) == "1":
        return synthetic_cifar10()
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    return load_cifar10(os.environ.get(ENV_VAR) or shared, download=False)
