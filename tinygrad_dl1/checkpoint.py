"""Checkpoints: a nested dict of arrays and plain values in one .npz file, written atomically.

Arrays go into the archive as entries; everything else (numbers, strings, lists,
dicts) goes into one JSON entry that also records where each array belongs. No
pickle is involved, so loading a checkpoint never runs code.

``write_atomically`` writes this and every other file of a run: into a fresh temporary
file beside the target, then renamed over it. A kill or a full disk mid-write leaves
the old file as it was, and a symlink planted at the target is replaced, never followed.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend

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


def load_checkpoint(path):
    """The tree saved by ``save_checkpoint``; a clear error when the file is missing or damaged."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            skeleton = json.loads(str(archive["__skeleton__"]))
            return _unflatten(skeleton, archive)
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise RuntimeError(f"checkpoint {path} is damaged or not a tinygrad_dl1 checkpoint ({e}); "
                           "delete it or resume from another one") from None


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


def _unflatten(node, archive):
    if isinstance(node, dict):
        if set(node) == {_ARRAY}:
            return archive[node[_ARRAY]]
        return {k: _unflatten(v, archive) for k, v in node.items()}
    if isinstance(node, list):
        return [_unflatten(v, archive) for v in node]
    return node
