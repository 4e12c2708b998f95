"""Check now through the API: one check of a monitor against a real loopback server, its
result and trace as `check` gives them (secrets masked), nothing recorded; bounded by the
monitor's timeout."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from monitor.checks import registry
from monitor.checks.once import shown, trace, verdict
from monitor.checks.watchdog import Watchdog
from monitor.core.kind import Kind, Parsed
from monitor.core.model import CheckResult, Monitor
from tests.support.db import query
from tests.support.pages import PageServer
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"


def url(monitor_id: str) -> str:
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}/check"


@pytest.fixture()
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def checks_stored(web: Any) -> int:
    return query(web.db_path, "SELECT count(*) FROM website_monitoring")[0][0]


def test_a_check_now_gives_the_result_and_the_trace_check_prints(make_web: Any,
                                                                  pages: PageServer) -> None:
    page = pages.set("/shop", "<h1>shop</h1>")
    site = page.replace("http://", "http://admin:hunter2pass@")
    web = make_web({"monitors": [{"URL": site, "name": "shop"}]})
    (monitor,) = web.context.config.monitors
    answer = web.client.post(url(monitor.id))
    assert answer.status_code == 200
    body = answer.json
    assert (body["monitor"], body["kind"], body["recorded"]) == (monitor.id, "http", False)
    result = body["result"]
    assert (result["state"], result["up"], result["status"], result["reason"],
            result["warning"]) == ("up", True, 200, None, False)
    assert result["responseTime"] > 0 and {"dns", "connect", "ttfb", "total"} <= set(
        result["metrics"])
    assert body["verdict"].startswith("UP code=200 duration=")
    # The trace `check shop` prints, line for line (its times aside).
    watchdog = Watchdog()
    try:
        printed_result, printed = trace(monitor, watchdog)
    finally:
        watchdog.stop()
    assert [_untimed(line) for line in body["trace"]] == [
        _untimed(shown(line, monitor)) for line in printed]
    assert shown(verdict(printed_result), monitor).split()[:2] == body["verdict"].split()[:2]
    assert "hunter2pass" not in answer.get_data(as_text=True)
    assert checks_stored(web) == 0


def _untimed(line: str) -> str:
    # Every number as 0: the two checks' times differ, in value and in digits (9.8 or 10.2).
    return re.sub(r"\d+", "0", line)


def test_a_failed_check_says_why(make_web: Any, pages: PageServer) -> None:
    web = make_web({"monitors": [{"URL": pages.set("/down", "no", status=503),
                                  "name": "down"}]})
    (monitor,) = web.context.config.monitors
    body = web.client.post(url(monitor.id)).json
    assert (body["result"]["state"], body["result"]["status"],
            body["result"]["reason"]) == ("down", 503, "http_status")
    assert body["verdict"].startswith("DOWN reason=http_status")


@pytest.fixture()
def stalling() -> Iterator[threading.Event]:
    """A kind (as an outside package registers one) whose check ignores its timeout and
    waits until the test lets it go."""
    release = threading.Event()

    def debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
        release.wait(30)
        return CheckResult(monitor.id, time.time(), True, None, 0.0), []

    registry.register(Kind(name="stalling", keys=(), parse=lambda *a: Parsed(None, "here"),
                           reasons=(), run=lambda m, d: None,  # type: ignore[arg-type,return-value]
                           network=False, debug=debug))
    yield release
    release.set()
    registry._KINDS.pop("stalling")


def test_a_check_that_overruns_its_timeout_is_504_in_bounded_time(
        make_web: Any, stalling: threading.Event) -> None:
    web = make_web({"monitors": [{"type": "stalling", "name": "slow", "timeout": 0.2}]})
    (monitor,) = web.context.config.monitors
    started = time.monotonic()
    answer = web.client.post(url(monitor.id))
    waited = time.monotonic() - started
    assert answer.status_code == 504 and answer.mimetype == PROBLEM
    assert answer.json["detail"] == ("the check of 'slow' did not end within its timeout"
                                     " (0.2 s) and 2 s more")
    assert waited < 0.2 + 2 + 1


def test_a_monitor_not_in_the_config_is_404(make_web: Any) -> None:
    answer = make_web().client.post(url("tcp:nowhere:1"))
    assert answer.status_code == 404 and answer.mimetype == PROBLEM


def test_checking_needs_the_write_scope(make_web: Any) -> None:
    web = make_web({"monitors": [{"type": "tcp", "host": "127.0.0.1", "port": 9}]},
                   tokens=True)
    assert web.client.post(url("tcp:127.0.0.1:9")).status_code == 401
    denied = web.client.post(url("tcp:127.0.0.1:9"), headers=bearer(READ_TOKEN))
    assert denied.status_code == 403 and denied.mimetype == PROBLEM
    done = web.client.post(url("tcp:127.0.0.1:9"), headers=bearer(WRITE_TOKEN))
    assert done.status_code == 200 and done.json["result"]["reason"] == "connect"
