# %% [markdown]
# # 09 Convolution: im2col, one matrix product, col2im, and max-pooling
#
# An image has **channels** (red, green, blue). A convolutional layer slides small **kernels**
# (a $C_\text{in} \times k \times k$ block of weights each) over it: at every position, each
# kernel's dot product with the window under it gives one output pixel, and each kernel makes
# one output channel (a *feature map*), which the next layer takes as an input channel. As
# loops this is slow and its backward fiddly; with **im2col** (every window copied into a row)
# it becomes one matrix product, whose backward we know from tutorial 2. We check every step
# against a naive loop, the library's two conv ops (`F.conv2d` with a hand-written backward,
# `F.conv2d_composed` built from primitive ops), PyTorch (when installed), and central
# differences in float64.
#
# For an input $x$ of shape $(N, C_\text{in}, H, W)$, zero-padded by $p$ (a border of $p$ zeros)
# into $x^\text{pad}$, a weight $W$ of shape $(C_\text{out}, C_\text{in}, k_h, k_w)$, a bias $b$
# and a stride $s$ (the step between windows):
#
# $$y_{n,o,r,t} = b_o + \sum_{c,i,j} W_{o,c,i,j}\; x^\text{pad}_{n,c,\,s r + i,\,s t + j}.$$
#
# Like PyTorch's, this "convolution" is a **cross-correlation**: the kernel is not flipped. The
# kernel $\begin{pmatrix}1 & 0\\ 0 & -1\end{pmatrix}$ gives $y_{r,t} = x_{r,t} - x_{r+1,t+1}$; a
# true convolution would flip it and give the opposite sign.

# %%
import numpy as np

from tinygrad_dl1 import Tensor, exercises, gradcheck
from tinygrad_dl1.gradcheck import numerical_gradient
from tinygrad_dl1.nn import functional as F
from tinygrad_dl1.ops import im2col as library
from tinygrad_dl1.ops.im2col import col2im, output_size
from tinygrad_dl1.plot import save_figure, tutorial_pyplot

rng = np.random.default_rng(0)


def conv_naive(x, w, b, stride=1, padding=0):
    """The formula above, loop by loop (float64 NumPy arrays)."""
    n, _, height, width = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (height + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1
    y = np.zeros((n, c_out, oh, ow))
    for s in range(n):
        for o in range(c_out):
            for r in range(oh):
                for t in range(ow):
                    window = xp[s, :, stride * r:stride * r + kh, stride * t:stride * t + kw]
                    y[s, o, r, t] = b[o] + (w[o] * window).sum()
    return y


img = rng.standard_normal((1, 1, 3, 3))
diag = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
y = conv_naive(img, diag, np.zeros(1))
assert np.allclose(y[0, 0], img[0, 0, :2, :2] - img[0, 0, 1:, 1:]), "cross-correlation: y[r,t] = x[r,t] - x[r+1,t+1]"
assert not np.allclose(y, conv_naive(img, diag[..., ::-1, ::-1], np.zeros(1))), "flipping the kernel changes y"

# %% [markdown]
# ## 1. The output size
#
# Along each axis a window of size $k$ fits at the starts $0, s, 2s, \dots$ as long as it ends
# inside the padded length $H + 2p$:
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1.$$
#
# With $k = 3, s = 1, p = 1$ (the assignment's ConvNet) $H_\text{out} = H$: "same" padding.

# %%
for height, k, s, p in [(4, 2, 1, 0), (5, 3, 2, 1), (7, 3, 2, 0), (32, 3, 1, 1), (6, 4, 3, 2)]:
    expected = (height + 2 * p - k) // s + 1
    got = conv_naive(rng.standard_normal((1, 1, height, height)), np.ones((1, 1, k, k)), np.zeros(1), s, p).shape
    assert got[2:] == (expected, expected), f"H={height}, k={k}, s={s}, p={p}: {got[2:]} != {expected}"
    assert output_size((1, 1, height, height), (k, k), (s, s), (p, p)) == (expected, expected), "output_size"
    print(f"H={height:2d} k={k} s={s} p={p}  ->  H_out = ({height} + {2 * p} - {k}) // {s} + 1 = {expected}")

# %% [markdown]
# ## 2. im2col: each window becomes a row
#
# im2col copies the window of output pixel $(r, t)$ into row $(n, r, t)$ of a matrix, its
# entries ordered by kernel offset $(i, j)$ and then channel $c$:
#
# $$\text{cols}_{(n,r,t),\,(i,j,c)} = x^\text{pad}_{n,c,\,s r+i,\,s t+j}, \qquad
# \text{shape } (N H_\text{out} W_\text{out},\; k_h k_w C_\text{in}).$$
#
# It needs no loop over pixels: for each kernel offset $(i, j)$, the entries at that offset of
# all windows form one strided slice of $x^\text{pad}$. **Your turn** (an exercise, see
# tutorial 2): the checker compares yours with the library's `im2col` on random shapes.


# %%
def im2col(x, kernel_size, stride=1, padding=0):
    """The windows of x (N, C, H, W) as rows: cols[(n, r, t), (i, j, c)] = x_pad[n, c, s*r + i, s*t + j]."""
    # BEGIN SOLUTION hint: pad; for each offset (i, j) slice x_pad[:, :, i::s, j::s]; order axes (n, r, t, i, j, c)
    n, c, height, width = x.shape
    k, s, p = kernel_size, stride, padding
    oh, ow = (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((n, oh, ow, k, k, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = xp[:, :, i:i + s * oh:s, j:j + s * ow:s].transpose(0, 2, 3, 1)
    return cols.reshape(n * oh * ow, k * k * c)
    # END SOLUTION


x = rng.standard_normal((2, 3, 7, 6))
assert np.array_equal(im2col(x, 3, 2, 1), library.im2col(x, (3, 3), (2, 2), (1, 1))), "im2col != the library's"
assert exercises.check_im2col(im2col).passed, "im2col: see the checker's table"

# %% [markdown]
# A picture: a 1-channel $4 \times 4$ image with its pixels numbered, and its nine $2 \times 2$
# windows (stride 1) as rows; the drawing colours window $(r, t) = (1, 2)$ and its row, $3r + t = 5$.

# %%
x = np.arange(16.0).reshape(1, 1, 4, 4)
cols = im2col(x, 2)
print(f"image:\n{x[0, 0]}\ncols, one row per output pixel (r, t) = (0, 0), (0, 1), ..., (2, 2):\n{cols}")
assert cols.shape == (9, 4), "9 windows of 2x2 = 4 pixels"
for row_index, row in enumerate(cols):
    r, t = divmod(row_index, 3)
    assert np.array_equal(row, x[0, 0, r:r + 2, t:t + 2].ravel()), f"row ({r}, {t}) should be window ({r}, {t})"
assert cols[3 * 1 + 2].tolist() == [6, 7, 10, 11], "row 5 holds window (1, 2): the pixels the drawing outlines"

plt = tutorial_pyplot()
if plt is not None:
    fig, (ax_image, ax_cols) = plt.subplots(1, 2, figsize=(7, 4))
    for ax, values, title in ((ax_image, x[0, 0], "image, window (1, 2)"), (ax_cols, cols, "cols, row 5")):
        ax.imshow(values, cmap="Greys", alpha=0.3)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center")
        ax.set(title=title, xticks=[], yticks=[])
    ax_image.add_patch(plt.Rectangle((1.5, 0.5), 2, 2, fill=False, edgecolor="red", linewidth=3))
    ax_cols.add_patch(plt.Rectangle((-0.5, 4.5), 4, 1, fill=False, edgecolor="red", linewidth=3))
    save_figure(fig, "09_im2col")

# %% [markdown]
# With the weight reshaped to a matrix $W_m$ of shape $(C_\text{out}, k_h k_w C_\text{in})$, its
# columns in the same $(i, j, c)$ order, each output pixel is a dot product of its row with a
# row of $W_m$, so the whole layer is **one matrix product**:
#
# $$Y = \text{cols}\; W_m^\top + b \qquad (N H_\text{out} W_\text{out} \times C_\text{out}),$$
#
# then reshaped to $(N, H_\text{out}, W_\text{out}, C_\text{out})$ and transposed to
# $(N, C_\text{out}, H_\text{out}, W_\text{out})$. `F.conv2d_composed` is exactly this (an im2col
# op, reshapes, a transpose, a matrix product and an add), which autograd differentiates.

# %%
try:
    import torch
except ImportError:
    torch = None
    print("torch is not installed: the comparisons with PyTorch are skipped")


def conv_im2col(x, w, b, stride, padding):
    c_out, c_in, kh, kw = w.shape
    oh, ow = output_size(x.shape, (kh, kw), (stride, stride), (padding, padding))
    cols = im2col(x, kh, stride, padding)                                # square kernels: kh = kw
    wm = w.transpose(0, 2, 3, 1).reshape(c_out, kh * kw * c_in)      # columns (i, j, c), as cols
    return (cols @ wm.T + b).reshape(x.shape[0], oh, ow, c_out).transpose(0, 3, 1, 2)


for stride, padding in [(1, 0), (1, 1), (2, 1), (2, 0), (3, 2)]:
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ref = conv_naive(x, w, b, stride, padding)
    outputs = {"im2col": conv_im2col(x, w, b, stride, padding),
               "F.conv2d": F.conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding).data,
               "F.conv2d_composed": F.conv2d_composed(Tensor(x), Tensor(w), Tensor(b), stride, padding).data}
    if torch is not None:
        x_w_b = (torch.from_numpy(a) for a in (x, w, b))
        outputs["PyTorch"] = torch.nn.functional.conv2d(*x_w_b, stride=stride, padding=padding).numpy()
    for name, out in outputs.items():
        assert np.allclose(out, ref, atol=1e-12), f"{name} != the naive loop (stride {stride}, padding {padding})"
    print(f"stride {stride}, padding {padding}: output {ref.shape}, the loop = " + " = ".join(outputs))

# %% [markdown]
# ## 3. col2im, the adjoint of im2col, and $\partial L / \partial x$
#
# im2col is linear in $x$: $\text{cols} = A x$ for a 0/1 matrix $A$ (each row of $A$ picks one
# pixel, or nothing in the padding). The backward of a linear map is its transpose:
# $\bar x = A^\top\, \overline{\text{cols}}$. **col2im** computes $A^\top c$ without building $A$:
# it adds each row of $c$ back onto the window it came from. The defining property of the
# adjoint, for every $x$ and $c$ (with $\langle a, b \rangle = \sum a \odot b$):
#
# $$\langle \text{im2col}(x),\, c \rangle = \langle x,\, \text{col2im}(c) \rangle.$$
#
# Where windows overlap, a pixel was copied into several rows, so its gradient is the **sum**
# over those rows (the `+=` at fan-out of tutorial 3). col2im of all ones counts the copies:
# on the $4 \times 4$ image with $2 \times 2$ windows, corners are in 1 window, edges in 2, the
# middle in 4.

# %%
for stride, padding in [(1, 0), (1, 1), (2, 1), (2, 0)]:
    x = rng.standard_normal((2, 3, 6, 5))
    cols = im2col(x, 3, stride, padding)
    c = rng.standard_normal(cols.shape)
    left, right = (cols * c).sum(), (x * col2im(c, x.shape, (3, 3), (stride, stride), (padding, padding))).sum()
    print(f"stride {stride}, padding {padding}: <im2col(x), c> = {left:+.10f}, <x, col2im(c)> = {right:+.10f}")
    assert np.isclose(left, right, rtol=1e-12, atol=1e-12), "col2im should be the adjoint of im2col"

counts = col2im(np.ones((9, 4)), (1, 1, 4, 4), (2, 2), (1, 1), (0, 0))[0, 0]
print(counts)
assert np.array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]), "windows per pixel"

# %% [markdown]
# ## 4. All three gradients
#
# With $\bar Y = \partial L / \partial Y$ as a $(N H_\text{out} W_\text{out}) \times C_\text{out}$
# matrix, the product $Y = \text{cols}\, W_m^\top + b$ has tutorial 2's rules:
#
# $$\bar W_m = \bar Y^\top \text{cols}, \qquad \bar b = \sum_\text{rows} \bar Y, \qquad
# \overline{\text{cols}} = \bar Y W_m, \qquad \bar x = \text{col2im}(\bar Y W_m).$$
#
# We take $L = \sum R \odot y$ with a random $R$ (so $\bar y = R$), compute these by hand (your
# turn: `conv2d_backward` is an exercise), and compare with central differences and autograd.

# %%
def conv2d_backward(x, weight, grad_output, stride=1, padding=0):
    """(grad_x, grad_weight, grad_bias) of y = conv2d(x, weight, bias, stride, padding), given grad_output = dL/dy."""
    # BEGIN SOLUTION hint: dY as rows (n, r, t) like cols; dW_m = dY^T cols; db sums dY; dx = col2im(dY W_m)
    c_out, c_in, k, _ = weight.shape
    cols = im2col(x, k, stride, padding)
    wm = weight.transpose(0, 2, 3, 1).reshape(c_out, -1)                  # columns (i, j, c), as cols
    dy = grad_output.transpose(0, 2, 3, 1).reshape(-1, c_out)             # rows (n, r, t), as cols
    dw = (dy.T @ cols).reshape(c_out, k, k, c_in).transpose(0, 3, 1, 2)   # back to (C_out, C_in, k, k)
    dx = col2im(dy @ wm, x.shape, (k, k), (stride, stride), (padding, padding))
    return dx, dw, dy.sum(axis=0)
    # END SOLUTION


stride, padding = 2, 1
x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
R = rng.standard_normal(conv_naive(x, w, b, stride, padding).shape)
dx, dW, db = conv2d_backward(x, w, R, stride, padding)

xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
F.conv2d(xt, wt, bt, stride, padding).backward(R)
numeric = [numerical_gradient(lambda a: float((R * conv_naive(a, w, b, stride, padding)).sum()), x),
           numerical_gradient(lambda a: float((R * conv_naive(x, a, b, stride, padding)).sum()), w),
           numerical_gradient(lambda a: float((R * conv_naive(x, w, a, stride, padding)).sum()), b)]
names = ["dx = col2im(dY Wm)", "dW = dY^T cols", "db = sum dY"]
for name, hand, num, autograd in zip(names, (dx, dW, db), numeric, (xt.grad, wt.grad, bt.grad)):
    err_num, err_auto = np.abs(hand - num).max(), np.abs(hand - autograd).max()
    print(f"{name:20s} max |hand - numeric| = {err_num:.1e}, max |hand - autograd| = {err_auto:.1e}")
    assert err_num < 1e-7, f"{name}: the hand-derived gradient disagrees with central differences"
    assert err_auto < 1e-12, f"{name}: the hand-derived gradient disagrees with F.conv2d's backward"

assert gradcheck(lambda x, w, b: F.conv2d_composed(x, w, b, stride, padding), [xt, wt, bt]), \
    "F.conv2d_composed's backward (autograd through im2col and the product) should pass gradcheck"
assert exercises.check_conv2d_backward(conv2d_backward).passed, "conv2d_backward: see the checker's table"

# %% [markdown]
# ## 5. Max-pooling
#
# Max-pooling shrinks each channel by keeping the largest value of each window:
# $y_{n,c,r,t} = \max_{i,j} x^\text{pad}_{n,c,\,s r+i,\,s t+j}$ (padding counts as $-\infty$).
# A max is locally a copy of its winner, so $\partial y / \partial x$ is 1 at the winning entry
# and 0 elsewhere: **each output's gradient goes to the entry that won**, and a pixel that wins
# several overlapping windows gets the sum. On a tie the max is not differentiable; the library
# (like PyTorch) gives the gradient to the first winner in row-major window order.
#
# Two cases by hand. A $4 \times 4$ image with $2 \times 2$ windows, stride 2: window $(0,0)$ holds
# a tie of two 5s; the first, at $(0, 1)$, gets the gradient. The ConvNet's pooling (3x3, stride
# 2, padding 1) has overlapping windows: on a $4 \times 4$ image they span rows (and columns)
# $-1..1$ and $1..3$, so pixel $(1, 1)$ is in all four; made the largest, it wins them all and
# collects all four gradients.

# %%
x = np.array([[1.0, 5.0, 2.0, 0.0],
              [5.0, 3.0, 7.0, 1.0],
              [0.0, 2.0, 4.0, 9.0],
              [8.0, 1.0, 3.0, 6.0]]).reshape(1, 1, 4, 4)
g = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
xt = Tensor(x, requires_grad=True)
y = F.max_pool2d(xt, 2, 2)
assert np.array_equal(y.data[0, 0], [[5, 7], [8, 9]]), f"max of each 2x2 window: {y.data[0, 0]}"
y.backward(g)
expected = np.array([[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 0, 40], [30, 0, 0, 0]]).reshape(1, 1, 4, 4)
print(xt.grad[0, 0])
assert np.array_equal(xt.grad, expected), "each gradient goes to its window's winner, the first of a tie"

x_one = np.zeros((1, 1, 4, 4))
x_one[0, 0, 1, 1] = 1.0
xt = Tensor(x_one, requires_grad=True)
F.max_pool2d(xt, 3, 2, 1).backward(g)
grad_one = xt.grad
assert grad_one[0, 0, 1, 1] == g.sum() and grad_one.sum() == g.sum(), "one pixel wins all 4 windows: 10+20+30+40"

# %% [markdown]
# **Your turn**: max-pool's backward, one output pixel at a time (an exercise; the checker uses
# overlapping windows, where a pixel can win twice). Then gradcheck, on random values whose gaps
# (at least 0.1) dwarf the step $h = 10^{-6}$, so no nudge changes a winner.

# %%
def max_pool2d_backward(x, grad_output, kernel_size, stride, padding=0):
    """dL/dx of max-pooling x (N, C, H, W), padding counting as -inf, given grad_output = dL/dy."""
    # BEGIN SOLUTION hint: per output pixel, find its window's argmax and ADD (+=) the gradient there: windows overlap
    n, c, height, width = x.shape
    k, s, p = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    gxp = np.zeros_like(xp)
    samples, channels = np.indices((n, c))
    for r in range(grad_output.shape[2]):
        for t in range(grad_output.shape[3]):
            i, j = np.divmod(xp[:, :, s * r:s * r + k, s * t:s * t + k].reshape(n, c, k * k).argmax(axis=2), k)
            gxp[samples, channels, s * r + i, s * t + j] += grad_output[:, :, r, t]
    return gxp[:, :, p:p + height, p:p + width]
    # END SOLUTION


assert np.array_equal(max_pool2d_backward(x, g, 2, 2), expected), "max_pool2d_backward != the first case by hand"
assert np.array_equal(max_pool2d_backward(x_one, g, 3, 2, 1), grad_one), "overlapping windows' gradients add up"
assert exercises.check_max_pool2d_backward(max_pool2d_backward).passed, "max_pool2d_backward: see the table"
x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0        # distinct values, 0.1 apart
assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), [Tensor(x, requires_grad=True)]), "max_pool2d's gradcheck"
print("max-pool: by hand, the exercise, the library and gradcheck agree")

# %% [markdown]
# ## 6. The memory cost
#
# im2col trades memory for speed: with stride 1 and "same" padding there are $H W$ windows of
# $k_h k_w C$ entries, so cols holds $k_h k_w$ **times** as many numbers as the input (9 for a
# $3 \times 3$ kernel), and training keeps it until backward (for $\bar W_m$). For the
# assignment's ConvNet (tutorial 10: eight such convs, with pools that halve the side between
# them) at batch 32, in float32:

# %%
from tinygrad_dl1.models import ConvNet  # noqa: E402

model, batch = ConvNet(), 32
sides = {"conv1": 32, "conv2": 16, "conv3_a": 8, "conv3_b": 8, "conv4_a": 4, "conv4_b": 4, "conv5_a": 2, "conv5_b": 2}
print(f"{'layer':8s} {'input (N, C, H, W)':20s} {'cols shape':>16s} {'input MB':>9s} {'cols MB':>8s}")
for name, side in sides.items():                        # each conv's input side
    conv = getattr(model, name)[0]
    assert conv.kernel_size == (3, 3) and conv.stride == 1 and conv.padding == 1, f"{name}: 3x3, stride 1, pad 1"
    n_in, cols_shape = batch * conv.in_channels * side**2, (batch * side**2, 9 * conv.in_channels)
    print(f"{name:8s} {str((batch, conv.in_channels, side, side)):20s} {str(cols_shape):>16s} "
          f"{4 * n_in / 2**20:9.2f} {4 * cols_shape[0] * cols_shape[1] / 2**20:8.2f}")

x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)      # conv1's input, built for real
cols = im2col(x, 3, 1, 1)
assert cols.shape == (batch * 32 * 32, 27) and cols.nbytes == 9 * x.nbytes, "conv1's cols: 9 times its input"
