"""Matrix products: matmul (2-D and batched, NumPy's broadcasting) and the fused linear layer."""
import numpy as np

from ..function import Function
from ..tensor import Tensor
from .elementwise import lift, sum_to
from .shape import reshape


class MatMul(Function):
    def forward(self, a, b):            # Y = A @ B
        self.a = a if self.needs_input_grad[1] else None
        self.b = b if self.needs_input_grad[0] else None
        self.shapes = a.shape, b.shape
        return a @ b

    def backward(self, gy):             # dA = dY @ B^T, dB = A^T @ dY (summed over broadcast batch dims)
        ga = sum_to(gy @ self.b.swapaxes(-1, -2), self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(self.a.swapaxes(-1, -2) @ gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Linear(Function):
    def forward(self, x, w, b=None):    # y = x @ W^T + b, W of shape (out, in)
        self.x = x if self.needs_input_grad[1] else None
        self.w = w if self.needs_input_grad[0] else None
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):             # dx = dy @ W, dW = dy^T @ x, db = sum of dy over the batch
        need = self.needs_input_grad
        gx = gy @ self.w if need[0] else None
        gw = None
        if need[1]:
            g2, x2 = gy.reshape(-1, gy.shape[-1]), self.x.reshape(-1, self.x.shape[-1])
            gw = g2.T @ x2
        if len(need) == 2:
            return gx, gw
        gb = gy.reshape(-1, gy.shape[-1]).sum(axis=0) if need[2] else None
        return gx, gw, gb


def matmul(a, b):
    """a @ b with NumPy's rules: 1-D operands are promoted to matrices, batch dims broadcast."""
    like = a if isinstance(a, Tensor) else b
    a, b = lift(a, like, "matmul"), lift(b, like, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are incompatible "
                         f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} "
                         "cannot be broadcast together") from None
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, 1, -1), reshape(b, -1, 1)))
    if a.ndim == 1:
        return reshape(matmul(reshape(a, 1, -1), b), *b.shape[:-2], b.shape[-1])
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, -1, 1)), *a.shape[:-1])
    return MatMul()(a, b)


def linear(x, w, b=None):
    """x @ w.T + b, with w of shape (out_features, in_features) as in PyTorch."""
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                         "(expected weight (out_features, in_features) with in_features = input's last dim)")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias of shape {b.shape} does not fit weight of shape {w.shape}")
    return Linear()(x, w) if b is None else Linear()(x, w, b)
