"""An http monitor's `expect` conditions and certificate expiry, against real servers on
loopback: each condition met and failed, its detail, its config errors."""

import json
import threading

import pytest

from monitor.checks.execute import run_check
from monitor.checks.http.curl import CurlLoop
from monitor.config import parse_config
from monitor.core.model import CheckResult, Monitor
from tests.support.app import ROOT, run_app
from tests.support.config import config_error
from tests.support.pages import PageServer

API = json.dumps({"status": "ok", "version": 3, "checks": [{"name": "db", "healthy": True}],
                  "ratio": 1.0})


@pytest.fixture(scope="module")
def pages():
    with PageServer() as server:
        server.set("/", "<html><body><h1>Welcome</h1><p>all good</p></body></html>")
        server.set("/api", API, headers={"Content-Type": "application/json",
                                         "X-Version": "v3.1"})
        server.set("/broken", "<p>Error: database unreachable</p>", status=503)
        server.set("/moved", "", status=302, headers={"Location": "/"})
        server.set("/latin", "<p>caf\xe9</p>".encode("latin-1"),
                   headers={"Content-Type": "text/html; charset=iso-8859-1"})
        yield server


def monitor_of(entry: dict, **top) -> Monitor:
    return parse_config(json.dumps({"websites": [entry], **top})).monitors[0]


def check(entry: dict, watchdog, **top) -> CheckResult:
    return run_check(monitor_of({"timeout": 2, **entry}, **top), watchdog)


def test_every_condition_met_is_up(pages, watchdog):
    result = check({"URL": pages.url("/api"), "expect": {
        "status": [200, "3xx"], "bodyContains": ["ok", "db"], "bodyNotContains": "error",
        "bodyMatches": r'"version":\s*3', "maxResponseMs": 2000,
        "headers": {"X-Version": r"^v3\.", "content-type": "json"},
        "json": {"status": "ok", "version": 3.0, "checks[0].healthy": True,
                 "checks[?healthy].name": ["db"], "ratio": 1}}}, watchdog)
    assert (result.state, result.reason, result.detail) == ("up", None, "")
    assert result.code == 200


@pytest.mark.parametrize(("expect", "detail"), [
    ({"bodyContains": "Welcome"}, 'bodyContains "Welcome": not found'),
    ({"bodyNotContains": "ok"}, 'bodyNotContains "ok": found'),
    ({"bodyMatches": "version.: 4"}, 'bodyMatches "version.: 4": no match'),
    ({"json": {"status": "degraded"}}, 'json status: "ok" != "degraded"'),
    ({"json": {"version": "3"}}, 'json version: 3 != "3"'),
    ({"json": {"checks[0].healthy": 1}}, "json checks[0].healthy: true != 1"),
    ({"json": {"missing.path": "x"}}, 'json missing.path: null != "x"'),
    ({"status": [204, "4xx"]}, 'status: 200 not in [204, "4xx"]'),
    ({"headers": {"X-Version": "^v4"}}, 'header X-Version "^v4": got v3.1'),
    ({"headers": {"X-Absent": "."}}, "header X-Absent: missing"),
])
def test_a_failed_condition_is_an_assertion(pages, watchdog, expect, detail):
    result = check({"URL": pages.url("/api"), "expect": expect}, watchdog)
    assert (result.state, result.reason, result.detail) == ("down", "assertion", detail)
    assert result.code == 200  # the answer came: its time counts


def test_every_failed_condition_is_named(pages, watchdog):
    result = check({"URL": pages.url("/"), "expect": {
        "bodyContains": "Goodbye", "bodyNotContains": "good", "json": {"a": 1}}}, watchdog)
    assert result.reason == "assertion"
    assert result.detail == ('bodyContains "Goodbye": not found; bodyNotContains "good":'
                             ' found; json: the body is not JSON (Expecting value)')


def test_status_list_replaces_below_400(pages, watchdog):
    # A 503 that the list accepts is up; without `status`, 503 stays http_status.
    assert check({"URL": pages.url("/broken"), "expect": {"status": [503]}},
                 watchdog).state == "up"
    assert check({"URL": pages.url("/broken"), "expect": {"status": ["5xx"],
                 "bodyContains": "Error"}}, watchdog).state == "up"
    result = check({"URL": pages.url("/broken"), "expect": {"bodyContains": "Error"}},
                   watchdog)
    assert (result.reason, result.detail) == ("http_status", "HTTP 503 Service Unavailable")
    # Conditions apply to the final answer, after redirects.
    result = check({"URL": pages.url("/moved"), "expect": {"status": [200],
                   "bodyContains": "Welcome"}}, watchdog)
    assert result.state == "up"


def test_max_response_ms(pages, watchdog):
    result = check({"URL": pages.url("/"), "expect": {"maxResponseMs": 0.001}}, watchdog)
    assert result.reason == "assertion"
    assert result.detail.startswith("maxResponseMs 0.001: took ")


def test_the_body_is_read_in_its_charset(pages, watchdog):
    assert check({"URL": pages.url("/latin"), "expect": {"bodyContains": "café"}},
                 watchdog).state == "up"


def test_a_secret_found_in_the_answer_is_masked(pages, watchdog, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-t0ken")
    pages.set("/echo", json.dumps({"echo": "s3cr3t-t0ken"}),
              headers={"Content-Type": "application/json"})
    result = check({"URL": pages.url("/echo"), "headers": {"Authorization": "${API_TOKEN}"},
                    "expect": {"json": {"echo": "other"}}}, watchdog)
    assert result.reason == "assertion"
    assert "s3cr3t" not in result.detail
    assert result.detail == 'json echo: "***" != "other"'


def test_the_event_loop_judges_the_same(pages):
    """The loop (how -m runs http checks) applies the same conditions as a blocking run."""
    monitors = [monitor_of({"URL": pages.url("/api"), "expect": {"json": {"status": s}}})
                for s in ("ok", "down")]
    results: list[CheckResult] = []
    done = threading.Event()

    def collect(result: CheckResult | None) -> None:
        assert result is not None
        results.append(result)
        if len(results) == len(monitors):
            done.set()

    loop = CurlLoop()
    try:
        for monitor in monitors:
            loop.submit(monitor, 0.0, collect)
        assert done.wait(10)
    finally:
        loop.stop()
    states = sorted((r.state, r.detail) for r in results)
    assert states == [("down", 'json status: "ok" != "down"'), ("up", "")]


# -- certificates ---------------------------------------------------------------------


def https(servers, pki, label: str, **entry) -> dict:
    return {"URL": servers[label].url, "caFile": str(pki / "ca.pem"), **entry}


def test_every_https_check_records_days_left(servers, pki, watchdog):
    result = check(https(servers, pki, "good"), watchdog)
    assert result.state == "up"
    assert 89.5 < result.metrics["cert_days"] < 90.01


def test_a_certificate_close_to_expiry_warns(servers, pki, watchdog):
    result = check(https(servers, pki, "soon"), watchdog)
    assert (result.state, result.reason, result.available) == ("warning", "tls_expiry", True)
    assert result.detail.startswith("certificate expires in 4.9") or \
        result.detail.startswith("certificate expires in 5.0")
    assert result.detail.endswith("days (tlsMinDaysLeft 14)")
    assert check(https(servers, pki, "soon", tlsMinDaysLeft=3), watchdog).state == "up"
    # Top-level defaults, overridden per monitor.
    assert check(https(servers, pki, "soon"), watchdog, tlsMinDaysLeft=4).state == "up"


def test_below_tls_fail_days_left_is_down(servers, pki, watchdog):
    result = check(https(servers, pki, "soon", tlsFailDaysLeft=7), watchdog)
    assert (result.state, result.reason) == ("down", "tls_expiry")
    assert result.detail.endswith("days (tlsFailDaysLeft 7)")
    # Unverified, an expired certificate is still down, by its dates.
    result = check({"URL": servers["expired"].url, "tlsVerify": False}, watchdog)
    assert (result.state, result.reason) == ("down", "tls_expiry")
    assert result.detail.startswith("certificate expired 1.0 days ago")
    # Verified, the handshake refuses it first.
    result = check(https(servers, pki, "expired"), watchdog)
    assert (result.reason, result.detail) == ("tls", "certificate: certificate has expired")


def test_conditions_fail_before_expiry_warns(servers, pki, watchdog):
    result = check(https(servers, pki, "soon", expect={"bodyContains": "nothing"}), watchdog)
    assert (result.state, result.reason) == ("down", "assertion")


def test_check_prints_the_warning(servers, pki, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [https(servers, pki, "soon", name="soon")]}))
    proc = run_app(["check", "-c", str(config), "soon"], ROOT, timeout=30)
    assert proc.returncode == 0, proc.stderr  # a warning is up
    lines = proc.stdout.splitlines()
    assert any("certificate expires in" in line for line in lines)
    assert lines[-1].startswith('WARNING reason=tls_expiry detail="certificate expires in')


# -- config errors --------------------------------------------------------------------


@pytest.mark.parametrize(("expect", "path", "message"), [
    ("200", "expect", "must be an object of conditions (status, bodyContains,"
                      " bodyNotContains, bodyMatches, json, maxResponseMs, headers)"),
    ({}, "expect", "must name at least one condition"),
    ({"stauts": [200]}, "expect.stauts", 'unknown key (did you mean "status"?)'),
    ({"status": []}, "expect.status",
     'must be a list of status codes (200) and classes ("2xx")'),
    ({"status": [200, 700]}, "expect.status[1]",
     'must be a status code from 100 to 599 or a class ("1xx" to "5xx")'),
    ({"status": ["6xx"]}, "expect.status[0]",
     'must be a status code from 100 to 599 or a class ("1xx" to "5xx")'),
    ({"bodyContains": ""}, "expect.bodyContains", "must be a non-empty string"),
    ({"bodyNotContains": [1]}, "expect.bodyNotContains[0]", "must be a non-empty string"),
    ({"bodyMatches": "(unclosed"}, "expect.bodyMatches",
     "is not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ({"json": []}, "expect.json",
     "must be an object of JMESPath expressions to expected values"),
    ({"json": {"a[": 1}}, 'expect.json."a["',
     "is not a valid JMESPath expression: incomplete at column 2"),
    ({"json": {"a..b": 1}}, 'expect.json."a..b"', "is not a valid JMESPath expression:"
     " Expecting: [quoted_identifier, unquoted_identifier, lbracket, lbrace], got: dot at"
     " column 2"),
    ({"maxResponseMs": 0}, "expect.maxResponseMs", "must be a number greater than 0"),
    ({"headers": {"X-A": "[z-a]"}}, 'expect.headers."X-A"',
     "is not a valid regular expression: bad character range z-a at position 1"),
])
def test_expect_errors(expect, path, message):
    assert config_error(monitor_of, {"URL": "http://127.0.0.1/", "expect": expect}) == \
        f"config.json: websites[0].{path}: {message}"


@pytest.mark.parametrize(("entry", "top", "message"), [
    ({"tlsMinDaysLeft": -1}, {}, "websites[0].tlsMinDaysLeft: must be a number from 0 to 3650"),
    ({"tlsFailDaysLeft": "7"}, {},
     "websites[0].tlsFailDaysLeft: must be a number from 0 to 3650"),
    ({"tlsFailDaysLeft": 20}, {},
     "websites[0].tlsFailDaysLeft: tlsFailDaysLeft (20) must not be above tlsMinDaysLeft"
     " (14)"),
    ({}, {"tlsMinDaysLeft": 5000}, "tlsMinDaysLeft: must be a number from 0 to 3650"),
    ({}, {"tlsMinDaysLeft": 3, "tlsFailDaysLeft": 5},
     "tlsFailDaysLeft: tlsFailDaysLeft (5) must not be above tlsMinDaysLeft (3)"),
])
def test_expiry_errors(entry, top, message):
    assert config_error(monitor_of, {"URL": "https://127.0.0.1/", **entry}, **top) == (
        f"config.json: {message}")


def test_a_secret_header_found_is_not_quoted(pages, watchdog):
    pages.set("/login", "ok", headers={"Set-Cookie": "session=abc123secret",
                                       "Content-Type": "text/plain"})
    result = check({"URL": pages.url("/login"), "expect": {
        "headers": {"Set-Cookie": "^theme="}}}, watchdog)
    assert result.detail == 'header Set-Cookie "^theme=": got ***'


def test_a_monitor_with_json_conditions_is_hashable_and_equal_when_reparsed():
    entry = {"URL": "http://127.0.0.1/", "expect": {"json": {"items": [1, {"a": None}],
                                                            "meta": {"b": True}}}}
    first, again = monitor_of(entry), monitor_of(entry)
    assert hash(first) == hash(again) and first == again


def test_every_failed_condition_is_named_when_they_are_many(pages, watchdog):
    # Issue 21, 17: the detail was cut at 200 characters with no ellipsis, and the last
    # failed conditions were lost. Every one is kept; the values found are shortened.
    pages.set("/many", json.dumps({f"service{i}": f"degraded: {'x' * 50} ({i})"
                                   for i in range(6)}),
              headers={"Content-Type": "application/json"})

    def detail(count: int, **more) -> str:
        result = check({"URL": pages.url("/many"), "expect": {
            "json": {f"service{i}": "ok" for i in range(count)}, **more}}, watchdog)
        assert result.reason == "assertion"
        return result.detail

    # Four: each found value shortened so that the detail keeps to 200 characters.
    found = detail(4, bodyContains="all good")
    assert len(found) <= 200
    parts = found.split("; ")
    assert parts[0] == 'bodyContains "all good": not found'
    assert [part.split(":")[0] for part in parts[1:]] == [f"json service{i}" for i in range(4)]
    for i, part in enumerate(parts[1:]):
        # Each value found shortened, marked so, with what was expected whole.
        assert part.startswith(f'json service{i}: "degraded: xx'), part
        assert part.endswith('… != "ok"'), part
    # Eight: too many to name in 200 characters even so: a longer detail, every one named.
    found = detail(6, bodyContains="all good", headers={"X-Version": "."})
    parts = found.split("; ")
    assert [part.split(":")[0] for part in parts] == [
        "header X-Version", 'bodyContains "all good"', *(f"json service{i}" for i in range(6))]
    assert all(part.endswith('… != "ok"') for part in parts[2:]), parts


def test_a_found_value_is_masked_before_it_is_shortened(pages, watchdog, monkeypatch):
    # Cut first, a long secret would lose its end and no longer be found to mask.
    secret = "s3cr3t-" + "k" * 60
    monkeypatch.setenv("API_TOKEN", secret)
    pages.set("/echo-long", json.dumps({"echo": secret + " and more"}),
              headers={"Content-Type": "application/json"})
    result = check({"URL": pages.url("/echo-long"),
                    "headers": {"Authorization": "${API_TOKEN}"},
                    "expect": {"json": {"echo": "other"}}}, watchdog)
    assert "s3cr3t" not in result.detail
    assert result.detail == 'json echo: "*** and more" != "other"'


def test_a_value_under_a_secret_path_is_never_shown(pages, watchdog):
    # The detail is stored and, as an alert's cause, sent to providers: a value under a
    # path that names a secret is masked as a secret header's is, found and expected.
    pages.set("/session", json.dumps({"auth": {"token": "tk-live-0123456789"}}),
              headers={"Content-Type": "application/json"})
    result = check({"URL": pages.url("/session"),
                    "expect": {"json": {"auth.token": "tk-test-expected"}}}, watchdog)
    assert not result.available
    assert result.detail == "json auth.token: *** != ***"
