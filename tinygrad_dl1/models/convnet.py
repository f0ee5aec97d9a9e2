"""The assignment's VGG-style ConvNet for 32x32 images."""
from .. import checks, nn


def conv_block(in_channels, out_channels):
    """conv 3x3 (stride 1, pad 1) -> BatchNorm2d -> ReLU: same height and width, new channels."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def max_pool():
    """max-pool 3x3, stride 2, pad 1: halves height and width."""
    return nn.MaxPool2d(3, stride=2, padding=1)


class ConvNet(nn.Module):
    """Conv blocks and max-pools taking 32x32 images down to 1x1 with 512 channels, then linear 512 -> n_classes.

    Layers are attributes named as in the assignment, so state_dict keys read
    "conv3_a.0.weight", "conv3_a.1.running_mean".
    """

    def __init__(self, n_channels=3, n_classes=10):
        super().__init__()
        self.n_channels = n_channels
        self.conv1, self.maxpool1 = conv_block(n_channels, 64), max_pool()        # 64 x 16 x 16
        self.conv2, self.maxpool2 = conv_block(64, 128), max_pool()               # 128 x 8 x 8
        self.conv3_a, self.conv3_b = conv_block(128, 256), conv_block(256, 256)
        self.maxpool3 = max_pool()                                                # 256 x 4 x 4
        self.conv4_a, self.conv4_b = conv_block(256, 512), conv_block(512, 512)
        self.maxpool4 = max_pool()                                                # 512 x 2 x 2
        self.conv5_a, self.conv5_b = conv_block(512, 512), conv_block(512, 512)
        self.maxpool5 = max_pool()                                                # 512 x 1 x 1
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(512, n_classes)

    def forward(self, x):
        checks.check_input_shape(x, x.ndim == 4 and x.shape[1] == self.n_channels, f"(N, {self.n_channels}, H, W)",
                                 "ConvNet")
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv2(x))
        x = self.maxpool3(self.conv3_b(self.conv3_a(x)))
        x = self.maxpool4(self.conv4_b(self.conv4_a(x)))
        x = self.maxpool5(self.conv5_b(self.conv5_a(x)))
        return self.linear(self.flatten(x))
