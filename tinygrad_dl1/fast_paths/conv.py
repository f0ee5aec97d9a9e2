"""conv2d and the Im2Col op with im2col and col2im as one fused kernel each (IM2COL, COL2IM).

IM2COL computes each entry of cols from its (n, r, s, i, j, c); COL2IM computes each pixel of the
image as the sum of the cols entries that copied it, over the windows that hold it:

    x_pad[n, c, h, w] = sum over (i, j) with h = sh*r + i, w = sw*s + j of cols[(n, r, s), (i, j, c)]

On a CPU both run the array ops of ops/im2col.py, which are already NumPy's fastest way, writing
into the kernel's outputs; the matrix products are the plain op's (Conv2d.multiply and
multiply_backward).
"""
from .. import backend
from ..ops import im2col as plain
from ..ops.conv import Conv2d, Im2Col
from . import register
from .kernel import Kernel
from .windows import GEOMETRY, geometry, over_windows_holding_pixel


def im2col_on_cpu(x, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, cols):
    """IM2COL with array ops: the plain im2col's windows, copied straight into cols."""
    view = plain.windows(plain.pad_channels_last(x, (ph, pw), 0), (kh, kw), (sh, sw), (out_height, out_width))
    cols.reshape(view.shape)[...] = view
    return cols


IM2COL = Kernel("im2col", "raw T x, " + GEOMETRY, "T cols", """
    ptrdiff_t k = i;                              // cols[(n, r, s), (ki, kj, c)], in C order
    const int c = k % C; k /= C;
    const int kj = k % kw; k /= kw;
    const int ki = k % kh; k /= kh;
    const int s = k % OW; k /= OW;
    const int r = k % OH;
    const ptrdiff_t sample = k / OH;
    const int h = sh * r + ki - ph, w = sw * s + kj - pw;       // the pixel it copies, in x unpadded
    cols = (h >= 0 && h < H && w >= 0 && w < W) ? x[((sample * C + c) * H + h) * W + w] : (T)0;
    """, cpu=im2col_on_cpu)


def col2im_on_cpu(cols, c, height, width, out_height, out_width, kh, kw, sh, sw, ph, pw, image):
    """COL2IM with array ops: the plain col2im, written into the channels-last image."""
    image[...] = plain.channels_last(plain.col2im(cols, (image.shape[0], c, height, width), (kh, kw), (sh, sw),
                                                  (ph, pw)))
    return image


COL2IM = Kernel("col2im", "raw T cols, " + GEOMETRY, "T image",
                over_windows_holding_pixel("sum += cols[((window * kh + ki) * kw + kj) * C + c];") + "image = sum;",
                cpu=col2im_on_cpu)


def im2col(x, kernel, stride, padding):
    """ops.im2col.im2col, in one kernel on a GPU."""
    n, c = x.shape[:2]
    out_height, out_width = plain.output_size(x.shape, kernel, stride, padding)
    cols = backend.array_module(x).empty((n * out_height * out_width, kernel[0] * kernel[1] * c), x.dtype)
    return IM2COL(x, *geometry(x.shape, kernel, stride, padding), cols)


def col2im(cols, x_shape, kernel, stride, padding):
    """ops.im2col.col2im, in one kernel on a GPU: an (N, C, H, W) view of channels-last memory."""
    n, c, height, width = x_shape
    image = backend.array_module(cols).empty((n, height, width, c), cols.dtype)
    return plain.channels_first(COL2IM(cols, *geometry(x_shape, kernel, stride, padding), image))


def conv2d_forward(op, x, weight, bias=None):
    """Conv2d.forward with the im2col kernel, then the plain op's matrix product."""
    op.x_shape, op.kernel = x.shape, weight.shape[2:]
    return op.multiply(im2col(x, op.kernel, op.stride, op.padding), weight, bias)


def conv2d_backward(op, gy):
    """Conv2d.backward: the plain op's matrix products, then the col2im kernel."""
    gcols, gw, gb = op.multiply_backward(gy)
    gx = None if gcols is None else col2im(gcols, op.x_shape, op.kernel, op.stride, op.padding)
    return gx, gw, gb


def im2col_op_forward(op, x):
    """Im2Col.forward in one kernel."""
    op.x_shape = x.shape
    return im2col(x, op.kernel, op.stride, op.padding)


def im2col_op_backward(op, gcols):
    """Im2Col.backward (col2im) in one kernel."""
    return col2im(gcols, op.x_shape, op.kernel, op.stride, op.padding)


register(Conv2d, forward=conv2d_forward, backward=conv2d_backward)
register(Im2Col, forward=im2col_op_forward, backward=im2col_op_backward)
