"""Loss layers: CrossEntropyLoss and MSELoss, PyTorch's names for F.cross_entropy and F.mse_loss."""
from . import functional as F
from .module import Module


class CrossEntropyLoss(Module):
    """loss(logits (N, C), target): target class indices (N,), as a NumPy array, a list or an integer
    Tensor, or probabilities (N, C); the mean over the batch."""

    def forward(self, input, target):
        return F.cross_entropy(input, target)


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
