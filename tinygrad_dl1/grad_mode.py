"""Global switches of the autograd engine: recording on/off, anomaly detection."""
import contextlib
import threading


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.detect_anomaly = False


_state = _State()


def is_grad_enabled():
    return _state.grad_enabled


def is_anomaly_enabled():
    return _state.detect_anomaly


@contextlib.contextmanager
def _switch(name, value):
    old = getattr(_state, name)
    setattr(_state, name, value)
    try:
        yield
    finally:
        setattr(_state, name, old)


def no_grad():
    """Context (or decorator) in which ops record no graph and keep nothing for backward."""
    return _switch("grad_enabled", False)


def enable_grad():
    """Context that turns recording back on inside a ``no_grad`` block."""
    return _switch("grad_enabled", True)


def detect_anomaly(enabled=True):
    """Context in which backward raises as soon as an op produces a NaN or inf gradient."""
    return _switch("detect_anomaly", enabled)


def set_detect_anomaly(enabled):
    """Switch anomaly detection on or off for the rest of the program."""
    _state.detect_anomaly = bool(enabled)
