"""Markdown to HTML for the site: mistune parses it, formulas become MathML when the site is built
(latex2mathml; the browser draws MathML itself, so no script and no network are needed), code blocks are
highlighted by Pygments, and links go through a function the caller gives (to point at the site's pages)."""
import html
import re

import mistune
from latex2mathml.converter import convert
from mistune.plugins import math as math_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

FORMATTER = HtmlFormatter(cssclass="highlight")


def mathml(latex, display=False):
    """The LaTeX formula ``latex`` as a MathML <math> element (display: a formula on a line of its own)."""
    try:
        out = convert(latex.strip(), display="block" if display else "inline")
    except Exception as e:                 # latex2mathml raises many kinds of errors on what it cannot read
        raise ValueError(f"cannot turn the formula {latex!r} into MathML: {type(e).__name__}: {e}") from e
    unknown = re.findall(r"\\[A-Za-z]+", out)    # a command it does not know, left as text
    if unknown:
        raise ValueError(f"cannot turn the formula {latex!r} into MathML: unknown {', '.join(unknown)}")
    return out


def highlight_code(code, language="python"):
    """``code`` as highlighted HTML (a <div class="highlight"><pre>)."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, FORMATTER)


def slug(text):
    """An id for a heading: its words, lowercased, joined by '-' (tags and punctuation dropped)."""
    words = re.sub(r"<[^>]+>", "", html.unescape(text)).lower()
    return "-".join(re.findall(r"[a-z0-9_]+", words)) or "section"


class Renderer(mistune.HTMLRenderer):
    """mistune's HTML, with MathML formulas, highlighted code, ids on headings and links resolved by
    ``resolve(url)``: the href to use, or None to keep only the link's text (a file the site does not hold)."""

    def __init__(self, resolve):
        super().__init__(escape=False)     # the README's HTML comments (<!-- test-command -->) pass through
        self.resolve = resolve

    def block_math(self, text):
        return f'<span class="math">{mathml(text, display=True)}</span>\n'     # may sit inside a <p>

    def inline_math(self, text):
        return mathml(text)

    def block_code(self, code, info=None):
        return highlight_code(code, info.split()[0] if info else "text")

    def heading(self, text, level, **attrs):
        return f'<h{level} id="{slug(text)}">{text}</h{level}>\n'

    def link(self, text, url, title=None):
        href = self.resolve(url)
        return text if href is None else super().link(text, href, title)

    def image(self, text, url, title=None):
        src = self.resolve(url)
        return html.escape(text) if src is None else super().image(text, src, title)


def math_across_lines(md):
    """mistune's math, with an inline formula that may run onto the next line (a tutorial's markdown is
    wrapped at 100 characters: "$\\partial \\ell / \\partial p_i =\n-\\delta_{it} / p_t$")."""
    math_plugin.math(md)
    pattern = math_plugin.INLINE_MATH_PATTERN.replace(r"(?:[^$\\\n]|\\.)+?", r"(?:[^$\\]|\\.)+?")
    assert pattern != math_plugin.INLINE_MATH_PATTERN, "mistune's inline math pattern changed"
    md.inline.register("inline_math", pattern, math_plugin.parse_inline_math, before="link")


def to_html(text, resolve=lambda url: url):
    """The markdown ``text`` as HTML (see Renderer for ``resolve``)."""
    return mistune.create_markdown(renderer=Renderer(resolve), plugins=[math_across_lines, "table"])(text)
