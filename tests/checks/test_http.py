"""The http check against a real loopback server that misbehaves on purpose."""

import threading
import time

import pytest

from monitor.checks.execute import run_check
from monitor.core.model import CheckAborted
from tests.conftest import make_site
from tests.support.hostile import refused_url

CASES = [
    ("/ok", True, 200, None, ""),
    ("/redirect-ok", True, 200, None, ""),
    ("/500", False, 500, "http_status", "HTTP 500 Internal Server Error"),
    ("/503", False, 503, "http_status", "HTTP 503 Service Unavailable"),
    ("/hang", False, None, "timeout", "no complete answer within 0.5 s"),
    ("/headers-then-silence", False, 200, "timeout", "no complete answer within 0.5 s"),
    ("/drip", False, 200, "timeout", "no complete answer within 0.5 s"),
    ("/reset", False, None, "connect", "connection reset by peer"),
    ("/reset-body", False, 200, "connect", "connection reset by peer"),
    ("/close", False, None, "invalid_response", "connection closed without a response"),
    ("/garbage", False, None, "invalid_response",
     "malformed HTTP: BadStatusLine: ?? this is not HTTP at all"),
    ("/no-headers", False, None, "invalid_response",
     "malformed HTTP: IncompleteHeaders: connection closed inside the headers"),
    ("/big-headers", False, None, "invalid_response",
     "malformed HTTP: HTTPException: got more than 100 headers"),
    ("/endless", False, 200, "too_large", "body larger than 1000000 bytes"),
    ("/redirect-loop", False, 302, "invalid_response", "more than 10 redirects"),
]


@pytest.mark.parametrize(("path", "available", "status", "reason", "detail"), CASES)
def test_http_check_outcomes(hostile, watchdog, path, available, status, reason, detail):
    site = make_site(hostile.base + path, timeout=0.5, max_body_bytes=1_000_000)
    started = time.monotonic()
    result = run_check(site, watchdog)
    elapsed = time.monotonic() - started
    assert (result.available, result.code, result.reason, result.detail) == (
        available, status, reason, detail)
    assert result.monitor_id == site.id
    # The timeout bounds the whole check, however the server drips.
    assert elapsed < 0.5 + 0.4
    assert result.response_ms == pytest.approx(elapsed * 1000, abs=50)


def test_refused_connection(watchdog):
    result = run_check(make_site(refused_url()), watchdog)
    assert (result.available, result.reason, result.detail) == (
        False, "connect", "connection refused")


def test_every_check_uses_a_new_connection(hostile, watchdog):
    before = hostile.hits.get("/ok", 0)
    site = make_site(hostile.base + "/ok")
    connections = []
    original = hostile.process_request

    def counting(request, address):
        connections.append(address)
        return original(request, address)

    hostile.process_request = counting
    try:
        for _ in range(3):
            assert run_check(site, watchdog).available
    finally:
        hostile.process_request = original
    assert hostile.hits["/ok"] - before == 3
    assert len(connections) == 3
    assert len({port for _host, port in connections}) == 3


def test_no_cookie_is_carried_from_one_check_to_the_next(hostile, watchdog):
    # Each check is a first visit, as a user's would be: a cookie kept from the last check
    # could hide a login page or a broken session store behind a warm session.
    site = make_site(hostile.base + "/cookie")
    results = [run_check(site, watchdog) for _ in range(3)]
    assert [(r.available, r.code) for r in results] == [(True, 200)] * 3
    assert hostile.hits["/cookie"] == 3


def test_lateness_is_recorded(hostile, watchdog):
    result = run_check(make_site(hostile.base + "/ok"), watchdog, lateness_ms=12.5)
    assert result.lateness_ms == 12.5


def test_abort_cuts_a_hanging_check_short(hostile, watchdog):
    site = make_site(hostile.base + "/hang", timeout=10)
    outcome = {}

    def check():
        try:
            outcome["result"] = run_check(site, watchdog)
        except CheckAborted:
            outcome["aborted"] = time.monotonic()

    thread = threading.Thread(target=check)
    thread.start()
    time.sleep(0.2)  # let it connect and block; the point is what abort does then
    aborted_at = time.monotonic()
    watchdog.abort_all()
    thread.join(2)
    assert "aborted" in outcome and "result" not in outcome
    assert outcome["aborted"] - aborted_at < 0.5


def test_phase_times_are_those_of_the_phases_that_ended(hostile, watchdog):
    up = run_check(make_site(hostile.base + "/ok"), watchdog)
    assert {"dns", "connect", "ttfb", "total"} <= set(up.metrics), up.metrics
    assert "tls" not in up.metrics  # plain http
    refused = run_check(make_site(refused_url()), watchdog)
    assert set(refused.metrics) == {"dns", "total"}, refused.metrics  # no answer, no ttfb
    unresolved = run_check(make_site("http://nothing.invalid/"), watchdog)
    assert "dns" not in unresolved.metrics, unresolved.metrics  # a failed lookup has no time
