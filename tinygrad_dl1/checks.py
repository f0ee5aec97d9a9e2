"""Argument checks, in one place, so that the op files hold only the math.

Each check raises an error that names the op, the argument and what it got (a shape, a
dtype, a value), or returns the argument in the form the op uses (an axis made
non-negative, an int made a pair). The op wrappers and the layers call them before
any computing starts.
"""
import numbers

import numpy as np

from . import backend
from .tensor import Tensor


class AxisError(IndexError, ValueError):
    """An axis out of range: an IndexError as in PyTorch, and a ValueError as in NumPy."""


def is_int(value):
    """True for a Python or NumPy integer, False for a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ----- tensors, numbers, devices -----

def check_tensor(x, op, name="input"):
    """``x`` if it is a Tensor; a TypeError otherwise (an array gets a hint on how to wrap it)."""
    if not isinstance(x, Tensor):
        hint = ": wrap it as Tensor(array)" if backend.is_array(x) else ""
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}{hint}")
    return x


def check_floating(x, op, why):
    """A TypeError unless the tensor ``x`` holds floating-point numbers; ``why`` says what needs them."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point ({why}), got dtype {x.dtype}")


def check_operand(x, op):
    """A TypeError unless ``x`` can be an operand of an arithmetic op: a Tensor, an array, or a Python
    or NumPy number (not a complex one)."""
    if not (isinstance(x, (Tensor, int, float, np.integer, np.floating, np.bool_)) or backend.is_array(x)):
        raise TypeError(f"unsupported operand types for {op}: Tensor and {type(x).__name__}")


def check_same_device(op, tensors):
    """A RuntimeError unless the ``tensors`` (the inputs of ``op``) all live on one device; it names each one's."""
    if len(tensors) > 1 and len({x.device for x in tensors}) > 1:
        devices = ", ".join(f"input {i} on {x.device}" for i, x in enumerate(tensors))
        raise RuntimeError(f"{op}: inputs on different devices ({devices}); move them with .to(device)")


def check_broadcastable(a_shape, b_shape, op):
    """A ValueError unless the two shapes broadcast together (NumPy's rules)."""
    try:
        np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a_shape} and {b_shape} cannot be broadcast together") from None


def check_exponent(p, op="pow"):
    """A TypeError unless the exponent ``p`` is a Python or NumPy real number."""
    if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: the exponent must be a Python number, got {type(p).__name__} "
                        "(for a tensor exponent use exp(b * log(a)))")


def check_base(c, op="pow"):
    """A TypeError unless the base ``c`` of ``c ** tensor`` is a real number; a ValueError unless it is positive."""
    if isinstance(c, Tensor) or not isinstance(c, numbers.Real):
        raise TypeError(f"{op}: the base must be a Python number, got {type(c).__name__} "
                        "(for a tensor base use exp(b * log(a)))")
    if c <= 0:
        raise ValueError(f"{op}: a scalar base of a tensor exponent must be positive, got {c}")


def check_probability(p, op):
    """``p`` if it is a number in [0, 1]; a ValueError naming ``op`` otherwise."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")
    return p


def check_finite(value, name, op, low=-np.inf, high=np.inf):
    """``value`` as a float if it is a finite real number in [low, high]; a ValueError naming it otherwise
    (a NaN or infinite setting would train into NaN and be blamed on something else)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or not low <= value <= high:
        bounds = "" if (low, high) == (-np.inf, np.inf) else f" in [{low}, {high}]"
        raise ValueError(f"{op}: {name} must be a finite number{bounds}, got {value!r}")
    return float(value)


def check_positive_int(value, name, op):
    """``value`` if it is an int >= 1 (a layer's width); a ValueError otherwise."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return value


# ----- axes and shapes -----

def check_axis(axis, ndim, op):
    """``axis`` as an int in [0, ndim); an AxisError naming the valid range otherwise.
    A 0-d tensor takes axis 0 or -1, as in PyTorch and NumPy."""
    count = max(ndim, 1)
    if not is_int(axis):
        raise TypeError(f"{op}: an axis must be an int, got {axis!r}")
    if not -count <= axis < count:
        raise AxisError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dims "
                        f"(expected an int from {-count} to {count - 1})")
    return int(axis) % count


def check_axes(axis, ndim, op):
    """The axes a reduction runs over, as a sorted tuple of non-negative ints: all of them for None,
    one for an int, several for a tuple; each checked, none repeated."""
    if axis is None:
        return tuple(range(ndim))
    axes = [check_axis(a, ndim, op) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {axis} names an axis twice")
    return tuple(sorted(axes)) if ndim else ()      # a 0-d tensor has nothing to reduce


def check_permutation(axes, ndim, op):
    """``axes`` (each maybe negative) as a permutation of range(ndim); an error otherwise."""
    normalised = tuple(check_axis(a, ndim, op) for a in axes)
    if sorted(normalised) != list(range(ndim)):
        raise ValueError(f"{op}: axes {tuple(axes)} are not a permutation of the {ndim} dims of the tensor")
    return normalised


def check_expand(shape, sizes, op="expand"):
    """The shape that ``expand(*sizes)`` of a tensor of ``shape`` makes (-1 keeps a dim's size); a ValueError
    unless each of the tensor's dims is kept or is 1, as in PyTorch."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if not all(is_int(n) and n >= -1 for n in sizes):
        raise ValueError(f"{op}: sizes must be ints >= 0 (or -1 to keep a dim), got {sizes}")
    new = len(sizes) - len(shape)
    if new < 0:
        raise ValueError(f"{op}: {len(sizes)} sizes for a tensor of {len(shape)} dims {shape}")
    if -1 in sizes[:new]:
        raise ValueError(f"{op}: -1 cannot be the size of a new leading dim, got {sizes} for shape {shape}")
    out = tuple(sizes[:new]) + tuple(n if s == -1 else s for n, s in zip(shape, sizes[new:]))
    for n, s in zip(shape, out[new:]):
        if n != s and n != 1:
            raise ValueError(f"{op}: cannot expand shape {shape} to {out}: a dim of size {n} can only stay {n}")
    return out


def check_flatten_dims(start_dim, end_dim, ndim, op="flatten"):
    """(start, end) made non-negative; an error unless both are axes and start comes no later than end."""
    start, end = check_axis(start_dim, ndim, op), check_axis(end_dim, ndim, op)
    if start > end:
        raise ValueError(f"{op}: start_dim {start_dim} comes after end_dim {end_dim}")
    return start, end


def check_reshape(shape, size, old_shape, op="reshape"):
    """``shape`` as a tuple of ints holding ``size`` entries, with at most one -1 (the size it leaves over)."""
    if not all(is_int(s) for s in shape):
        raise TypeError(f"{op}: a shape must be ints, got {shape}")
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    free = shape.count(-1)
    if free > 1 or any(s < -1 for s in shape) or (known * (size // known if free and known else 1) != size):
        raise ValueError(f"{op}: cannot reshape a tensor of shape {old_shape} ({size} entries) into shape {shape}")
    return tuple(int(s) for s in shape)


def check_index_array(index):
    """An IndexError unless the array ``index`` holds integers or booleans."""
    if index.dtype.kind not in "iub":
        raise IndexError(f"tensors used as indices must be integer or boolean, got dtype {index.dtype}")


def check_index_in_range(index, shape, op="getitem"):
    """An IndexError unless each integer array in ``index`` (one part, or a tuple of parts: ints, slices,
    None, Ellipsis, arrays) lies within the axis of ``shape`` it indexes. NumPy raises by itself, but
    CuPy wraps an index out of range around silently; this check reads one flag per integer array back
    from the device (getitem is not on the training path)."""
    parts = index if isinstance(index, tuple) else (index,)
    dims = [0 if p is None or p is Ellipsis or isinstance(p, (bool, np.bool_))
            else p.ndim if backend.is_array(p) and p.dtype.kind == "b" else 1 for p in parts]
    axis = 0
    for part, n_dims in zip(parts, dims):
        if part is Ellipsis:
            axis += len(shape) - sum(dims)
        if backend.is_array(part) and part.dtype.kind in "iu" and axis < len(shape):
            size = shape[axis]
            with backend.device_scope(part):
                outside = ((part < -size) | (part >= size)).reshape(-1)
                if bool(outside.any()):
                    value = int(part.reshape(-1)[int(outside.argmax())])
                    raise IndexError(f"{op}: index {value} is out of range for axis {axis} with size {size}")
        axis += n_dims


def check_reducible(x, axes, op):
    """A ValueError if one of ``axes`` of ``x`` is empty (a max over nothing has no value)."""
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: cannot reduce an empty axis of a tensor of shape {x.shape}")


# ----- matrix products and the loss -----

def check_matmul(a, b):
    """A ValueError unless ``a @ b`` is defined: at least 1-D each, inner sizes equal, batch dims broadcast."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got shapes {a.shape} and {b.shape}")
    inner = b.shape[-2 if b.ndim > 1 else 0]
    if a.shape[-1] != inner:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are incompatible ({a.shape[-1]} != {inner})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} "
                         "cannot be broadcast together") from None


def check_linear(x, weight, bias):
    """An error unless x (..., in_features), weight (out_features, in_features) and bias (out_features,) fit."""
    check_tensor(x, "linear")
    check_tensor(weight, "linear", "weight")
    if bias is not None:
        check_tensor(bias, "linear", "bias")
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                         "(expected weight (out_features, in_features) with in_features = input's last dim)")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")


def check_logits(logits):
    """An error unless ``logits`` is a Tensor of shape (N, C)."""
    check_tensor(logits, "cross_entropy", "logits")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}")


def check_probability_target(target, logits):
    """A ValueError unless a probability target has the logits' shape (N, C)."""
    if target.shape != logits.shape:
        raise ValueError(f"cross_entropy: probability target of shape {target.shape} does not "
                         f"match logits of shape {logits.shape}")


def check_class_indices(target, n_classes, op, n=None, device=None, what="target"):
    """A ValueError unless the array ``target`` holds class indices: integers, 1-D (of length ``n`` when
    given), on ``device`` when given, in [0, n_classes) where that can be seen without a sync: on the CPU.
    (On a GPU, cross_entropy turns an index out of range into a NaN loss on the device instead of reading
    the labels back; the training loop checks its labels on the host, before they go to the device.)"""
    if device is not None and backend.device_of(target) != device:
        raise RuntimeError(f"{op}: {what} on {backend.device_of(target)}, the other input on {device}")
    if target.dtype.kind not in "iu" or target.ndim != 1 or (n is not None and target.shape != (n,)):
        length = "" if n is None else f" of shape ({n},)"
        raise ValueError(f"{op}: {what} must be class indices, a 1-D integer array{length}; got dtype "
                         f"{target.dtype} shape {target.shape}")
    if target.size and backend.device_of(target) == "cpu" and (int(target.min()) < 0 or
                                                               int(target.max()) >= n_classes):
        raise ValueError(f"{op}: {what} must be class indices in [0, {n_classes}), got values in "
                         f"[{int(target.min())}, {int(target.max())}]")


# ----- layers and models -----

def check_choice(value, choices, name, op):
    """A ValueError unless ``value`` is one of ``choices``, naming them."""
    if value not in choices:
        listed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{op}: {name} must be {listed}, got {value!r}")


def check_input_shape(x, fits, expected, op):
    """A ValueError unless ``fits`` (whether the layer or model ``op`` takes x's shape); ``expected`` says
    in words what it takes."""
    if not fits:
        raise ValueError(f"{op}: expected input of shape {expected}, got {x.shape}")


# ----- optimizers -----

def check_optimizer_settings(optimizer, **settings):
    """A ValueError naming the setting unless each of lr, momentum, weight_decay and eps given is a finite
    number >= 0 and betas a pair of numbers in [0, 1)."""
    for name, value in settings.items():
        if name == "betas":
            ok = (isinstance(value, (tuple, list)) and len(value) == 2
                  and all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in value))
            if not ok:
                raise ValueError(f"{optimizer}: betas must lie in [0, 1), got {value!r}")
        elif not (isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
                  and value >= 0):
            raise ValueError(f"{optimizer}: {name} must be >= 0 and finite, got {value!r}")


# ----- convolution and pooling -----

def as_pair(value, name, op, minimum):
    """An int or a pair of ints (each >= minimum) as a pair; a ValueError naming ``name`` otherwise."""
    pair = (value, value) if is_int(value) else value
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and is_int(pair[0]) and is_int(pair[1])):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_window_fits(x_shape, kernel, padding, op, kernel_name):
    """A ValueError unless a non-empty ``kernel`` fits in the padded height and width of an input of ``x_shape``."""
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if 0 in kernel or kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{op}: {kernel_name} {kernel} does not fit the padded input {padded} "
                         f"(input {x_shape}, padding {padding})")


def check_conv2d(x, weight, bias, stride, padding, op="conv2d"):
    """(stride, padding) as pairs, after checking that x (N, C_in, H, W), weight (C_out, C_in, kh, kw)
    and bias (C_out,) are tensors that fit together on one device."""
    check_tensor(x, op)
    check_tensor(weight, op, "weight")
    if bias is not None:
        check_tensor(bias, op, "bias")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: input of shape {x.shape} has {x.shape[1]} channels but weight of shape "
                         f"{weight.shape} expects {weight.shape[1]}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not fit weight of shape {weight.shape} "
                         f"(expected ({weight.shape[0]},))")
    stride, padding = as_pair(stride, "stride", op, 1), as_pair(padding, "padding", op, 0)
    check_window_fits(x.shape, tuple(weight.shape[2:]), padding, op, "kernel")
    check_same_device(op, (x, weight))
    return stride, padding


def check_pool2d(x, kernel_size, stride, padding, op, why_floating):
    """(kernel, stride, padding) of a 2-D pooling as pairs, stride defaulting to the kernel, after checking
    them and x (N, C, H, W), floating point (``why_floating`` says why)."""
    check_tensor(x, op)
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    check_floating(x, op, why_floating)
    kernel = as_pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else as_pair(stride, "stride", op, 1)
    padding = as_pair(padding, "padding", op, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    check_window_fits(x.shape, kernel, padding, op, "kernel_size")
    return kernel, stride, padding


# ----- batch normalization -----

def check_running_stat(stat, name, x, op):
    """A running statistic (an array or Tensor of shape (C,) on x's device, or None) as an array."""
    stat = stat.data if isinstance(stat, Tensor) else stat
    if stat is None:
        return None
    if not backend.is_array(stat):
        raise TypeError(f"{op}: {name} must be an array or Tensor (it is updated in place), got {type(stat).__name__}")
    if stat.shape != (x.shape[1],):
        raise ValueError(f"{op}: {name} must have shape ({x.shape[1]},) for input of shape {x.shape}, got {stat.shape}")
    if backend.device_of(stat) != x.device:
        raise RuntimeError(f"{op}: {name} is on {backend.device_of(stat)} but the input on {x.device}")
    return stat


def check_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, op):
    """The running statistics as arrays (or None), after checking every argument of batch norm."""
    check_tensor(x, op)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have shape (N, C), (N, C, L) or (N, C, H, W), got {x.shape}")
    for name, p in (("gamma", gamma), ("beta", beta)):
        if not isinstance(p, Tensor) or p.shape != (x.shape[1],):
            got = p.shape if isinstance(p, Tensor) else type(p).__name__
            raise ValueError(f"{op}: {name} must be a tensor of shape ({x.shape[1]},) for input of shape "
                             f"{x.shape}, got {got}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(f"{op}: eval mode (training=False) needs running_mean and running_var")
    if training and x.size // x.shape[1] < 2:
        raise ValueError(f"{op}: training needs more than one value per channel, got input of shape {x.shape}")
    check_finite(momentum, "momentum", op, 0, 1)
    if not check_finite(eps, "eps", op) > 0:
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    return (check_running_stat(running_mean, "running_mean", x, op),
            check_running_stat(running_var, "running_var", x, op))


# ----- dtypes -----

def check_same_dtype(op, named_tensors):
    """A TypeError unless the tensors among ``named_tensors`` ((name, tensor or None) pairs) share one
    dtype: PyTorch's matmul, linear, conv2d and batch_norm refuse mixed dtypes (float64 data fed to a
    float32 layer, say) rather than compute in one of them. It names both dtypes and the cast to make."""
    present = [(name, t) for name, t in named_tensors if isinstance(t, Tensor)]
    for name, t in present[1:]:
        first, x = present[0]
        if t.dtype != x.dtype:
            raise TypeError(f"{op}: {first} is {x.dtype} but {name} is {t.dtype}, and {op} needs one dtype "
                            f"(PyTorch refuses this too): cast {first} with .to('{t.dtype}'), or {name} "
                            f"with .to('{x.dtype}')")


# ----- the arguments of clamp, where, cat and stack, avg_pool2d, mse_loss -----

def check_clamp_bounds(low, high, op="clamp"):
    """(min, max) of clamp as Python numbers (None for no bound); an error unless at least one is given."""
    if low is None and high is None:
        raise ValueError(f"{op}: give min, max or both (both are None)")
    for name, bound in (("min", low), ("max", high)):
        if bound is not None and (isinstance(bound, (Tensor, bool)) or not isinstance(bound, numbers.Real)):
            raise TypeError(f"{op}: {name} must be a Python number or None, got {type(bound).__name__}")
    return tuple(None if b is None else (b.item() if isinstance(b, np.generic) else b) for b in (low, high))


def check_condition(condition, like, op="where"):
    """``condition`` (a boolean Tensor, array or list) as a boolean array on the device of the Tensor ``like``."""
    values = condition.data if isinstance(condition, Tensor) else condition
    if not backend.is_array(values):
        values = np.asarray(values)
    if values.dtype.kind != "b":
        raise TypeError(f"{op}: condition must be boolean, got dtype {values.dtype} (compare first: x > 0)")
    return backend.to_device(values, like.device)


def check_tensor_list(tensors, op):
    """``tensors`` as a list of one or more Tensors on one device; a TypeError or ValueError naming what is wrong."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected at least one Tensor, got an empty {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        check_tensor(t, op, f"tensor {i}")
    return list(tensors)


def check_cat_shapes(tensors, dim, op="cat"):
    """``dim`` made non-negative, after checking that the tensors have one number of dims and agree
    in every dim but ``dim``."""
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError(f"{op}: zero-dimensional tensor 0 cannot be concatenated")
    dim = check_axis(dim, first.ndim, op)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != dim):
            raise ValueError(f"{op}: tensor {i} has shape {t.shape} but tensor 0 has shape {first.shape}: "
                             f"they must agree in every dim but dim {dim}")
    return dim


def check_mse_loss(input, target, reduction, op="mse_loss"):
    """An error unless input and target are tensors of one shape and ``reduction`` is 'mean', 'sum' or 'none'."""
    check_tensor(input, op)
    check_tensor(target, op, "target")
    if input.shape != target.shape:
        raise ValueError(f"{op}: input of shape {input.shape} and target of shape {target.shape} must have "
                         "the same shape (PyTorch would broadcast them, and warns)")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
