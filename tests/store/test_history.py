"""The history reads (a monitor's checks a bounded page at a time, alert rows with whether
open and their ack) and acknowledgements, written through the real writer of both stores
(the `backend` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from monitor.core.model import CheckResult
from monitor.stats import window_stats
from monitor.store.api import Ack, AlertRecord, MonitorRow, Range, RawPiece, iso_utc
from monitor.store.history import END_OF_TIME, AckRow
from tests.store.conftest import Backend, reading

T0 = 1_790_000_000.0


@pytest.fixture()
def store(backend: Backend) -> Iterator[Any]:
    store = backend.make()
    store.set_monitors([MonitorRow("a", "http", "http://a/"), MonitorRow("b", "tcp", "b:1")])
    store.backend = backend  # the test's reads of its tables
    yield store
    store.close()


def alert(monitor: str, kind: str, at: float, start: float | None = None) -> AlertRecord:
    return AlertRecord(iso_utc(at), monitor, kind, iso_utc(start if start is not None else at),
                       iso_utc(at) if kind == "recovery" else None, 0.5, f"{kind} of {monitor}")


def test_a_monitors_checks_newest_first_with_every_field(store: Any) -> None:
    store.put_check(CheckResult("a", T0, True, 200, 12.5, lateness_ms=1.5,
                                metrics={"dns": 1.0, "total": 12.5}))
    store.put_check(CheckResult("b", T0 + 1, False, None, 3.0, "connect", "refused"))
    store.put_check(CheckResult("a", T0 + 2, False, 503, 8.0, "http_status", "HTTP 503"))
    store.put_check(CheckResult("a", T0 + 3, None, None, 0.0, "offline", "monitor offline"))
    store.put_check(CheckResult("a", T0 + 4, True, 200, 9.0, "tls_expiry", "in 3 days",
                                warning=True))
    store.flush()
    with reading(store) as reader:
        page = reader.checks_page("a", 0.0, END_OF_TIME, 100)
    assert page.next_until is None
    assert [c.timestamp for c in page.checks] == [T0 + 4, T0 + 3, T0 + 2, T0]
    warned, unknown, down, up = page.checks
    assert (up.available, up.status, up.response_ms, up.reason, up.detail, up.lateness_ms,
            dict(up.metrics), up.warning) == (True, 200, 12.5, None, None, 1.5,
                                               {"dns": 1.0, "total": 12.5}, False)
    assert (down.available, down.status, down.reason, down.detail) == (
        False, 503, "http_status", "HTTP 503")
    assert unknown.available is None and unknown.reason == "offline"
    assert warned.available is True and warned.warning and warned.reason == "tls_expiry"


def test_pages_follow_each_other_without_a_gap_or_a_repeat(store: Any) -> None:
    for i in range(30):
        store.put_check(CheckResult("a" if i % 3 else "b", T0 + i, True, 200, 1.0))
    store.flush()
    expected = [T0 + i for i in reversed(range(30)) if i % 3]
    with reading(store) as reader:
        seen: list[float] = []
        until = END_OF_TIME
        while True:
            page = reader.checks_page("a", T0 + 1, until, 7)
            seen += [c.timestamp for c in page.checks]
            if page.next_until is None:
                break
            until = page.next_until
        assert seen == expected
        # A range: since inclusive, until exclusive.
        page = reader.checks_page("a", T0 + 4, T0 + 10, 100)
        assert [c.timestamp for c in page.checks] == [T0 + 8, T0 + 7, T0 + 5, T0 + 4]


def test_a_page_walks_a_bounded_number_of_rows_and_says_where_to_go_on(store: Any) -> None:
    # "a" checked once among many "b" rows: a walk of 10 rows finds none, and goes on.
    store.put_check(CheckResult("a", T0, True, 200, 1.0))
    for i in range(1, 25):
        store.put_check(CheckResult("b", T0 + i, True, 200, 1.0))
    store.flush()
    history = store.backend.module("history")
    with reading(store) as reader:
        first = history.checks_page(reader.conn, "a", 0.0, END_OF_TIME, 100, scan=10)
        assert first.checks == [] and first.next_until == T0 + 15
        second = history.checks_page(reader.conn, "a", 0.0, first.next_until, 100, scan=10)
        assert second.checks == [] and second.next_until == T0 + 5
        third = history.checks_page(reader.conn, "a", 0.0, second.next_until, 100, scan=10)
        assert [c.timestamp for c in third.checks] == [T0] and third.next_until is None


def test_monitors_known_to_the_database(store: Any) -> None:
    store.flush()
    with reading(store) as reader:
        assert reader.knows_monitor("a") and reader.knows_monitor("b")
        assert not reader.knows_monitor("c")


def test_alert_rows_newest_first_filtered_and_paged(store: Any) -> None:
    store.put_alert(alert("a", "alert", T0))
    store.put_alert(alert("b", "warning", T0 + 1))
    store.put_alert(alert("a", "reminder", T0 + 2, T0))
    store.put_alert(alert("a", "recovery", T0 + 3, T0))
    store.put_alert(alert("a", "alert", T0 + 4))
    store.flush()
    with reading(store) as reader:
        rows = reader.alert_entries(None, None, 0, None, 100)
        assert [(r.id, r.type) for r in rows] == [(5, "alert"), (4, "recovery"),
                                                  (3, "reminder"), (2, "warning"), (1, "alert")]
        # An alert row is open until a later alert or recovery of its monitor.
        assert [r.open for r in rows] == [True, None, None, None, False]
        assert rows[0].start == iso_utc(T0 + 4) and rows[1].end == iso_utc(T0 + 3)
        assert [r.id for r in reader.alert_entries("a", None, 0, None, 100)] == [5, 4, 3, 1]
        assert [r.id for r in reader.alert_entries(None, "alert", 0, None, 100)] == [5, 1]
        assert [r.id for r in reader.alert_entries(None, None, 0, 4, 2)] == [3, 2]
        # After an id: the rows just after it (none skipped), newest first.
        assert [r.id for r in reader.alert_entries(None, None, 1, None, 2)] == [3, 2]
        assert reader.alert_entry(5) == rows[0]
        assert reader.alert_entry(6) is None


def test_an_ack_is_stored_once_read_with_its_alert_and_purged_with_it(store: Any) -> None:
    store.put_alert(alert("a", "alert", T0))
    store.put_alert(alert("a", "recovery", T0 + 10, T0))
    store.put_alert(alert("a", "alert", T0 + 20))
    store.flush()
    store.put_ack(Ack(1, "a", T0 + 5, "ci"))
    store.put_ack(Ack(1, "a", T0 + 6, "other"))  # the first stays
    store.put_ack(Ack(3, "a", T0 + 25, "local"))
    store.flush()
    with reading(store) as reader:
        entry = reader.alert_entry(1)
        assert entry is not None and entry.ack == AckRow(1, "a", T0 + 5, "ci")
        assert reader.acked_starts(["a", "b"]) == {"a": {iso_utc(T0), iso_utc(T0 + 20)}}
        assert reader.acked_starts(["b"]) == {}
    # Alerts older than the purge go, with their acks; each monitor's latest rows stay.
    store.purge(T0 + 15)
    store.flush()
    assert store.backend.read("SELECT alert FROM acks") == [(3,)]


@pytest.mark.parametrize("start, end", [(T0 - 3600, T0 + 3600), (T0 - 1234.5, T0 + 777.25)])
def test_the_stats_of_one_monitor_read_alone_are_its_stats_among_all(store: Any, start: float,
                                                                     end: float) -> None:
    # Read alone (the API's one monitor), with minutes and raw pieces at the edges alike.
    for i in range(-300, 300):
        for monitor in ("a", "b"):
            up = (i + len(monitor)) % 7 != 0
            store.put_check(CheckResult(monitor, T0 + i * 10.5, up, 200 if up else 503,
                                        5.0 + i % 40, None if up else "http_status",
                                        metrics={"dns": 1.0 + i % 5}))
    store.flush()
    with reading(store) as reader:
        among_all = window_stats(reader, start, end)
        for monitor in ("a", "b"):
            alone = window_stats(reader, start, end, [monitor], narrow=True)
            assert alone == {monitor: among_all[monitor]}
            assert alone[monitor].checks > 100 and alone[monitor].phases
        pieces = ([Range(60, 0, 2 ** 40)], [RawPiece(T0, T0 + 100, False)])
        assert [row.monitor_id for row in reader.window_rows(*pieces, ["b"])] == ["b"]
        assert {row.monitor_id for row in reader.metric_rows(*pieces, ["b"])} == {"b"}
        assert [row.monitor_id for row in reader.window_rows(*pieces)] == ["a", "b"]
