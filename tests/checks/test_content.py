"""The `content` kind: a page's tags counted and its size measured, each judged against
the last checks' values. The analysis is tested as pure functions; the kind against a
real loopback HTTP server whose page each test sets between checks."""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from selectolax.lexbor import SelectolaxError

from monitor.checks import registry
from monitor.checks.content.analysis import (
    MAX_NAMES,
    OTHER,
    History,
    Page,
    Series,
    measure,
    size_text,
    tag_text,
)
from monitor.checks.content.kind import HISTORIES, Histories
from monitor.checks.content.spec import ContentSpec
from monitor.checks.http.spec import HttpSpec
from monitor.cli import main
from monitor.config import load_config, parse_config
from monitor.core.deadline import Deadline
from monitor.core.errors import ConfigError
from monitor.core.fields import Fields
from monitor.core.model import Monitor
from tests.support.app import run_app, start, stop, wait_for
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url
from tests.support.pages import PageServer

KIND = registry.get("content")
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"
         " incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis"
         " nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.")


def html(scripts: int = 4, divs: int = 40, extra: str = "") -> bytes:
    """A page: `scripts` scripts in its head, `divs` paragraphs of text in its body."""
    head = "".join(f'<script src="/s{i}.js"></script>' for i in range(scripts))
    body = "".join(f"<div><p>{LOREM}</p></div>" for _ in range(divs))
    return (f"<!doctype html><html><head><title>t</title>{head}</head>"
            f"<body>{body}{extra}</body></html>").encode()


# --- a loopback server whose page the test sets ------------------------------------------

class Site:
    """The page a test serves at /page, and the answer's status, changed between checks."""

    def __init__(self, server: PageServer) -> None:
        self._server = server
        self._page, self._status = html(), 200
        self.url = server.set("/page", self._page)

    @property
    def page(self) -> bytes:
        return self._page

    @page.setter
    def page(self, body: bytes) -> None:
        self._page = body
        self._server.set("/page", body, self._status)

    @property
    def status(self) -> int:
        return self._status

    @status.setter
    def status(self, status: int) -> None:
        self._status = status
        self._server.set("/page", self._page, status)


@pytest.fixture()
def server() -> Iterator[Site]:
    with PageServer() as running:
        yield Site(running)


@pytest.fixture(autouse=True)
def fresh_histories() -> Iterator[None]:
    HISTORIES.clear()
    yield
    HISTORIES.clear()


def content_monitor(url: str, **keys: object) -> Monitor:
    """A content monitor as the config makes it."""
    entry = {"type": "content", "URL": url, "timeout": 2, **keys}
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


def check(monitor: Monitor):
    return KIND.run(monitor, Deadline(time.monotonic() + monitor.timeout, monitor.timeout))


def learn(monitor: Monitor, count: int = 5) -> None:
    """Checks enough to judge from (the page the server has now)."""
    for _ in range(count):
        assert check(monitor).state == "up"


# --- what a page is measured as ----------------------------------------------------------

def test_measure_counts_elements_by_name_and_the_bytes():
    body = (b"<!doctype html><!-- a comment --><HTML><head><title>x</title></head><body>"
            b"<DIV>a</DIV><div><!-- another --><my-widget>w</my-widget></div>"
            b"<svg><circle r='1'/></svg><my-widget></my-widget></body></html>")
    page = measure(body)
    assert page.counts == {"html": 1, "head": 1, "title": 1, "body": 1, "div": 2,
                           "my-widget": 2, "svg": 1, "circle": 1}
    assert page.size == len(body)
    assert page.tags == 10


def test_measure_of_what_is_not_html_still_counts_what_a_browser_would_make():
    assert measure(b"").counts == {"html": 1, "head": 1, "body": 1}
    assert measure(b'{"json": true}').counts == {"html": 1, "head": 1, "body": 1}
    assert measure(b"\xff\xfe\x00<p>binary\x00").counts["p"] == 1


def test_measure_leaves_out_ignored_tags():
    page = measure(b"<table><tr><td>1</td></tr><tr><td>2</td></tr></table><p>x</p>",
                   ignore={"tr", "td"})
    assert "tr" not in page.counts and "td" not in page.counts
    assert page.counts["p"] == 1 and page.counts["table"] == 1


def test_measure_bounds_the_names_of_a_page_of_made_up_tags():
    body = "".join(f"<x-{i}></x-{i}>" for i in range(1000)) + "<p></p>" * 5
    body += "<" + "a" * 5000 + ">long</" + "a" * 5000 + ">"
    page = measure(body.encode())
    assert len(page.counts) == MAX_NAMES
    assert page.counts["p"] == 5
    assert page.tags == 3 + 1000 + 5 + 1  # nothing lost: the rest is summed as OTHER
    assert page.counts[OTHER] > 0
    assert all(len(name) <= 64 for name in page.counts)


def test_tag_and_size_text():
    assert tag_text("script") == "<script>"
    assert tag_text("a\x1bb") == "<a?b>"
    assert tag_text("x" * 100) == "<" + "x" * 40 + "...>"
    assert tag_text(OTHER) == "other tags"
    assert [size_text(n) for n in (0, 999, 1000, 10_240, 48_000, 2_500_000, 3e9)] == [
        "0 B", "999 B", "1.0 kB", "10.2 kB", "48.0 kB", "2.5 MB", "3.0 GB"]


# --- the history and its figures ---------------------------------------------------------

def test_series_keeps_the_last_values_with_their_exact_mean_and_deviation():
    values = [3, 9, 4, 4, 100, 7, 0, 12, 5, 5, 6]
    series = Series(4)
    for index, value in enumerate(values):
        series.push(value)
        last = values[max(0, index - 3):index + 1]
        assert series.last(4) == last
        assert series.mean() == pytest.approx(statistics.fmean(last))
        assert series.stdev() == pytest.approx(statistics.pstdev(last))
    assert Series(4, zeros=2).last(4) == [0, 0]
    assert series.resized(2).last(4) == [5, 6]
    assert series.resized(10).last(10) == values[-4:]


def steady(length: int = 20, scripts: int = 4, divs: int = 10, size: int = 10_200,
           kept: int | None = None) -> History:
    history = History(length)
    for _ in range(length if kept is None else kept):
        history.add(Page({"html": 1, "script": scripts, "div": divs}, size))
    return history


def page(scripts: int = 4, divs: int = 10, size: int = 10_200, **more: int) -> Page:
    return Page({"html": 1, "script": scripts, "div": divs, **more}, size)


def outcome(history: History, new: Page, fail: float | None = None) -> tuple[str, str]:
    return history.judge(new).outcome(3.0, fail)


def test_a_constant_page_with_one_more_tag_is_no_change():
    history = steady()
    assert outcome(history, page()) == ("up", "")
    assert history.judge(page()).changes == ()
    assert outcome(history, page(divs=11)) == ("up", "")
    assert history.judge(page(divs=11)).largest == 1.0  # the floor: 1 tag
    assert outcome(history, page(divs=13)) == ("up", "")  # 3 deviations: not more than 3
    assert outcome(history, page(divs=14)) == ("warning", "<div>: 10 -> 14")


def test_scripts_4_to_19_warns_and_names_the_change():
    state, detail = outcome(steady(), page(scripts=19))
    assert (state, detail) == ("warning", "<script>: 4 -> 19")
    assert steady().judge(page(scripts=19)).largest == 15.0


def test_a_large_count_moves_by_its_share_not_by_one_tag():
    history = steady(divs=400)  # floor: 5% of 400 = 20 tags
    assert outcome(history, page(divs=460)) == ("up", "")  # 3 deviations
    assert outcome(history, page(divs=461)) == ("warning", "<div>: 400 -> 461")


def test_a_new_tag_counts_from_zero_and_a_gone_one_to_zero():
    history = steady()
    assert outcome(history, page(iframe=1)) == ("up", "")
    assert outcome(history, page(iframe=4)) == ("warning", "<iframe>: 0 -> 4")
    history.add(page(iframe=5))
    for _ in range(19):
        history.add(page(iframe=5))
    assert outcome(history, page()) == ("warning", "<iframe>: 5 -> 0")


def test_the_size_has_a_floor_of_2_percent_and_64_bytes():
    history = steady(size=10_000)  # floor 200 bytes: more than 600 warns
    assert outcome(history, page(size=10_600)) == ("up", "")
    assert outcome(history, page(size=10_601)) == ("warning", "size: 10.0 kB -> 10.6 kB")
    assert outcome(history, page(size=9_300)) == ("warning", "size: 10.0 kB -> 9.3 kB")
    tiny = steady(size=300)  # floor 64 bytes, not 6
    assert outcome(tiny, page(size=492)) == ("up", "")
    assert outcome(tiny, page(size=493)) == ("warning", "size: 300 B -> 493 B")


def test_a_page_that_varies_by_nature_is_judged_by_its_own_deviation():
    history = History(20)
    for index in range(20):
        history.add(page(divs=40 if index % 2 else 60))  # mean 50, deviation 10
    assert outcome(history, page(divs=75)) == ("up", "")  # 2.5 deviations
    assert outcome(history, page(divs=81)) == ("warning", "<div>: 50 -> 81")


def test_learning_until_five_values_are_kept():
    history = History(20)
    for kept in range(5):
        assert outcome(history, page(scripts=50)) == ("up", f"learning ({kept + 1} of 5)")
        history.add(page())
    assert outcome(history, page(scripts=50))[0] == "warning"
    short = steady(length=3, kept=2)  # a history of 3 is judged from 3 values
    assert outcome(short, page(scripts=50)) == ("up", "learning (3 of 3)")


@pytest.mark.parametrize(("length", "warnings"), [(20, 2), (100, 10), (5, 1)])
def test_a_change_that_stays_stops_warning_once_it_is_a_tenth_of_the_history(
        length, warnings):
    history = steady(length=length)
    states = []
    for _ in range(length):
        states.append(outcome(history, page(scripts=19))[0])
        history.add(page(scripts=19))
    assert states == ["warning"] * warnings + ["up"] * (length - warnings)


def test_fail_deviation_makes_a_large_change_down():
    history = steady()
    assert outcome(history, page(scripts=19), fail=20) == ("warning", "<script>: 4 -> 19")
    assert outcome(history, page(scripts=30), fail=20) == ("down", "<script>: 4 -> 30")


def test_the_detail_names_the_largest_changes_first_and_counts_the_rest():
    history = steady()
    changed = Page({"script": 19, "div": 30, "iframe": 6, "form": 5}, 48_000)
    state, detail = outcome(history, changed)
    assert state == "warning"
    assert detail == "size: 10.2 kB -> 48.0 kB, <div>: 10 -> 30, <script>: 4 -> 19, +2 more"


def test_a_mean_that_is_not_whole_is_shown_with_a_decimal():
    history = History(20)
    for index in range(20):
        history.add(page(scripts=4 + index % 2))  # 4.5 on average
    assert outcome(history, page(scripts=19)) == ("warning", "<script>: 4.5 -> 19")


def test_history_drops_a_tag_once_it_is_0_in_every_page_kept_and_resizes():
    history = steady(length=5)
    history.add(page(iframe=2))
    assert "iframe" in history.tags
    for _ in range(4):
        history.add(page())
    assert "iframe" in history.tags  # still 2 in one of the 5
    history.add(page())
    assert "iframe" not in history.tags
    history.resize(3)
    assert history.kept == 3 and history.tags["script"].last(5) == [4, 4, 4]
    history.resize(50)
    assert history.kept == 3 and history.length == 50


# --- the histories of every monitor ------------------------------------------------------

def test_histories_are_kept_per_monitor_and_per_what_makes_its_page():
    histories = Histories()
    first = content_monitor("http://a.test/")
    other_url = content_monitor("http://b.test/", id=first.id)
    other_headers = content_monitor("http://a.test/", headers={"Accept-Language": "fr"})
    ignoring = content_monitor("http://a.test/", ignoreTags=["p"])
    assert histories.get(first) is histories.get(content_monitor("http://a.test/"))
    assert histories.get(other_url) is not histories.get(first)
    assert histories.get(other_headers) is not histories.get(first)
    assert histories.get(ignoring) is not histories.get(first)
    # Thresholds, length (the check resizes it), conditions and limits apply to the
    # history as it is, also on a reload that parses them anew.
    for keys in [{"maxDeviation": 5, "history": 7}, {"maxBodyBytes": 5000, "tlsVerify": False},
                 {"expect": {"json": {"checks": [{"ok": True}]}, "bodyMatches": "x"}}]:
        assert histories.get(content_monitor("http://a.test/", **keys)) is histories.get(first)
    assert len(histories) == 4


def test_histories_of_monitors_no_longer_checked_are_forgotten():
    now = [1000.0]
    histories = Histories(clock=lambda: now[0])
    kept = content_monitor("http://a.test/", checkInterval=3600)
    gone = content_monitor("http://b.test/", checkInterval=10)
    histories.get(kept).add(page())
    histories.get(gone).add(page())
    now[0] += 3 * 10 + 600 + 1  # past `gone`'s three intervals and ten minutes
    histories.get(kept)
    assert len(histories) == 1
    assert histories.get(kept).kept == 1
    assert histories.get(gone).kept == 0  # a new history: learning again


# --- the config --------------------------------------------------------------------------

def test_a_content_monitor_has_the_http_keys_and_its_own_defaults():
    monitor = content_monitor("https://user:pw-secret@example.com/?token=t0k3n",
                              headers={"Authorization": "Bearer b3arer"}, maxBodyBytes=4096)
    assert monitor.kind == "content"
    assert monitor.target == "https://user:***@example.com/?token=***"
    assert monitor.id == "content:https://user:***@example.com/?token=***"
    assert {"pw-secret", "t0k3n", "Bearer b3arer"} <= set(monitor.secrets)
    spec = monitor.spec
    assert isinstance(spec, ContentSpec) and isinstance(spec.http, HttpSpec)
    assert spec.http.max_body_bytes == 4096
    assert (spec.history, spec.max_deviation, spec.fail_deviation, spec.ignore) == (
        20, 3.0, None, frozenset())


def test_the_http_monitor_and_the_content_monitor_of_one_page_are_two_monitors():
    config = parse_config(json.dumps({"websites": [
        {"URL": "https://example.com/"}, {"type": "content", "URL": "https://example.com/"}]}))
    assert [m.id for m in config.monitors] == ["https://example.com/",
                                              "content:https://example.com/"]


def test_keys_of_the_monitor_and_their_top_level_defaults():
    config = parse_config(json.dumps({
        "contentHistory": 50, "contentMaxDeviation": 4, "contentFailDeviation": 12,
        "websites": [
            {"type": "content", "URL": "http://a.test/"},
            {"type": "content", "URL": "http://b.test/", "history": 5, "maxDeviation": 2.5,
             "failDeviation": 8, "ignoreTags": ["TR", "td"]},
            {"type": "content", "URL": "http://c.test/", "ignoreTags": "ins"},
        ]}))
    specs = [m.spec for m in config.monitors]
    assert [(s.history, s.max_deviation, s.fail_deviation) for s in specs] == [
        (50, 4.0, 12.0), (5, 2.5, 8.0), (50, 4.0, 12.0)]
    assert specs[1].ignore == frozenset({"tr", "td"})
    assert specs[2].ignore == frozenset({"ins"})


WHOLE = "must be a whole number from 2 to 1000"
POSITIVE = "must be a number greater than 0"
TAG = 'must be a tag name such as "script" (no < >)'


@pytest.mark.parametrize(("top", "site", "message"), [
    ({}, {"URL": None}, "websites[0].URL: must be a non-empty string"),
    ({}, {"URL": "ftp://x/"}, "websites[0].URL: must be an http:// or https:// URL with a host"),
    ({}, {"history": 1}, f"websites[0].history: {WHOLE}"),
    ({}, {"history": 0}, f"websites[0].history: {WHOLE}"),
    ({}, {"history": 1001}, f"websites[0].history: {WHOLE}"),
    ({}, {"history": 2.5}, f"websites[0].history: {WHOLE}"),
    ({}, {"history": "20"}, f"websites[0].history: {WHOLE}"),
    ({}, {"history": True}, f"websites[0].history: {WHOLE}"),
    ({}, {"maxDeviation": 0}, f"websites[0].maxDeviation: {POSITIVE}"),
    ({}, {"maxDeviation": -1}, f"websites[0].maxDeviation: {POSITIVE}"),
    ({}, {"maxDeviation": "3"}, f"websites[0].maxDeviation: {POSITIVE}"),
    ({}, {"maxDeviation": 1001}, "websites[0].maxDeviation: must be at most 1000"),
    ({}, {"failDeviation": 0}, f"websites[0].failDeviation: {POSITIVE}"),
    ({}, {"failDeviation": None}, f"websites[0].failDeviation: {POSITIVE}"),
    ({}, {"failDeviation": 1e300}, "websites[0].failDeviation: must be at most 1000"),
    ({}, {"failDeviation": 3}, "websites[0].failDeviation: failDeviation (3) must be greater"
                               " than maxDeviation (3)"),
    ({}, {"failDeviation": 5, "maxDeviation": 6},
     "websites[0].failDeviation: failDeviation (5) must be greater than maxDeviation (6)"),
    ({"contentFailDeviation": 5}, {"maxDeviation": 6},
     "websites[0].maxDeviation: failDeviation (5) must be greater than maxDeviation (6)"),
    ({"contentMaxDeviation": 6}, {"failDeviation": 5},
     "websites[0].failDeviation: failDeviation (5) must be greater than maxDeviation (6)"),
    ({}, {"ignoreTags": []}, "websites[0].ignoreTags: must be a string or a non-empty list"
                             " of strings"),
    ({}, {"ignoreTags": ""}, "websites[0].ignoreTags: must be a non-empty string"),
    ({}, {"ignoreTags": ["p", 3]}, "websites[0].ignoreTags[1]: must be a non-empty string"),
    ({}, {"ignoreTags": ["p", "<script>"]}, f"websites[0].ignoreTags[1]: {TAG}"),
    ({}, {"ignoreTags": "a b"}, f"websites[0].ignoreTags: {TAG}"),
    ({}, {"histroy": 5}, 'websites[0].histroy: unknown key (did you mean "history"?)'),
    ({}, {"maxdeviation": 5}, 'websites[0].maxdeviation: unknown key (did you mean'
                              ' "maxDeviation"?)'),
    ({"contentHistory": 1}, {}, f"contentHistory: {WHOLE}"),
    ({"contentHistory": 5000}, {}, f"contentHistory: {WHOLE}"),
    ({"contentMaxDeviation": 0}, {}, f"contentMaxDeviation: {POSITIVE}"),
    ({"contentFailDeviation": "x"}, {}, f"contentFailDeviation: {POSITIVE}"),
    ({"contentFailDeviation": 2}, {}, "contentFailDeviation: contentFailDeviation (2) must"
                                      " be greater than contentMaxDeviation (3)"),
    ({"contentMaxDeviation": 9, "contentFailDeviation": 9}, {},
     "contentFailDeviation: contentFailDeviation (9) must be greater than"
     " contentMaxDeviation (9)"),
    ({"history": 20}, {}, 'history: unknown key (did you mean "contentHistory"?)'),
])
def test_config_errors(top, site, message):
    entry = {"type": "content", "URL": "http://a.test/", **site}
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"websites": [entry], **top}))
    assert str(caught.value) == f"config.json: {message}"


def test_the_url_is_required():
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"websites": [{"type": "content"}]}))
    assert str(caught.value) == "config.json: websites[0].URL: is required"


# --- checks of a real page ---------------------------------------------------------------

def test_a_constant_page_learns_then_is_up(server):
    monitor = content_monitor(server.url)
    for index in range(5):
        result = check(monitor)
        assert (result.state, result.detail) == ("up", f"learning ({index + 1} of 5)")
        assert "changed" not in result.metrics  # not judged yet
    for _ in range(3):
        result = check(monitor)
        assert (result.state, result.reason, result.detail) == ("up", None, "")
    assert result.monitor_id == monitor.id and result.code == 200
    assert result.metrics == {"size": len(server.page), "tags": 4 + 4 + 80, "changed": 0.0}


def test_one_more_div_is_still_up(server):
    monitor = content_monitor(server.url)
    learn(monitor)
    server.page = html(extra="<div></div>")
    result = check(monitor)
    assert (result.state, result.detail) == ("up", "")
    assert result.metrics["changed"] == 0.5  # the floor: 5% of 40 tags


def test_scripts_4_to_19_is_a_warning_naming_the_change(server):
    monitor = content_monitor(server.url)
    learn(monitor, 20)
    server.page = html(scripts=19)
    result = check(monitor)
    assert (result.state, result.available, result.warning) == ("warning", True, True)
    assert (result.reason, result.detail, result.code) == ("changed", "<script>: 4 -> 19", 200)
    assert result.metrics["changed"] == 15.0
    # The page changed for good: it enters the history and stops warning (history 20:
    # once it is a tenth of it).
    assert check(monitor).state == "warning"
    assert check(monitor).state == "up"


def test_a_huge_change_is_down_past_fail_deviation(server):
    monitor = content_monitor(server.url, failDeviation=20)
    learn(monitor)
    before = len(server.page)
    server.page = b"<html><body><h1>Down for maintenance</h1></body></html>"
    result = check(monitor)
    assert (result.state, result.reason, result.code) == ("down", "changed", 200)
    assert result.detail == (f"size: {size_text(before)} -> 55 B, <div>: 40 -> 0, <p>: 40 -> 0,"
                             " +1 more")  # and <script>: 4 -> 0
    assert result.metrics["changed"] > 20


def test_a_page_that_cannot_be_fetched_is_the_http_kinds_failure(server):
    down = content_monitor(refused_url())
    result = check(down)
    assert (result.state, result.reason, result.detail) == ("down", "connect",
                                                           "connection refused")
    assert (result.monitor_id, result.code, result.metrics) == (down.id, None, {})
    monitor = content_monitor(server.url, maxBodyBytes=1000)
    result = check(monitor)
    assert (result.reason, result.detail) == ("too_large", "body larger than 1000 bytes")
    server.status = 503
    result = check(content_monitor(server.url))
    assert (result.reason, result.code) == ("http_status", 503)
    assert result.detail == "HTTP 503 Service Unavailable"


def test_a_page_the_parser_refuses_is_an_invalid_response(server, monkeypatch):
    # lexbor takes any bytes as HTML, as a browser does: its failure (out of memory) is an
    # edge no page can reach, so the parser is made to fail here.
    from monitor.checks.content import analysis

    def refuse(body: bytes) -> None:
        raise SelectolaxError("Can't parse HTML.")

    monkeypatch.setattr(analysis, "LexborHTMLParser", refuse)
    result = check(content_monitor(server.url))
    assert (result.state, result.reason, result.code) == ("down", "invalid_response", 200)
    assert result.detail == "the HTML parser failed: Can't parse HTML."


def test_a_failed_fetch_keeps_the_history(server):
    monitor = content_monitor(server.url)
    learn(monitor)
    server.status = 500
    assert check(monitor).reason == "http_status"
    server.status = 200
    assert check(monitor).detail == ""  # judged at once: the history is still there
    server.page = html(scripts=19)
    assert check(monitor).detail == "<script>: 4 -> 19"


def test_checks_of_one_monitor_at_once_each_enter_the_history(server):
    # The scheduler never runs two checks of a monitor at once, but `check` may run beside
    # it, and a reload may bring it back while a check runs.
    monitor = content_monitor(server.url, history=50)
    results = []

    def checks() -> None:
        results.extend(check(monitor).state for _ in range(5))

    threads = [threading.Thread(target=checks) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["up"] * 40
    history = HISTORIES.get(monitor)
    assert history.kept == 40 and history.tags["script"].last(50) == [4] * 40


def test_a_page_over_tls_is_fetched_as_the_http_kind_does(servers, pki):
    trusted = content_monitor(servers["good"].url + "/", caFile=str(pki / "ca.pem"))
    result = check(trusted)
    assert (result.state, result.detail, result.metrics["size"]) == (
        "up", "learning (1 of 5)", 2)
    result = check(content_monitor(servers["self-signed"].url + "/"))
    assert (result.state, result.reason) == ("down", "tls")


def test_ignored_tags_are_not_counted(server):
    monitor = content_monitor(server.url, ignoreTags="script")
    learn(monitor)
    server.page = html(scripts=19)
    result = check(monitor)
    assert (result.state, result.detail) == ("up", "")
    assert result.metrics["tags"] == 4 + 80


# --- the trace of `check` ----------------------------------------------------------------

def test_the_trace_while_learning_shows_the_counts_and_records_nothing(server):
    monitor = content_monitor(server.url)
    result, lines = KIND.debug(monitor)
    assert result.state == "up"
    assert lines[0] == f"hop 0: GET {server.url}"
    assert "  < HTTP/1.0 200 OK" in lines
    size = len(server.page)
    assert re.fullmatch(rf"page: {re.escape(size_text(size))} \({size} bytes\), 88 tags of 7"
                        r" names, parsed in \d+\.\d ms", lines[lines.index(
                            next(x for x in lines if x.startswith("page:")))])
    assert ("tags: <div> 40, <p> 40, <script> 4, <body> 1, <head> 1, <html> 1, <title> 1"
            in lines)
    assert ("history: 0 earlier checks kept in this process (up to 20); judged once 5 are"
            " kept") in lines
    assert lines[-2] == "verdict: up (learning (1 of 5))"
    assert lines[-1].startswith("response time: ")
    assert HISTORIES.get(monitor).kept == 0  # `check` records nothing


def test_the_trace_names_each_count_that_changed_with_its_deviation(server):
    monitor = content_monitor(server.url)
    learn(monitor, 6)
    server.page = html(scripts=19, extra="<div></div>")
    result, lines = KIND.debug(monitor)
    assert result.state == "warning"
    start = lines.index("changes, in standard deviations from the history (warning above 3,"
                        " never down):")
    assert lines[start + 1] == "  <script>: 4 -> 19: 15.0 <- over maxDeviation"
    assert re.fullmatch(r"  size: 10\.2 kB -> 10\.6 kB: 2\.\d", lines[start + 2])
    assert lines[start + 3:] == ["  <div>: 40 -> 41: 0.5", lines[-2], lines[-1]]
    assert lines[-2] == "verdict: warning: changed (<script>: 4 -> 19)"
    assert HISTORIES.get(monitor).kept == 6


def test_the_trace_of_a_page_that_did_not_change_and_of_a_failure(server):
    monitor = content_monitor(server.url, failDeviation=10)
    learn(monitor)
    _, lines = KIND.debug(monitor)
    assert "changes: none, every count and the size as in the history" in lines
    assert lines[-2] == "verdict: up"
    server.page = html(scripts=40)
    result, lines = KIND.debug(monitor)
    assert any(line.startswith("changes, ") and "down above 10" in line for line in lines)
    assert lines[-2] == "verdict: down: changed (<script>: 4 -> 40, size: 10.2 kB -> 11.3 kB)"
    result, lines = KIND.debug(content_monitor(refused_url()))
    assert not any(line.startswith("page:") for line in lines)
    assert lines[-2] == "verdict: down: connect (connection refused)"


# --- as a plugin of an http site ---------------------------------------------------------

def test_the_plugin_watches_the_page_of_every_http_site(server):
    document = {"plugins": ["content"], "contentHistory": 6, "contentFailDeviation": 10,
                "websites": [{"URL": server.url, "name": "shop", "timeout": 2,
                              "headers": {"X-Api-Key": "k3y-secret"}},
                             {"URL": "https://other.test/", "plugins": []}]}
    site, other, monitor = parse_config(json.dumps(document)).monitors
    assert (monitor.id, monitor.kind, monitor.name, monitor.target) == (
        f"{server.url}/content", "content", "shop/content", server.url)
    assert "k3y-secret" in monitor.secrets
    spec = monitor.spec
    assert (spec.history, spec.max_deviation, spec.fail_deviation) == (6, 3.0, 10.0)
    assert spec.http.headers == site.spec.headers == (("X-Api-Key", "k3y-secret"),)
    learn(monitor)
    server.page = html(scripts=9)
    result = check(monitor)
    assert (result.state, result.monitor_id, result.detail) == ("warning", monitor.id,
                                                            "<script>: 4 -> 9")


def test_the_hook_keeps_how_the_site_fetches_but_not_its_conditions(servers, pki):
    document = {"tlsMinDaysLeft": 30, "websites": [{
        "URL": servers["soon"].url + "/", "caFile": str(pki / "ca.pem"), "timeout": 2,
        "maxBodyBytes": 5000, "expect": {"bodyContains": "Welcome"}}]}
    site = parse_config(json.dumps(document)).monitors[0]
    defaults = KIND.defaults(Fields("config.json"), document)
    assert defaults == {"contentHistory": 20, "contentMaxDeviation": 3.0,
                        "contentFailDeviation": None}
    parsed = KIND.plugin(site, defaults)
    assert parsed is not None
    assert (parsed.target, parsed.secrets, parsed.id) == (site.target, site.secrets,
                                                          f"{site.id}/content")
    http = parsed.spec.http
    assert (http.url, http.ca_file, http.max_body_bytes, http.tls_verify) == (
        site.spec.url, site.spec.ca_file, 5000, True)
    assert http.expect is None
    # The site's own check fails its condition and warns of its certificate (5 days
    # left); the page's monitor reports neither: one fault, one monitor.
    assert registry.get("http").run(site, Deadline(time.monotonic() + 2, 2)).reason == \
        "assertion"
    monitor = dataclasses.replace(site, id=parsed.id, kind="content", spec=parsed.spec)
    result = check(monitor)
    assert (result.state, result.reason, result.detail) == ("up", None, "learning (1 of 5)")


def test_the_hook_applies_to_every_http_site_only():
    site = parse_config(json.dumps({"websites": [{"URL": "http://a.test/"}]})).monitors[0]
    parsed = KIND.plugin(site, {})
    assert parsed is not None and parsed.spec.history == 20
    assert KIND.plugin(dataclasses.replace(site, spec="not http"), {}) is None


# --- the http kind's conditions on a content monitor of its own --------------------------

def test_expect_and_certificate_expiry_apply_to_a_content_monitor(server, servers, pki):
    failing = content_monitor(server.url, expect={"bodyContains": "Welcome"})
    result = check(failing)
    assert (result.state, result.reason, result.monitor_id) == ("down", "assertion", failing.id)
    assert result.detail == 'bodyContains "Welcome": not found'
    soon = content_monitor(servers["soon"].url + "/", caFile=str(pki / "ca.pem"))
    result = check(soon)
    assert (result.state, result.reason) == ("warning", "tls_expiry")  # the page is fine
    assert result.detail.startswith("certificate expires in ")
    assert result.metrics == {"size": 2.0, "tags": 3.0}


# --- `check NAME` ------------------------------------------------------------------------

def write_config(tmp_path: Path, sites: list[dict]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"websites": sites}))
    return str(path)


def test_check_name_in_a_new_process_learns(server, tmp_path):
    path = write_config(tmp_path, [{"type": "content", "URL": server.url, "name": "shop"},
                                   {"type": "content", "URL": refused_url(), "name": "gone"}])
    done = run_app(["check", "-c", path, "shop"], tmp_path, timeout=30)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    lines = done.stdout.splitlines()
    assert lines[0] == f"== shop ({server.url}) [content] =="
    assert "  tags: <div> 40, <p> 40, <script> 4, <body> 1, <head> 1, <html> 1, <title> 1" \
        in lines
    assert lines[-3] == "  verdict: up (learning (1 of 5))"
    assert re.fullmatch(r'UP detail="learning \(1 of 5\)" code=200 duration=\d+\.\dms',
                        lines[-1])
    done = run_app(["check", "-c", path, "gone"], tmp_path, timeout=30)
    assert done.returncode == 1
    assert re.fullmatch(r'DOWN reason=connect detail="connection refused" duration=\d+\.\dms',
                        done.stdout.splitlines()[-1])


def test_check_name_beside_the_history_prints_the_counts_that_changed(server, tmp_path):
    # `check` judges against the history of the process it runs in: here, the checks the
    # test ran first, as a monitor's process would have.
    path = write_config(tmp_path, [{"type": "content", "URL": server.url, "name": "shop",
                                    "failDeviation": 20}])
    (monitor,) = load_config(path).monitors
    learn(monitor)
    server.page = html(scripts=19)
    runner = CliRunner()
    result = runner.invoke(main, ["check", "-c", path, "shop"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  changes, in standard deviations from the history (warning above 3, down" \
           " above 20):" in lines
    assert "    <script>: 4 -> 19: 15.0 <- over maxDeviation" in lines
    assert re.fullmatch(r'WARNING reason=changed detail="<script>: 4 -> 19" code=200'
                        r' duration=\d+\.\dms', lines[-1])
    server.page = html(scripts=40)
    result = runner.invoke(main, ["check", "-c", path, "shop"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(
        'DOWN reason=changed detail="<script>: 4 -> 40, size: 10.2 kB -> 11.3 kB" code=200 ')


# --- under the real monitor --------------------------------------------------------------

def test_the_monitor_learns_the_page_and_stores_the_warning(server, tmp_path):
    path = write_config(tmp_path, [{"type": "content", "URL": server.url, "name": "shop",
                                    "checkInterval": 0.1, "history": 10}])
    db = tmp_path / "m.db"
    proc = start(["-m", "-s", "-c", path, "-db", str(db)], tmp_path)

    def rows(where: str = "1") -> list[tuple]:
        return (query(db, "SELECT available, warning, reason, detail, metrics"
                      f" FROM website_monitoring WHERE monitor = ? AND {where} ORDER BY id",
                      f"content:{server.url}")
                if count_checks(db) else [])

    try:
        wait_for(lambda: len(rows("detail IS NULL")) >= 3, 20, "judged checks stored")
        server.page = html(scripts=19)
        wait_for(lambda: rows("reason = 'changed'"), 10, "a check of the changed page")
    finally:
        _, out, err = stop(proc)
    assert err == ""
    stored = rows()
    assert [row[3] for row in stored[:5]] == [f"learning ({i} of 5)" for i in range(1, 6)]
    assert {row[:2] for row in stored[:5]} == {(1, None)}
    available, warning, reason, detail, metrics = rows("reason = 'changed'")[0]
    assert (available, warning, reason, detail) == (1, 1, "changed", "<script>: 4 -> 19")
    assert json.loads(metrics) == {"size": len(server.page), "tags": 103, "changed": 15.0}
