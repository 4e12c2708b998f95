"""The web pages in a real browser: Debian's Chromium driven by Playwright for Python,
against the real program (`monitoringApp.py -m --web`) in a process of its own.

`browser` is one Chromium per test worker; `page` a fresh context (no cookies) and tab
whose console errors and uncaught exceptions fail the test at its end; `Site` the real
monitor and server over a config of the test's."""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import app
from tests.support.app import Output

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium calls Google's hosts, refused here.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
SERVING = re.compile(r"Serving (http://[^ ]+/) ")
WRITE_TOKEN = "w" * 20
READ_TOKEN = "r" * 20
TOKENS = [{"name": "admin", "token": WRITE_TOKEN, "scope": "write"},
          {"name": "viewer", "token": READ_TOKEN, "scope": "read"}]


def have_chromium() -> bool:
    return Path(CHROMIUM).exists()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not have_chromium():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Console:
    """What the page said on its console, and the exceptions it did not catch."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        """An error the test expects (a 4xx it provokes, logged by the browser)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture()
def page(browser: Any, make_site: Any) -> Iterator[Any]:
    """A tab in a fresh context, 1280x800; `page.console` holds what it logged. A console
    error or an uncaught exception fails the test.

    It asks for `make_site` so that pytest closes the tab before it stops the sites: a page
    still polling a stopped server would log "connection refused" after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda message: console.errors.append(
        f"console: {message.text} ({message.location.get('url', '')})")
        if message.type == "error" else None)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    tab.console = console
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
    assert console.unexpected() == [], f"the page logged errors: {console.unexpected()}"


class Site:
    """The real `-m --web` on loopback over `document` (config.json) in `folder`."""

    def __init__(self, folder: Path, document: dict[str, Any], *,
                 args: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.config_path = folder / "config.json"
        self.db_path = folder / "monitoring.db"
        app.write(self.config_path, document)
        # --plain: the lines a terminal would get, the Serving line among them.
        self.proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0", *args], folder)
        self.output = Output(self.proc, stderr=True)
        line = app.wait_for(lambda: next((text for text in self.output.lines
                                          if SERVING.search(text)), None),
                            timeout=30, what="the Serving line", detail=self.output.dump)
        self.url = SERVING.search(line).group(1)  # type: ignore[union-attr]

    def document(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc.poll() is None:
            app.stop(self.proc, signal.SIGINT, limit=10)


@pytest.fixture()
def make_site(tmp_path: Path) -> Iterator[Any]:
    """`make_site(document, tokens=False)`: a started Site (`tokens` adds TOKENS)."""
    sites: list[Site] = []

    def make(document: dict[str, Any], tokens: bool = False, **options: Any) -> Site:
        document = dict(document)
        if tokens:
            document["apiTokens"] = TOKENS
        site = Site(tmp_path, document, **options)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()


def log_in(page: Any, site: Site, token: str = WRITE_TOKEN, then: str = "/") -> None:
    """Log in through the login page, which then goes to `then`."""
    page.goto(f"{site.url}login?next={then}")
    page.fill("#token", token)
    page.click("#login-submit")
    page.wait_for_load_state()


def until(page: Any, expression: str, timeout: float = 10.0) -> Any:
    """Poll a JavaScript expression until it is true (its value returned). Playwright's
    wait_for_function polls through eval, which the pages' Content-Security-Policy refuses."""
    return app.wait_for(lambda: page.evaluate(expression), timeout=timeout, what=expression)
