"""The writer's interface on both stores (the `backend` fixture: SQLite's file and a real
PostgreSQL server's database): what tests/store/test_store.py, test_folds.py,
test_rollups.py and test_outbox.py assert about writing, with the same checks and the same
expected rows. What only SQLite has (its file, WAL, locks, migrations) stays there; what
only PostgreSQL has (the server going away) is at the end."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from monitor.core.model import CheckResult
from monitor.store.api import (
    AgentMark,
    AlertRecord,
    CheckBatch,
    Delivery,
    DeliveryDone,
    MonitorRow,
    iso_utc,
)
from monitor.store.codec import MinuteAgg, decode_hist_into
from monitor.store.sqlite.rollups import DAY, HOUR, LATE_HORIZON
from tests.store.postgres.conftest import Backend
from tests.store.test_rollups import expected as expected_rows
from tests.store.test_rollups import expected_metrics, history

BASE = 1_700_000_040.0  # a whole minute
MINUTE = int(BASE // 60)
A = "https://a.example/"
B = "https://b.example/health?x=1"
C = "https://user:secret@c.example/"
DAY0 = 1_790_035_200  # 2026-09-22T00:00:00Z


def check(monitor_id: str, ts: float, available: bool | None = True, status: int | None = 200,
          response_ms: float = 100.0, reason: str | None = None, detail: str = "",
          lateness_ms: float = 0.0, **kwargs) -> CheckResult:
    return CheckResult(monitor_id=monitor_id, timestamp=ts, available=available, code=status,
                       response_ms=response_ms, reason=reason, detail=detail,
                       lateness_ms=lateness_ms, mono=ts - BASE, **kwargs)


def alert(monitor_id: str, at: float, kind: str = "alert", start: float | None = None,
          end: float | None = None, availability: float = 0.5, message: str = "msg",
          deliveries: tuple[Delivery, ...] = ()) -> AlertRecord:
    return AlertRecord(timestamp=iso_utc(at), monitor_id=monitor_id, type=kind,
                       start=iso_utc(at if start is None else start),
                       end=iso_utc(end) if end is not None else None,
                       availability=availability, message=message, deliveries=deliveries)


def expected_agg(checks: list[CheckResult]) -> MinuteAgg:
    agg = MinuteAgg()
    for c in checks:
        agg.add(c.response_ms, c.available, c.code, c.reason, c.warning)
    return agg


def stored(backend: Backend, span: int) -> dict[tuple[str, int], MinuteAgg]:
    return {(monitor_id, start): MinuteAgg.from_row(row) for monitor_id, start, *row in
            backend.read("SELECT monitor, start, checks, up, rt_count, rt_sum, rt_min, rt_max,"
                         " hist, outcomes FROM aggregates WHERE span = ?", span)}


def assert_spans_match(backend: Backend, checks: list[CheckResult]) -> None:
    """Every minute and 10-minute row equals the aggregate of exactly its checks."""
    for span in (60, 600):
        groups: dict[tuple[str, int], list[CheckResult]] = {}
        for c in checks:
            groups.setdefault((c.monitor_id, int(c.timestamp // span) * span), []).append(c)
        assert stored(backend, span) == {key: expected_agg(g) for key, g in groups.items()}


def stored_metrics(backend: Backend, span: int) -> dict[tuple[str, int, str], tuple]:
    out = {}
    for monitor_id, start, metric, count, total, low, high, text in backend.read(
            "SELECT monitor, start, metric, count, sum, min, max, hist FROM metric_aggs"
            " WHERE span = ?", span):
        hist: dict[int, int] = {}
        decode_hist_into(text, hist)
        out[(monitor_id, start, metric)] = (count, total, low, high, hist)
    return out


# -- round trips ---------------------------------------------------------------------------

CHECKS = [
    check(A, BASE + 1.25, True, 200, 123.5, None, "", 3.5, metrics={"dns": 1.5}),
    check(B, BASE + 2.5, False, 503, 45.25, "http_status", "HTTP 503 Service Unavailable"),
    check(C, BASE + 3.75, False, None, 10000.0, "timeout", "no answer in 10 s", 12.0),
    check(A, BASE + 4.0, None, None, 0.0, "maintenance"),
    check(B, BASE + 5.0, True, 200, 9.0, "tls_expiry", "expires in 5 days", warning=True,
          location="eu"),
]
ALERTS = [
    alert(A, BASE + 10, "alert", availability=0.25, message="Website a is down"),
    alert(A, BASE + 70, "recovery", start=BASE + 10, end=BASE + 70, availability=0.875,
          message="Website a has recovered"),
]


def assert_round_trip(backend: Backend) -> None:
    assert [(*row[:9], row[9] and json.loads(row[9]), *row[10:]) for row in backend.read(
        "SELECT timestamp, host, available, status, responseTime, reason, detail, lateness,"
        " monitor, metrics, warning, location FROM website_monitoring ORDER BY id")] == [
        (c.timestamp, c.monitor_id, None if c.available is None else int(c.available), c.code,
         c.response_ms, c.reason, c.detail or None, c.lateness_ms, c.monitor_id,
         c.metrics or None, 1 if c.warning else None,
         None if c.location == "local" else c.location) for c in CHECKS]
    assert backend.read("SELECT timestamp, host, type, startDate, endDate, availability,"
                        " message FROM website_alerts ORDER BY id") == [
        (a.timestamp, a.monitor_id, a.type, a.start, a.end, a.availability, a.message)
        for a in ALERTS]
    assert_spans_match(backend, CHECKS)


def test_round_trip_through_the_writer_thread(backend: Backend) -> None:
    store = backend.make().start()
    for c in CHECKS:
        store.put_check(c)
    for a in ALERTS:
        store.put_alert(a)
    assert store.flush() is True
    assert_round_trip(backend)  # readable while the writer still runs
    store.close()
    assert_round_trip(backend)
    assert store.written == (len(CHECKS), len(ALERTS))


def test_a_synchronous_close_drains_the_queue(backend: Backend) -> None:
    store = backend.make()  # never started
    store.put_checks(CHECKS)
    for a in ALERTS:
        store.put_alert(a)
    store.close()
    assert_round_trip(backend)


def test_set_monitors_marks_removed_monitors_inactive_and_keeps_their_order(
        backend: Backend) -> None:
    store = backend.make()
    store.set_monitors([MonitorRow(A, "http", A, "a", 30.0), MonitorRow(B, "http", B, "b", 60.0)])
    store.set_monitors([MonitorRow(C, "http", "https://c/", "c", 5.0),
                        MonitorRow(B, "http", B, "bee", 15.0)])
    store.put_check(check(C, BASE))  # stored with its target as host
    store.close()
    assert backend.read("SELECT monitor, name, interval, active FROM monitors ORDER BY rowid"
                        ) == [(A, "a", 30.0, 0), (B, "bee", 15.0, 1), (C, "c", 5.0, 1)]
    assert backend.read("SELECT host, monitor FROM website_monitoring") == [("https://c/", C)]


# -- aggregates and states -------------------------------------------------------------------

def random_checks(rng: random.Random, count: int, minutes: int) -> list[CheckResult]:
    out = []
    for _ in range(count):
        ts = BASE + rng.uniform(0, minutes * 60)
        kind = rng.random()
        rt = round(rng.uniform(0.5, 900) * 8) / 8
        if kind < 0.7:
            out.append(check(rng.choice((A, B)), ts, True, 200, rt))
        elif kind < 0.85:
            out.append(check(rng.choice((A, B)), ts, False, 500, rt, "http_status"))
        else:
            out.append(check(rng.choice((A, B)), ts, False, None, rt, "timeout"))
    return out


def test_minute_rows_are_exact_across_batches_and_arrival_order(backend: Backend) -> None:
    checks = random_checks(random.Random(7), 300, 5)
    store = backend.make().start()
    for i, c in enumerate(checks):
        store.put_check(c)
        if i % 37 == 0:
            store.flush()
    store.close()
    assert_spans_match(backend, checks)


def test_evicted_minutes_are_reloaded_not_restarted(backend: Backend) -> None:
    store = backend.make(clock=lambda: BASE + 100_000)
    checks = []
    for minute in range(8):
        batch = [check(A, BASE + minute * 60 + s, s % 2 == 0, 200, 10.0 + s) for s in (1, 2)]
        checks += batch
        store.put_checks(batch)
        store.flush()
    late = [check(A, BASE + 5, False, 500, 77.0, "http_status"), check(A, BASE + 65)]
    checks += late
    store.put_checks(late)
    store.close()
    assert_spans_match(backend, checks)


def test_a_restart_continues_the_minute_in_progress(backend: Backend) -> None:
    first = [check(A, BASE + 1, True, 200, 50.0),
             check(A, BASE + 2, False, 500, 70.0, "http_status"),
             check(A, BASE + 3, False, None, 9000.0, "timeout")]
    second = [check(A, BASE + 30, True, 200, 20.0), check(A, BASE + 40, True, 301, 300.0)]
    for part in (first, second):
        store = backend.make().start()
        store.put_checks(part)
        store.close()
    row = stored(backend, 60)[(A, MINUTE * 60)]
    assert (row.checks, row.up, row.rt_count) == (5, 3, 4)
    assert (row.rt_min, row.rt_max, row.rt_sum) == (20.0, 300.0, 440.0)
    assert row.statuses == {"200": 2, "500": 1, "301": 1}
    assert row.reasons == {"http_status": 1, "timeout": 1}
    assert_spans_match(backend, first + second)


def test_monitor_state_survives_a_restart_and_ignores_late_checks(backend: Backend) -> None:
    store = backend.make()
    store.put_checks([check(A, BASE + 10, True),
                      check(A, BASE + 20, False, None, 5.0, "connect"),
                      check(B, BASE + 10, False, None, 1.0, "dns"),
                      check(B, BASE + 5, True)])  # late OK: B is still down since 10
    store.close()
    store = backend.make()
    store.put_check(check(A, BASE + 30, False, None, 5.0, "connect"))
    store.close()
    assert backend.read("SELECT monitor, last_check, last_ok, last_failure, down_since,"
                        " last_available, last_reason, day_checks, day_up FROM monitor_state"
                        " ORDER BY monitor") == [
        (A, BASE + 30, BASE + 10, BASE + 30, BASE + 20, 0, "connect", 3, 1),
        (B, BASE + 10, BASE + 5, BASE + 10, BASE + 10, 0, "dns", 2, 1)]


def test_monitor_state_follows_the_checks_across_a_wall_clock_step_back(
        backend: Backend) -> None:
    store = backend.make()
    failed = check(A, BASE + 100, False, None, 1.0, "connect")
    store.put_check(failed)
    back = BASE + 100 - 3600
    store.put_check(dataclasses.replace(check(A, back + 1, True), mono=failed.mono + 1))
    store.put_check(dataclasses.replace(check(A, back + 2, True), mono=failed.mono + 2,
                                        metrics={"total": 2.0}))
    store.close()
    assert [(*row[:5], json.loads(row[5])) for row in backend.read(
        "SELECT monitor, last_check, last_ok, last_failure, down_since, last_metrics"
        " FROM monitor_state")] == [(A, back + 2, back + 2, BASE + 100, None, {"total": 2.0})]


def test_the_owner_writes_its_folds_at_a_flush_and_a_writer_beside_it_with_its_rows(
        backend: Backend) -> None:
    owner = backend.make().start()
    owner.put_checks([check(A, BASE + 1), check(A, BASE + 2)])
    assert owner.flush()
    assert backend.read("SELECT value FROM meta WHERE key = 'unfolded'") == []
    owner.close()
    beside = backend.make(rollups=False).start()
    beside.put_check(check(B, BASE + 3))
    assert beside.flush()
    beside.close()
    assert_spans_match(backend, [check(A, BASE + 1), check(A, BASE + 2), check(B, BASE + 3)])


# -- purge -----------------------------------------------------------------------------------

def purge_fixture(store) -> list[CheckResult]:
    checks = [check(monitor_id, BASE + k * 20, k % 3 != 0, 200, 10.0 + k)
              for k in range(18) for monitor_id in (A, B)]
    store.put_checks(checks)
    store.put_alert(alert(A, BASE + 10))
    store.put_alert(alert(A, BASE + 30, "recovery", start=BASE + 10, end=BASE + 30))
    store.put_alert(alert(B, BASE + 10))
    store.put_alert(alert(B, BASE + 300, "recovery", start=BASE + 10, end=BASE + 300))
    store.put_alert(alert(C, BASE + 5))
    return checks


@pytest.mark.parametrize("threaded", [False, True])
def test_purge(backend: Backend, threaded: bool) -> None:
    store = backend.make()
    if threaded:
        store.start()
    checks = purge_fixture(store)
    store.flush()
    store.purge(BASE + 120)
    store.flush()
    assert store.purged == (12, 2)
    assert backend.read("SELECT min(timestamp), count(*) FROM website_monitoring") == [
        (BASE + 120, 24)]
    assert backend.read("SELECT DISTINCT start / 60 FROM aggregates WHERE span = 60"
                        " ORDER BY 1") == [(MINUTE + m,) for m in (2, 3, 4, 5)]
    assert backend.read("SELECT host, type, timestamp FROM website_alerts ORDER BY id") == [
        (A, "recovery", iso_utc(BASE + 30)), (B, "recovery", iso_utc(BASE + 300)),
        (C, "alert", iso_utc(BASE + 5))]
    store.purge(BASE + 130)
    store.flush()
    assert store.purged == (14, 2)
    assert backend.read("SELECT DISTINCT start / 600 FROM aggregates WHERE span = 600") == [
        (int(BASE) // 600,)]
    # The cache forgot purged minutes: a late check there starts a fresh row.
    store.put_check(check(A, BASE + 1, False, 500, 5.0, "http_status"))
    store.close()
    rows = stored(backend, 60)
    assert rows[(A, MINUTE * 60)] == expected_agg([check(A, BASE + 1, False, 500, 5.0,
                                                         "http_status")])
    for monitor_id in (A, B):
        for m in range(MINUTE + 2, MINUTE + 6):
            group = [c for c in checks if c.monitor_id == monitor_id
                     and int(c.timestamp // 60) == m]
            assert rows[(monitor_id, m * 60)] == expected_agg(group)


def test_purge_keeps_each_monitors_latest_row_of_each_group(backend: Backend) -> None:
    store = backend.make()
    for at, kind in enumerate(["alert", "reminder", "warning", "cleared", "warning",
                               "flapping", "settled", "reminder"]):
        store.put_alert(alert(A, BASE + at, kind, start=BASE))
    store.flush()
    store.purge(BASE + 100)
    store.flush()
    assert backend.read("SELECT type, timestamp FROM website_alerts ORDER BY id") == [
        ("warning", iso_utc(BASE + 4)), ("settled", iso_utc(BASE + 6)),
        ("reminder", iso_utc(BASE + 7))]
    store.close()


def test_a_failed_purge_drops_nothing_that_was_written(backend: Backend) -> None:
    messages: list[str] = []
    store = backend.make(on_error=messages.append).start()
    store.put_checks([check(A, BASE + s) for s in range(3)])
    store.purge(BASE - 1e300 * 86400)
    store.put_alert(alert(A, BASE + 3))
    assert store.flush()
    store.close()
    assert backend.read("SELECT count(*) FROM website_monitoring") == [(3,)]
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    assert store.dropped == 0
    assert len(messages) == 1 and messages[0].startswith(f"{store.path}: purge failed: ")


# -- bad rows, a writer behind ---------------------------------------------------------------

def test_a_row_it_can_never_write_costs_that_row_alone(backend: Backend) -> None:
    messages: list[str] = []
    store = backend.make(on_error=messages.append).start()
    store.put_check(check(A, BASE))
    store.put_check(CheckResult(A, BASE + 1, True, object(), 1.0))  # type: ignore[arg-type]
    store.put_alert(alert(A, BASE + 2))
    store.put_check(check(B, BASE + 3))
    store.flush()
    store.put_check(check(A, BASE + 4))
    assert store.flush()
    store.close()
    assert backend.read("SELECT timestamp FROM website_monitoring ORDER BY id") == [
        (BASE,), (BASE + 3,), (BASE + 4,)]
    assert backend.read("SELECT host FROM website_alerts") == [(A,)]
    assert_spans_match(backend, [check(A, BASE), check(B, BASE + 3), check(A, BASE + 4)])
    assert store.dropped == 1
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{store.path}: could not write a check of {A} (")
    assert messages[0].endswith("); dropped")


def test_a_nan_is_dropped_alone_not_held_for_ever(backend: Backend) -> None:
    messages: list[str] = []
    store = backend.make(on_error=messages.append).start()
    store.put_check(check(A, BASE, response_ms=float("nan")))
    store.put_check(check(A, BASE + 1, metrics={"total": float("inf"), "dns": float("nan")}))
    store.put_alert(alert(A, BASE + 2))
    assert store.flush() is True
    store.close()
    assert backend.read("SELECT timestamp FROM website_monitoring") == [(BASE + 1,)]
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    assert store.dropped == 1 and store.unwritten == (0, 0)
    assert len(messages) == 1 and "could not write a check of" in messages[0]


def test_a_writer_that_falls_behind_drops_checks_not_alerts(backend: Backend,
                                                            monkeypatch) -> None:
    from monitor.store.postgres import writer as pg_writer
    from monitor.store.sqlite import writer as sqlite_writer

    module = pg_writer if backend.name == "postgresql" else sqlite_writer
    monkeypatch.setattr(module, "MAX_QUEUED", 5)
    messages: list[str] = []
    store = backend.make(on_error=messages.append)
    for s in range(8):
        store.put_check(check(A, BASE + s))
    store.put_alert(alert(A, BASE + 8))
    assert store.dropped == 3
    assert len(messages) == 1 and "the writer is 5 checks behind" in messages[0]
    store.start()
    assert store.flush()
    store.close()
    assert backend.read("SELECT count(*) FROM website_monitoring") == [(5,)]
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    assert messages[-1].endswith("the writer has caught up; 3 checks dropped so far")


# -- the outbox ------------------------------------------------------------------------------

def test_deliveries_go_with_their_alert_and_their_outcomes_are_recorded(
        backend: Backend) -> None:
    store = backend.make()
    key = "\x00key\x00"
    store.put_alert(alert(A, BASE, deliveries=(Delivery("ops", "alert", f"ALERT {key}", "down"),
                                               Delivery("pager", "alert", "ALERT", "down"))))
    store.put_alert(alert(A, BASE + 60, "recovery", deliveries=(
        Delivery("ops", "recovery", "OK", "up"),)))
    store.put_alert(alert(A, BASE + 120))  # no provider wants it: no outbox row
    store.flush()
    rows = backend.read("SELECT id, alert, key, provider, event, title, attempts FROM outbox"
                        " ORDER BY id")
    assert [row[1:] for row in rows] == [
        (1, "1:ops", "ops", "alert", "ALERT 1:ops", 0), (1, "1:pager", "pager", "alert",
                                                         "ALERT", 0),
        (2, "2:ops", "ops", "recovery", "OK", 0)]
    ops1, pager1, ops2 = (row[0] for row in rows)
    store.put_delivery(DeliveryDone(ops1, at=100.0))
    store.put_delivery(DeliveryDone(ops2, at=100.0, error="HTTP 500", retry_at=160.0))
    store.put_delivery(DeliveryDone(pager1, at=100.0, error="timed out"))
    store.flush()
    store.put_delivery(DeliveryDone(ops1, at=200.0, error="late"))  # already sent: no change
    store.close()
    assert backend.read("SELECT key, attempts, sent, failed, retry_at, error FROM outbox"
                        " ORDER BY id") == [
        ("1:ops", 1, 100.0, None, None, None), ("1:pager", 1, None, 100.0, None, "timed out"),
        ("2:ops", 1, None, None, 160.0, "HTTP 500")]


def test_a_purge_takes_the_messages_and_acks_of_the_alerts_it_deletes(
        backend: Backend) -> None:
    from monitor.store.api import Ack

    store = backend.make()
    store.put_alert(alert(A, BASE, deliveries=(Delivery("ops", "alert", "t", "b"),)))
    store.put_alert(alert(A, BASE + 10, "recovery", deliveries=(
        Delivery("ops", "recovery", "t", "b"),)))
    store.flush()
    store.put_ack(Ack(1, A, BASE + 1, "local"))
    store.put_ack(Ack(1, A, BASE + 2, "someone else"))  # the first ack stays
    store.flush()
    assert backend.read("SELECT alert, by FROM acks") == [(1, "local")]
    store.purge(BASE + 100)
    store.close()
    assert backend.read("SELECT key FROM outbox") == [("2:ops",)]
    assert backend.read("SELECT count(*) FROM acks") == [(0,)]


# -- agents' marks ---------------------------------------------------------------------------

def test_an_agents_batch_is_stored_once_with_its_mark(backend: Backend) -> None:
    store = backend.make().start()
    mark = AgentMark("eu-1", "uuid-1", 3, "eu", (1, 2, 3))
    rows = [check(A, BASE + s, location="eu") for s in range(3)]
    store.put_checks(rows, mark)
    store.put_checks(rows, mark)  # the same batch again: stores nothing twice
    # Overlapping rows: only the new one is stored.
    store.put_checks([check(A, BASE + 2, location="eu"), check(A, BASE + 3, location="eu")],
                     AgentMark("eu-1", "uuid-1", 4, "eu", (3, 4)))
    assert store.flush()
    store.close()
    assert backend.read("SELECT timestamp, location FROM website_monitoring ORDER BY id") == [
        (BASE + s, "eu") for s in range(4)]
    assert backend.read("SELECT name, instance, upto, location FROM agents") == [
        ("eu-1", "uuid-1", 4, "eu")]
    assert store.written.checks == 8  # the resent ones count as written
    assert_spans_match(backend, [check(A, BASE + s) for s in range(4)])


def test_a_mark_alone_never_goes_back(backend: Backend) -> None:
    store = backend.make()
    store.put_checks([], AgentMark("us-1", "i", 10, "us"))
    store.put_checks(CheckBatch([], AgentMark("us-1", "i", 4, "us")),
                     AgentMark("us-1", "i", 4, "us"))
    store.close()
    assert backend.read("SELECT upto FROM agents") == [(10,)]


# -- rollups ---------------------------------------------------------------------------------

def feed(backend: Backend, checks: list[CheckResult], now: list[float],
         restart_at: float | None = None) -> None:
    store = backend.make(clock=lambda: now[0])
    try:
        for i in range(0, len(checks), 40):
            part = checks[i:i + 40]
            if restart_at is not None and part[0].timestamp >= restart_at:
                restart_at = None
                store.close()
                store = backend.make(clock=lambda: now[0])
            now[0] = part[-1].timestamp + 1
            store.put_checks(part)
            assert store.flush()
    finally:
        store.close()


def test_the_writer_rolls_hours_from_blocks_and_days_from_hours(backend: Backend) -> None:
    checks = history(DAY0 - 5 * HOUR, DAY0 + DAY + 3 * HOUR)
    feed(backend, checks, [0.0], restart_at=DAY0 + 7.5 * HOUR)
    end = checks[-1].timestamp + 1
    rolled = int((end - LATE_HORIZON) // HOUR * HOUR)
    assert [int(v) for (v,) in backend.read(
        "SELECT value FROM meta WHERE key = 'rolled_until'")] == [rolled]
    assert stored(backend, HOUR) == expected_rows(checks, HOUR, rolled)
    assert stored(backend, DAY) == expected_rows(
        [c for c in checks if c.timestamp < rolled], DAY, DAY0 + 3 * DAY)
    assert stored_metrics(backend, HOUR) == expected_metrics(checks, HOUR, rolled)
    assert stored_metrics(backend, DAY) == expected_metrics(
        [c for c in checks if c.timestamp < rolled], DAY, DAY0 + 3 * DAY)
    # The day rolled up whole has its uptime packed.
    (counts,) = backend.read("SELECT counts FROM uptime_days WHERE monitor = ?",
                             checks[0].monitor_id)[0]
    assert bytes(counts) != bytes(256)


def test_a_check_written_after_its_hour_was_rolled_counts_in_hour_and_day(
        backend: Backend) -> None:
    checks = history(DAY0, DAY0 + 5 * HOUR)
    feed(backend, checks, [0.0])
    later = DAY0 + 5 * HOUR + 2 * LATE_HORIZON
    late = [CheckResult(checks[0].monitor_id, DAY0 + HOUR + 30, False, 500,
                        12.25, "http_status", metrics={"ttfb": 3.5})]
    for put in ([], late):
        store = backend.make(clock=lambda: later)
        store.put_checks(put)
        assert store.flush()
        store.close()
    every = checks + late
    assert stored(backend, HOUR) == expected_rows(every, HOUR, DAY0 + 5 * HOUR)
    assert stored(backend, 600) == expected_rows(every, 600, DAY0 + 5 * HOUR)
    assert stored_metrics(backend, HOUR) == expected_metrics(every, HOUR, DAY0 + 5 * HOUR)


# -- PostgreSQL only: a crash, the server going away -------------------------------------------

_CRASH = textwrap.dedent("""
    import os, sys, time
    from monitor.core.model import CheckResult
    from monitor.store.postgres.writer import Store
    url, start = sys.argv[1], float(sys.argv[2])
    store = Store(url).start()
    store.put_checks([CheckResult("a", start + i, i % 7 != 0, 200, 10.0 + i, mono=i)
                      for i in range(1)])
    assert store.flush(30)
    store.put_checks([CheckResult("a", start + i, i % 7 != 0, 200, 10.0 + i, mono=i)
                      for i in range(1, 40)])
    while store.written.checks < 40:
        time.sleep(0.001)
    os._exit(0)
""")


def test_a_crash_before_the_folds_are_written_loses_no_count(postgres_url: str) -> None:
    from monitor.store.postgres.writer import Store

    start = float(int(time.time() // 60) * 60 - 120)
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", _CRASH, postgres_url, str(start)], check=True,
                   cwd=root, timeout=60)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'unfolded'").fetchone()
        assert conn.execute("SELECT sum(checks) FROM aggregates WHERE span = 60"
                            ).fetchone()[0] < 40
    store = Store(postgres_url).start()
    assert store.flush(30)
    store.close()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT sum(checks), sum(up) FROM aggregates WHERE span = 60"
                            ).fetchone() == (40, 34)
        assert conn.execute("SELECT last_check, day_checks, day_up FROM monitor_state"
                            ).fetchone() == (start + 39, 40, 34)
        assert conn.execute("SELECT value FROM meta WHERE key = 'unfolded'").fetchone() is None


def test_rows_are_held_while_the_server_refuses_and_written_when_it_is_back(
        postgres_server, postgres_url: str) -> None:
    from monitor.store.postgres.writer import Store

    name = postgres_url.rsplit("/", 1)[1]
    messages: list[str] = []
    store = Store(postgres_url, on_error=messages.append).start()
    first = [check(A, BASE + s) for s in range(5)]
    store.put_checks(first)
    assert store.flush()
    # The server takes no new connection to the database and drops the writer's.
    postgres_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    postgres_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          f" WHERE datname = '{name}'")
    second = [check(A, BASE + 10 + s, False, 500, 5.0, "http_status") for s in range(4)]
    store.put_checks(second)
    store.put_alert(alert(A, BASE + 11))
    assert store.flush() is False
    assert store.refusing
    assert len(messages) == 1 and "cannot write" in messages[0], messages
    postgres_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    store.put_check(check(A, BASE + 30))
    assert store.flush() is True
    store.close()
    assert messages[1:] == [f"{store.path}: writing resumed"]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM website_monitoring").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM website_alerts").fetchone() == (1,)
    assert store.dropped == 0


def test_a_password_in_the_url_is_never_said(postgres_server) -> None:
    from monitor.core.errors import StoreError
    from monitor.store.postgres.writer import Store

    with pytest.raises(StoreError) as info:
        Store(f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_server.port}/missing_db")
    assert "s3cret-pw" not in str(info.value)
