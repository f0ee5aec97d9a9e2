"""Checkpoints: a nested dict of arrays and plain values in one .npz file, written atomically.

Arrays go into the archive as entries; everything else (numbers, strings, lists,
dicts) goes into one JSON entry that also records where each array belongs. No
pickle is involved, so loading a checkpoint never runs code. The file is written
beside its target and renamed over it, so a kill mid-save leaves the old file.
"""
import json
import os
import tempfile

import numpy as np

from . import backend

_ARRAY = "__array__"   # marks, in the JSON skeleton, the archive entry holding an array


def save_checkpoint(path, tree):
    """Write ``tree`` (dicts, lists, arrays, numbers, strings, None) to ``path`` atomically."""
    arrays = {}
    skeleton = _flatten(tree, arrays)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __skeleton__=np.array(json.dumps(skeleton)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(path):
    """The tree saved by ``save_checkpoint``; a clear error when the file is missing or damaged."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            skeleton = json.loads(str(archive["__skeleton__"]))
            return _unflatten(skeleton, archive)
    except (OSError, ValueError, KeyError) as e:
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
