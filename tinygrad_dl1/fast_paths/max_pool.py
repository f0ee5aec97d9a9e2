"""Max-pool in one fused kernel per direction, and a CPU version that loops over the window offsets.

MAX_POOL finds the max of each window and its offset (MAX_POOL_VALUES the max alone, when no
gradient is wanted); MAX_POOL_BACKWARD computes each input pixel's gradient as the sum of gy over
the windows that hold it and that it won (a gather: no atomic adds). On a CPU the same results
come from kh*kw passes over shifted channels-last views, with buffers reused: no (N, OH, OW, kh*kw, C)
array of windows as the plain op makes. The winner is stored as the plain op's (the offset k = kw*i + j
of each window's max, channels-last), in int8 when kh*kw fits.
"""
from .. import backend
from ..ops.im2col import channels_first, channels_last, output_size, pad_channels_last, windows
from ..ops.pool import MaxPool2d
from . import register
from .kernel import Kernel
from .windows import GEOMETRY, geometry, over_windows_holding_pixel


def max_pool_on_cpu(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, lowest, y, winner):
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


def max_pool_values_on_cpu(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, lowest, y):
    """MAX_POOL_VALUES with array ops: the running max over the kh*kw offsets of shifted views."""
    xp = backend.array_module(x)
    view = windows(pad_channels_last(x, (ph, pw), lowest), (kh, kw), (sh, sw), (out_height, out_width))
    y[...] = view[:, :, :, 0, 0]                       # the max so far: offset 0's values
    for k in range(1, kh * kw):
        xp.maximum(y, view[:, :, :, k // kw, k % kw], out=y)     # maximum propagates NaN
    return y


def window_max(with_winner):
    """CUDA C: thread i finds, for output (n, r, s, c), the max of its window (best) and, ``with_winner``,
    the window offset that holds it (best_offset)."""
    declare_offset, keep_offset = ("int best_offset = 0;", "best_offset = offset;") if with_winner else ("", "")
    return """
    ptrdiff_t k = i;                              // output (n, r, s, c), channels-last
    const int c = k % C; k /= C;
    const int s = k % OW; k /= OW;
    const int r = k % OH;
    const ptrdiff_t sample = k / OH;
    T best = lowest;
    """ + declare_offset + """
    for (int offset = 0; offset < kh * kw; offset++) {        // row-major: offset = kw * ki + kj
        const int h = sh * r + offset / kw - ph, w = sw * s + offset % kw - pw;
        const T v = (h >= 0 && h < H && w >= 0 && w < W) ? x[((sample * C + c) * H + h) * W + w] : lowest;
        if (offset == 0 || v > best || isnan(v)) {   // a tie keeps the earlier offset; a NaN wins
            best = v;
            """ + keep_offset + """
        }
    }
"""


# Offset: the integer type of the winners (int8 or int32)
MAX_POOL = Kernel("max_pool", "raw T x, " + GEOMETRY + ", T lowest", "T y, Offset winner",
                  window_max(with_winner=True) + "y = best; winner = best_offset;", cpu=max_pool_on_cpu)
MAX_POOL_VALUES = Kernel("max_pool_values", "raw T x, " + GEOMETRY + ", T lowest", "T y",
                         window_max(with_winner=False) + "y = best;", cpu=max_pool_values_on_cpu)


def max_pool_backward_on_cpu(gy, winner, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, gx):
    """MAX_POOL_BACKWARD with array ops: gy added, offset by offset, where that offset won."""
    n = gx.shape[0]
    gx_pad = backend.array_module(gy).zeros((n, height + 2 * ph, width + 2 * pw, c), gy.dtype)
    view = windows(gx_pad, (kh, kw), (sh, sw), (out_height, out_width))
    for k in range(kh * kw):
        target = view[:, :, :, k // kw, k % kw]
        target += gy * (winner == k)
    gx[...] = gx_pad[:, ph:ph + height, pw:pw + width]
    return gx


MAX_POOL_BACKWARD = Kernel(
    "max_pool_backward", "raw T gy, raw Offset winner, " + GEOMETRY, "T gx",
    over_windows_holding_pixel("if (winner[window * C + c] == ki * kw + kj) sum += gy[window * C + c];")
    + "gx = sum;", cpu=max_pool_backward_on_cpu)


def max_pool_forward(op, x):
    """MaxPool2d.forward in one kernel: the max of each window, and its winner when a gradient is wanted."""
    xp, (kh, kw) = backend.array_module(x), op.kernel
    op.x_shape, out_hw = x.shape, output_size(x.shape, op.kernel, op.stride, op.padding)
    shape = (x.shape[0], *out_hw, x.shape[1])                   # channels-last
    args = (x, *geometry(x.shape, op.kernel, op.stride, op.padding), -float("inf"))
    y = xp.empty(shape, x.dtype)
    if op.needs_input_grad[0]:
        winner = xp.empty(shape, xp.int8 if kh * kw <= 127 else xp.int32)
        MAX_POOL(*args, y, winner)
        op.save_for_backward(winner=winner)
    else:
        MAX_POOL_VALUES(*args, y)
    return channels_first(y)


def max_pool_backward(op, gy):
    """MaxPool2d.backward in one kernel: each pixel gets the sum of gy over the windows it won."""
    n, c, height, width = op.x_shape
    gx = backend.array_module(gy).empty((n, height, width, c), gy.dtype)
    MAX_POOL_BACKWARD(channels_last(gy), op.winner, *geometry(op.x_shape, op.kernel, op.stride, op.padding),
                      gx)
    return channels_first(gx)


register(MaxPool2d, forward=max_pool_forward, backward=max_pool_backward)
