"""`Reader.located_checks` on both stores (the `backend` fixture): a few monitors' checks of
a recent range with their locations, by time, what the views replay the alert rules on to
split a monitor checked from several locations (monitor.engine.locations); a read of at
most `scan` rows of the table, which then says from when its rows are all there."""

from __future__ import annotations

from monitor.core.model import LOCAL, CheckResult
from monitor.store.located import LocatedCheck
from tests.store.conftest import Backend
from tests.store.test_agents import T, written


def result(monitor: str, at: float, location: str = LOCAL, up: bool | None = True,
           warning: bool = False, reason: str | None = None) -> CheckResult:
    if reason is None and up is False:
        reason = "http_status"
    return CheckResult(monitor, at, up, None if up is None else 200 if up else 503, 10.0 + at - T,
                       reason, "", warning=warning, location=location)


def test_the_checks_of_the_monitors_asked_about_in_the_range_by_time_with_their_location(
        backend: Backend) -> None:
    written(backend, ([
        result("web", T + 3, "eu", up=False),
        result("web", T + 1, LOCAL),  # written after a later one: read in time order
        result("other", T + 2, "eu"),
        result("web", T + 2, "us", warning=True, reason="tls_expiry"),
        result("web", T + 4, "eu", up=None, reason="maintenance"),
        result("web", T - 5, "eu"),  # before the range
        result("web", T + 60, "eu"),  # after it
        result("api", T + 5, "us"),
    ], None))
    reader = backend.reader()
    read = reader.located_checks(["web", "api"], T, T + 10)
    assert read.since == T
    assert read.checks == [
        LocatedCheck("web", T + 1, LOCAL, True, False, 200, 11.0, None),
        LocatedCheck("web", T + 2, "us", True, True, 200, 12.0, "tls_expiry"),
        LocatedCheck("web", T + 3, "eu", False, False, 503, 13.0, "http_status"),
        LocatedCheck("web", T + 4, "eu", None, False, None, 14.0, "maintenance"),
        LocatedCheck("api", T + 5, "us", True, False, 200, 15.0, None)]
    assert reader.located_checks([], T, T + 10).checks == []
    assert reader.located_checks(["web"], T + 100, T + 200).checks == []
    # Both ends of the range are in it.
    assert [c.timestamp for c in reader.located_checks(["web"], T + 2, T + 3).checks] == [
        T + 2, T + 3]


def test_a_range_of_more_rows_than_a_read_walks_is_read_from_its_newest_and_says_from_when(
        backend: Backend) -> None:
    written(backend, ([result("web" if i % 2 else "db", T + i, "eu" if i % 3 else "us")
                       for i in range(100)], None))
    reader = backend.reader()
    whole = reader.located_checks(["web"], T, T + 100)
    assert whole.since == T and [c.timestamp for c in whole.checks] == [
        T + i for i in range(1, 100, 2)]
    cut = reader.located_checks(["web"], T, T + 100, scan=10)
    # The newest 10 rows of the table: from T + 90 on, the range's rows all there.
    assert cut.since == T + 90
    assert [c.timestamp for c in cut.checks] == [T + i for i in range(91, 100, 2)]
    assert [c.location for c in cut.checks] == [
        "eu" if i % 3 else "us" for i in range(91, 100, 2)]


def test_rows_written_late_are_read_with_the_rest_of_their_range(backend: Backend) -> None:
    # The server's own checks written as they come; an agent's of the same range written
    # after them all (its outbox sent once the server was back): read all the same, by time.
    written(backend, ([result("web", T + i) for i in range(0, 60, 10)], None),
                     ([result("web", T + i + 5, "eu", up=False) for i in range(0, 60, 10)],
                      None))
    reader = backend.reader()
    read = reader.located_checks(["web"], T, T + 100)
    assert [(c.timestamp - T, c.location) for c in read.checks] == [
        (i + shift, location) for i in range(0, 60, 10)
        for shift, location in ((0, LOCAL), (5, "eu"))]
