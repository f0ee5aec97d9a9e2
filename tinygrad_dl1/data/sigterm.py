"""SIGTERM as an exception while a block runs, so that its ``finally`` clauses still clean up."""
import contextlib
import signal
import threading


def _exit(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_raises():
    """Inside: SIGTERM raises SystemExit(143) where it would otherwise kill the process outright.

    Only in the main thread (where Python runs signal handlers) and only while SIGTERM
    has its default action; a handler someone else installed is left alone. The default
    comes back on the way out.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
