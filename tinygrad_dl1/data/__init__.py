"""CIFAR-10: finding, downloading, safe reading, preprocessing and batching."""
from .batches import BatchStream, iterate_minibatches
from .cifar10 import CIFAR10, load_cifar10, read_batch, read_cifar10
from .download import CIFAR10_MD5, CIFAR10_URL, download_cifar10
from .errors import (
    ChecksumError,
    CorruptFileError,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    UnreadableFileError,
    UnsafePickleError,
)
from .locate import ENV_VAR, default_cache_dir, locate_cifar10
from .safe_pickle import load_pickle
from .synthetic import FAST_MODE_ENV, synthetic_cifar10, tutorial_cifar10

__all__ = ["BatchStream", "iterate_minibatches", "CIFAR10", "load_cifar10", "read_batch",
           "read_cifar10", "CIFAR10_MD5", "CIFAR10_URL", "download_cifar10", "ChecksumError",
           "CorruptFileError", "DatasetError", "DatasetNotFoundError", "DownloadError",
           "UnreadableFileError", "UnsafePickleError", "ENV_VAR", "default_cache_dir", "locate_cifar10", "load_pickle",
           "FAST_MODE_ENV", "synthetic_cifar10", "tutorial_cifar10"]
