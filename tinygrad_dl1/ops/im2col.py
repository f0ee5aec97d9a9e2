"""im2col and col2im: the sliding windows of an image as the rows of one matrix, and back.

Images here are channels-last, (N, H, W, C): a window then reads whole runs of C
channels, and the window matrix has one row per output pixel. Nothing loops over
pixels: im2col copies one strided view (NumPy and CuPy both have as_strided), and
col2im loops over the kh*kw kernel offsets only, adding shifted slices.
"""
from .. import backend


def as_pair(value, name, op, minimum):
    """An int or a pair of ints (each >= minimum) as a pair; a ValueError naming ``name`` otherwise."""
    pair = (value, value) if isinstance(value, int) else value
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return tuple(pair)


def out_size(size, kernel, stride, pad):
    """How many windows of ``kernel`` fit along a side of ``size`` padded by ``pad`` on both ends."""
    return (size + 2 * pad - kernel) // stride + 1


def pad_channels_last(x, pad, fill):
    """x (N, C, H, W) copied into a new channels-last (N, H + 2ph, W + 2pw, C) array, ``fill`` around it."""
    xp = backend.array_module(x)
    (ph, pw), (n, c, h, w) = pad, x.shape
    out = xp.empty((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    if ph or pw:
        out[:, :ph], out[:, h + ph:], out[:, :, :pw], out[:, :, w + pw:] = fill, fill, fill, fill
    out[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
    return out


def windows(x, kernel, stride, out_hw):
    """The view v[n, a, b, i, j, c] = x[n, sh*a + i, sw*b + j, c] of a channels-last x: no copy."""
    xp = backend.array_module(x)
    (sn, sy, sx, sc), (sh, sw) = x.strides, stride
    shape = (x.shape[0], *out_hw, *kernel, x.shape[3])
    return xp.lib.stride_tricks.as_strided(x, shape, (sn, sh * sy, sw * sx, sy, sx, sc))


def im2col(x, kernel, stride, out_hw):
    """cols[(n, a, b), (i, j, c)] = x[n, sh*a + i, sw*b + j, c]: shape (N*OH*OW, kh*kw*C)."""
    (n, _, _, c), (kh, kw), (oh, ow) = x.shape, kernel, out_hw
    return windows(x, kernel, stride, out_hw).reshape(n * oh * ow, kh * kw * c)   # the one copy


def col2im(cols, shape, kernel, stride, out_hw):
    """The adjoint of im2col: x[n, sh*a + i, sw*b + j, c] += cols[(n, a, b), (i, j, c)], x of ``shape``.

    One strided add per kernel offset (i, j); windows that overlap add up.
    """
    (n, _, _, c), (kh, kw), (oh, ow) = shape, kernel, out_hw
    x = backend.array_module(cols).zeros(shape, cols.dtype)
    target, source = windows(x, kernel, stride, out_hw), cols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            target[:, :, :, i, j] += source[:, :, :, i, j]
    return x
