"""What the window kernels (im2col, col2im, max-pool) share: the shape of the problem as int arguments,
and the CUDA C loop over the windows that hold a pixel."""
from ..ops.im2col import output_size

# the shape of the problem, as the kernels' int arguments (C, H, W of the input; OH, OW of the output)
GEOMETRY = "int32 C, int32 H, int32 W, int32 OH, int32 OW, int32 kh, int32 kw, int32 sh, int32 sw, int32 ph, int32 pw"


def geometry(x_shape, kernel, stride, padding):
    """The values of GEOMETRY for an (N, C, H, W) input."""
    return (*x_shape[1:], *output_size(x_shape, kernel, stride, padding), *kernel, *stride, *padding)


def over_windows_holding_pixel(add):
    """CUDA C in which thread i computes pixel (n, h, w, c) of a channels-last image as ``sum``, the sum of
    the statement ``add`` over the windows that hold the pixel, in the order of their kernel offset (ki, kj);
    ``window`` is the index of output pixel (n, r, s). A gather: each thread writes its own pixel, so no
    atomic adds."""
    return """
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
            """ + add + """
        }
    }
"""
