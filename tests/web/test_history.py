"""A monitor's checks and stats through the API, over rows written by the real Store: every
field, the pages, the windows, the figures equal to the terminal's, and each problem."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from monitor.core.model import CheckResult
from monitor.render.report import window_report
from monitor.stats import window_start, window_stats
from monitor.store.api import MonitorRow, iso_utc
from tests.support.db import query, reading
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"
SITE = "http://u:***@127.0.0.1:9/"  # the id of the site below, its password masked
DOCUMENT = {"monitors": [{"URL": "http://u:s3cretpass@127.0.0.1:9/", "name": "site"},
                         {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "port"}]}
PORT = "tcp:127.0.0.1:9"
NOW = float(int(time.time() // 60 * 60) + 30)  # half a minute into the current minute


def checks_url(monitor_id: str, **params: Any) -> str:
    query_string = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}/checks?{query_string}"


def stats_url(monitor_id: str, window: str | None = None) -> str:
    tail = "" if window is None else f"?window={window}"
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}/stats{tail}"


@pytest.fixture()
def web(make_web: Any) -> Any:
    web = make_web(DOCUMENT)
    web.context.clock = lambda: NOW
    web.store.set_monitors([MonitorRow(SITE, "http", SITE, "site"),
                            MonitorRow(PORT, "tcp", "127.0.0.1:9", "port")])
    return web


def test_a_monitors_checks_newest_first_with_every_field(web: Any) -> None:
    web.store.put_check(CheckResult(SITE, NOW - 20, True, 200, 12.5, lateness_ms=0.5,
                                    metrics={"dns": 1.5, "total": 12.5}))
    web.store.put_check(CheckResult(PORT, NOW - 15, False, None, 3.0, "connect", "refused"))
    # A detail that holds the password (a row from before it was masked): masked here.
    web.store.put_check(CheckResult(SITE, NOW - 10, False, 503, 8.0, "http_status",
                                    "HTTP 503 from s3cretpass"))
    web.store.put_check(CheckResult(SITE, NOW - 5, None, None, 0.0, "maintenance",
                                    "in maintenance; up"))
    web.store.flush()
    answer = web.client.get(checks_url(SITE))
    assert answer.status_code == 200
    body = answer.json
    assert body["monitor"] == SITE and body["nextUntil"] is None
    assert [c["timestamp"] for c in body["checks"]] == [NOW - 5, NOW - 10, NOW - 20]
    maintenance, down, up = body["checks"]
    assert up == {"id": 1, "time": iso_utc(NOW - 20), "timestamp": NOW - 20, "up": True,
                  "status": 200, "responseTime": 12.5, "reason": None, "detail": None,
                  "lateness": 0.5, "metrics": {"dns": 1.5, "total": 12.5}, "warning": False,
                  "location": "local"}
    assert (down["up"], down["status"], down["reason"]) == (False, 503, "http_status")
    assert down["detail"] == "HTTP 503 from ***"
    assert (maintenance["up"], maintenance["reason"]) == (None, "maintenance")
    assert "s3cretpass" not in answer.get_data(as_text=True)


def test_a_time_range_and_pages_that_follow_each_other(web: Any) -> None:
    for i in range(25):
        web.store.put_check(CheckResult(PORT, NOW - 100 + i, i % 4 != 0, 0, 1.0))
    web.store.flush()
    # since inclusive, until exclusive, as epoch seconds or ISO-8601.
    answer = web.client.get(checks_url(PORT, since=NOW - 90, until=iso_utc(NOW - 85)))
    assert [c["timestamp"] for c in answer.json["checks"]] == [NOW - 86, NOW - 87, NOW - 88,
                                                               NOW - 89, NOW - 90]
    seen: list[float] = []
    until: float | None = None
    while True:
        params: dict[str, Any] = {"limit": 10}
        if until is not None:
            params["until"] = repr(until)
        body = web.client.get(checks_url(PORT, **params)).json
        seen += [c["timestamp"] for c in body["checks"]]
        until = body["nextUntil"]
        if until is None:
            break
    assert seen == [NOW - 100 + i for i in reversed(range(25))]


def test_a_monitor_only_the_database_knows_has_its_history(web: Any) -> None:
    # Removed from the config, kept in the database's list of monitors: still readable.
    web.store.set_monitors([MonitorRow("tcp:10.0.0.1:25", "tcp", "10.0.0.1:25")])
    web.store.put_check(CheckResult("tcp:10.0.0.1:25", NOW - 1, True, 0, 1.0))
    web.store.flush()
    answer = web.client.get(checks_url("tcp:10.0.0.1:25"))
    assert answer.status_code == 200 and len(answer.json["checks"]) == 1


@pytest.mark.parametrize("params, parameter, detail", [
    ({"since": "yesterday"}, "since", "since: 'yesterday' is not a time: give ISO-8601"),
    ({"until": "2026-13-01"}, "until", "until: '2026-13-01' is not a time"),
    ({"since": "-5"}, "since", "is not a time"),
    ({"since": "0001-01-01"}, "since", "is not a time"),
    ({"until": "9999-12-31T23:59:59-23:59"}, "until", "is not a time"),
    ({"limit": "0"}, "limit", "limit: '0' is not a whole number from 1 to 10000"),
    ({"limit": "10001"}, "limit", "from 1 to 10000"),
    ({"limit": "ten"}, "limit", "limit: 'ten' is not a whole number"),
    ({"since": "2026-01-02", "until": "2026-01-01"}, "until", "until: must be after since"),
])
def test_bad_parameters_are_400_naming_the_parameter(web: Any, params: dict, parameter: str,
                                                     detail: str) -> None:
    answer = web.client.get(checks_url(PORT, **params))
    assert answer.status_code == 400 and answer.mimetype == PROBLEM
    assert answer.json["parameter"] == parameter and detail in answer.json["detail"]


def test_an_unknown_monitor_is_404(web: Any) -> None:
    for url in (checks_url("tcp:nowhere:1"), stats_url("tcp:nowhere:1")):
        answer = web.client.get(url)
        assert answer.status_code == 404 and answer.mimetype == PROBLEM
        assert answer.json["detail"] == ("no monitor has the id 'tcp:nowhere:1', in the"
                                         " config or in the database")


@pytest.mark.parametrize("url", [checks_url(PORT), stats_url(PORT)])
def test_reading_history_needs_a_token_of_either_scope(make_web: Any, url: str) -> None:
    web = make_web(DOCUMENT, tokens=True, public_read=True)
    assert web.client.get(url).status_code == 401  # not what a status page shows
    assert web.client.get(url, headers=bearer(READ_TOKEN)).status_code == 200
    assert web.client.get(url, headers=bearer(WRITE_TOKEN)).status_code == 200


# -- stats ----------------------------------------------------------------------------------

def write_day(web: Any) -> None:
    """A day of the site's checks, one a minute, every fifth down (503), and the port's, in
    the order they were made."""
    for minute in reversed(range(1, 24 * 60)):
        at = NOW - minute * 60
        if minute % 5:
            web.store.put_check(CheckResult(SITE, at, True, 200, 10.0 + minute % 90,
                                            metrics={"dns": 1.0, "ttfb": 5.0 + minute % 7}))
        else:
            web.store.put_check(CheckResult(SITE, at, False, 503, 4.0, "http_status",
                                            "HTTP 503"))
        web.store.put_check(CheckResult(PORT, at, True, 0, 2.0))
    web.store.flush()


@pytest.mark.parametrize("window, seconds", [("10m", 600), ("1h", 3600), ("24h", 86400),
                                             ("7d", 7 * 86400), ("365d", 365 * 86400)])
def test_stats_are_the_terminals_figures_for_the_same_window(web: Any, window: str,
                                                             seconds: int) -> None:
    write_day(web)
    body = web.client.get(stats_url(SITE, window)).json
    start = window_start(NOW, seconds)
    with reading(web.db_path) as reader:
        terminal = window_stats(reader, start, NOW, [SITE, PORT])[SITE]
        printed = window_report(reader, seconds, NOW, {SITE: "site", PORT: "port"})
    assert (body["window"], body["from"], body["until"]) == (window, iso_utc(start),
                                                             iso_utc(NOW))
    assert body["checks"] == terminal.checks > 0
    assert body["availability"] == terminal.availability
    assert body["responseTime"] == {"min": terminal.rt_min, "avg": terminal.rt_avg,
                                    "max": terminal.rt_max, "p50": terminal.p50,
                                    "p90": terminal.p90, "p99": terminal.p99}
    assert body["statuses"] == terminal.statuses and body["reasons"] == terminal.reasons
    assert body["phases"] == {name: {"p50": p50, "p90": p90}
                              for name, (p50, p90) in terminal.phases.items()}
    assert body["sinceFailure"] == terminal.since_failure
    assert body["downFor"] == terminal.down_for
    # What the terminal prints for the site is these figures.
    (row,) = [line for line in printed.splitlines() if line.startswith("site ")]
    assert f"{terminal.availability:.1%}" in row


def test_stats_count_what_the_stored_checks_say(web: Any) -> None:
    write_day(web)
    body = web.client.get(stats_url(SITE)).json  # 24h by default
    # From the start of the minute a day ago: every check written but the first one.
    down = len(range(5, 24 * 60, 5))
    assert body["checks"] == 24 * 60 - 1
    assert body["availability"] == (24 * 60 - 1 - down) / (24 * 60 - 1)
    assert body["statuses"] == {"200": 24 * 60 - 1 - down, "503": down}
    assert body["reasons"] == {"http_status": down}
    assert body["lastFailure"] == iso_utc(NOW - 5 * 60)
    assert body["downSince"] is None and body["downFor"] is None


def test_long_windows_read_the_rollups_not_the_raw_checks(web: Any) -> None:
    # Checks of 100 days ago, their raw rows purged since (every tier of aggregates kept):
    # the 365-day stats still count them.
    for i in range(30):
        web.store.put_check(CheckResult(PORT, NOW - 100 * 86400 + i * 60, i % 3 != 0, 0, 2.0))
    web.store.flush()
    web.store.purge(NOW - 86400, {60: None, 600: None, 3600: None, 86400: None})
    web.store.flush()
    assert query(web.db_path, "SELECT count(*) FROM website_monitoring")[0][0] == 0
    body = web.client.get(stats_url(PORT, "365d")).json
    assert body["checks"] == 30 and body["availability"] == 20 / 30
    assert web.client.get(stats_url(PORT, "90d")).json["checks"] == 0


def test_a_monitor_without_checks_has_empty_stats(web: Any) -> None:
    body = web.client.get(stats_url(PORT, "1h")).json
    assert body["checks"] == 0 and body["availability"] is None
    assert body["responseTime"] == dict.fromkeys(("min", "avg", "max", "p50", "p90", "p99"))


def test_a_window_not_offered_is_400(web: Any) -> None:
    answer = web.client.get(stats_url(PORT, "2d"))
    assert answer.status_code == 400 and answer.json["parameter"] == "window"
    assert answer.json["detail"] == "window: '2d' is not one of 10m, 1h, 24h, 7d, 30d, 90d, 365d"
