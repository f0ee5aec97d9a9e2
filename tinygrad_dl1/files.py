"""Opening the project's files (data, downloads, checkpoint.npz, .lock) only when each is a regular file
of its own.

A FIFO or a device opened as a file blocks the run, or reads something else; a symbolic or hard
link planted at a project path makes the run read or write a file outside its folder. So a file is
opened without following a link (O_NOFOLLOW) and without waiting for a FIFO's other end
(O_NONBLOCK), and what was opened is checked (fstat) before anything is read or written: a regular
file with one name (st_nlink == 1). Folders are made without recursion, so any depth the operating
system accepts is accepted.
"""
import errno
import os
import stat


class SpecialFileError(OSError):
    """A project path names a link, a FIFO, a device, a socket, a folder or a file that has other names too."""

    def __init__(self, path, what):
        super().__init__(f"{path} is {what}, not a regular file of its own; remove it or choose another path")
        self.path = os.fspath(path)


def what_is_wrong(st):
    """'' for a regular file with at most one name (0: removed while open), else what the file is."""
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if stat.S_ISFIFO(st.st_mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "a device"
    if stat.S_ISSOCK(st.st_mode):
        return "a socket"
    if stat.S_ISDIR(st.st_mode):
        return "a folder"
    if not stat.S_ISREG(st.st_mode):
        return "not a plain file"
    if st.st_nlink > 1:
        return f"a file with {st.st_nlink} names (a hard link)"
    return ""


def open_regular(path, flags=os.O_RDONLY, mode=0o644):
    """A file descriptor for ``path`` opened with ``flags``, in blocking mode, once the file is known to be
    a regular file of its own; SpecialFileError otherwise, without blocking and without following a link."""
    try:
        wrong = what_is_wrong(os.lstat(path))   # a device or FIFO is refused before it is even opened
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        wrong = ""
    if wrong:
        raise SpecialFileError(path, wrong)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as e:    # the path changed since lstat
        if e.errno == errno.ELOOP:
            raise SpecialFileError(path, "a symbolic link") from None
        if e.errno == errno.ENXIO:
            raise SpecialFileError(path, "a FIFO (named pipe)") from None
        raise
    try:
        wrong = what_is_wrong(os.fstat(fd))
        if wrong:
            raise SpecialFileError(path, wrong)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path, limit):
    """The bytes of the regular file ``path``; a ValueError, before reading, when it holds more than ``limit``."""
    with os.fdopen(open_regular(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ValueError(f"it holds {size:,} bytes, more than the {limit:,} expected at most")
        data = f.read(limit + 1)
    if len(data) > limit:   # grew while being read
        raise ValueError(f"it holds more than the {limit:,} bytes expected at most")
    return data


def make_folders(path):
    """``os.makedirs(path, exist_ok=True)`` without recursion: a path of any depth the system accepts."""
    path = os.path.abspath(os.fspath(path))
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", folder) from None
