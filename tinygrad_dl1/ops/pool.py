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

On a GPU each direction is one fused kernel (see tinygrad_dl1/kernels.py): MAX_POOL finds
the max and its offset for each output (MAX_POOL_VALUES the max alone, when no gradient is
wanted), and MAX_POOL_BACKWARD computes each input pixel's gradient as the sum of gy over the
windows that hold it and that it won (a gather: no atomic adds).
"""
from .. import backend, checks, kernels
from ..function import Function
from .im2col import GEOMETRY, OVER_WINDOWS_HOLDING_PIXEL, geometry, output_size, pad_channels_last, windows


class MaxPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # y[n, c, r, s] = max_{i, j} x_pad[n, c, sh*r + i, sw*s + j]
        xp = backend.array_module(x)
        kh, kw = self.kernel
        self.x_shape, self.out_hw = x.shape, output_size(x.shape, self.kernel, self.stride, self.padding)
        shape = (x.shape[0], *self.out_hw, x.shape[1])                  # channels-last
        args = (x, *geometry(x.shape, self.kernel, self.stride, self.padding), -float("inf"))
        y, self.winner = xp.empty(shape, x.dtype), None
        if not self.needs_input_grad[0]:
            MAX_POOL_VALUES(*args, y)
        else:                           # dL/dx needs, per output, the offset that holds the max
            self.winner = xp.empty(shape, xp.int8 if kh * kw <= 127 else xp.int32)
            MAX_POOL(*args, y, self.winner)
        return y.transpose(0, 3, 1, 2)

    def backward(self, gy):             # dL/dx_pad[n, c, sh*r + i, sw*s + j] += gy[n, c, r, s] where (i, j) won
        xp = backend.array_module(gy)
        n, c, height, width = self.x_shape
        gx = xp.empty((n, height, width, c), gy.dtype)
        MAX_POOL_BACKWARD(gy.transpose(0, 2, 3, 1), self.winner,
                          *geometry(self.x_shape, self.kernel, self.stride, self.padding), gx)
        return gx.transpose(0, 3, 1, 2)


def max_pool_twin(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, lowest, y, winner):
    """MAX_POOL with array ops, over the kh*kw offsets of shifted views of the image padded with ``lowest``."""
    xp = backend.array_module(x)
    view = windows(pad_channels_last(x, (ph, pw), lowest), (kh, kw), (sh, sw), (out_height, out_width))
    y[...] = view[:, :, :, 0, 0]                       # the max so far: offset 0's values
    winner.fill(0)
    # buffers that every offset reuses: no new arrays inside the loop
    v, better, is_nan = xp.empty_like(y), xp.empty(y.shape, bool), xp.empty(y.shape, bool)
    for k in range(1, kh * kw):
        v[...] = view[:, :, :, k // kw, k % kw]        # offset k's values, copied: contiguous arrays are faster
        xp.greater(v, y, out=better)                   # better = v > y: a tie keeps the earlier offset
        better |= xp.isnan(v, out=is_nan)              # and a NaN wins
        # winner = k where better; k is above every offset stored so far, so a max sets it
        # (the same as winner[better] = k, and many times faster)
        xp.maximum(winner, better * winner.dtype.type(k), out=winner)
        xp.maximum(y, v, out=y)                        # y = v where better (maximum propagates NaN)
    return y, winner


def max_pool_values_twin(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, lowest, y):
    """MAX_POOL_VALUES with array ops: the running max over the kh*kw offsets of shifted views."""
    xp = backend.array_module(x)
    view = windows(pad_channels_last(x, (ph, pw), lowest), (kh, kw), (sh, sw), (out_height, out_width))
    y[...] = view[:, :, :, 0, 0]                       # the max so far: offset 0's values
    for k in range(1, kh * kw):
        xp.maximum(y, view[:, :, :, k // kw, k % kw], out=y)     # maximum propagates NaN
    return y


# CUDA C shared by MAX_POOL and MAX_POOL_VALUES: thread i finds, for output (n, r, s, c), the max of its
# window (best) and the window offset that holds it (best_offset: the lines marked WINNER, which
# MAX_POOL_VALUES leaves out)
WINDOW_MAX = """
    ptrdiff_t k = i;                              // output (n, r, s, c), channels-last
    const int c = k % C; k /= C;
    const int s = k % OW; k /= OW;
    const int r = k % OH;
    const ptrdiff_t sample = k / OH;
    T best = lowest;
    int best_offset = 0;  // WINNER
    for (int offset = 0; offset < kh * kw; offset++) {        // row-major: offset = kw * ki + kj
        const int h = sh * r + offset / kw - ph, w = sw * s + offset % kw - pw;
        const T v = (h >= 0 && h < H && w >= 0 && w < W) ? x[((sample * C + c) * H + h) * W + w] : lowest;
        if (offset == 0 || v > best || isnan(v)) {   // a tie keeps the earlier offset; a NaN wins
            best = v;
            best_offset = offset;  // WINNER
        }
    }
"""
MAX_POOL = kernels.Kernel("max_pool", "raw T x, " + GEOMETRY + ", T lowest", "T y, I winner",
                          WINDOW_MAX + "y = best; winner = best_offset;",
                          twin=max_pool_twin)
MAX_POOL_VALUES = kernels.Kernel(
    "max_pool_values", "raw T x, " + GEOMETRY + ", T lowest", "T y",
    "\n".join(line for line in WINDOW_MAX.splitlines() if "WINNER" not in line) + "\ny = best;",
    twin=max_pool_values_twin)


def max_pool_backward_twin(gy, winner, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, gx):
    """MAX_POOL_BACKWARD with array ops: gy added, offset by offset, where that offset won."""
    n = gx.shape[0]
    gx_pad = backend.array_module(gy).zeros((n, height + 2 * ph, width + 2 * pw, c), gy.dtype)
    view = windows(gx_pad, (kh, kw), (sh, sw), (out_height, out_width))
    for k in range(kh * kw):
        target = view[:, :, :, k // kw, k % kw]
        target += gy * (winner == k)
    gx[...] = gx_pad[:, ph:ph + height, pw:pw + width]
    return gx


MAX_POOL_BACKWARD = kernels.Kernel(
    "max_pool_backward", "raw T gy, raw I winner, " + GEOMETRY, "T gx",
    OVER_WINDOWS_HOLDING_PIXEL.replace(
        "{add}", "if (winner[window * C + c] == ki * kw + kj) sum += gy[window * C + c];") + "gx = sum;",
    twin=max_pool_backward_twin)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kh x kw windows of x (N, C, H, W); stride defaults to kernel_size; padding counts as -inf."""
    kernel, stride, padding = checks.check_max_pool2d(x, kernel_size, stride, padding)
    return MaxPool2d(kernel, stride, padding)(x)
