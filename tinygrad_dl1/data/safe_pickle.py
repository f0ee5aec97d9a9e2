"""Reading pickles that may only rebuild NumPy arrays: no other code can run while loading."""
import pickle
from pathlib import Path

import numpy as np

from .errors import CorruptFileError, UnsafePickleError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

# The only globals the official CIFAR-10 pickles refer to: NumPy's array reconstruction.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` hands out only ``ALLOWED_GLOBALS``."""

    def __init__(self, file, path, **kwargs):
        super().__init__(file, **kwargs)
        self.path = Path(path)

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.path, f"{module}.{name}") from None


def load_pickle(path):
    """Load ``path`` as the official files are (encoding="bytes"), allowing only NumPy arrays.

    Raises CorruptFileError for a missing, truncated or unreadable file and
    UnsafePickleError for a pickle that asks for anything else.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, path, encoding="bytes").load()
    except FileNotFoundError:
        raise CorruptFileError(path, "file is missing") from None
    except UnsafePickleError:
        raise
    except Exception as e:  # truncated or garbled: pickle raises many kinds of errors
        raise CorruptFileError(path, f"not a readable pickle ({type(e).__name__}: {e})") from e
