"""The errors of the data layer. Each names the file at fault and says how to fix it, in the words of the
Python API (``str(error)``) and of the command line (``error.cli_message``)."""
from .locate import BATCHES_DIR_NAME, ENV_VAR

API_WORDS = {"data_dir": "data_dir=...", "download": "download=True"}
CLI_WORDS = {"data_dir": "--data-dir", "download": "--download"}


def how_to_fix(batches_dir, words=API_WORDS):
    """The advice appended to every error about a damaged dataset file."""
    return (f"Delete the folder {batches_dir} and run again to re-download it, or pass {words['data_dir']} "
            f"/ set {ENV_VAR} to a folder holding {BATCHES_DIR_NAME}.")


class DatasetError(RuntimeError):
    """Base class: the CIFAR-10 files are missing, damaged or not what they claim to be.

    ``message``: the text, or a function of the words (API_WORDS or CLI_WORDS) that makes it."""

    def __init__(self, message):
        self.cli_message = message(CLI_WORDS) if callable(message) else message
        super().__init__(message(API_WORDS) if callable(message) else message)


class DatasetNotFoundError(DatasetError):
    """No cifar-10-batches-py folder where one was looked for, and no download allowed."""


class CorruptFileError(DatasetError):
    """A file is missing, truncated, or holds the wrong shapes or values."""

    def __init__(self, path, problem):
        self.path = path
        super().__init__(lambda words: f"{path}: {problem}. {how_to_fix(path.parent, words)}")


class UnreadableFileError(DatasetError):
    """A file that is there but cannot be read: its permissions, or a FIFO, device or link in its place.
    Nothing says it is damaged, so the advice is not to delete it."""

    def __init__(self, path, error):
        self.path = path
        super().__init__(f"cannot read {path}: {error.strerror or error}. Nothing was changed; make it a "
                         "readable regular file (check its permissions) and run again")


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
