"""gradcheck: compare the analytic gradients of a function with central differences.

Everything runs in float64. A non-scalar output y is reduced to L = sum(r * y)
with a fixed random r, so dL/dx = J^T r checks every row of the Jacobian at once.
Small inputs are checked entry by entry, dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / 2eps;
large ones along random unit directions v, dL/dx . v ~ (L(x + eps v) - L(x - eps v)) / 2eps.
The function runs on the device of its inputs; each loss and gradient is read back to compare.
"""
import contextlib

import numpy as np

from . import backend
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its numerical estimate."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_entries=2000, n_directions=4, seed=0):
    """Check ``fn(*inputs)``'s gradients w.r.t. every input that requires grad; True or GradcheckError."""
    inputs = [_as_float64(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    rng = np.random.default_rng(seed)
    weights = backend.to_device(rng.standard_normal(out.shape), out.device)   # the random r of L = sum(r * y)

    def loss():
        with no_grad():
            return float((fn(*inputs).data * weights).sum())

    out.backward(weights)
    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else backend.to_numpy(x.grad)
        with backend.device_scope(x.data):      # on a GPU: the steps are made on x's GPU
            if x.size <= max_entries:
                _check_entries(i, x, analytic, loss, eps, atol, rtol)
            else:
                _check_directions(i, x, analytic, loss, eps, atol, rtol, rng, n_directions)
    return True


def _as_float64(x):
    """A float64 leaf copy of a floating tensor (keeping requires_grad, on its device); anything else as it is."""
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        with backend.device_scope(x.data):
            return Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
    return x


@contextlib.contextmanager
def _loss_of_data(x, loss):
    """``loss`` as a function of an array put in the place of x's data, and x's data; x gets its data back after."""
    original = x.data

    def loss_at(data):
        x.data = data
        return loss()
    try:
        yield loss_at, original
    finally:
        x.data = original


def numerical_gradient(loss, x, eps=1e-6):
    """d loss(x) / d x for every entry of the array x (NumPy or CuPy; ``loss`` returns a float), by
    central differences: (loss(x + eps e_i) - loss(x - eps e_i)) / 2 eps, as a NumPy array."""
    xp = backend.array_module(x)
    grad = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        step = xp.zeros(x.shape)
        step[idx] = 1.0
        grad[idx] = (loss(x + eps * step) - loss(x - eps * step)) / (2 * eps)
    return grad


def _check_entries(i, x, analytic, loss, eps, atol, rtol):
    with _loss_of_data(x, loss) as (loss_at, data):
        numeric = numerical_gradient(loss_at, data, eps)
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if error.size and not error.max() <= 0:          # written so that a NaN fails too
        worst = np.unravel_index(int(error.argmax()), x.shape)
        raise GradcheckError(f"gradcheck: input {i} (shape {x.shape}): worst entry {tuple(map(int, worst))}: "
                             f"analytic {analytic[worst]:.8g}, numeric {numeric[worst]:.8g}")


def _check_directions(i, x, analytic, loss, eps, atol, rtol, rng, n_directions):
    for k in range(n_directions):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v)
        with _loss_of_data(x, loss) as (loss_at, data):      # along v: (L(x + eps v) - L(x - eps v)) / 2 eps
            step = eps * backend.to_device(v, x.device)
            numeric = (loss_at(data + step) - loss_at(data - step)) / (2 * eps)
        projected = float((analytic * v).sum())
        if not abs(projected - numeric) <= atol + rtol * abs(numeric):   # a NaN fails too
            raise GradcheckError(f"gradcheck: input {i} (shape {x.shape}): along random direction {k}: "
                                 f"analytic {projected:.8g}, numeric {numeric:.8g}")
