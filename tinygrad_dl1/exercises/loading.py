"""Load one function from a tutorial without running the tutorial.

What runs, precisely: the file's top-level ``import`` and ``from ... import`` statements (which run the
modules they import), then its top-level ``def`` statements whose default values are literals (numbers,
strings, None, tuples of them: ``negative_slope=0.02``, ``betas=(0.9, 0.999)``), with their annotations
left out. Nothing else: no other statement, no class body, no decorated function (a decorator is a
call), no default value that is not a literal. So an exercise's function may use the tutorial's imports
and its other functions, but not variables the tutorial computes as it runs.
"""
import ast
import copy
import threading
from pathlib import Path

# CPython 3.11's parser must not run in two threads at once (it fails with "SystemError: AST constructor
# recursion depth mismatch"), and the instructor's command reads editions in threads
_PARSER = threading.Lock()


def read_tutorial(path):
    """(text, tree) of a tutorial; a SyntaxError or UnicodeDecodeError becomes a ValueError 'file:line: ...'."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ValueError(f"{path.name}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}): "
                         f"save the file as UTF-8") from None
    try:
        with _PARSER:
            return text, ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise ValueError(f"{path.name}:{error.lineno}: SyntaxError: {error.msg}") from None


def why_not_loaded(node):
    """None when the top-level ``def`` ``node`` loads, else why it does not."""
    if node.decorator_list:
        return f"line {node.lineno}: it has a decorator, which would run when the tutorial loads"
    arguments = node.args
    for default in [*arguments.defaults, *[d for d in arguments.kw_defaults if d is not None]]:
        try:
            ast.literal_eval(default)
        except ValueError:
            return (f"line {default.lineno}: its default value {ast.unparse(default)!r} is not a literal (a "
                    f"number, a string, None or a tuple of them), and would run when the tutorial loads")
    return None


def without_annotations(node):
    """A copy of a ``def`` with its annotations left out (they run when the ``def`` does)."""
    node = copy.deepcopy(node)
    node.returns = None
    arguments = node.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                     arguments.kwarg]:
        if argument is not None:
            argument.annotation = None
    return node


def load_function(path, name):
    """The function ``name`` of the tutorial ``path``, with the tutorial's imports and loadable functions
    around it (see the module's docstring for what runs). Raises LookupError when ``name`` is not a
    top-level function of the file or cannot be loaded, ValueError for a file Python cannot read."""
    path = Path(path)
    _, tree = read_tutorial(path)
    namespace = {"__name__": f"tutorial_{path.stem}", "__file__": str(path)}
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    target = [node for node in functions if node.name == name]
    if not target:
        raise LookupError(f"{path.name} defines no function {name} (at the top level, with def)")
    why = why_not_loaded(target[-1])
    if why:
        raise LookupError(f"{path.name}: {name} cannot be loaded for grading: {why}")
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
    loadable = [without_annotations(node) for node in functions if why_not_loaded(node) is None]
    exec(compile(ast.Module(body=loadable, type_ignores=[]), str(path), "exec"), namespace)
    return namespace[name]
