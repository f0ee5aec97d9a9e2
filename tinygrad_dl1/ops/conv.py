"""2-D convolution (cross-correlation, as in PyTorch) as one matrix product over im2col.

The input is padded into channels-last memory and its windows copied into the rows of
cols (N*OH*OW, kh*kw*C); with Wm the weight as an (O, kh*kw*C) matrix, the output is one
GEMM, cols @ Wm^T, handed back as an (N, O, OH, OW) view of that channels-last product
(no transposing copy); the next conv or pool reads it as it is.
"""
from .. import backend
from ..function import Function
from .im2col import as_pair, col2im, im2col, out_size, pad_channels_last


class Conv2d(Function):
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, w, b=None):    # y[n,o,a,b] = sum_{c,i,j} w[o,c,i,j] x_pad[n,c,sh*a+i,sw*b+j] + b[o]
        (n, _, h, wd), (o, c, kh, kw) = x.shape, w.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        self.x_shape, self.kernel = x.shape, (kh, kw)
        self.out_hw = out_size(h, kh, sh, ph), out_size(wd, kw, sw, pw)
        cols = im2col(pad_channels_last(x, self.padding, 0), self.kernel, self.stride, self.out_hw)
        wm = w.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)      # columns in (i, j, c) order, as in cols
        self.cols = cols if self.needs_input_grad[1] else None     # for dW
        self.wm = wm if self.needs_input_grad[0] else None         # for dX
        y = cols @ wm.T
        if b is not None:
            y += b
        return y.reshape(n, *self.out_hw, o).transpose(0, 3, 1, 2)

    def backward(self, gy):             # dWm = dY^T cols, db = 1^T dY, dX = col2im(dY Wm), dY as (N*OH*OW, O)
        (n, c, h, wd), (kh, kw), (ph, pw) = self.x_shape, self.kernel, self.padding
        o, need = gy.shape[1], self.needs_input_grad
        xp = backend.array_module(gy)
        gy = gy.transpose(0, 2, 3, 1).reshape(-1, o)             # a free view when gy is channels-last
        gx = gw = gb = None
        if need[0]:
            padded = (n, h + 2 * ph, wd + 2 * pw, c)
            gx = col2im(gy @ self.wm, padded, self.kernel, self.stride, self.out_hw)
            gx = gx[:, ph:ph + h, pw:pw + wd].transpose(0, 3, 1, 2)
        if need[1]:
            gw = (gy.T @ self.cols).reshape(o, kh, kw, c).transpose(0, 3, 1, 2).copy()
        if len(need) == 3 and need[2]:
            gb = xp.ones(len(gy), gy.dtype) @ gy                 # the sum over rows as one BLAS call
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)


def conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlate x (N, C, H, W) with w (O, C, kh, kw), plus b (O,), zero-padded: (N, O, OH, OW)."""
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), "
                         f"got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input of shape {x.shape} has {x.shape[1]} channels but weight of shape "
                         f"{w.shape} expects {w.shape[1]}")
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise ValueError(f"conv2d: bias of shape {b.shape} does not fit weight of shape {w.shape} "
                         f"(expected ({w.shape[0]},))")
    stride = as_pair(stride, "stride", "conv2d", 1)
    padding = as_pair(padding, "padding", "conv2d", 0)
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    if 0 in w.shape[2:] or w.shape[2] > padded[0] or w.shape[3] > padded[1]:
        raise ValueError(f"conv2d: kernel {tuple(w.shape[2:])} of weight {w.shape} does not fit the padded "
                         f"input {padded} (input {x.shape}, padding {padding})")
    if backend.array_module(x.data) is not backend.array_module(w.data):
        raise ValueError(f"conv2d: input on {x.device} but weight on {w.device}")
    return Conv2d(stride, padding)(x, w) if b is None else Conv2d(stride, padding)(x, w, b)
