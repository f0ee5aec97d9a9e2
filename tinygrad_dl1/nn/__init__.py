"""tinygrad_dl1.nn: Module, Parameter and the layers; ``functional`` (F) and ``init`` beside them."""
from . import functional, init
from .activation import LeakyReLU, ReLU
from .containers import Sequential
from .conv import Conv2d, MaxPool2d
from .dropout import Dropout
from .linear import Linear
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d
from .shape import Flatten

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "MaxPool2d",
           "ReLU", "LeakyReLU", "Dropout", "Flatten", "functional", "init"]
