"""Loading an exercise's function from its tutorial runs the tutorial's imports and its plain function
definitions, and nothing else: not its statements, class bodies, decorators, default values that are not
literals, or annotations."""
import pytest

from tinygrad_dl1.exercises.loading import load_function, read_tutorial

TUTORIAL = '''import pathlib

import numpy as np

LOG = pathlib.Path({log!r})


def ran(what):
    with open(LOG, "a") as f:
        f.write(what + "\\n")
    return what


ran("a statement")


class Helper:
    ran("a class body")


def decorate(f):
    ran("a decorator")
    return f


@decorate
def decorated():
    return 1


def with_default(x=ran("a default value")):
    return x


def annotated(x: ran("an annotation")) -> ran("a return annotation"):
    return x


def helper(x, scale=2.0, betas=(0.9, 0.999), negative_slope=-0.02, name=None):
    return scale * x


def double(x):
    """Uses an import and another function of the file."""
    return helper(np.asarray(x))
'''


def write(tmp_path, text=TUTORIAL):
    log = tmp_path / "log.txt"
    path = tmp_path / "tutorial.py"
    path.write_text(text.format(log=str(log)), encoding="utf-8")
    return path, log


def test_only_imports_and_plain_definitions_run(tmp_path):
    path, log = write(tmp_path)
    double = load_function(path, "double")
    assert double(3.0) == 6.0
    assert not log.exists(), f"loading ran: {log.read_text()}"
    assert load_function(path, "annotated")(5) == 5 and not log.exists(), "annotations are left out"
    path.write_text(path.read_text() + "\n\nran('the end')\n")
    assert not log.exists()


@pytest.mark.parametrize("name, why", [("decorated", "it has a decorator"),
                                       ("with_default", "its default value \"ran('a default value')\" is not a "
                                                        "literal"),
                                       ("Helper", "defines no function Helper")])
def test_a_function_that_would_run_code_to_load_is_refused_with_why(tmp_path, name, why):
    path, log = write(tmp_path)
    with pytest.raises(LookupError, match="tutorial.py") as error:
        load_function(path, name)
    assert why in str(error.value)
    assert not log.exists()


@pytest.mark.parametrize("data, complaint", [(b"x = 1\ndef f(:\n", "tutorial.py:2: SyntaxError"),
                                             (b"x = 1\ny = 2\n# caf\xe9\n", "tutorial.py:3: not UTF-8 text (byte "
                                                                          "0xe9)")])
def test_a_file_python_cannot_read_is_one_line_naming_file_and_line(tmp_path, data, complaint):
    path = tmp_path / "tutorial.py"
    path.write_bytes(data)
    with pytest.raises(ValueError) as error:
        read_tutorial(path)
    assert str(error.value).startswith(complaint) and "\n" not in str(error.value)
