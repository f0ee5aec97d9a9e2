"""The ops: each a Function subclass with a hand-written backward, and a lowercase wrapper.

One file per family; each reads: a docstring with the math, the Function classes
(forward, backward, the formula beside each), then short wrappers that check their
arguments (with ``tinygrad_dl1.checks``) and call the Function. What forward saves
(``self.save_for_backward(name=array)``) follows one rule: an array is kept only when a
gradient that needs it is wanted (``needs_input_grad``), with a comment naming that
gradient; backward returns None for an input that needs no gradient.

To add an op: its Function and wrapper go into the file of its family here (a new file for a
new family), its argument checks into ``tinygrad_dl1/checks.py``, its export into this file's
imports, a ``Tensor`` method (if it has one) into ``tensor.py``; its tests (gradcheck in float64
and PyTorch parity, on every backend) into ``tests/``. A faster version of an op, if one pays,
goes into ``tinygrad_dl1/fast_paths/`` (see its ``__init__.py``), never into these files.
"""
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .avg_pool import avg_pool2d
from .conv import conv2d, conv2d_composed
from .device import to_device
from .elementwise import abs, add, cast, clamp, compare, div, exp, log, mul, neg, pow, rpow, sqrt, sub, sum_to, where
from .loss import cross_entropy, mse_loss
from .normalization import batch_norm, batch_norm_composed
from .pool import max_pool2d
from .products import linear, matmul
from .reduce import MaxResult, argmax, argmin, dim_arguments, max, max_along, mean, min, min_along, sum, values_or_pair
from .regularization import dropout
from .shape import (
           cat,
           expand,
           flatten,
           getitem,
           matrix_transpose,
           permute,
           reshape,
           squeeze,
           stack,
           transpose,
           unsqueeze,
)

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "rpow", "exp", "log", "sqrt", "abs", "clamp", "where",
           "compare", "sum_to", "cast",
           "sum", "mean", "max", "max_along", "argmax", "min", "min_along", "argmin", "values_or_pair", "MaxResult",
           "dim_arguments",
           "reshape", "transpose", "permute", "matrix_transpose", "flatten", "squeeze", "unsqueeze", "expand",
           "getitem",
           "cat", "stack", "matmul", "linear",
           "relu", "leaky_relu", "tanh", "sigmoid", "softmax", "log_softmax", "cross_entropy", "mse_loss",
           "batch_norm", "batch_norm_composed", "conv2d", "conv2d_composed", "max_pool2d", "avg_pool2d", "dropout",
           "to_device"]
