"""Where the CIFAR-10 files are: an explicit folder, else $TINYGRAD_DL1_DATA, else a cache folder."""
import os
from pathlib import Path
from typing import NamedTuple

ENV_VAR = "TINYGRAD_DL1_DATA"
BATCHES_DIR_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
ALL_FILES = TRAIN_FILES + (TEST_FILE, META_FILE)


class DataLocation(NamedTuple):
    """The cifar-10-batches-py folder to read, and where that choice came from."""
    batches_dir: Path
    source: str  # "argument", "environment" or "cache"


def default_cache_dir():
    """$XDG_CACHE_HOME/tinygrad_dl1, or ~/.cache/tinygrad_dl1."""
    cache_home = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache_home) if cache_home else Path.home() / ".cache") / "tinygrad_dl1"


def batches_dir_in(folder):
    """``folder`` itself when it is (or directly holds) the batches, else its cifar-10-batches-py."""
    folder = Path(folder).expanduser()
    if folder.name == BATCHES_DIR_NAME or (folder / TRAIN_FILES[0]).exists():
        return folder
    return folder / BATCHES_DIR_NAME


def locate_cifar10(data_dir=None):
    """The folder to read: ``data_dir`` if given, else $TINYGRAD_DL1_DATA, else the cache folder.

    Each may name the cifar-10-batches-py folder itself or its parent. An empty
    ``data_dir`` is refused rather than taken as "not given".
    """
    if data_dir is not None:
        if str(data_dir) == "":
            error = ValueError(f"data_dir is an empty string; name the folder holding {BATCHES_DIR_NAME}, or "
                               f"leave it out to use ${ENV_VAR} or the cache")
            error.cli_message = str(error).replace("data_dir is", "--data-dir is").replace("leave it", "leave the flag")
            raise error
        return DataLocation(batches_dir_in(data_dir), "argument")
    if os.environ.get(ENV_VAR):
        return DataLocation(batches_dir_in(os.environ[ENV_VAR]), "environment")
    return DataLocation(default_cache_dir() / BATCHES_DIR_NAME, "cache")
