"""Grading the tutorials' exercises: which function each exercise asks for, where it lives, its checker,
and ``grade_exercise``, which grades a student's function in a process of its own (``sandbox``).

Only what the student's process returns is graded, against references computed here. An exercise whose
function calls the student's other exercises (``mlp_gradients`` calls ``linear_backward``, ``conv2d_backward``
calls ``im2col``) has those graded first, and a failure says which of them is wrong.
"""
import ast
from dataclasses import dataclass, field
from pathlib import Path

from . import checkers
from .loading import read_tutorial
from .own_op import check_gelu_backward
from .sandbox import OUTPUT_LIMIT, TIMEOUT_S, LoadError, Sandboxed, Stopped


@dataclass(frozen=True)
class Exercise:
    task: str           # the function to write, and the pytest marker that grades it alone
    tutorial: str       # the file in tutorials/ that holds it
    what: str           # one line for the student
    checker: object     # the function of checkers.py that grades it: checker(student_fn, verbose=False)


EXERCISES = [
    Exercise("linear_backward", "02_backprop_by_hand.py", "the gradients of a linear layer",
             checkers.check_linear_backward),
    Exercise("leaky_relu_backward", "02_backprop_by_hand.py", "the gradient of leaky ReLU",
             checkers.check_leaky_relu_backward),
    Exercise("softmax_cross_entropy_backward", "02_backprop_by_hand.py",
             "the gradient of the mean cross-entropy with respect to the logits",
             checkers.check_softmax_cross_entropy_backward),
    Exercise("mlp_gradients", "02_backprop_by_hand.py", "an MLP's loss and gradients, forward then backward",
             checkers.check_mlp_gradients),
    Exercise("batch_norm_backward", "07_batchnorm.py", "batch norm's backward in closed form",
             checkers.check_batch_norm_backward),
    Exercise("sgd_update", "08_better_mlp.py", "one step of SGD", checkers.check_sgd_update),
    Exercise("adam_update", "08_better_mlp.py", "one step of Adam", checkers.check_adam_update),
    Exercise("im2col", "09_convolution.py", "the windows of an image as the rows of a matrix", checkers.check_im2col),
    Exercise("conv2d_backward", "09_convolution.py", "the gradients of a 2-d convolution",
             checkers.check_conv2d_backward),
    Exercise("max_pool2d_backward", "09_convolution.py", "the gradient of max-pooling",
             checkers.check_max_pool2d_backward),
    Exercise("gelu_backward", "11_own_op.py", "the gradient of GELU, an op of your own", check_gelu_backward),
]
BY_TASK = {exercise.task: exercise for exercise in EXERCISES}

# the statuses of a Grade, as the instructor's table shows them
PASSED, WRONG, NOT_WRITTEN, NEEDS, TIMED_OUT, STOPPED, NOT_LOADED = (
    "passed", "wrong", "not written", "needs", "timed out", "stopped", "not loaded")


@dataclass
class Grade:
    """How one exercise went: ``status`` (one of the names above), the named ``mistakes``, and ``text``,
    what the student reads (the checker's report, or why there is none). ``needs``: the student's other
    exercises it calls that are not right yet."""
    task: str
    status: str
    text: str = ""
    mistakes: tuple = ()
    needs: tuple = field(default=())

    @property
    def passed(self):
        return self.status == PASSED

    @property
    def short(self):
        """One cell of the instructor's table: 'passed', 'wrong: missing transpose', 'needs im2col', ..."""
        if self.status == WRONG:
            return "wrong: " + (", ".join(self.mistakes) if self.mistakes else "no known mistake")
        if self.status == NEEDS:
            return "needs " + ", ".join(self.needs)
        return self.status


def called_exercises(tree, task):
    """The other exercises that the top-level function ``task`` of a tutorial's ``tree`` calls, directly or
    through the file's other functions, in the order of EXERCISES."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    seen, todo = set(), [task]
    while todo:
        node = functions.get(todo.pop())
        for name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node else ():
            if name in functions and name not in seen and name != task:
                seen.add(name)
                todo.append(name)
    return [exercise for exercise in EXERCISES if exercise.task in seen and exercise.task != task]


def grade_exercise(exercise, tutorials, timeout=TIMEOUT_S, output_limit=OUTPUT_LIMIT, graded=None):
    """The Grade of the student's function for ``exercise``, in the folder ``tutorials``, run in a process
    of its own with a time limit (seconds) and an output limit (bytes). ``graded``: {task: Grade} of the
    exercises graded so far (filled in), so that one the others call is graded once."""
    graded = {} if graded is None else graded
    if exercise.task in graded:
        return graded[exercise.task]
    path = Path(tutorials) / exercise.tutorial
    where = f"{exercise.task} ({exercise.tutorial})"
    try:
        _, tree = read_tutorial(path)
    except (OSError, ValueError) as error:
        graded[exercise.task] = Grade(exercise.task, NOT_LOADED, f"{where}: could not read {path}: {error}")
        return graded[exercise.task]
    needs = [other for other in called_exercises(tree, exercise.task)
             if not grade_exercise(other, tutorials, timeout, output_limit, graded).passed]
    try:
        report = exercise.checker(Sandboxed(path, exercise.task, timeout, output_limit), verbose=False)
    except LoadError as error:
        grade = Grade(exercise.task, NOT_LOADED, f"{where}: could not load it: {error}")
    except Stopped as error:
        grade = Grade(exercise.task, TIMED_OUT if error.reason == "timed out" else STOPPED,
                      f"{where} failed: {error}", (error.reason,))
    except NotImplementedError as error:
        unwritten = [other for other in needs if graded[other.task].status == NOT_WRITTEN]
        if unwritten and not str(error).startswith(f"{exercise.task}:"):
            names = ", ".join(other.task for other in unwritten)
            grade = Grade(exercise.task, NEEDS, f"{where} calls {names}, which is not written yet: write "
                                                f"{unwritten[0].task} first ({error})", needs=tuple(
                                                    other.task for other in unwritten))
        else:
            grade = Grade(exercise.task, NOT_WRITTEN, f"{exercise.task} is not written yet ({exercise.tutorial}): "
                                                      f"{error}")
    else:
        if report.passed:
            grade = Grade(exercise.task, PASSED, report.text)
        elif needs:
            blame = "; ".join(f"{other.task} is {graded[other.task].short}" for other in needs)
            grade = Grade(exercise.task, NEEDS, f"{where} is not right yet, and it calls exercises that are not "
                                                f"right yet ({blame}): fix {needs[0].task} first, then grade "
                                                f"{exercise.task} again.\n{report.text}", tuple(report.mistakes),
                          tuple(other.task for other in needs))
        else:
            grade = Grade(exercise.task, WRONG, f"{where} is not right yet:\n{report.text}", tuple(report.mistakes))
    graded[exercise.task] = grade
    return grade


def grade(exercise, tutorials, timeout=TIMEOUT_S):
    """None when the student's function for ``exercise`` (in the folder ``tutorials``) passes its checker;
    otherwise what is wrong, as text (see ``grade_exercise``)."""
    result = grade_exercise(exercise, tutorials, timeout)
    return None if result.passed else result.text
