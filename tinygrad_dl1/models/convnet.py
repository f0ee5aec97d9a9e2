"""The assignment's VGG-style ConvNet for 32x32 images."""
from .. import nn

# (name, in channels, out channels) of each conv block; "pool" is a max-pool 3x3, stride 2, pad 1.
LAYERS = [("conv1", None, 64), "pool", ("conv2", 64, 128), "pool",
          ("conv3_a", 128, 256), ("conv3_b", 256, 256), "pool",
          ("conv4_a", 256, 512), ("conv4_b", 512, 512), "pool",
          ("conv5_a", 512, 512), ("conv5_b", 512, 512), "pool"]


def conv_block(in_channels, out_channels):
    """conv 3x3 (stride 1, pad 1) -> BatchNorm2d -> ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class ConvNet(nn.Module):
    """conv blocks and max-pools halving 32x32 down to 1x1 with 512 channels, then linear 512 -> n_classes.

    Layers are attributes named as in the assignment (conv1, maxpool1, conv2, ..., conv5_b,
    maxpool5, linear), so state_dict keys read "conv3_a.0.weight", "conv3_a.1.running_mean".
    """

    def __init__(self, n_channels=3, n_classes=10):
        super().__init__()
        self.n_channels = n_channels
        pools = 0
        for layer in LAYERS:
            if layer == "pool":
                pools += 1
                setattr(self, f"maxpool{pools}", nn.MaxPool2d(3, stride=2, padding=1))
            else:
                name, c_in, c_out = layer
                setattr(self, name, conv_block(c_in or n_channels, c_out))
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(512, n_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.n_channels:
            raise ValueError(f"ConvNet: expected input (N, {self.n_channels}, H, W), got shape {x.shape}")
        for layer in self.children():
            x = layer(x)
        return x
