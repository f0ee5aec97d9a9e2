"""The assignment's models."""
from .convnet import ConvNet
from .mlp import MLP

__all__ = ["MLP", "ConvNet"]
