"""Behind a reverse proxy that ends TLS (`--trusted-proxy ADDR`): the real `serve` believes
that proxy's X-Forwarded-* headers, so a login through it gets a Secure cookie, the page's
Origin (https, the public name) is its own, and the throttle sees each client's address.
Without the option, nobody's X-Forwarded-* is believed."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from monitor.web import session
from tests.support import app
from tests.support.app import Output
from tests.support.browser import TOKENS, WRITE_TOKEN

SERVING = re.compile(r"Serving (http://[^ ]+/) ")
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PUBLIC = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "status.example",
          "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture()
def start(tmp_path: Path) -> Iterator[Any]:
    procs = []

    def started(*args: str, tokens: bool = True) -> str:
        document: dict[str, Any] = {"monitors": [{"URL": "http://127.0.0.1:9/"}]}
        if tokens:
            document["apiTokens"] = TOKENS
        app.write(tmp_path / "config.json", document)
        proc = app.start(["serve", "--listen", "127.0.0.1:0", *args], tmp_path)
        procs.append(proc)
        output = Output(proc, stderr=True)
        line = app.wait_for(lambda: next((t for t in output.lines if SERVING.search(t)), None),
                            timeout=20, what="the Serving line", detail=output.dump)
        return SERVING.search(line).group(1)  # type: ignore[union-attr]

    yield started
    for proc in procs:
        if proc.poll() is None:
            app.stop(proc, signal.SIGINT)


def _login(url: str) -> requests.Response:
    # As the proxy passes them: the browser's cookie comes back in a Cookie header (a
    # Secure cookie, which requests would keep to https).
    page = requests.get(f"{url}login", headers=PUBLIC, timeout=10)
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    cookie = page.headers["Set-Cookie"].split(";")[0]
    return requests.post(f"{url}login", data={"token": WRITE_TOKEN, "csrf": csrf},
                         headers={**PUBLIC, "Origin": "https://status.example",
                                  "Cookie": cookie}, allow_redirects=False, timeout=10)


def test_behind_a_trusted_proxy_a_login_gets_a_secure_cookie(start: Any) -> None:
    url = start("--trusted-proxy", "127.0.0.1")
    answer = _login(url)
    assert answer.status_code == 302, answer.text
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{session.COOKIE}=") and "Secure" in cookie
    assert answer.headers["Location"] == "/"


def test_without_the_option_forwarded_headers_are_not_believed(start: Any) -> None:
    url = start()
    answer = _login(url)
    # The Origin (https://status.example) is not this plain-http server's: refused.
    assert answer.status_code == 403


def test_a_trusted_proxy_needs_tokens(tmp_path: Path) -> None:
    app.write(tmp_path / "config.json", {"monitors": [{"URL": "http://127.0.0.1:9/"}]})
    done = app.run_app(["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1"],
                       tmp_path, timeout=30)
    assert done.returncode != 0
    assert "refusing --trusted-proxy without apiTokens" in done.stderr
    assert "Traceback" not in done.stderr
    done = app.run_app(["serve", "--trusted-proxy", "proxy.example"], tmp_path, timeout=30)
    assert done.returncode != 0 and "give the proxy's IP address" in done.stderr
