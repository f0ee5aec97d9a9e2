"""2-D max-pooling: the largest entry of each kh x kw window, per channel.

With (r, s) an output pixel, (i, j) a kernel offset, (sh, sw) the stride and x_pad the
input padded with -inf (so padding never wins):

    y[n, c, r, s] = max_{i, j} x_pad[n, c, sh*r + i, sw*s + j]

A max passes its gradient to the one entry that won, so dL/dx_pad gets gy[n, c, r, s] at
the winning offset of window (r, s) and nothing elsewhere; windows that overlap add up.
A tie goes to the first offset in row-major window order, and a NaN wins (the max of a
window holding NaN is NaN; with several NaNs, the last one wins), both as in PyTorch.

Forward runs over the kh*kw offsets k = kw*i + j of channels-last shifted views of the
image, keeping the running max and, only when a gradient is wanted, the winning offset
of each output (a small int array). The output is an (N, C, OH, OW) view of
channels-last memory, like conv2d's.
"""
from .. import backend, checks
from ..function import Function
from .im2col import output_size, pad_channels_last, windows


class MaxPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # y[n, c, r, s] = max_{i, j} x_pad[n, c, sh*r + i, sw*s + j]
        xp = backend.array_module(x)
        kh, kw = self.kernel
        self.x_shape, self.out_hw = x.shape, output_size(x.shape, self.kernel, self.stride, self.padding)
        view = windows(pad_channels_last(x, self.padding, -xp.inf), self.kernel, self.stride, self.out_hw)
        y = view[:, :, :, 0, 0].copy()                 # the max so far: offset 0's values
        self.winner = None
        if not self.needs_input_grad[0]:
            for k in range(1, kh * kw):
                xp.maximum(y, view[:, :, :, k // kw, k % kw], out=y)     # maximum propagates NaN
            return y.transpose(0, 3, 1, 2)
        # dL/dx needs, per output, the offset that holds the max: kept beside the max, offset by offset
        self.winner = winner = xp.zeros(y.shape, xp.int8 if kh * kw <= 127 else xp.int32)
        # buffers that every offset reuses: no new arrays inside the loop
        v, better, is_nan = xp.empty_like(y), xp.empty(y.shape, bool), xp.empty(y.shape, bool)
        for k in range(1, kh * kw):
            v[...] = view[:, :, :, k // kw, k % kw]    # offset k's values, copied: contiguous arrays are faster
            xp.greater(v, y, out=better)               # better = v > y: a tie keeps the earlier offset
            better |= xp.isnan(v, out=is_nan)          # and a NaN wins
            # winner = k where better; k is above every offset stored so far, so a max sets it
            # (the same as winner[better] = k, and many times faster)
            xp.maximum(winner, better * winner.dtype.type(k), out=winner)
            xp.maximum(y, v, out=y)                    # y = v where better (maximum propagates NaN)
        return y.transpose(0, 3, 1, 2)

    def backward(self, gy):             # dL/dx_pad[n, c, sh*r + i, sw*s + j] += gy[n, c, r, s] where (i, j) won
        xp = backend.array_module(gy)
        (kh, kw), (ph, pw), (n, c, height, width) = self.kernel, self.padding, self.x_shape
        gy = gy.transpose(0, 2, 3, 1)
        gx_pad = xp.zeros((n, height + 2 * ph, width + 2 * pw, c), gy.dtype)
        view = windows(gx_pad, self.kernel, self.stride, self.out_hw)
        for k in range(kh * kw):
            target = view[:, :, :, k // kw, k % kw]
            target += gy * (self.winner == k)
        return gx_pad[:, ph:ph + height, pw:pw + width].transpose(0, 3, 1, 2)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kh x kw windows of x (N, C, H, W); stride defaults to kernel_size; padding counts as -inf."""
    kernel, stride, padding = checks.check_max_pool2d(x, kernel_size, stride, padding)
    return MaxPool2d(kernel, stride, padding)(x)
