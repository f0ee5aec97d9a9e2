"""Matrix products: matmul (2-D and batched, with NumPy's broadcasting) and the fused linear layer.

For Y = A @ B, entry Y[i, k] = sum_j A[i, j] B[j, k], so dY[i, k]/dA[i, j] = B[j, k] and

    dL/dA = dL/dY @ B^T        dL/dB = A^T @ dL/dY

(the shapes say it too: dL/dA has A's shape (n, m), the only product of dL/dY (n, k)
and B (m, k) that gives it is dL/dY @ B^T). Batched operands repeat this per matrix;
a batch dim that was broadcast gets its gradients summed.

The linear layer y = x @ W^T + b (W of shape (out_features, in_features), as in
PyTorch) is the same rule with A = x and B = W^T, plus dL/db = the sum of dL/dy over
every row.
"""
from .. import checks
from ..function import Function
from .elementwise import operands_as_tensors, sum_to
from .shape import reshape


class MatMul(Function):
    def forward(self, a, b):            # Y = A @ B
        need_a, need_b = self.needs_input_grad
        self.a_shape, self.b_shape = a.shape, b.shape
        self.save_for_backward(b=b if need_a else None,   # dL/dA = dY @ B^T needs B
                               a=a if need_b else None)   # dL/dB = A^T @ dY needs A
        return a @ b

    def backward(self, gy):             # dL/dA = dY @ B^T, dL/dB = A^T @ dY (summed over broadcast batch dims)
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy @ self.b.swapaxes(-1, -2), self.a_shape) if need_a else None,
                sum_to(self.a.swapaxes(-1, -2) @ gy, self.b_shape) if need_b else None)


class Linear(Function):
    def forward(self, x, weight, bias=None):   # y = x @ W^T + b
        need_x, need_weight = self.needs_input_grad[:2]
        self.save_for_backward(weight=weight if need_x else None,   # dL/dx = dy @ W needs W
                               x=x if need_weight else None)        # dL/dW = dy^T @ x needs x
        y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):             # dL/dx = dy @ W, dL/dW = dy^T @ x, dL/db = sum of dy over the rows
        need_x, need_weight = self.needs_input_grad[:2]
        rows = gy.reshape(-1, gy.shape[-1])            # leading dims of a 3-D input are more rows
        gx = gy @ self.weight if need_x else None
        gw = rows.T @ self.x.reshape(-1, self.x.shape[-1]) if need_weight else None
        gb = rows.sum(axis=0) if any(self.needs_input_grad[2:]) else None   # [2:] is empty without a bias
        return gx, gw, gb           # the engine pairs gradients with inputs: gb is ignored without a bias


def matmul(a, b):
    """a @ b with NumPy's rules: 1-D operands are promoted to matrices, batch dims broadcast."""
    a, b = operands_as_tensors(a, b, "matmul")
    checks.check_matmul(a, b)
    checks.check_same_dtype("matmul", (("the first operand", a), ("the second operand", b)))
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, 1, -1), reshape(b, -1, 1)))
    if a.ndim == 1:
        return reshape(matmul(reshape(a, 1, -1), b), *b.shape[:-2], b.shape[-1])
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, -1, 1)), *a.shape[:-1])
    return MatMul()(a, b)


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features) as in PyTorch."""
    checks.check_same_dtype("linear", (("the input", x), ("the weight", weight), ("the bias", bias)))
    checks.check_linear(x, weight, bias)
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
