"""PyTorch twins of the project's models, as test oracles and benchmark baselines (torch is passed in)."""
from tinygrad_dl1.models.convnet import LAYERS


def torch_convnet(torch):
    """models.ConvNet built from torch.nn, from the same table of layers and with the same names."""
    nn, net, pools = torch.nn, torch.nn.Sequential(), 0
    for layer in LAYERS:
        if layer == "pool":
            pools += 1
            net.add_module(f"maxpool{pools}", nn.MaxPool2d(3, 2, 1))
        else:
            name, c_in, c_out = layer
            net.add_module(name, nn.Sequential(nn.Conv2d(c_in or 3, c_out, 3, 1, 1), nn.BatchNorm2d(c_out),
                                               nn.ReLU()))
    net.add_module("flatten", nn.Flatten())
    net.add_module("linear", nn.Linear(512, 10))
    return net
