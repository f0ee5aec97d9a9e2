"""The errors of the data layer. Each names the file at fault and says how to fix it."""
from .locate import BATCHES_DIR_NAME, ENV_VAR


def how_to_fix(batches_dir):
    """The advice appended to every dataset error."""
    return (f"Delete the folder {batches_dir} and run again to re-download it, or pass "
            f"--data-dir (data_dir=...) / set {ENV_VAR} to a folder holding {BATCHES_DIR_NAME}.")


class DatasetError(RuntimeError):
    """Base class: the CIFAR-10 files are missing, damaged or not what they claim to be."""


class DatasetNotFoundError(DatasetError):
    """No cifar-10-batches-py folder where one was looked for, and no download allowed."""


class CorruptFileError(DatasetError):
    """A file is missing, truncated, or holds the wrong shapes or values."""

    def __init__(self, path, problem):
        self.path = path
        super().__init__(f"{path}: {problem}. {how_to_fix(path.parent)}")


class UnsafePickleError(CorruptFileError):
    """A pickle asked for a global outside the few that the CIFAR-10 format needs."""

    def __init__(self, path, refused):
        self.refused = refused
        super().__init__(path, f"refused to load: the pickle asks for the global '{refused}', "
                               "which the CIFAR-10 format never uses (the file is not a "
                               "CIFAR-10 batch and may be malicious)")


class DownloadError(DatasetError):
    """The archive could not be fetched or unpacked."""


class ChecksumError(DownloadError):
    """The archive's md5 is not the expected one."""

    def __init__(self, path, expected, actual):
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"{path}: md5 mismatch: expected {expected}, got {actual}. "
                         "The file was incomplete or altered; delete it if it is still "
                         "there and run again.")
