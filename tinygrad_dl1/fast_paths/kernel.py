"""Kernel: a fused element-wise computation, as CUDA C for a GPU and as NumPy code for a CPU.

On a GPU every array op (``a + b``, ``x.sum()``, ``w -= u``) is one kernel launch, and each
launch costs the CPU some microseconds however small the array: Adam written with array ops
makes 13 launches per parameter, a max-pool over a 3x3 window 40. A ``Kernel`` does such a
computation in one launch, and is declared once with both of its implementations:

    ADD_SCALED = Kernel("add_scaled",
                        "T x, T alpha", "T y",           # CuPy's parameter lists: in, then out
                        "y = y + alpha * x",             # CUDA C, run once per element i
                        cpu=add_scaled_on_cpu)           # the same computation with NumPy's array ops

- ``in_params`` / ``out_params`` / ``body`` are those of ``cupy.ElementwiseKernel``. ``T`` (any
  type that is not a dtype name) stands for the dtype of the arrays given for it, which must all
  have the same one. A plain parameter is one element of a broadcast array (or a scalar), read in
  the body by its name; a ``raw`` parameter is a whole array, read as ``x[k]`` with ``k`` its index
  in C order (whatever the array's strides); ``i`` is the index of the element being computed, in
  C order of the outputs (so a kernel that uses ``i`` gets outputs made with ``xp.empty``). Outputs
  given are written in place (the body may read them first). ``i``, ``n`` and names starting with
  ``_`` are CuPy's own, not parameter names.
- ``cpu(*args)`` takes the same arguments and computes the same thing with array ops, tuned for
  NumPy: it writes into the outputs given and returns the outputs (one array, or a tuple), as the
  kernel does.

``KERNEL(*args)`` then runs
- on NumPy arrays: ``cpu``;
- on CuPy arrays: the CUDA code, compiled by CuPy on first use (and cached on disk);
- on the test stand-in for CuPy (tests/fake_cupy.py), which cannot run CUDA C: its test-only hook
  ``xp.run_kernel(name, cpu, *args)``, which runs ``cpu`` on the arrays' NumPy data and counts
  one launch, as the compiled kernel would make.
``ALL`` lists every kernel declared, for the tests that compile their CUDA code.
"""
from collections import namedtuple

import numpy as np

from .. import backend

ALL = []                # every Kernel, in the order declared

Param = namedtuple("Param", "name ctype raw")   # ctype: a dtype name ('int32') or a type placeholder ('T')


def _parse(params):
    """'raw T x, int32 n' -> [Param('x', 'T', True), Param('n', 'int32', False)]."""
    parsed = []
    for text in params.split(","):
        *qualifiers, ctype, name = text.split()
        parsed.append(Param(name, ctype, qualifiers == ["raw"]))
    return parsed


def is_placeholder(ctype):
    """True for a type placeholder such as 'T', False for a dtype name such as 'int32'."""
    return ctype not in _DTYPE_NAMES


_DTYPE_NAMES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                "float32", "float64", "complex64", "complex128"}


class Kernel:
    def __init__(self, name, in_params, out_params, body, cpu):
        self.name, self.in_params, self.out_params, self.body, self.cpu = name, in_params, out_params, body, cpu
        self.inputs, self.outputs = _parse(in_params), _parse(out_params)
        self.params = self.inputs + self.outputs
        for p in self.params:
            if p.name in ("i", "n") or p.name.startswith("_"):      # CuPy's own names
                raise ValueError(f"kernel {name}: the parameter name {p.name!r} is reserved by CuPy")
        self._compiled = None           # the cupy.ElementwiseKernel, made on first use on a GPU
        ALL.append(self)

    def __call__(self, *args):
        self.check_arguments(args)
        xp = backend.array_module(*args)
        if xp is np:
            return self.cpu(*args)
        run_kernel = getattr(xp, "run_kernel", None)
        if run_kernel is not None:      # the test stand-in
            return run_kernel(self.name, self.cpu, *args)
        if self._compiled is None:
            self._compiled = xp.ElementwiseKernel(self.in_params, self.out_params, self.body, self.name)
        return self._compiled(*args)

    def check_arguments(self, args):
        """Refuse what cupy.ElementwiseKernel refuses: a wrong number of arguments, arrays of different
        dtypes for one type placeholder, no plain array to size the loop (only raw arrays and scalars,
        outputs not given), and an output given whose shape is not that of the loop."""
        n_in, n_all = len(self.inputs), len(self.params)
        if len(args) not in (n_in, n_all):
            raise TypeError(f"kernel {self.name}: takes {n_in} inputs (and optionally {n_all - n_in} outputs), "
                            f"got {len(args)} arguments")
        dtypes, shapes = {}, []
        for param, arg in zip(self.params, args):
            if not backend.is_array(arg):
                continue
            if is_placeholder(param.ctype):
                first = dtypes.setdefault(param.ctype, arg.dtype)
                if first != arg.dtype:
                    raise TypeError(f"kernel {self.name}: {param.ctype} is {first} for one argument and "
                                    f"{arg.dtype} for {param.name}")
            if not param.raw:
                shapes.append(arg.shape)
        if not shapes:
            raise ValueError(f"kernel {self.name}: no plain (not raw) array sets the loop's size: pass the outputs")
        loop_shape = shapes[0]
        if shapes.count(loop_shape) < len(shapes):
            try:
                loop_shape = np.broadcast_shapes(*shapes)
            except ValueError:
                raise ValueError(f"kernel {self.name}: the shapes {shapes} do not broadcast") from None
        for param, arg in zip(self.outputs, args[n_in:]):
            if arg.shape != loop_shape:
                raise ValueError(f"kernel {self.name}: output {param.name} has shape {arg.shape}, "
                                 f"the loop runs over {loop_shape}")

    def __repr__(self):
        return f"<Kernel {self.name}>"
