"""The site: the README as the home page (with the curves of docs/results), every tutorial executed (through
tinygrad_dl1.notebooks) with its outputs and pictures, the exercises and their grading, the API reference
from the docstrings, and a search page. Every page, style and script is a file of the site: it reads from a
folder, with no network. The site sources are docs/ (styles, script, the exercises page's text)."""
import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import nbformat

from .. import notebooks
from . import api
from .markdown import FORMATTER, to_html
from .notebook import notebook_html

ROOT = Path(__file__).resolve().parents[2]    # the repository: README.md, tutorials/, docs/
MARK = ".tinygrad_dl1_site"                   # a file in every folder this builds: safe to replace


class SiteError(Exception):
    """A build that cannot go on: the message names the file or folder."""


# ----- pages -----
def layout(title, body, depth, nav):
    """A whole page: the header (search box), the navigation and ``body``; ``depth`` is how many folders
    below the site's root the page is, for its relative links."""
    up = "../" * depth
    links = "".join(f'<li class="nav-{kind}"><a href="{up}{href}">{html.escape(text)}</a></li>'
                    for kind, href, text in nav)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - tinygrad_dl1</title>
<link rel="stylesheet" href="{up}assets/site.css"><link rel="stylesheet" href="{up}assets/pygments.css">
</head><body>
<header><a class="brand" href="{up}index.html">tinygrad_dl1</a>
<form class="search" action="{up}search.html" method="get"><input type="search" name="q" placeholder="Search"
 aria-label="Search the site"></form></header>
<div class="main"><nav><ul>{links}</ul></nav>
<article>
{body}
</article></div>
</body></html>
"""


def nav_entries(tutorials, modules):
    """(kind, href, text) of the navigation: home, tutorials, exercises, the API pages, search."""
    entries = [("top", "index.html", "Home"), ("top", "tutorials/index.html", "Tutorials")]
    entries += [("tutorial", f"tutorials/{path.stem}.html", path.stem.replace("_", " ")) for path in tutorials]
    entries += [("top", "exercises.html", "Exercises and grading"), ("top", "api/index.html", "API reference")]
    entries += [("api", f"api/{entry.page}.html", entry.page) for entry, _ in modules]
    return entries + [("top", "search.html", "Search")]


def resolver(source, page, pages):
    """resolve(url) for the markdown of the repository file ``source`` shown as the site page ``page``:
    a link to a file the site shows becomes a link to its page, one to another file of the repository
    only its text (the site does not hold it), anchors and web addresses stay as they are."""
    def resolve(url):
        if re.match(r"^[a-z]+:", url) or url.startswith("#"):
            return url
        path, _, anchor = url.partition("#")
        target = os.path.normpath(PurePosixPath(source).parent / path).replace(os.sep, "/")
        if target not in pages:
            return None
        href = os.path.relpath(pages[target], PurePosixPath(page).parent).replace(os.sep, "/")
        return href + (f"#{anchor}" if anchor else "")
    return resolve


def results_html(results, out):
    """Figures of the curves in ``results`` (docs/results/<run>/curves.png, summary.json), copied into the
    site's results/ folder, as HTML for the home page."""
    parts = ['<div class="results">']
    for run in sorted(p for p in results.iterdir() if (p / "curves.png").is_file()):
        (out / "results" / run.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "curves.png", out / "results" / run.name / "curves.png")
        caption = run.name
        if (run / "summary.json").is_file():
            summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
            accuracy = [f"{label} {summary[key]:.3f}" for key, label in (("final_test_acc", "final test accuracy"),
                        ("best_test_acc", "best")) if isinstance(summary.get(key), (int, float))]
            caption += (": " + ", ".join(accuracy)) if accuracy else ""
        parts.append(f'<figure><img src="results/{run.name}/curves.png" alt="curves of {run.name}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(parts) + "</div>\n"


def home_html(readme, results, out, resolve):
    """The README as HTML, with the curves of docs/results after its results section."""
    html_text = to_html(readme, resolve)
    curves = results_html(results, out) if results.is_dir() else ""
    heading = re.search(r'<h2 id="results[^"]*">', html_text)
    if heading is None:
        return html_text + curves
    following = html_text.find("<h2 ", heading.end())
    following = len(html_text) if following < 0 else following
    return html_text[:following] + "<h3 id=\"curves\">Curves</h3>\n" + curves + html_text[following:]


def exercises_markdown(tutorials_readme):
    """The section of tutorials/README.md on the exercises and grading (from its '## Exercises' heading to
    the next '## ')."""
    match = re.search(r"^## Exercises.*?(?=^## |\Z)", tutorials_readme, flags=re.M | re.S)
    if match is None:
        raise SiteError("tutorials/README.md has no section starting with '## Exercises' for the exercises page")
    return "# Exercises and grading\n\n" + match.group(0).split("\n", 1)[1]


def exercise_links(pages):
    """A list of the exercises that grading knows, each linked to where its tutorial's page defines it."""
    from ..exercises.grading import EXERCISES

    items = []
    for exercise in EXERCISES:
        page = pages.get(f"tutorials/{exercise.tutorial}")
        name = f"<code>{html.escape(exercise.task)}</code>"
        where = (f'<a href="{page}#def-{exercise.task}">{html.escape(exercise.tutorial)}</a>' if page
                 else html.escape(exercise.tutorial))
        items.append(f"<li>{name}: {html.escape(exercise.what)} ({where})</li>")
    return ('<h2 id="where-they-are">Where they are</h2>\n<ul class="exercises">' + "".join(items) + "</ul>\n"
            '<p>The checkers and the grading: <a href="api/exercises.html">their API reference</a>.</p>\n')


# ----- search -----
def sections(url, title, body):
    """The search entries of a page: one per heading with an id (its text up to the next heading)."""
    entries, pieces = [], re.split(r'(<h[1-4] id="[^"]*">.*?</h[1-4]>)', body, flags=re.S)
    anchor, heading = "", title
    for piece in pieces:
        found = re.match(r'<h[1-4] id="([^"]*)">(.*?)</h[1-4]>', piece, flags=re.S)
        if found:
            anchor, heading = found.group(1), plain_text(found.group(2))
            continue
        text = plain_text(piece)
        if text:
            entries.append({"url": url + (f"#{anchor}" if anchor else ""),
                            "title": title if heading == title else f"{title}: {heading}", "text": text[:4000]})
    return entries


def plain_text(fragment):
    """The words of an HTML fragment: MathML's annotations and every tag dropped, spaces collapsed."""
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


SEARCH_PAGE = """<h1 id="search">Search</h1>
<form id="search-form" action="search.html" method="get"><input id="search-input" type="search" name="q"
 placeholder="a word, or several" aria-label="Search the site"> <button type="submit">Search</button></form>
<p id="search-count"></p><ol id="search-results"></ol>
<script src="assets/search_index.js"></script><script src="assets/search.js"></script>
"""


# ----- the build -----
def build(out="site", fast=True, tutorials=None, repo=ROOT, log=print):
    """Build the site into the folder ``out`` (made anew; a folder there must be empty or one this built).
    ``fast`` runs the tutorials in fast mode (small synthetic data); ``tutorials``: the names to run and
    show (default: all). Returns the Path of the site."""
    repo, out = Path(repo), Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MARK).is_file():
        raise SiteError(f"{out} exists and is not a site this command built: name an empty or new folder")
    missing = notebooks.missing_packages()
    if missing:
        raise SiteError(f"{', '.join(missing)} not installed; pip install -e \".[docs]\"")
    files = notebooks.tutorial_files(repo / "tutorials", tutorials or ())
    modules = api.load()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent if out.parent.exists() else None))
    try:
        _build_into(staging, repo, files, modules, fast, log)
        (staging / MARK).write_text("built by python -m tinygrad_dl1.site\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _build_into(out, repo, files, modules, fast, log):
    nav = nav_entries(files, modules)
    pages = {"README.md": "index.html", "tutorials/README.md": "tutorials/index.html"}
    pages |= {f"tutorials/{path.name}": f"tutorials/{path.stem}.html" for path in files}
    index = []

    def write(page, title, body):
        depth = page.count("/")
        (out / page).parent.mkdir(parents=True, exist_ok=True)
        (out / page).write_text(layout(title, body, depth, nav), encoding="utf-8")
        index.extend(sections(page, title, body))
        log(f"site: {page}")

    (out / "assets").mkdir(parents=True)
    for asset in ("site.css", "search.js"):
        shutil.copy(repo / "docs" / "assets" / asset, out / "assets" / asset)
    (out / "assets" / "pygments.css").write_text(FORMATTER.get_style_defs(".highlight"), encoding="utf-8")

    readme = (repo / "README.md").read_text(encoding="utf-8")
    write("index.html", "Home", home_html(readme, repo / "docs" / "results", out,
                                          resolver("README.md", "index.html", pages)))
    tutorials_readme = (repo / "tutorials" / "README.md").read_text(encoding="utf-8")
    write("tutorials/index.html", "Tutorials",
          to_html(tutorials_readme, resolver("tutorials/README.md", "tutorials/index.html", pages)))
    write("exercises.html", "Exercises and grading",
          to_html(exercises_markdown(tutorials_readme), resolver("tutorials/README.md", "exercises.html", pages))
          + exercise_links(pages))

    with tempfile.TemporaryDirectory(prefix="tinygrad_dl1-site-") as work:
        for path in files:
            log(f"site: running {path.name}{' (fast mode)' if fast else ''} ...")
            try:
                ipynb, _ = notebooks.execute_tutorial(path, work, fast=fast)
            except Exception as e:     # nbclient's CellExecutionError holds the cell and its traceback
                raise SiteError(f"{path.name} failed:\n{e}") from e
            write(f"tutorials/{path.stem}.html", path.stem.replace("_", " "),
                  _tutorial_body(nbformat.read(ipynb, as_version=4), path, out, pages))
        figures = Path(work) / "tutorial_figures"    # pages the tutorials wrote (the replay) go with them
        for page in sorted(figures.glob("*.html")) if figures.is_dir() else ():
            (out / "tutorials" / "tutorial_figures").mkdir(parents=True, exist_ok=True)
            shutil.copy(page, out / "tutorials" / "tutorial_figures" / page.name)

    page_of_module = {module.__name__: entry.page for entry, module in modules}
    listing = "".join(f'<li><a href="{entry.page}.html">{html.escape(entry.title)}</a> '
                      f"<code>{html.escape(module.__name__)}</code></li>" for entry, module in modules)
    write("api/index.html", "API reference", f'<h1 id="api-reference">API reference</h1>\n<ul>{listing}</ul>\n')
    for entry, module in modules:
        write(f"api/{entry.page}.html", entry.title, api.page_html(entry, module, page_of_module))

    (out / "assets" / "search_index.js").write_text(
        "window.SEARCH_INDEX = " + json.dumps(index).replace("</", "<\\/") + ";\n", encoding="utf-8")
    (out / "search.html").write_text(layout("Search", SEARCH_PAGE, 0, nav), encoding="utf-8")


def _tutorial_body(notebook, path, out, pages):
    """A tutorial's page, its pictures written as tutorials/figures/<name>-<n>.png."""
    figures, count = out / "tutorials" / "figures", [0]

    def save_image(png):
        figures.mkdir(parents=True, exist_ok=True)
        count[0] += 1
        name = f"{path.stem}-{count[0]}.png"
        (figures / name).write_bytes(png)
        return f"figures/{name}"

    page = f"tutorials/{path.stem}.html"
    return notebook_html(notebook, resolver(f"tutorials/{path.name}", page, pages), save_image)

