"""Checkpoints: a nested dict of arrays and plain values in one .npz file, written atomically.

Arrays go into the archive as entries; everything else (numbers, strings, lists,
dicts) goes into one JSON entry that also records where each array belongs. No
pickle is involved, so loading a checkpoint never runs code.

``write_atomically`` writes this and every other file of a run: into a fresh temporary
file beside the target, then renamed over it. A kill or a full disk mid-write leaves
the old file as it was, and a symlink planted at the target is replaced, never followed.
"""
import contextlib
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import backend
from .files import open_regular

_ARRAY = "__array__"   # marks, in the JSON skeleton, the archive entry holding an array
_TEMPORARY = ".tmp"    # the ending of write_atomically's temporary files


def write_atomically(path, write, binary=False):
    """Call ``write(f)`` on a new temporary file in the folder of ``path``, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=_TEMPORARY,
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.fchmod(fd, 0o644)    # mkstemp makes the file private (0600); give it a new file's usual mode
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):     # a folder made read-only or removed meanwhile
            os.unlink(tmp)
        raise


def is_temporary(name, target):
    """True if ``name`` is one of ``write_atomically``'s temporary files for a file named ``target``
    (one that a process killed mid-write left behind)."""
    return name.startswith(f".{target}.") and name.endswith(_TEMPORARY)


def save_checkpoint(path, tree):
    """Write ``tree`` (dicts, lists, arrays, numbers, strings, None) to ``path`` atomically."""
    arrays = {}
    skeleton = _flatten(tree, arrays)
    write_atomically(path, lambda f: np.savez(f, __skeleton__=np.array(json.dumps(skeleton)), **arrays), binary=True)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded; the message names the file."""


class UnreadableCheckpointError(CheckpointError):
    """A checkpoint that is there but cannot be read (its permissions, or not a regular file): nothing says it
    is damaged, so the advice is never to delete it."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint that was read and is not one: truncated, altered, or out of its bounds."""

    @property
    def cli_message(self):
        """The message in the command line's words."""
        return str(self).replace("in another folder", "in another --out")


def load_checkpoint(path, max_bytes=None):
    """The tree saved by ``save_checkpoint``; FileNotFoundError when there is none, UnreadableCheckpointError
    when it cannot be read, DamagedCheckpointError when it is damaged or claims more than it holds.

    Read only from a regular file of its own (``files.open_regular``), at most ``max_bytes`` long when
    given; each array's header is checked (numbers only, no more bytes than the archive stores for
    it, stored uncompressed as ``np.savez`` writes it) before the array is read, and the skeleton's
    nesting is bounded (``MAX_DEPTH``) before it is walked."""
    try:
        f = os.fdopen(open_regular(path), "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {path}") from None
    except OSError as e:
        raise UnreadableCheckpointError(f"cannot read the checkpoint {path}: {e.strerror or e}; nothing was "
                                        "changed: make it a readable regular file and run again") from None
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise ValueError(f"it holds {size:,} bytes, more than the {max_bytes:,} this run's state needs")
            with zipfile.ZipFile(f) as archive:
                skeleton = json.loads(str(_read_array(archive, "__skeleton__", size, kinds="U")))
                _check_depth(skeleton)
                return _unflatten(skeleton, lambda key: _read_array(archive, key, size))
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, RecursionError,
                NotImplementedError, zlib.error, MemoryError) as e:
            problem = " ".join(str(e).split())[:300]
            raise DamagedCheckpointError(f"checkpoint {path} is damaged or not a tinygrad_dl1 checkpoint "
                                         f"({problem}); restore a good copy of it, or start again in another "
                                         "folder") from None


MAX_DEPTH = 16          # the nesting of a run's state is 6 deep
ARRAY_KINDS = "biuf"    # booleans, integers, floats


def _read_array(archive, key, file_size, kinds=ARRAY_KINDS):
    """The array ``key`` of the zip ``archive`` (a file of ``file_size`` bytes) once its header says it is
    no larger than what is stored for it."""
    if not isinstance(key, str):
        raise ValueError(f"an array is named by {key!r:.40}, not a string")
    info = archive.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise ValueError(f"the array {key} is compressed, as np.savez never writes it")
    if info.file_size > file_size:
        raise ValueError(f"the array {key} claims {info.file_size:,} bytes, more than the file's {file_size:,}")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"the array {key} has the .npy format version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
        if dtype.kind not in kinds:
            raise ValueError(f"the array {key} has the dtype {dtype}")
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise ValueError(f"the array {key} claims shape {shape} {dtype} ({claimed:,} bytes) but holds "
                             f"{info.file_size:,} bytes")
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def _check_depth(skeleton):
    """A ValueError when lists and dicts nest deeper than MAX_DEPTH (walked without recursion)."""
    todo = [(skeleton, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise ValueError(f"its entries nest more than {MAX_DEPTH} deep")
            todo.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def _flatten(node, arrays):
    if backend.is_array(node):
        key = f"a{len(arrays)}"
        arrays[key] = backend.to_numpy(node)
        return {_ARRAY: key}
    if isinstance(node, dict):
        return {str(k): _flatten(v, arrays) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_flatten(v, arrays) for v in node]
    if isinstance(node, np.generic):
        return node.item()
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"cannot store a {type(node).__name__} in a checkpoint")


def _unflatten(node, read_array):
    if isinstance(node, dict):
        if set(node) == {_ARRAY}:
            return read_array(node[_ARRAY])
        return {k: _unflatten(v, read_array) for k, v in node.items()}
    if isinstance(node, list):
        return [_unflatten(v, read_array) for v in node]
    return node
