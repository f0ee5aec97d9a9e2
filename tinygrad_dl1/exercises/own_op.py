"""The checker of tutorial 11's exercise: GELU's backward, for an op of your own.

GELU, in the tanh form that PyTorch's ``F.gelu(x, approximate="tanh")`` computes, with
c = sqrt(2 / pi), u = c (x + 0.044715 x^3) and t = tanh(u):

    y = x/2 (1 + t)
    dy/dx = (1 + t)/2 + x/2 (1 - t^2) du/dx,     du/dx = c (1 + 3 * 0.044715 x^2)

The reference comes from the library's autograd on that formula; the known wrong answers are
the slips of the chain rule and of the product rule.
"""
import math

import numpy as np

from .checkers import Case, Output, check, leaf
from .diagnosis import WrongAnswer

C, A = math.sqrt(2 / math.pi), 0.044715


def gelu_composed(x):
    """GELU (tanh form) of a Tensor, composed of the library's ops: autograd gives its backward."""
    return 0.5 * x * (1 + (C * (x + A * x ** 3)).tanh())


def check_gelu_backward(student_fn, seed=0, verbose=True):
    """Check ``gelu_backward(x, grad_output) -> grad_x`` for y = x/2 (1 + tanh(c (x + 0.044715 x^3)))."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape in [(4, 5), (3, 7), (2, 3, 4)]:
        x, grad_output = rng.standard_normal(shape) * 2, rng.standard_normal(shape)
        xt = leaf(x)
        gelu_composed(xt).backward(grad_output)
        t = np.tanh(C * (x + A * x ** 3))
        du = C * (1 + 3 * A * x ** 2)
        wrong = [
            WrongAnswer("missing chain-rule factor du/dx", grad_output * ((1 + t) / 2 + x / 2 * (1 - t ** 2)),
                        "Your grad_x leaves out du/dx = c (1 + 3 * 0.044715 x^2): tanh's argument u is a function "
                        "of x, so d tanh(u)/dx = (1 - tanh(u)^2) du/dx."),
            WrongAnswer("missing product-rule term", grad_output * (1 + t) / 2,
                        "Your grad_x differentiates only the factor x of y = x * (1 + t)/2: by the product rule "
                        "add x/2 (1 - t^2) du/dx, the derivative of the other factor times x."),
            WrongAnswer("grad_output not multiplied in", (1 + t) / 2 + x / 2 * (1 - t ** 2) * du,
                        "Your grad_x is dy/dx alone: the chain rule multiplies it by the incoming gradient, "
                        "grad_x = grad_output * dy/dx."),
            WrongAnswer("d(x^3)/dx written as x^2", grad_output * ((1 + t) / 2 + x / 2 * (1 - t ** 2)
                                                                   * C * (1 + A * x ** 2)),
                        "Your du/dx has 0.044715 x^2 where it needs 3 * 0.044715 x^2: d(x^3)/dx = 3 x^2."),
            WrongAnswer("tanh' written as 1 - tanh", grad_output * ((1 + t) / 2 + x / 2 * (1 - t) * du),
                        "Your grad_x uses 1 - tanh(u) where tanh's derivative is 1 - tanh(u)^2."),
        ]
        cases.append(Case(f"x {x.shape}, grad_output {grad_output.shape}", (x, grad_output), {},
                          [Output("grad_x", xt.grad, wrong)]))
    return check("check_gelu_backward: gelu_backward(x, grad_output) -> grad_x for "
                 "y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))", student_fn, cases, verbose)
