"""One process at a time: an exclusive lock on a file, which dies with the process that holds it."""
import contextlib
import fcntl
import os
from pathlib import Path

from .files import open_regular


def _still_named(fd, path):
    """Whether ``path`` still names the file open as ``fd`` (a holder removes it on release)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def file_lock(path, on_wait=None):
    """Hold an exclusive lock on ``path`` (made if missing) while inside; wait while another process does.

    The lock is an flock, which the system releases when its holder ends, even by
    SIGKILL: a lock file left behind blocks nobody. The holder writes its pid into the
    file and removes the file on release; a waiter that then holds a removed file tries
    again. ``on_wait(holder)`` is called once, with the holder's pid as text, before waiting;
    it may raise to give up instead.
    """
    path = Path(path)
    while True:
        fd = open_regular(path, os.O_RDWR | os.O_CREAT)    # never a link, a FIFO or a file with other names
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait((os.read(fd, 32).decode(errors="replace").split() or ["?"])[0])  # one word
                    on_wait = None
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _still_named(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):  # a folder made read-only or removed meanwhile: the lock dies with fd
            path.unlink(missing_ok=True)
        os.close(fd)
