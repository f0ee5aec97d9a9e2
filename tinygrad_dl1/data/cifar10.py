"""CIFAR-10 as the assignment prepares it: float32 NCHW images minus the training mean image."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .download import CIFAR10_MD5, CIFAR10_URL, TIME_LIMIT_S, download_cifar10
from .errors import CorruptFileError, DatasetNotFoundError
from .locate import BATCHES_DIR_NAME, ENV_VAR, META_FILE, TEST_FILE, TRAIN_FILES, locate_cifar10
from .safe_pickle import load_pickle

IMAGE_SHAPE = (3, 32, 32)
IMAGE_SIZE = 3 * 32 * 32
N_CLASSES = 10


@dataclass(eq=False)
class CIFAR10:
    """The preprocessed dataset.

    train_x, test_x: float32 (N, 3, 32, 32), the training mean image subtracted;
    train_y, test_y: int64 (N,) class indices; mean_image: float32 (3, 32, 32);
    classes: the 10 class names.
    """
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mean_image: np.ndarray
    classes: tuple

    def __repr__(self):
        return (f"CIFAR10(train_x={self.train_x.shape}, test_x={self.test_x.shape}, "
                f"classes={self.classes})")


def read_batch(path):
    """One batch file -> (read-only uint8 images (n, 3072), int64 labels (n,)), checked against the format."""
    path = Path(path)
    batch = load_pickle(path)
    if not isinstance(batch, dict):
        raise CorruptFileError(path, f"holds a {type(batch).__name__}, not a dict")
    if b"data" not in batch or b"labels" not in batch:
        raise CorruptFileError(path, "lacks the keys b'data' and b'labels'")
    data = batch[b"data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == IMAGE_SIZE and data.shape[0] > 0):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CorruptFileError(path, f"b'data' must be uint8 of shape (n, {IMAGE_SIZE}), got {found}")
    labels = batch[b"labels"]
    if isinstance(labels, list):     # as the official files hold them; checked before NumPy sees them
        odd = next((v for v in labels if type(v) is not int), None)
        if odd is not None:
            raise CorruptFileError(path, f"b'labels' must be a list of ints, but holds a {type(odd).__name__}")
        outside = next((v for v in labels if not 0 <= v < N_CLASSES), None)
        if outside is not None:
            raise CorruptFileError(path, f"b'labels' must lie in 0..{N_CLASSES - 1}, found {str(outside)[:40]}")
        labels = np.array(labels, dtype=np.int64)
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.shape != (len(data),):
        found = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise CorruptFileError(path, f"b'labels' must be {len(data)} ints, got {found}")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise CorruptFileError(path, f"b'labels' must lie in 0..{N_CLASSES - 1}, found "
                                     f"{labels.min()}..{labels.max()}")
    return data, labels.astype(np.int64)


def read_class_names(path):
    """The 10 class names from batches.meta."""
    path = Path(path)
    meta = load_pickle(path)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not (isinstance(names, list) and len(names) == N_CLASSES and all(isinstance(n, (bytes, str)) for n in names)):
        raise CorruptFileError(path, f"must hold b'label_names', a list of {N_CLASSES} names")
    try:
        return tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    except UnicodeDecodeError as e:
        raise CorruptFileError(path, f"b'label_names' holds a name that is not UTF-8 ({e.object[:40]!r})") from None


def _images(batches, mean_image):
    """Stack uint8 batches into one float32 NCHW array minus ``mean_image``, with no float64 copy."""
    out = np.empty((sum(len(d) for d in batches), IMAGE_SIZE), dtype=np.float32)
    start = 0
    for data in batches:
        np.subtract(data, mean_image.reshape(-1), out=out[start:start + len(data)])
        start += len(data)
    return out.reshape(-1, *IMAGE_SHAPE)


def read_cifar10(batches_dir):
    """Read and preprocess the cifar-10-batches-py folder ``batches_dir``.

    Preprocessing as the assignment: the images become float32 NCHW (N, 3, 32, 32)
    with their 0..255 values kept (no scaling to [0, 1]); the per-pixel mean image
    of the 50,000 training images (3, 32, 32), computed exactly in float64 and cast
    to float32, is subtracted from both the training and the test images. Labels
    are int64, in file order (data_batch_1..5, then test_batch).
    """
    batches_dir = Path(batches_dir)
    train = [read_batch(batches_dir / name) for name in TRAIN_FILES]
    test_data, test_y = read_batch(batches_dir / TEST_FILE)
    classes = read_class_names(batches_dir / META_FILE)

    train_data = [data for data, _ in train]
    pixel_sums = sum(data.sum(axis=0, dtype=np.int64) for data in train_data)
    mean_image = (pixel_sums / sum(len(d) for d in train_data)).astype(np.float32)
    mean_image = mean_image.reshape(IMAGE_SHAPE)

    return CIFAR10(train_x=_images(train_data, mean_image),
                   train_y=np.concatenate([labels for _, labels in train]),
                   test_x=_images([test_data], mean_image),
                   test_y=test_y,
                   mean_image=mean_image,
                   classes=classes)


def load_cifar10(data_dir=None, download=None, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True,
                 time_limit=TIME_LIMIT_S):
    """Find, fetch if allowed, read and preprocess CIFAR-10 (see ``read_cifar10``).

    data_dir: the cifar-10-batches-py folder or its parent; when None,
        $TINYGRAD_DL1_DATA, else ~/.cache/tinygrad_dl1 (or $XDG_CACHE_HOME/tinygrad_dl1);
        an empty string is an error, not the default.
    download: None (default) fetches the official archive only into the cache
        folder; True also fetches into a folder named by data_dir or the
        environment when it has no cifar-10-batches-py; False never fetches.
        An existing folder is never overwritten: damaged files raise an error.
    url, md5: where to fetch from and the archive's expected md5.
    progress: a progress bar on stderr; time_limit: seconds the download may take in all.
    """
    batches_dir, source = locate_cifar10(data_dir)
    if not batches_dir.exists():
        if download or (download is None and source == "cache"):
            download_cifar10(batches_dir.parent, url=url, md5=md5, progress=progress, time_limit=time_limit)
        else:
            def message(words):
                where = {"argument": words["data_dir"].removesuffix("=..."), "environment": f"${ENV_VAR}",
                         "cache": "the cache folder"}[source]
                return (f"No CIFAR-10 at {batches_dir} (from {where}). Pass {words['download']} to fetch it "
                        f"there, or pass {words['data_dir']} / set {ENV_VAR} to a folder holding "
                        f"{BATCHES_DIR_NAME}.")
            raise DatasetNotFoundError(message)
    return read_cifar10(batches_dir)
