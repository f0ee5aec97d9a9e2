"""2-D max-pooling over the kh*kw shifted strided views of a -inf padded, channels-last image.

Forward keeps, per output, which kernel offset held the max (a small int array), and
only when a gradient is wanted; backward adds each output's gradient at that offset, so
overlapping windows add up. A tie goes to the first offset in row-major window order,
as in PyTorch. The output is an (N, C, OH, OW) view of channels-last memory, like conv2d's.
"""
from .. import backend
from ..function import Function
from .im2col import as_pair, out_size, pad_channels_last, windows


class MaxPool2d(Function):
    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):               # y[n,c,a,b] = max_{i,j} x_pad[n,c,sh*a+i,sw*b+j], -inf padding
        xp = backend.array_module(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        self.x_shape = x.shape
        self.out_hw = out_size(x.shape[2], kh, sh, ph), out_size(x.shape[3], kw, sw, pw)
        view = windows(pad_channels_last(x, self.padding, -xp.inf), self.kernel, self.stride, self.out_hw)
        y = view[:, :, :, 0, 0].copy()
        arg = None
        if self.needs_input_grad[0]:
            arg = xp.zeros(y.shape, xp.int8 if kh * kw <= 127 else xp.int32)
        for k in range(1, kh * kw):
            v = view[:, :, :, k // kw, k % kw]
            if arg is not None:          # strictly larger: on a tie the earlier offset keeps the max;
                xp.maximum(arg, (v > y) * arg.dtype.type(k), out=arg)   # k exceeds every earlier offset
            xp.maximum(y, v, out=y)
        self.arg = arg
        return y.transpose(0, 3, 1, 2)

    def backward(self, gy):             # dx_pad[n,c,sh*a+i,sw*b+j] += gy[n,c,a,b] where (i, j) held the max
        xp = backend.array_module(gy)
        (kh, kw), (ph, pw), (n, c, h, w) = self.kernel, self.padding, self.x_shape
        gy = gy.transpose(0, 2, 3, 1)
        gx = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), gy.dtype)
        view = windows(gx, self.kernel, self.stride, self.out_hw)
        for k in range(kh * kw):
            target = view[:, :, :, k // kw, k % kw]
            target += gy * (self.arg == k)
        return gx[:, ph:ph + h, pw:pw + w].transpose(0, 3, 1, 2)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kh x kw windows of x (N, C, H, W); stride defaults to kernel_size; padding counts as -inf."""
    if x.ndim != 4:
        raise ValueError(f"max_pool2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise ValueError(f"max_pool2d: input must be floating point (padding is -inf), got dtype {x.dtype}")
    kernel = as_pair(kernel_size, "kernel_size", "max_pool2d", 1)
    stride = kernel if stride is None else as_pair(stride, "stride", "max_pool2d", 1)
    padding = as_pair(padding, "padding", "max_pool2d", 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"max_pool2d: padding {padding} must be at most half of kernel_size {kernel}")
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"max_pool2d: kernel_size {kernel} does not fit the padded input {padded} "
                         f"(input {x.shape}, padding {padding})")
    return MaxPool2d(kernel, stride, padding)(x)
