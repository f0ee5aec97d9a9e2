"""The website (python -m tinygrad_dl1.site): its pages, read offline, checked as files and in Debian's chromium.

The site under test is $TINYGRAD_DL1_SITE when set (.ci/run builds the whole site in fast mode with the
README's docs command and points this at it), else one built here from tutorials 01 and 03 in fast mode.
The browser tests skip, saying why, where chromium or playwright is missing.
"""
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytest.importorskip("latex2mathml", reason="the docs extra is not installed (pip install -e \".[docs]\")")

from tinygrad_dl1 import notebooks  # noqa: E402
from tinygrad_dl1.site import api, browser  # noqa: E402
from tinygrad_dl1.site.build import SiteError, build, resolver  # noqa: E402
from tinygrad_dl1.site.markdown import mathml, to_html  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SITE_ENV = "TINYGRAD_DL1_SITE"
RAW_TEX = re.compile(r"\$\$|\\frac|\\partial|\\sum|\\hat|\\mathrm|\\text\{")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if os.environ.get(SITE_ENV):
        return Path(os.environ[SITE_ENV]).resolve()
    if notebooks.missing_packages():
        pytest.skip(f"{', '.join(notebooks.missing_packages())} not installed (pip install -e \".[docs]\")")
    return build(tmp_path_factory.mktemp("site") / "site", fast=True,
                 tutorials=["01_derivatives", "03_autograd_engine"], log=lambda line: None)


def tutorial_pages(site):
    pages = sorted((site / "tutorials").glob("[0-9][0-9]_*.html"))
    assert pages, f"no tutorial pages in {site / 'tutorials'}"
    return pages


# ----- the parts -----
def test_formulas_become_mathml_and_a_bad_one_is_named():
    assert "<mfrac>" in mathml(r"\frac{a}{b}") and 'display="block"' in mathml("x", display=True)
    page = to_html("Slope $\\frac{dy}{dx}$ and\n\n$$\\sum_n x_n$$\n")
    assert "<math" in page and "$" not in page and "\\frac" not in page, page
    wrapped = to_html("so $\\partial \\ell =\n-\\delta_{it}$, and `$HOME` stays code")
    assert "\\partial" not in wrapped and "<code>$HOME</code>" in wrapped, "a formula over two lines"
    with pytest.raises(ValueError, match=r"x\^"):
        mathml("x^")
    with pytest.raises(ValueError, match=r"unknown \\fracc"):
        mathml(r"\fracc{a}{b}")                         # latex2mathml would show it as text


def test_links_to_the_repository_become_links_to_pages():
    pages = {"README.md": "index.html", "tutorials/02_backprop_by_hand.py": "tutorials/02_backprop_by_hand.html"}
    resolve = resolver("tutorials/README.md", "tutorials/index.html", pages)
    assert resolve("02_backprop_by_hand.py") == "02_backprop_by_hand.html"
    assert resolve("../README.md#tutorials") == "../index.html#tutorials"
    assert resolve("../tests/fake_cupy.py") is None, "a file the site does not hold: its text, no link"
    assert resolve("https://jupytext.readthedocs.io") == "https://jupytext.readthedocs.io"
    assert to_html("see [the stand-in](../tests/fake_cupy.py)", resolve) == "<p>see the stand-in</p>\n"


def test_a_missing_optional_module_is_left_out_but_a_missing_one_stops(monkeypatch):
    entries = [api.Module("gradcheck", "tinygrad_dl1.gradcheck", "g"), api.Module("nope", "tinygrad_dl1.nope", "n")]
    monkeypatch.setattr(api, "OPTIONAL", {"tinygrad_dl1.nope"})
    assert [entry.page for entry, _ in api.load(entries)] == ["gradcheck"]
    monkeypatch.setattr(api, "OPTIONAL", set())
    with pytest.raises(ModuleNotFoundError, match="tinygrad_dl1.nope"):
        api.load(entries)


def test_a_folder_that_is_not_a_site_is_not_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="is not a site this command built"):
        build(tmp_path, tutorials=["01_derivatives"])
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ----- the built site, as files -----
def test_the_site_has_its_pages(site):
    for page in ("index.html", "search.html", "exercises.html", "tutorials/index.html", "api/index.html",
                 "api/tensor.html", "api/ops.html", "api/functional.html", "api/nn.html", "api/optim.html",
                 "api/data.html", "api/train.html", "api/graph.html", "api/gradcheck.html", "api/exercises.html",
                 "assets/search_index.js"):
        assert (site / page).is_file(), f"{page} missing from {site}"
    if os.environ.get(SITE_ENV):               # the whole site: a page per tutorial
        names = {p.stem for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py")}
        assert {p.stem for p in tutorial_pages(site)} == names


def test_nothing_is_loaded_from_the_network(site):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        loads = re.findall(r'<(?:script|img|iframe|link|source)\b[^>]*?(?:src|href)="([^"]+)"', text)
        outside = [url for url in loads if re.match(r"^(https?:)?//", url)]
        assert not outside, f"{page.relative_to(site)} loads {outside}"
    for css in site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", css.read_text()), f"{css} fetches"


def test_links_between_pages_resolve(site):
    ids = {}
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        ids[page.resolve()] = set(re.findall(r'\bid="([^"]+)"', text))
    broken = []
    for page in site.rglob("*.html"):
        for href in re.findall(r'<a\b[^>]*?href="([^"]+)"', page.read_text(encoding="utf-8")):
            url = urlparse(href)
            if url.scheme or href.startswith("//"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page.resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(site)} -> {href}")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in ids[target]:
                broken.append(f"{page.relative_to(site)} -> {href} (no such anchor)")
    assert not broken, broken


# ----- in the browser -----
def images_loaded(page):
    """(how many <img>, which of them did not load)."""
    return page.evaluate("""() => { const all = [...document.images];
        return [all.length, all.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)]; }""")


def test_every_tutorial_page_shows_formulas_figures_and_no_errors(chromium, site, screenshots):
    pictures = {}
    for path in tutorial_pages(site):
        page = browser.open_page(chromium, path.as_uri())
        text = page.inner_text("article")
        raw = sorted(set(RAW_TEX.findall(" ".join(page.locator(".cell.markdown").all_inner_texts()))))
        assert not raw, f"{path.name} shows raw LaTeX: {raw}"
        formulas = page.locator("article math")
        assert formulas.count() > 0, f"{path.name}: no formula drawn"
        sizes = page.evaluate("() => [...document.querySelectorAll('article math')].map(m => "
                              "m.getBoundingClientRect().width)")
        assert min(sizes) > 0, f"{path.name}: a formula is drawn with no width"
        count, missing = images_loaded(page)
        assert not missing, f"{path.name}: of {count} pictures, these did not load: {missing}"
        pictures[path.stem] = count
        assert "Traceback" not in text, f"{path.name} shows a traceback"
        assert page.problems == [], f"{path.name}: {page.problems}"
        if path.stem.startswith("01"):
            page.screenshot(path=str(screenshots / "tutorial-01.png"))
        page.close()
    assert pictures.get("01_derivatives", 1) > 0 and pictures.get("03_autograd_engine", 1) > 0, pictures


def test_tutorial_3_embeds_the_replay_and_it_steps(chromium, site, screenshots):
    path = site / "tutorials" / "03_autograd_engine.html"
    if not path.is_file():
        pytest.skip("tutorial 03 not in this site")
    page = browser.open_page(chromium, path.as_uri())
    replay = page.frame_locator("iframe[src*='03_replay']")
    assert "Before backward" in replay.locator("#step-title").inner_text()
    replay.locator("#next").click()
    assert replay.locator("g.op.running").get_attribute("data-name") == "Sum", "the first node to run: Sum"
    page.locator("iframe[src*='03_replay']").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "tutorial-03-replay.png"))
    assert page.problems == [], page.problems


def test_the_home_page_shows_the_readme_and_the_curves(chromium, site, screenshots):
    page = browser.open_page(chromium, (site / "index.html").as_uri())
    assert "Quick start" in page.inner_text("article") and "Results on CIFAR-10" in page.inner_text("article")
    count, missing = images_loaded(page)
    assert count >= 1 and not missing and page.locator("img[src*='curves.png']").count() >= 1, missing
    page.screenshot(path=str(screenshots / "home.png"))
    page.click("nav >> text=Tutorials")                       # a link followed in the browser
    assert page.url.endswith("tutorials/index.html") and "Tutorials" in page.inner_text("article h1")
    assert page.problems == [], page.problems


def test_the_tensor_api_page_documents_backward(chromium, site):
    page = browser.open_page(chromium, (site / "api" / "tensor.html").as_uri())
    heading = page.locator('[id="Tensor.backward"]')
    assert heading.is_visible() and "backward(self, grad=None" in heading.inner_text()
    doc = page.locator('[id="Tensor.backward"] + .doc').inner_text()
    assert ".grad" in doc and "leaf" in doc, doc
    assert page.problems == [], page.problems


def test_search_finds_backward_on_the_tensor_page(chromium, site):
    page = browser.open_page(chromium, (site / "index.html").as_uri())
    page.fill("header input[name=q]", "backward retain_graph")
    page.press("header input[name=q]", "Enter")
    page.wait_for_selector("#search-results li")
    links = page.eval_on_selector_all("#search-results a", "links => links.map(a => a.getAttribute('href'))")
    assert any(link.startswith("api/tensor.html") for link in links), links
    page.click("#search-results a[href^='api/tensor.html']")
    assert "/api/tensor.html" in page.url
    assert page.problems == [], page.problems
