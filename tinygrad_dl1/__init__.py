"""tinygrad_dl1: a small autograd framework on NumPy (or CuPy) that trains real CIFAR-10 models."""
from . import fast_paths
from .creation import arange, full, ones, ones_like, rand, randn, zeros, zeros_like
from .fast_paths import plain_ops
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_detect_anomaly
from .gradcheck import GradcheckError, gradcheck
from .ops import cat, stack, where
from .rng import get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor

__version__ = "0.1.0"
__all__ = ["GradcheckError", "Tensor", "arange", "cat", "detect_anomaly", "enable_grad", "full", "get_rng_state",
           "gradcheck", "is_grad_enabled", "manual_seed", "no_grad", "ones", "ones_like", "plain_ops", "rand", "randn",
           "set_detect_anomaly", "set_rng_state", "stack", "where", "zeros", "zeros_like"]

fast_paths.load()   # each module of tinygrad_dl1/fast_paths registers its fast paths
