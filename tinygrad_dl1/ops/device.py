"""Moving a tensor between devices: y = x, copied; the gradient is copied back where x lives."""
from .. import backend, checks
from ..function import Function


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, x):               # y = x, copied to another device
        self.source = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):             # dL/dx = dL/dy, copied back to x's device
        return backend.to_device(gy, self.source)


def to_device(x, device):
    checks.check_tensor(x, "to_device")
    return ToDevice(backend.parse_device(device))(x)
