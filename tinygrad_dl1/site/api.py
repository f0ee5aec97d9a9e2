"""The API reference: one page per module, made from its docstrings and signatures.

Each page shows the module's docstring, then what it exports (``__all__``, else the public names defined in
it): functions with their signatures, classes with their constructor and public methods and properties,
constants with their values. A package listed with ``submodules`` (the ops) shows each of its modules in turn,
the Function classes included. A module that cannot be imported stops the build, except the optional ones.
"""
import html
import importlib
import inspect
import pkgutil
import re
from collections import namedtuple

Module = namedtuple("Module", "page name title submodules", defaults=(False,))
MODULES = [
    Module("tinygrad_dl1", "tinygrad_dl1", "tinygrad_dl1: what the package exports"),
    Module("tensor", "tinygrad_dl1.tensor", "Tensor and backward()"),
    Module("function", "tinygrad_dl1.function", "Function: the node of the graph"),
    Module("creation", "tinygrad_dl1.creation", "creation: zeros, ones, arange, randn, ..."),
    Module("ops", "tinygrad_dl1.ops", "The ops, family by family", submodules=True),
    Module("functional", "tinygrad_dl1.nn.functional", "nn.functional (F)"),
    Module("nn", "tinygrad_dl1.nn", "nn: Module, Parameter and the layers"),
    Module("init", "tinygrad_dl1.nn.init", "nn.init"),
    Module("optim", "tinygrad_dl1.optim", "optim: SGD and Adam"),
    Module("fast_paths", "tinygrad_dl1.fast_paths", "fast_paths: fused kernels and plain_ops()"),
    Module("data", "tinygrad_dl1.data", "data: CIFAR-10"),
    Module("models", "tinygrad_dl1.models", "models: the assignment's MLP and ConvNet"),
    Module("train", "tinygrad_dl1.train", "train: the training loop"),
    Module("graph", "tinygrad_dl1.graph", "graph: pictures of the graph, backward step by step"),
    Module("gradcheck", "tinygrad_dl1.gradcheck", "gradcheck"),
    Module("grad_mode", "tinygrad_dl1.grad_mode", "grad_mode: no_grad, detect_anomaly"),
    Module("exercises", "tinygrad_dl1.exercises", "exercises: checkers and grading"),
    Module("testing", "tinygrad_dl1.testing", "testing: gradient checks for your own ops"),
]
OPTIONAL = {"tinygrad_dl1.testing"}        # documented when it exists


def load(modules=MODULES):
    """[(Module, the imported module)] for ``modules``, leaving out an optional one that does not exist."""
    loaded = []
    for entry in modules:
        try:
            loaded.append((entry, importlib.import_module(entry.name)))
        except ModuleNotFoundError as e:
            if entry.name not in OPTIONAL or e.name != entry.name:
                raise
    return loaded


def doc_html(obj):
    """The docstring of ``obj`` as HTML: its text kept as written, ``code`` shown as code."""
    text = inspect.getdoc(obj)
    if not text:
        return ""
    text = re.sub(r"``(.+?)``", r"<code>\1</code>", html.escape(text, quote=False))
    return f'<div class="doc">{text}</div>\n'


def signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):        # some builtins have none
        return "(...)"


def _own_members(cls):
    """The public methods and properties that ``cls`` defines itself, in the order of its source."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            yield name, "property", value.fget, ""
        elif isinstance(value, (classmethod, staticmethod)):
            yield name, type(value).__name__, value.__func__, signature(value.__func__)
        elif inspect.isfunction(value):
            yield name, "", value, signature(value)


def member_html(name, obj, page_of_module):
    """One exported name: a function, a class (and its members), a module (a link), or a constant."""
    anchor = html.escape(name)
    if inspect.ismodule(obj):
        page = page_of_module.get(obj.__name__)
        target = f'<a href="{page}.html">{html.escape(obj.__name__)}</a>' if page else html.escape(obj.__name__)
        return f'<h3 id="{anchor}">module {anchor}</h3>\n<p>See {target}.</p>\n'
    if inspect.isclass(obj):
        bases = [b.__name__ for b in obj.__bases__ if b is not object]
        parts = [f'<h3 id="{anchor}"><span class="kind">class</span> {anchor}'
                 f'{html.escape(signature(obj))}</h3>\n',
                 f'<p class="bases">based on {", ".join(bases)}</p>\n' if bases else "", doc_html(obj)]
        for member, kind, function, sig in _own_members(obj):
            label = f'<span class="kind">{kind}</span> ' if kind else ""
            parts.append(f'<h4 id="{anchor}.{member}">{label}{anchor}.{member}{html.escape(sig)}</h4>\n')
            parts.append(doc_html(function))
        return f'<section class="member">{"".join(parts)}</section>\n'
    if callable(obj):
        return (f'<section class="member"><h3 id="{anchor}">{anchor}{html.escape(signature(obj))}</h3>\n'
                f'{doc_html(obj)}</section>\n')
    value = repr(obj)
    return f'<section class="member"><h3 id="{anchor}">{anchor} = {html.escape(value[:200])}</h3></section>\n'


def exported(module):
    """(name, object) of what ``module`` exports: ``__all__``, else the public names it defines itself."""
    if hasattr(module, "__all__"):
        return [(name, getattr(module, name)) for name in module.__all__]
    return [(name, value) for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
            and (inspect.isclass(value) or inspect.isfunction(value))]


def page_html(entry, module, page_of_module):
    """The body of the page of one module (an <h1>, its docstring, what it exports)."""
    parts = [f'<h1 id="{entry.page}">{html.escape(entry.title)}</h1>\n',
             f'<p class="module-name"><code>{html.escape(module.__name__)}</code></p>\n', doc_html(module)]
    if entry.submodules:
        for info in pkgutil.iter_modules(module.__path__):
            sub = importlib.import_module(f"{module.__name__}.{info.name}")
            parts.append(f'<h2 id="{info.name}">{html.escape(sub.__name__)}</h2>\n{doc_html(sub)}')
            parts += [member_html(name, obj, page_of_module) for name, obj in exported(sub)]
    else:
        parts += [member_html(name, obj, page_of_module) for name, obj in exported(module)]
    return "".join(parts)
