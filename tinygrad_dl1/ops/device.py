"""Moving a tensor between devices, with the gradient moved back."""
from .. import backend
from ..function import Function


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, x):               # y = x, copied to another device
        self.source = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):             # the gradient goes back where x lives
        return backend.to_device(gy, self.source)


def to_device(x, device):
    return ToDevice(backend.parse_device(device))(x)
