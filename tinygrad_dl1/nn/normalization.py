"""BatchNorm1d and BatchNorm2d: learnable per-channel scale (weight) and shift (bias), and running
statistics kept as buffers (running_mean, running_var, num_batches_tracked), as in PyTorch."""
import numpy as np

from .. import backend
from ..checks import check_finite, check_input_shape, check_positive_int
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    input_shapes = ()    # the accepted input shapes, as text, by number of dims

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        """momentum: the weight of each new batch in the running statistics; None for their
        plain average over every batch so far (momentum 1 / batches seen), as in PyTorch."""
        super().__init__()
        name = type(self).__name__
        check_positive_int(num_features, "num_features", name)
        if not check_finite(eps, "eps", name) > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None:
            check_finite(momentum, "momentum", name, 0, 1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features))
        self.bias = Parameter(np.zeros(num_features))
        self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
        self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))
        self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))

    def forward(self, x):
        expected = " or ".join(self.input_shapes.values()).replace("C", str(self.num_features))
        check_input_shape(x, x.ndim in self.input_shapes and x.shape[1] == self.num_features, expected,
                          f"{type(self).__name__}({self.num_features})")
        momentum = self.momentum
        if self.training:
            with backend.device_scope(self.num_batches_tracked.data):
                self.num_batches_tracked.data += 1
            if momentum is None:
                momentum = 1 / int(self.num_batches_tracked.item())
            for buffer in self.buffers():
                buffer._version += 1     # the running statistics change in place below
        return F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, self.training,
                            momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs, statistics per channel C."""
    input_shapes = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs, statistics per channel C over N, H and W."""
    input_shapes = {4: "(N, C, H, W)"}
