"""Grading the tutorials' exercises: which function each exercise asks for, where it lives, and its checker.

``grade`` loads a student's function from its tutorial without running the tutorial: only the file's
imports and its function and class definitions are executed, so an exercise's function may use the
tutorial's imports and its other functions, but not variables the tutorial computes as it runs.
"""
import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exercise:
    task: str           # the function to write, and the pytest marker that grades it alone
    tutorial: str       # the file in tutorials/ that holds it
    what: str           # one line for the student

    @property
    def checker(self):
        """The function of tinygrad_dl1.exercises.checkers that grades this exercise."""
        from . import checkers
        return getattr(checkers, f"check_{self.task}")


EXERCISES = [
    Exercise("linear_backward", "02_backprop_by_hand.py", "the gradients of a linear layer"),
    Exercise("leaky_relu_backward", "02_backprop_by_hand.py", "the gradient of leaky ReLU"),
    Exercise("softmax_cross_entropy_backward", "02_backprop_by_hand.py",
             "the gradient of the mean cross-entropy with respect to the logits"),
    Exercise("mlp_gradients", "02_backprop_by_hand.py", "an MLP's loss and gradients, forward then backward"),
    Exercise("batch_norm_backward", "07_batchnorm.py", "batch norm's backward in closed form"),
    Exercise("sgd_update", "08_better_mlp.py", "one step of SGD"),
    Exercise("adam_update", "08_better_mlp.py", "one step of Adam"),
    Exercise("im2col", "09_convolution.py", "the windows of an image as the rows of a matrix"),
    Exercise("conv2d_backward", "09_convolution.py", "the gradients of a 2-d convolution"),
    Exercise("max_pool2d_backward", "09_convolution.py", "the gradient of max-pooling"),
]


def load_function(path, name):
    """The function ``name`` defined in the Python file ``path``, with the file's imports and its other
    functions and classes around it; nothing else in the file runs. (A definition that needs a variable the
    file computes, e.g. in a default argument, is left out: only ``name`` itself must load.)"""
    path = Path(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    namespace = {"__name__": f"tutorial_{path.stem}", "__file__": str(path)}
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    definitions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    if name not in [node.name for node in definitions]:
        raise LookupError(f"{path.name} defines no function {name}")
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
    for node in definitions:
        try:
            exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)
        except NameError:
            if node.name == name:
                raise
    return namespace[name]


def grade(exercise, tutorials):
    """None when the student's function for ``exercise`` (in the folder ``tutorials``) passes its checker;
    otherwise what is wrong, as text: the NotImplementedError's message, or the checker's diagnosis."""
    path = Path(tutorials) / exercise.tutorial
    try:
        student_function = load_function(path, exercise.task)
    except (OSError, SyntaxError, LookupError, ImportError, NameError) as e:
        return f"{exercise.task}: could not load it from {path}: {type(e).__name__}: {e}"
    try:
        report = exercise.checker(student_function, verbose=False)   # the text goes into the failure
    except NotImplementedError as e:
        return f"{exercise.task} is not written yet ({exercise.tutorial}): {e}"
    return None if report.passed else f"{exercise.task} ({exercise.tutorial}) is not right yet:\n{report.text}"
