"""Exercises: checkers that compare your function with the library's and name the likely mistake, and the
grading of the tutorials' exercises.

The modules:
- checkers.py: one ``check_<task>(student_fn, seed=0, verbose=True)`` per exercise: random cases, the
  references by the library, the known wrong answers of that exercise; returns a Report.
- diagnosis.py: compares one output with its reference and names the mistake (patterns shared by all).
- grading.py: ``EXERCISES``, the list of exercises (the function to write, its tutorial, its checker), and
  ``grade_exercise``, which grades one in a process of its own (sandbox.py; loading.py says what of a
  tutorial runs when its function is loaded).
- student_edition.py: the tutorials with the solutions taken out; grade.py: ``python -m
  tinygrad_dl1.exercises.grade``; instructor.py: a folder of editions graded into a table.

To add an exercise, open four files:
1. a tutorial: the function, its solution between ``# BEGIN SOLUTION hint: ...`` and ``# END SOLUTION``,
   then ``assert exercises.check_<task>(<task>).passed``;
2. checkers.py: ``check_<task>``, its cases and the wrong answers a student is likely to write;
3. grading.py: one line in ``EXERCISES``, ``Exercise("<task>", "<tutorial file>", "<what>",
   checkers.check_<task>)``: the student edition, ``grade``, pytest's grading and the instructor's table
   all read that list;
4. this file: export ``check_<task>`` (the tutorial calls ``exercises.check_<task>``);
and plant its mistakes in tests/test_checkers.py.
"""
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
from .own_op import check_gelu_backward

__all__ = ["Report", "check", "check_adam_update", "check_batch_norm_backward", "check_conv2d_backward",
           "check_im2col", "check_leaky_relu_backward", "check_linear_backward", "check_max_pool2d_backward",
           "check_mlp_gradients", "check_sgd_update", "check_softmax_cross_entropy_backward", "check_gelu_backward",
           "CLOSE_BELOW", "CORRECT_BELOW", "WrongAnswer", "compare", "relative_error"]
