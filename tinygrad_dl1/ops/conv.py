"""2-D convolution (cross-correlation, as in PyTorch), two ways: ``conv2d``, one op whose backward
is derived by hand, and ``conv2d_composed``, an im2col op followed by a matrix product that the
engine differentiates (the teaching version). Both give the same values and gradients.

Indices: n a sample, c_in / c_out an input / output channel, (r, s) an output pixel's row
and column, (i, j) a kernel offset, (sh, sw) the stride, x_pad the zero-padded input:

    y[n, c_out, r, s] = bias[c_out] + sum_{c_in, i, j} weight[c_out, c_in, i, j] * x_pad[n, c_in, sh*r + i, sw*s + j]

im2col (see im2col.py) copies the window of each output pixel into a row,
cols[(n, r, s), (i, j, c_in)] = x_pad[n, c_in, sh*r + i, sw*s + j]. With the weight as a
matrix Wm[c_out, (i, j, c_in)], the whole sum is one matrix product, one row per output pixel:

    Y = cols @ Wm^T + bias                                   shape (N*OH*OW, C_out)

and the gradients are those of a matrix product (see products.py):

    dL/dWm = dY^T @ cols      dL/dbias = sum of dY over the rows      dL/dcols = dY @ Wm

dL/dx is dL/dcols sent back through the copy: col2im adds each row onto the window it
came from, so where windows overlap their gradients add up.

The output is an (N, C_out, OH, OW) view of the channels-last product Y (no transposing
copy), which the next conv or pool reads as it is.
"""
from .. import checks
from ..function import Function
from .im2col import channels_first, channels_last, col2im, im2col, output_size


class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):    # Y = cols @ Wm^T + bias, as (N, C_out, OH, OW)
        self.x_shape, self.kernel = x.shape, weight.shape[2:]
        cols = im2col(x, self.kernel, self.stride, self.padding)                 # (N*OH*OW, kh*kw*C_in)
        return self.multiply(cols, weight, bias)

    def backward(self, gy):             # dL/dx = col2im(dY @ Wm), dL/dWm = dY^T @ cols, dL/dbias = 1^T dY
        gcols, gw, gb = self.multiply_backward(gy)
        gx = None if gcols is None else col2im(gcols, self.x_shape, self.kernel, self.stride, self.padding)
        return gx, gw, gb

    def multiply(self, cols, weight, bias):
        """Y = cols @ Wm^T + bias, one row per output pixel, as an (N, C_out, OH, OW) view of channels-last memory."""
        need_x, need_weight = self.needs_input_grad[:2]
        c_out = weight.shape[0]
        weight_matrix = channels_last(weight).reshape(c_out, -1)               # columns (i, j, c_in), as cols
        self.save_for_backward(cols=cols if need_weight else None,                  # dL/dWm = dY^T @ cols
                               weight_matrix=weight_matrix if need_x else None)     # dL/dcols = dY @ Wm
        y = cols @ weight_matrix.T
        if bias is not None:
            y += bias
        out_height, out_width = output_size(self.x_shape, self.kernel, self.stride, self.padding)
        return channels_first(y.reshape(self.x_shape[0], out_height, out_width, c_out))

    def multiply_backward(self, gy):
        """(dL/dcols = dY @ Wm, dL/dW = dY^T @ cols in the weight's layout, dL/dbias = 1^T dY), None for each
        gradient not wanted."""
        need_x, need_weight = self.needs_input_grad[:2]
        c_out, c_in, (kh, kw) = gy.shape[1], self.x_shape[1], self.kernel
        gy = channels_last(gy).reshape(-1, c_out)                 # dY (N*OH*OW, C_out): free when gy is channels-last
        gcols = gy @ self.weight_matrix if need_x else None
        gw = None
        if need_weight:
            # a copy in the weight's own (C_out, C_in, kh, kw) layout: the optimizer reads it several times
            gw = channels_first((gy.T @ self.cols).reshape(c_out, kh, kw, c_in)).copy()
        # dL/dbias: the sum over rows (a sum, not ones @ dY: far faster than a matrix-vector product here)
        gb = gy.sum(axis=0) if any(self.needs_input_grad[2:]) else None     # [2:] is empty without a bias
        return gcols, gw, gb        # the engine pairs gradients with inputs: gb is ignored without a bias


class Im2Col(Function):
    """cols = im2col(x_pad): the windows of x as rows; the first op of ``conv2d_composed``."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # cols[(n, r, s), (i, j, c)] = x_pad[n, c, sh*r + i, sw*s + j]
        self.x_shape = x.shape
        return im2col(x, self.kernel, self.stride, self.padding)

    def backward(self, gcols):          # dL/dx = col2im(dL/dcols): each row added back onto its window
        return col2im(gcols, self.x_shape, self.kernel, self.stride, self.padding)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlate x (N, C_in, H, W) with weight (C_out, C_in, kh, kw), plus bias (C_out,),
    zero-padded: (N, C_out, OH, OW). One op with a hand-derived backward."""
    checks.check_same_dtype("conv2d", (("the input", x), ("the weight", weight), ("the bias", bias)))
    stride, padding = checks.check_conv2d(x, weight, bias, stride, padding)
    return Conv2d(stride, padding)(x, weight) if bias is None else Conv2d(stride, padding)(x, weight, bias)


def conv2d_composed(x, weight, bias=None, stride=1, padding=0):
    """``conv2d`` as an Im2Col op, then reshapes, a permute, a matmul and an add that the engine
    differentiates: the teaching version, with the same values and gradients, more memory and time."""
    checks.check_same_dtype("conv2d_composed", (("the input", x), ("the weight", weight), ("the bias", bias)))
    stride, padding = checks.check_conv2d(x, weight, bias, stride, padding, "conv2d_composed")
    c_out, c_in, kh, kw = weight.shape
    out_height, out_width = output_size(x.shape, (kh, kw), stride, padding)
    cols = Im2Col((kh, kw), stride, padding)(x)                                   # (N*OH*OW, kh*kw*C_in)
    weight_matrix = weight.permute(0, 2, 3, 1).reshape(c_out, kh * kw * c_in)     # columns (i, j, c_in), as cols
    y = cols @ weight_matrix.T                                                    # (N*OH*OW, C_out)
    if bias is not None:
        y = y + bias
    return y.reshape(x.shape[0], out_height, out_width, c_out).permute(0, 3, 1, 2)
