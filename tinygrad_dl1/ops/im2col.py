"""im2col and col2im: the sliding windows of an image as the rows of one matrix, and back.

Indices: n a sample, c a channel, (r, s) an output pixel's row and column, (i, j) an
offset inside the kh x kw kernel, (sh, sw) the stride, x_pad the input padded by
(ph, pw) on each side. The window of output pixel (r, s) starts at (sh*r, sw*s):

    cols[(n, r, s), (i, j, c)] = x_pad[n, c, sh*r + i, sw*s + j]     shape (N*OH*OW, kh*kw*C)

col2im is its adjoint (the transpose of that linear map): each row of cols is added back
onto the window it came from, so where windows overlap their values add up.

Images are copied channels-last, (N, H, W, C), first: a window then reads whole runs of
C channels, and a window's row is (i, j, c)-ordered. Nothing loops over pixels: im2col
copies one strided view (NumPy and CuPy both have as_strided), and col2im loops over the
kh*kw kernel offsets only, adding shifted slices.
"""
from .. import backend


def channels_last(a):
    """The (N, H, W, C) view of an (N, C, H, W) array (a weight (C_out, C_in, kh, kw) becomes
    (C_out, kh, kw, C_in)); other shapes as they are. No copy."""
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def channels_first(a):
    """The inverse of ``channels_last``: the (N, C, H, W) view of an (N, H, W, C) array."""
    return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a


def output_size(x_shape, kernel, stride, padding):
    """(OH, OW): how many windows of ``kernel`` fit down and across an (N, C, H, W) input, padded."""
    return ((x_shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1,
            (x_shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1)


def pad_channels_last(x, padding, fill):
    """x (N, C, H, W) copied into a new channels-last (N, H + 2ph, W + 2pw, C) array, ``fill`` around it."""
    xp = backend.array_module(x)
    (ph, pw), (n, c, height, width) = padding, x.shape
    out = xp.empty((n, height + 2 * ph, width + 2 * pw, c), x.dtype)
    if ph or pw:
        out[:, :ph], out[:, height + ph:], out[:, :, :pw], out[:, :, width + pw:] = fill, fill, fill, fill
    out[:, ph:ph + height, pw:pw + width] = channels_last(x)
    return out


def windows(x, kernel, stride, out_hw):
    """The view v[n, r, s, i, j, c] = x[n, sh*r + i, sw*s + j, c] of a channels-last x: no copy."""
    (step_n, step_h, step_w, step_c), (sh, sw) = x.strides, stride
    shape = (x.shape[0], *out_hw, *kernel, x.shape[3])
    strides = (step_n, sh * step_h, sw * step_w, step_h, step_w, step_c)
    return backend.array_module(x).lib.stride_tricks.as_strided(x, shape, strides)


def im2col(x, kernel, stride, padding, fill=0):
    """cols[(n, r, s), (i, j, c)] = x_pad[n, c, sh*r + i, sw*s + j] of x (N, C, H, W), padded with
    ``fill``: shape (N*OH*OW, kh*kw*C)."""
    out_hw = output_size(x.shape, kernel, stride, padding)
    view = windows(pad_channels_last(x, padding, fill), kernel, stride, out_hw)    # (N, OH, OW, kh, kw, C)
    return view.reshape(-1, kernel[0] * kernel[1] * x.shape[1])                     # the one copy


def col2im(cols, x_shape, kernel, stride, padding):
    """The adjoint of im2col: x_pad[n, c, sh*r + i, sw*s + j] += cols[(n, r, s), (i, j, c)], then the
    padding cut off. Returns an (N, C, H, W) view of channels-last memory."""
    (n, c, height, width), (kh, kw), (ph, pw) = x_shape, kernel, padding
    out_hw = output_size(x_shape, kernel, stride, padding)
    x_pad = backend.array_module(cols).zeros((n, height + 2 * ph, width + 2 * pw, c), cols.dtype)
    target = windows(x_pad, kernel, stride, out_hw)                   # (N, OH, OW, kh, kw, C), a view of x_pad
    source = cols.reshape(n, *out_hw, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            target[:, :, :, i, j] += source[:, :, :, i, j]            # one strided add per kernel offset
    return channels_first(x_pad[:, ph:ph + height, pw:pw + width])
