"""An executed notebook (a tutorial) as the HTML of a site page: markdown cells through the site's markdown
(formulas as MathML), code highlighted, outputs below each cell. Pictures are written as files beside the
page and named ``<prefix>-<n>.png``; HTML outputs (the replay of tutorial 3) are kept as they are."""
import base64
import html
import re

from .markdown import highlight_code, to_html

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")      # terminal colours in tracebacks and progress bars
DEFINITION = re.compile(r"^def (\w+)\(", flags=re.M)   # a function a cell defines: an anchor #def-NAME


def _text(value):
    return "".join(value) if isinstance(value, list) else value


def _output_html(output, save_image):
    kind = output["output_type"]
    if kind == "stream":
        return f'<pre class="output {output["name"]}">{html.escape(ANSI.sub("", _text(output["text"])))}</pre>\n'
    if kind == "error":
        trace = ANSI.sub("", "\n".join(output["traceback"]))
        return f'<pre class="output error">{html.escape(trace)}</pre>\n'
    data = output.get("data", {})
    if "image/png" in data:
        src = save_image(base64.b64decode(_text(data["image/png"])))
        alt = html.escape(_text(data.get("text/plain", "figure")))
        return f'<div class="output figure"><img src="{src}" alt="{alt}"></div>\n'
    if "image/svg+xml" in data:
        return f'<div class="output figure">{_text(data["image/svg+xml"])}</div>\n'
    if "text/html" in data:
        return f'<div class="output html">{_text(data["text/html"])}</div>\n'
    if "text/plain" in data:
        return f'<pre class="output result">{html.escape(_text(data["text/plain"]))}</pre>\n'
    return ""


def notebook_html(notebook, resolve, save_image):
    """The body of a page for ``notebook`` (an nbformat node). ``resolve`` turns a link of a markdown cell
    into an href (see markdown.Renderer); ``save_image(png_bytes)`` stores a picture and returns its src."""
    parts = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(f'<div class="cell markdown">{to_html(cell.source, resolve)}</div>\n')
        elif cell.cell_type == "code":
            outputs = "".join(_output_html(o, save_image) for o in cell.get("outputs", []))
            anchors = "".join(f'<span id="def-{name}"></span>' for name in DEFINITION.findall(cell.source))
            parts.append(f'<div class="cell code">{anchors}<div class="source">{highlight_code(cell.source)}</div>'
                         f"{outputs}</div>\n")
    return "".join(parts)
