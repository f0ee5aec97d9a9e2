"""The site in a real browser, for its tests: Debian's chromium (apt-get install chromium) driven by
playwright, pointed at the system's browser (no browser download). Every page opened records its console
errors, uncaught exceptions and any request that would leave the machine (refused: the site must need none).
"""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ENV = "TINYGRAD_DL1_CHROMIUM"      # the browser to use, if not chromium on the PATH
LOCAL = ("file:", "data:", "about:", "blob:")


def chromium_path():
    """The chromium program: $TINYGRAD_DL1_CHROMIUM, else chromium (or chromium-browser) on the PATH."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


REQUIRED_ENV = "TINYGRAD_DL1_BROWSER_REQUIRED"    # set (as .ci/run does): a missing browser fails the tests


def unavailable():
    """Why the browser tests cannot run here (a sentence), or None when they can."""
    import importlib.util
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e \".[docs]\")"
    if chromium_path() is None:
        return (f"no chromium on the PATH (apt-get install chromium, or set ${CHROMIUM_ENV}); "
                ".ci/run installs it and runs these tests")
    return None


@contextmanager
def chromium():
    """A headless chromium (playwright's Browser) for the duration of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url, width=1200, height=800):
    """A new page showing ``url``, loaded; ``page.problems`` lists what went wrong since it was opened (console
    errors, exceptions, failed or outside requests), as lines of text."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems = []
    page.problems = problems

    def route(request_route):
        if request_route.request.url.startswith(LOCAL):
            request_route.continue_()
        else:
            problems.append(f"request to the network: {request_route.request.url}")
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text} ({m.location})"))
    page.on("pageerror", lambda e: problems.append(f"exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}: {r.failure}"))
    page.goto(url, wait_until="load")
    return page


SCREENSHOTS_ENV = "TINYGRAD_DL1_SCREENSHOTS"


def screenshot_folder(default):
    """The folder for the tests' screenshots: $TINYGRAD_DL1_SCREENSHOTS, else ``default``; made if missing."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()
