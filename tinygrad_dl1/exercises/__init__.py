"""Exercises: checkers that compare your function with the library's and name the likely mistake."""
from .checkers import (
    Report,
    check,
    check_adam_update,
    check_batch_norm_backward,
    check_conv2d_backward,
    check_im2col,
    check_leaky_relu_backward,
    check_linear_backward,
    check_max_pool2d_backward,
    check_mlp_gradients,
    check_sgd_update,
    check_softmax_cross_entropy_backward,
)
from .diagnosis import CLOSE_BELOW, CORRECT_BELOW, WrongAnswer, compare, relative_error

__all__ = ["Report", "check", "check_adam_update", "check_batch_norm_backward", "check_conv2d_backward",
           "check_im2col", "check_leaky_relu_backward", "check_linear_backward", "check_max_pool2d_backward",
           "check_mlp_gradients", "check_sgd_update", "check_softmax_cross_entropy_backward",
           "CLOSE_BELOW", "CORRECT_BELOW", "WrongAnswer", "compare", "relative_error"]
