"""Fetching and unpacking the official archive, so that an interruption never leaves
a half-written dataset that looks complete, and downloads into one folder never collide.

The archive is written to a temporary file and renamed only once its md5 matches;
it is unpacked into a temporary folder beside the target and the finished
cifar-10-batches-py folder is moved into place with one atomic rename. Ctrl-C and
SIGTERM remove the temporary files on their way out. One process at a time holds
the folder's lock file; the others wait for it and then find the data complete.
"""
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..files import make_folders, open_regular
from ..lock import file_lock
from .errors import ChecksumError, DownloadError
from .locate import ALL_FILES, BATCHES_DIR_NAME
from .sigterm import sigterm_raises

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
LOCK_NAME = ".cifar-10-download.lock"
CHUNK_BYTES = 1 << 20
TIME_LIMIT_S = 3600    # a whole download may take this long (163 MB: 45 kB/s at least)
LOG_INTERVAL_S = 30    # into a log, not a terminal, the progress line is written at most this often


def file_md5(path):
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with os.fdopen(open_regular(path), "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def progress_bar(total, desc, disable):
    """A tqdm bar counting bytes; into a log rather than a terminal it writes seldom, so logs stay short."""
    seldom = {} if sys.stderr.isatty() else {"mininterval": LOG_INTERVAL_S, "maxinterval": LOG_INTERVAL_S}
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=disable, **seldom)


def fetch(url, dest, md5, progress=True, timeout=60, time_limit=TIME_LIMIT_S):
    """Download ``url`` to ``dest`` through a temporary file; rename only if the md5 matches.

    ``timeout``: seconds to wait for the server each time; ``time_limit``: seconds for the whole download.
    """
    dest = Path(dest)
    deadline = time.monotonic() + time_limit
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        with (os.fdopen(fd, "wb") as out,
              urllib.request.urlopen(url, timeout=min(timeout, time_limit)) as response):
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            with progress_bar(total, f"downloading {dest.name}", disable=not progress) as bar:
                while chunk := response.read1(CHUNK_BYTES):  # what has come, not a full chunk
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not done within the time limit of {time_limit:g} s "
                                           f"({received} of {total or 'unknown'} bytes came; a slow "
                                           "connection needs a larger time_limit)")
            if total is not None and received != total:  # urllib ends quietly on a cut connection
                raise DownloadError(f"could not download {url} to {dest}: the connection closed "
                                    f"after {received} of {total} bytes. Run again.")
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise ChecksumError(dest, md5, digest.hexdigest())
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as e:
        cause = str(e)
        raise DownloadError(lambda words: f"could not download {url} to {dest}: {cause}. Download it by hand "
                                          f"and unpack it into {dest.parent}, or pass {words['data_dir']}.") from e
    finally:
        tmp.unlink(missing_ok=True)
    return dest


MAX_MEMBER_DEPTH = 2    # cifar-10-batches-py/data_batch_1


def check_member(member, archive):
    """Refuse tar members that could write outside the target (absolute, '..', links, devices) or nest
    deeper than the official archive's (unpacking and cleaning up recurse once per level)."""
    path = PurePosixPath(member.name)
    if (path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir())
            or len(path.parts) > MAX_MEMBER_DEPTH):
        name = member.name if len(member.name) <= 100 else member.name[:100] + "..."
        raise DownloadError(f"{archive}: refusing to unpack the unsafe member '{name}'. "
                            "Delete the archive and run again.")


def extract_batches(archive, parent):
    """Unpack ``archive`` and move its cifar-10-batches-py folder into ``parent`` atomically."""
    archive, parent = Path(archive), Path(parent)
    target = parent / BATCHES_DIR_NAME
    workdir = Path(tempfile.mkdtemp(dir=parent, prefix=".cifar-10-extract-"))
    try:
        with os.fdopen(open_regular(archive), "rb") as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
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
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:    # the archive is damaged
        raise DownloadError(f"could not unpack {archive} into {target}: {e}. "
                            "Delete the archive and run again.") from e
    except OSError as e:    # the archive cannot be read, or the folder written: nothing says it is damaged
        raise DownloadError(f"could not unpack {archive} into {target}: {e.strerror or e}. Nothing was "
                            "deleted; make the archive readable and the folder writable (and not full), "
                            "and run again.") from e
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return target


def download_cifar10(parent, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True, time_limit=TIME_LIMIT_S):
    """Fetch the official archive into ``parent`` and unpack it there; return the batches folder.

    A cifar-10-batches-py folder already there is returned as it is, never
    overwritten; an archive already there is reused when its md5 matches. Processes
    downloading into one folder take turns: the others wait, then find it complete.
    ``time_limit``: seconds the download may take in all.
    """
    parent = Path(parent).expanduser()
    target = parent / BATCHES_DIR_NAME
    if target.exists():
        return target

    def say_waiting(holder):
        print(f"waiting for process {holder}, which is downloading CIFAR-10 into {parent}", file=sys.stderr)

    try:
        make_folders(parent)
        with sigterm_raises(), file_lock(parent / LOCK_NAME, on_wait=say_waiting if progress else None):
            if target.exists():  # another process finished it while this one waited
                return target
            archive = parent / ARCHIVE_NAME
            if archive.exists():
                actual = file_md5(archive)
                if actual != md5:
                    raise ChecksumError(archive, md5, actual)
            else:
                fetch(url, archive, md5, progress, time_limit=time_limit)
            return extract_batches(archive, parent)
    except OSError as e:
        raise DownloadError(f"could not download CIFAR-10 into {parent}: {e}") from e
