"""2-D average pooling: the mean of each kh x kw window, per channel.

With (r, s) an output pixel, (i, j) a kernel offset, (sh, sw) the stride and x_pad the
input padded with zeros (which count in the mean, PyTorch's count_include_pad=True):

    y[n, c, r, s] = 1/(kh kw) sum_{i, j} x_pad[n, c, sh*r + i, sw*s + j]

Each input entry of a window gets 1/(kh kw) of that window's gradient, and windows that
overlap add up:

    dL/dx_pad[n, c, sh*r + i, sw*s + j] += gy[n, c, r, s] / (kh kw)

which is col2im of gy spread evenly over every offset of its window. Forward needs no
copy of the windows: it averages a strided view of the padded image (see im2col.py).
"""
from .. import backend, checks
from ..function import Function
from .im2col import channels_first, channels_last, col2im, output_size, pad_channels_last, windows


class AvgPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # y[n, c, r, s] = mean_{i, j} x_pad[n, c, sh*r + i, sw*s + j]
        self.x_shape, out_hw = x.shape, output_size(x.shape, self.kernel, self.stride, self.padding)
        padded = pad_channels_last(x, self.padding, 0)
        view = windows(padded, self.kernel, self.stride, out_hw)              # (N, OH, OW, kh, kw, C), no copy
        return channels_first(view.mean(axis=(3, 4)))

    def backward(self, gy):             # dL/dx_pad[n, c, sh*r + i, sw*s + j] += gy[n, c, r, s] / (kh kw)
        (kh, kw), c = self.kernel, self.x_shape[1]
        share = channels_last(gy)[:, :, :, None, None, :] / (kh * kw)     # (N, OH, OW, 1, 1, C)
        gcols = backend.array_module(gy).broadcast_to(share, (*share.shape[:3], kh, kw, c))
        return col2im(gcols.reshape(-1, kh * kw * c), self.x_shape, self.kernel, self.stride, self.padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over kh x kw windows of input (N, C, H, W); stride defaults to kernel_size; the zero
    padding counts in each mean (PyTorch's defaults: count_include_pad=True, ceil_mode=False)."""
    kernel, stride, padding = checks.check_pool2d(input, kernel_size, stride, padding, "avg_pool2d",
                                                    "an average of integers is not an integer; x.float() first")
    return AvgPool2d(kernel, stride, padding)(input)
