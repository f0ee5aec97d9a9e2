"""tinygrad_dl1: a small autograd framework on NumPy (or CuPy) that trains real CIFAR-10 models."""
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_detect_anomaly
from .tensor import Tensor
from .gradcheck import gradcheck, GradcheckError

__version__ = "0.1.0"
__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
           "set_detect_anomaly", "gradcheck", "GradcheckError"]
