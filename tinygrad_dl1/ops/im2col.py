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

On a GPU each is one fused kernel (IM2COL, COL2IM; see tinygrad_dl1/kernels.py) instead of
those array ops: IM2COL computes each entry of cols from its (n, r, s, i, j, c), and COL2IM
computes each pixel of the image as the sum of the cols entries that copied it (a gather:
every thread writes its own pixel, so no atomic adds), over the windows that hold it:

    x_pad[n, c, h, w] = sum over (i, j) with h = sh*r + i, w = sw*s + j of cols[(n, r, s), (i, j, c)]
"""
from .. import backend, kernels

# the shape of the problem, as the kernels' int arguments (C, H, W of the input; OH, OW of the output)
GEOMETRY = "int32 C, int32 H, int32 W, int32 OH, int32 OW, int32 kh, int32 kw, int32 sh, int32 sw, int32 ph, int32 pw"


def geometry(x_shape, kernel, stride, padding):
    """The values of GEOMETRY for an (N, C, H, W) input."""
    return (*x_shape[1:], *output_size(x_shape, kernel, stride, padding), *kernel, *stride, *padding)


# CUDA C shared by COL2IM and max-pool's backward: thread i computes pixel (n, h, w, c) of a channels-last
# image as the sum of {add} over the windows that hold the pixel, in the order of their kernel offset (ki, kj)
OVER_WINDOWS_HOLDING_PIXEL = """
    ptrdiff_t k = i;
    const int c = k % C; k /= C;
    const int w = k % W; k /= W;
    const int h = k % H;
    const ptrdiff_t sample = k / H;
    T sum = 0;
    for (int ki = 0; ki < kh; ki++) {
        const int hr = h + ph - ki;               // = sh * r when window row r holds row h at offset ki
        if (hr < 0 || hr % sh != 0 || hr / sh >= OH) continue;
        for (int kj = 0; kj < kw; kj++) {
            const int ws = w + pw - kj;           // = sw * s
            if (ws < 0 || ws % sw != 0 || ws / sw >= OW) continue;
            const ptrdiff_t window = (sample * OH + hr / sh) * OW + ws / sw;     // output pixel (n, r, s)
            {add}
        }
    }
"""


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
    out[:, ph:ph + height, pw:pw + width] = x.transpose(0, 2, 3, 1)
    return out


def windows(x, kernel, stride, out_hw):
    """The view v[n, r, s, i, j, c] = x[n, sh*r + i, sw*s + j, c] of a channels-last x: no copy."""
    (step_n, step_h, step_w, step_c), (sh, sw) = x.strides, stride
    shape = (x.shape[0], *out_hw, *kernel, x.shape[3])
    strides = (step_n, sh * step_h, sw * step_w, step_h, step_w, step_c)
    return backend.array_module(x).lib.stride_tricks.as_strided(x, shape, strides)


def im2col(x, kernel, stride, padding):
    """cols[(n, r, s), (i, j, c)] = x_pad[n, c, sh*r + i, sw*s + j] of x (N, C, H, W), zero-padded:
    shape (N*OH*OW, kh*kw*C)."""
    (n, c, _, _), (kh, kw) = x.shape, kernel
    out_height, out_width = output_size(x.shape, kernel, stride, padding)
    cols = backend.array_module(x).empty((n * out_height * out_width, kh * kw * c), x.dtype)
    return IM2COL(x, *geometry(x.shape, kernel, stride, padding), cols)


def im2col_twin(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, cols):
    """IM2COL with array ops: a padded channels-last copy, whose windows are copied into cols."""
    view = windows(pad_channels_last(x, (ph, pw), 0), (kh, kw), (sh, sw), (out_height, out_width))
    cols.reshape(view.shape)[...] = view                             # the one copy
    return cols


IM2COL = kernels.Kernel("im2col", "raw T x, " + GEOMETRY, "T cols", """
    ptrdiff_t k = i;                              // cols[(n, r, s), (ki, kj, c)], in C order
    const int c = k % C; k /= C;
    const int kj = k % kw; k /= kw;
    const int ki = k % kh; k /= kh;
    const int s = k % OW; k /= OW;
    const int r = k % OH;
    const ptrdiff_t sample = k / OH;
    const int h = sh * r + ki - ph, w = sw * s + kj - pw;       // the pixel it copies, in x unpadded
    cols = (h >= 0 && h < H && w >= 0 && w < W) ? x[((sample * C + c) * H + h) * W + w] : (T)0;
    """, twin=im2col_twin)


def col2im(cols, x_shape, kernel, stride, padding):
    """The adjoint of im2col: x_pad[n, c, sh*r + i, sw*s + j] += cols[(n, r, s), (i, j, c)], then the
    padding cut off. Returns an (N, C, H, W) view of channels-last memory."""
    n, c, height, width = x_shape
    image = backend.array_module(cols).empty((n, height, width, c), cols.dtype)
    return COL2IM(cols, *geometry(x_shape, kernel, stride, padding), image).transpose(0, 3, 1, 2)


def col2im_twin(cols, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, image):
    """COL2IM with array ops: each kernel offset's slice of cols added onto a zero-padded image at once."""
    n = image.shape[0]
    x_pad = backend.array_module(cols).zeros((n, height + 2 * ph, width + 2 * pw, c), cols.dtype)
    target = windows(x_pad, (kh, kw), (sh, sw), (out_height, out_width))
    source = cols.reshape(n, out_height, out_width, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            target[:, :, :, i, j] += source[:, :, :, i, j]     # one strided add per kernel offset
    image[...] = x_pad[:, ph:ph + height, pw:pw + width]
    return image


COL2IM = kernels.Kernel("col2im", "raw T cols, " + GEOMETRY, "T image",
                        OVER_WINDOWS_HOLDING_PIXEL.replace(
                            "{add}", "sum += cols[((window * kh + ki) * kw + kj) * C + c];") + "image = sum;",
                        twin=col2im_twin)
