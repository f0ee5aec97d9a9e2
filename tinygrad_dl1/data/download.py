"""Fetching and unpacking the official archive, so that an interruption never leaves
a half-written dataset that looks complete.

The archive is written to a temporary file and renamed only once its md5 matches;
it is unpacked into a temporary folder beside the target and the finished
cifar-10-batches-py folder is moved into place with one atomic rename.
"""
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

from ..progress import Progress
from .errors import ChecksumError, DatasetError, DownloadError
from .locate import ALL_FILES, BATCHES_DIR_NAME

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
CHUNK_BYTES = 1 << 20


def file_md5(path):
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url, dest, md5, progress=True, timeout=60):
    """Download ``url`` to ``dest`` through a temporary file; rename only if the md5 matches."""
    dest = Path(dest)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            with Progress(total, desc=f"downloading {dest.name}", unit="B",
                          disable=not progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            if total is not None and bar.n != total:  # urllib ends quietly on a cut connection
                raise DownloadError(f"could not download {url} to {dest}: the connection closed "
                                    f"after {bar.n} of {total} bytes. Run again.")
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise ChecksumError(dest, md5, digest.hexdigest())
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"could not download {url} to {dest}: {e}. Download it by hand and "
                            f"unpack it into {dest.parent}, or pass --data-dir.") from e
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def check_member(member, archive):
    """Refuse tar members that could write outside the target: absolute, '..', links, devices."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise DownloadError(f"{archive}: refusing to unpack the unsafe member '{member.name}'. "
                            "Delete the archive and run again.")


def extract_batches(archive, parent):
    """Unpack ``archive`` and move its cifar-10-batches-py folder into ``parent`` atomically."""
    archive, parent = Path(archive), Path(parent)
    target = parent / BATCHES_DIR_NAME
    workdir = Path(tempfile.mkdtemp(dir=parent, prefix=".cifar-10-extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, archive)
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(workdir, members=members, **safe)
        unpacked = workdir / BATCHES_DIR_NAME
        missing = [name for name in ALL_FILES if not (unpacked / name).is_file()]
        if missing:
            raise DownloadError(f"{archive}: the archive lacks {BATCHES_DIR_NAME}/"
                                f"{', '.join(missing)}. Delete it and run again.")
        os.rename(unpacked, target)
    except (OSError, tarfile.TarError, EOFError) as e:
        raise DownloadError(f"could not unpack {archive} into {target}: {e}. "
                            "Delete the archive and run again.") from e
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return target


def download_cifar10(parent, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True):
    """Fetch the official archive into ``parent`` and unpack it there; return the batches folder.

    An archive already in ``parent`` is reused when its md5 matches. An existing
    cifar-10-batches-py folder is never overwritten.
    """
    parent = Path(parent).expanduser()
    target = parent / BATCHES_DIR_NAME
    if target.exists():
        raise DatasetError(f"{target} already exists; not overwriting it.")
    parent.mkdir(parents=True, exist_ok=True)
    archive = parent / ARCHIVE_NAME
    if archive.exists():
        actual = file_md5(archive)
        if actual != md5:
            raise ChecksumError(archive, md5, actual)
    else:
        fetch(url, archive, md5, progress)
    return extract_batches(archive, parent)
