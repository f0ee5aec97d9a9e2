"""PyTorch twins of the project's models, as test oracles and benchmark baselines (torch is passed in)."""
from collections import OrderedDict

import numpy as np

from tinygrad_dl1 import nn


def torch_twin(torch, model):
    """``model`` rebuilt from torch.nn, layer for layer under the same names, with the same weights.

    A module holding other modules (Sequential, MLP, ConvNet) becomes a torch Sequential of its
    children in the order they were set, so the twin runs them in that order: a parity test then
    also checks that ``model.forward`` runs its layers in that order.
    """
    twin, state = _layer_twin(torch.nn, model), model.state_dict()
    if any(value.dtype == np.float64 for value in state.values()):
        twin.double()                   # float64 weights must not round through float32
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    return twin


def _layer_twin(tnn, m):
    if isinstance(m, nn.Linear):
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, nn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          bias=m.bias is not None)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        kind = tnn.BatchNorm1d if isinstance(m, nn.BatchNorm1d) else tnn.BatchNorm2d
        return kind(m.num_features, eps=m.eps, momentum=m.momentum)
    if isinstance(m, nn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)
    if isinstance(m, nn.AvgPool2d):
        return tnn.AvgPool2d(m.kernel_size, m.stride, m.padding)
    simple = {nn.ReLU: lambda: tnn.ReLU(), nn.LeakyReLU: lambda: tnn.LeakyReLU(m.negative_slope),
              nn.Dropout: lambda: tnn.Dropout(m.p),
              nn.Tanh: lambda: tnn.Tanh(), nn.Sigmoid: lambda: tnn.Sigmoid(),
              nn.Flatten: lambda: tnn.Flatten(m.start_dim, m.end_dim)}
    if type(m) in simple:
        return simple[type(m)]()
    children = list(m.named_children())
    if not children:
        raise TypeError(f"torch_twin: no PyTorch twin for {type(m).__name__}")
    return tnn.Sequential(OrderedDict((name, _layer_twin(tnn, child)) for name, child in children))
