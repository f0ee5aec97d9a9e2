"""tinygrad_dl1.nn: Module, Parameter and the layers; ``functional`` (F) and ``init`` beside them.

To add a layer: a Module subclass in the file of its kind here (PyTorch's name, arguments, defaults
and state_dict keys), whose ``forward`` calls the op of ``nn.functional`` (the op itself lives in
``tinygrad_dl1/ops/``), its argument checks in ``tinygrad_dl1/checks.py``, its export below, and its
PyTorch twin in tests/torch_reference.py so that the parity tests cover it.
"""
from . import functional, init
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .containers import Sequential
from .conv import Conv2d, MaxPool2d
from .dropout import Dropout
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d
from .shape import Flatten

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "MaxPool2d",
           "AvgPool2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Dropout", "Flatten", "CrossEntropyLoss", "MSELoss",
           "functional", "init"]
