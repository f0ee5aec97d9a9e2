"""tinygrad_dl1.nn.functional (F): the ops under the names of PyTorch's functional API."""
from ..ops import (
    avg_pool2d,
    batch_norm,
    batch_norm_composed,
    conv2d,
    conv2d_composed,
    cross_entropy,
    dropout,
    leaky_relu,
    linear,
    log_softmax,
    max_pool2d,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    tanh,
)

__all__ = ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax", "log_softmax", "cross_entropy", "mse_loss",
           "batch_norm", "batch_norm_composed", "dropout", "conv2d", "conv2d_composed", "max_pool2d", "avg_pool2d"]
