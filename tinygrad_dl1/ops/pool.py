"""2-D max-pooling: the largest entry of each kh x kw window, per channel.

With (r, s) an output pixel, (i, j) a kernel offset, (sh, sw) the stride and x_pad the
input padded with -inf (so padding never wins):

    y[n, c, r, s] = max_{i, j} x_pad[n, c, sh*r + i, sw*s + j]

A max passes its gradient to the one entry that won, so dL/dx_pad gets gy[n, c, r, s] at
the winning offset of window (r, s) and nothing elsewhere; windows that overlap add up.
A tie goes to the first offset in row-major window order, and a NaN wins (the max of a
window holding NaN is NaN; with several NaNs, the last one wins), both as in PyTorch.

Forward lays the windows out with im2col (see im2col.py), one row per output pixel, and
takes the max of each; when a gradient is wanted it also keeps the winner, the offset
k = kw*i + j of the max in each window. Backward puts gy at the winners of a zero array of
the windows' shape and adds the windows back onto the image with col2im. The output is an
(N, C, OH, OW) view of channels-last memory, like conv2d's.
"""
from .. import backend, checks
from ..function import Function
from .im2col import channels_first, channels_last, col2im, im2col, output_size


class MaxPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # y[n, c, r, s] = max_{i, j} x_pad[n, c, sh*r + i, sw*s + j]
        n, c = x.shape[:2]
        self.x_shape, out_hw = x.shape, output_size(x.shape, self.kernel, self.stride, self.padding)
        cols = im2col(x, self.kernel, self.stride, self.padding, fill=-float("inf"))
        cols = cols.reshape(n, *out_hw, -1, c)                      # cols[n, r, s, k, c]: window (r, s), offset k
        y = cols.max(axis=3)                                        # (N, OH, OW, C); a NaN in a window wins
        if self.needs_input_grad[0]:                                # dL/dx needs the winner of each window
            self.save_for_backward(winner=first_max_or_last_nan(cols, axis=3))
        return channels_first(y)

    def backward(self, gy):             # dL/dx_pad[n, c, sh*r + i, sw*s + j] += gy[n, c, r, s] where (i, j) won
        xp = backend.array_module(gy)
        n, c = self.x_shape[:2]
        gy = channels_last(gy)[:, :, :, None, :]                   # (N, OH, OW, 1, C)
        offsets = xp.arange(self.kernel[0] * self.kernel[1]).reshape(-1, 1)     # k, down the window axis
        gcols = xp.where(offsets == self.winner[:, :, :, None, :], gy, 0)       # gy at the winner, 0 elsewhere
        return col2im(gcols.reshape(-1, offsets.size * c), self.x_shape, self.kernel, self.stride, self.padding)


def first_max_or_last_nan(a, axis):
    """The index of the max along ``axis``: the first one of a tie, or the last NaN where there is one (PyTorch's)."""
    xp = backend.array_module(a)
    is_nan = xp.isnan(a)
    last_nan = a.shape[axis] - 1 - xp.flip(is_nan, axis=axis).argmax(axis=axis)
    return xp.where(is_nan.any(axis=axis), last_nan, a.argmax(axis=axis))


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kh x kw windows of x (N, C, H, W); stride defaults to kernel_size; padding counts as -inf."""
    kernel, stride, padding = checks.check_pool2d(x, kernel_size, stride, padding, "max_pool2d", "padding is -inf")
    return MaxPool2d(kernel, stride, padding)(x)
