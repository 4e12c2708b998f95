"""The store, on real SQLite files and real PostgreSQL databases (the `backend` fixture):
writer thread, aggregates kept while writing, restarts, purges, rows it cannot write; and,
SQLite's alone, its file: schema, modes, WAL, migrations, a lock or a damage refusing writes."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.core.errors import StoreError
from monitor.core.model import CheckResult
from monitor.store import holding as holding_mod
from monitor.store import writing
from monitor.store.api import AlertRecord, MonitorRow, iso_utc, parse_iso
from monitor.store.codec import MinuteAgg
from monitor.store.sqlite.connection import open_writer_connection
from monitor.store.sqlite.migrations import SCHEMA_4
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store
from tests.store.conftest import Backend, sqlite_backend
from tests.support.db import reading

BASE = 1_700_000_040.0  # a whole minute (28333334 * 60)
MINUTE = int(BASE // 60)
A = "https://a.example/"
B = "https://b.example/health?x=1"
C = "https://user:secret@c.example/"


def check(monitor_id: str, ts: float, available: bool | None = True, status: int | None = 200,
          response_ms: float = 100.0, reason: str | None = None, detail: str = "",
          lateness_ms: float = 0.0, **kwargs: Any) -> CheckResult:
    return CheckResult(monitor_id=monitor_id, timestamp=ts, available=available, code=status,
                       response_ms=response_ms, reason=reason, detail=detail,
                       lateness_ms=lateness_ms, mono=ts - BASE, **kwargs)


def alert(monitor_id: str, at: float, kind: str = "alert", start: float | None = None,
          end: float | None = None, availability: float = 0.5,
          message: str = "msg") -> AlertRecord:
    return AlertRecord(timestamp=iso_utc(at), monitor_id=monitor_id, type=kind,
                       start=iso_utc(at if start is None else start),
                       end=iso_utc(end) if end is not None else None,
                       availability=availability, message=message)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
def make_store() -> Iterator[Callable[..., Store]]:
    """Stores made through this are closed at the end of the test, whatever happens."""
    made: list[Store] = []

    def make(path: Path, **kwargs) -> Store:
        made.append(Store(path, **kwargs))
        return made[-1]

    yield make
    for store in made:
        store.close()


def read(path: Path, sql: str, args: tuple = ()) -> list[tuple]:
    # The rows as the writer left them (its tables and their columns are under test here),
    # after open_reader has brought the file up to date as every reader does.
    conn = open_reader(path).conn
    try:
        return list(conn.execute(sql, args))
    finally:
        conn.close()


def minute_row(backend: Backend, minute: int, monitor_id: str) -> MinuteAgg | None:
    rows = backend.read("SELECT checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
                        " FROM aggregates WHERE span=60 AND start=? AND monitor=?",
                        minute * 60, monitor_id)
    return MinuteAgg.from_row(rows[0]) if rows else None


def expected_agg(checks: list[CheckResult]) -> MinuteAgg:
    agg = MinuteAgg()
    for c in checks:
        agg.add(c.response_ms, c.available, c.code, c.reason, c.warning)
    return agg


def assert_minutes_match(backend: Backend, checks: list[CheckResult]) -> None:
    """Every (minute, host) row equals the aggregate of exactly the checks it covers."""
    groups: dict[tuple[int, str], list[CheckResult]] = {}
    for c in checks:
        groups.setdefault((int(c.timestamp // 60), c.monitor_id), []).append(c)
    stored = backend.read("SELECT start / 60, monitor FROM aggregates WHERE span=60")
    assert sorted(stored) == sorted(groups)
    for (minute, monitor_id), group in groups.items():
        assert minute_row(backend, minute, monitor_id) == expected_agg(group), (minute,
                                                                               monitor_id)
    # And the 10-minute blocks, the same way.
    blocks: dict[tuple[int, str], list[CheckResult]] = {}
    for c in checks:
        blocks.setdefault((int(c.timestamp // 600), c.monitor_id), []).append(c)
    assert sorted(backend.read("SELECT start / 600, monitor FROM aggregates WHERE span=600")
                  ) == sorted(blocks)
    for (block, monitor_id), group in blocks.items():
        rows = backend.read("SELECT checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                            " outcomes FROM aggregates WHERE span=600 AND start=? AND monitor=?",
                            block * 600, monitor_id)
        assert MinuteAgg.from_row(rows[0]) == expected_agg(group), (block, monitor_id)


# -- schema and opening ---------------------------------------------------------------------

# SQLite only: PRAGMA table_info, user_version, WAL (PostgreSQL's: postgres/test_schema.py).
def test_schema_tables_columns_version_and_wal(db: Path, make_store) -> None:
    make_store(db).close()
    conn = open_reader(db).conn
    try:
        columns = {
            table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for table in ("website_monitoring", "website_alerts", "aggregates",
                          "monitor_state", "monitors", "metric_aggs", "outbox", "maintenance",
                          "series", "series_points", "series_aggs", "pushes", "acks",
                          "uptime_days", "agents")
        }
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert columns["website_monitoring"] == [
        "id", "timestamp", "host", "available", "status", "responseTime", "reason", "detail",
        "lateness", "monitor", "metrics", "warning", "location"]
    assert columns["website_alerts"] == [
        "id", "timestamp", "host", "type", "startDate", "endDate", "availability", "message",
        "monitor"]
    assert columns["aggregates"] == [
        "monitor", "span", "start", "checks", "up", "rt_count", "rt_sum", "rt_min", "rt_max",
        "hist", "outcomes"]
    assert columns["monitor_state"] == [
        "monitor", "last_check", "last_ok", "last_failure", "down_since", "warning",
        "maintenance", "last_available", "last_status", "last_response", "last_reason",
        "last_detail", "last_metrics", "day_start", "day_checks", "day_up"]
    assert columns["monitors"] == ["monitor", "name", "interval", "active", "kind", "target"]
    assert columns["metric_aggs"] == ["monitor", "span", "start", "metric", "count", "sum",
                                      "min", "max", "hist"]
    assert columns["outbox"] == ["id", "alert", "key", "provider", "event", "title", "body",
                                 "created", "attempts", "retry_at", "sent", "failed", "error"]
    assert columns["maintenance"] == ["monitor", "since", "until"]
    assert columns["series"] == ["id", "path", "first", "last", "last_value"]
    assert columns["series_points"] == ["series", "timestamp", "value"]
    assert columns["series_aggs"] == ["series", "span", "start", "count", "sum", "min", "max",
                                      "hist"]
    assert columns["pushes"] == ["id", "monitor", "timestamp", "event", "status", "message",
                                 "value"]
    assert columns["acks"] == ["alert", "monitor", "at", "by"]
    assert columns["uptime_days"] == ["start", "monitor", "counts"]
    assert columns["agents"] == ["name", "instance", "upto", "location"]
    assert version == SCHEMA_VERSION
    assert journal == "wal"


# SQLite only: the file's mode.
def test_database_file_is_private(db: Path, make_store) -> None:
    make_store(db)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


# SQLite only: the file's mode.
def test_a_database_file_made_beforehand_becomes_private(db: Path, make_store) -> None:
    db.touch(0o644)
    os.chmod(db, 0o644)  # whatever the umask
    store = make_store(db)
    store.put_check(check(A, BASE))
    store.close()
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()} == {
        "monitor.db": 0o600, "monitor.db-wal": 0o600, "monitor.db-shm": 0o600}


# SQLite only: WAL files.
def test_a_clean_close_leaves_the_wal_files_for_a_start_on_a_full_disk(
        db: Path, make_store) -> None:
    # SQLite deletes -wal and -shm when its last connection closes; on a full disk the next
    # start could not make them again. Everything is in the database file itself.
    store = make_store(db)
    store.put_check(check(A, BASE))
    store.close()
    assert Path(f"{db}-wal").stat().st_size == 0
    assert Path(f"{db}-shm").exists()
    conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro&immutable=1", uri=True)
    assert conn.execute("SELECT count(*) FROM website_monitoring").fetchall() == [(1,)]
    conn.close()


def test_reopening_an_existing_database_keeps_its_data(backend: Backend) -> None:
    first = backend.make()
    first.put_check(check(A, BASE))
    first.close()
    backend.make().close()
    assert backend.read("SELECT host FROM website_monitoring") == [(A,)]


# SQLite only: PRAGMA user_version.
def test_newer_schema_version_is_refused(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer version") as info:
        Store(db)
    assert str(db) in str(info.value)
    with pytest.raises(StoreError):
        open_writer_connection(db)


# SQLite only: a damaged file.
def test_garbage_file_is_refused_with_its_path(db: Path) -> None:
    db.write_bytes(b"certainly not an SQLite database\x00\xff" * 200)
    with pytest.raises(StoreError) as info:
        Store(db)
    assert str(db) in str(info.value)
    with pytest.raises(StoreError) as info:
        open_reader(db)
    assert str(db) in str(info.value)


# SQLite only: a missing file.
def test_reader_on_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(StoreError, match="database not found") as info:
        open_reader(missing)
    assert str(missing) in str(info.value)
    assert not missing.exists()


# SQLite only: another program's SQLite file.
def test_reader_refuses_a_foreign_sqlite_database(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE other (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a monitoring database"):
        open_reader(db)


# SQLite only: a read-only file (PostgreSQL's: postgres/test_reads.py).
def test_reader_is_read_only(db: Path, make_store) -> None:
    make_store(db).close()
    conn = open_reader(db).conn
    try:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM website_alerts")
    finally:
        conn.close()


# SQLite only: a file's path.
def test_reader_copes_with_uri_characters_in_the_path(tmp_path: Path, make_store) -> None:
    folder = tmp_path / "odd #1 ?x=y %41"
    folder.mkdir()
    path = folder / "monitor.db"
    store = make_store(path)
    store.put_check(check(A, BASE))
    store.close()
    assert read(path, "SELECT host FROM website_monitoring") == [(A,)]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no stray file made


# -- round trips -----------------------------------------------------------------------------

CHECKS = [
    check(A, BASE + 1.25, True, 200, 123.5, None, "", 3.5, metrics={"dns": 1.5}),
    check(B, BASE + 2.5, False, 503, 45.25, "http_status", "HTTP 503 Service Unavailable", 0.0),
    check(C, BASE + 3.75, False, None, 10000.0, "timeout", "no answer in 10 s", 12.0),
    check(A, BASE + 4.0, None, None, 0.0, "maintenance"),  # unknown: NULL
    check(B, BASE + 5.0, True, 200, 9.0, "tls_expiry", "expires in 5 days", warning=True,
          location="eu"),
]
ALERTS = [
    alert(A, BASE + 10, "alert", availability=0.25, message="Website a is down"),
    alert(A, BASE + 70, "recovery", start=BASE + 10, end=BASE + 70, availability=0.875,
          message="Website a has recovered"),
]


def assert_round_trip(backend: Backend) -> None:
    rows = backend.read("SELECT timestamp, host, available, status, responseTime, reason,"
                        " detail, lateness, monitor, metrics, warning, location"
                        " FROM website_monitoring ORDER BY id")
    assert [(*row[:9], row[9] and json.loads(row[9]), *row[10:]) for row in rows] == [
        (c.timestamp, c.monitor_id, None if c.available is None else int(c.available), c.code,
         c.response_ms, c.reason, c.detail or None, c.lateness_ms, c.monitor_id,
         c.metrics or None, 1 if c.warning else None,
         None if c.location == "local" else c.location) for c in CHECKS]
    rows = backend.read("SELECT timestamp, host, type, startDate, endDate, availability,"
                        " message FROM website_alerts ORDER BY id")
    assert rows == [(a.timestamp, a.monitor_id, a.type, a.start, a.end, a.availability, a.message)
                    for a in ALERTS]
    assert rows[1][3] == "2023-11-14T22:14:10.000Z"  # BASE + 10, ISO with Z
    assert_minutes_match(backend, CHECKS)


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


def test_round_trip_synchronous_close_drains_the_queue(backend: Backend) -> None:
    store = backend.make()  # never started
    store.put_checks(CHECKS[:2])  # a batch, as an agent's come
    for c in CHECKS[2:]:
        store.put_check(c)
    for a in ALERTS:
        store.put_alert(a)
    store.close()
    assert_round_trip(backend)


def test_synchronous_flush_writes(backend: Backend) -> None:
    store = backend.make()
    store.put_check(CHECKS[0])
    assert store.flush() is True
    assert backend.read("SELECT count(*) FROM website_monitoring") == [(1,)]


def test_set_monitors_marks_removed_monitors_inactive_and_keeps_their_order(
        backend: Backend) -> None:
    store = backend.make()
    store.set_monitors([MonitorRow(A, "http", A, "a", 30.0), MonitorRow(B, "http", B, "b", 60.0)])
    store.set_monitors([MonitorRow(C, "http", "https://c/", "c", 5.0),
                        MonitorRow(B, "http", B, "bee", 15.0)])
    store.put_check(check(C, BASE))  # stored with its target as host
    store.close()
    assert backend.read("SELECT monitor, name, interval, active FROM monitors ORDER BY monitor"
                ) == [
        (A, "a", 30.0, 0), (B, "bee", 15.0, 1), (C, "c", 5.0, 1)]
    # In the order they were first configured.
    assert backend.read("SELECT monitor, name, interval, active FROM monitors ORDER BY rowid"
                        ) == [(A, "a", 30.0, 0), (B, "bee", 15.0, 1), (C, "c", 5.0, 1)]
    assert backend.read("SELECT host, monitor FROM website_monitoring") == [("https://c/", C)]


# -- aggregates ------------------------------------------------------------------------------

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
    rng = random.Random(7)
    checks = random_checks(rng, 300, 5)
    store = backend.make().start()
    for i, c in enumerate(checks):  # arrival order is random, not time order
        store.put_check(c)
        if i % 37 == 0:
            store.flush()
    store.close()
    assert_minutes_match(backend, checks)


def test_evicted_minutes_are_reloaded_not_restarted(backend: Backend) -> None:
    # The clock says it is much later: every cached minute is old and gets evicted.
    store = backend.make(clock=lambda: BASE + 100_000)
    checks = []
    for minute in range(8):
        batch = [check(A, BASE + minute * 60 + s, s % 2 == 0, 200, 10.0 + s) for s in (1, 2)]
        checks += batch
        for c in batch:
            store.put_check(c)
        store.flush()
    late = [check(A, BASE + 5, False, 500, 77.0, "http_status"), check(A, BASE + 65)]
    checks += late
    for c in late:
        store.put_check(c)
    store.close()
    assert minute_row(backend, MINUTE, A).checks == 3
    assert_minutes_match(backend, checks)


# SQLite only: its writer's cache of whole rows (PostgreSQL's holds what a write adds).
def test_rows_leave_memory_once_too_old_for_a_late_check(db: Path, make_store) -> None:
    now = [MINUTE * 60 + 30.0]
    store = make_store(db, clock=lambda: now[0])

    def at(seconds: float) -> set:
        now[0] = MINUTE * 60 + seconds
        store.put_check(check(A, now[0] - 1))
        store.flush()
        return {(span, index - MINUTE * 60 // span)
                for span, index, _host in store._batch.aggregates.rows}

    # Keys relative to the first minute and its 10-minute block.
    assert at(30) == {(60, 0), (600, 0)}
    assert at(100) == {(60, 0), (60, 1), (600, 0)}  # minute 0 ended 40 s ago: kept
    assert at(150) == {(60, 1), (60, 2), (600, 0)}  # now 90 s ago: gone
    # Its block goes a minute after its end, when the next one has begun.
    end = (MINUTE // 10 + 1) * 600 - MINUTE * 60  # seconds, a multiple of 60
    assert at(end + 50) == {(60, end // 60), (600, 0), (600, 1)}
    assert at(end + 70) == {(60, end // 60), (60, end // 60 + 1), (600, 1)}
    # A check older than that reloads its rows, and counts in them.
    store.put_check(check(A, MINUTE * 60 + 31))
    store.close()
    assert minute_row(sqlite_backend(db), MINUTE, A).checks == 2


def test_restart_continues_the_minute_in_progress(backend: Backend) -> None:
    first = [check(A, BASE + 1, True, 200, 50.0),
             check(A, BASE + 2, False, 500, 70.0, "http_status"),
             check(A, BASE + 3, False, None, 9000.0, "timeout")]
    second = [check(A, BASE + 30, True, 200, 20.0), check(A, BASE + 40, True, 301, 300.0)]
    store = backend.make().start()
    for c in first:
        store.put_check(c)
    store.close()
    store = backend.make().start()
    for c in second:
        store.put_check(c)
    store.close()
    row = minute_row(backend, MINUTE, A)
    assert row is not None
    assert (row.checks, row.up, row.rt_count) == (5, 3, 4)
    assert (row.rt_min, row.rt_max, row.rt_sum) == (20.0, 300.0, 440.0)
    assert row.statuses == {"200": 2, "500": 1, "301": 1}
    assert row.reasons == {"http_status": 1, "timeout": 1}
    assert_minutes_match(backend, first + second)


def test_monitor_state_survives_a_restart(backend: Backend) -> None:
    store = backend.make()
    store.put_check(check(A, BASE + 10, True))
    store.put_check(check(A, BASE + 20, False, None, 5.0, "connect"))
    store.put_checks([check(B, BASE + 10, False, None, 1.0, "dns"),
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


def test_monitor_state_ignores_late_checks_for_the_present(backend: Backend) -> None:
    store = backend.make()
    for c in (check(A, BASE + 10, True), check(A, BASE + 20, False, 500, 1.0, "http_status"),
              check(A, BASE + 30, True),
              check(A, BASE + 25, False, None, 1.0, "timeout"),  # late: finished after 30
              check(B, BASE + 10, False, None, 1.0, "dns"),
              check(B, BASE + 5, True)):  # late OK: B is still down since 10
        store.put_check(c)
    store.close()
    assert backend.read("SELECT monitor, last_check, last_ok, last_failure, down_since"
                    " FROM monitor_state ORDER BY monitor") == [
        (A, BASE + 30, BASE + 30, BASE + 25, None),
        (B, BASE + 10, BASE + 5, BASE + 10, BASE + 10)]


def test_monitor_state_follows_the_checks_across_a_wall_clock_step_back(backend: Backend,
                                                                      make_store) -> None:
    # The wall clock steps back an hour while A is down: its next checks are dated before
    # the failure, yet they are the present (the monotonic clock says so) and clear it.
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


# -- purge -----------------------------------------------------------------------------------

def purge_fixture(store: Any) -> list[CheckResult]:
    checks = [check(monitor_id, BASE + k * 20, k % 3 != 0, 200, 10.0 + k)
              for k in range(18) for monitor_id in (A, B)]
    for c in checks:
        store.put_check(c)
    store.put_alert(alert(A, BASE + 10))
    store.put_alert(alert(A, BASE + 30, "recovery", start=BASE + 10, end=BASE + 30))
    store.put_alert(alert(B, BASE + 10))
    store.put_alert(alert(B, BASE + 300, "recovery", start=BASE + 10, end=BASE + 300))
    store.put_alert(alert(C, BASE + 5))
    return checks


@pytest.mark.parametrize("threaded", [False, True])
def test_purge(backend: Backend, monkeypatch, threaded: bool) -> None:
    # Several chunks: 12 rows -> 5, 5, 2.
    monkeypatch.setattr(backend.module("batch"), "PURGE_CHUNK", 5)
    store = backend.make()
    if threaded:
        store.start()
    checks = purge_fixture(store)
    store.flush()
    before = BASE + 120
    store.purge(before)
    store.flush()
    assert store.purged == (12, 2)
    assert backend.read("SELECT min(timestamp), count(*) FROM website_monitoring") == [
        (BASE + 120, 24)]
    assert backend.read("SELECT DISTINCT start / 60 FROM aggregates WHERE span=60 ORDER BY 1") == [
        (MINUTE + 2,), (MINUTE + 3,), (MINUTE + 4,), (MINUTE + 5,)]
    # A's recovery and C's alert are old, but each is its site's latest: kept.
    assert backend.read("SELECT host, type, timestamp FROM website_alerts ORDER BY id") == [
        (A, "recovery", iso_utc(BASE + 30)), (B, "recovery", iso_utc(BASE + 300)),
        (C, "alert", iso_utc(BASE + 5))]

    # Not on a minute boundary: the minute holding `before` keeps its row.
    store.purge(BASE + 130)
    store.flush()
    assert store.purged == (14, 2)
    assert backend.read("SELECT min(start) / 60 FROM aggregates WHERE span=60") == [(MINUTE + 2,)]
    # A 10-minute block goes only once all of it is older than the cut.
    assert backend.read("SELECT DISTINCT start / 600 FROM aggregates WHERE span=600") == [
        (int(BASE) // 600,)]

    # The cache forgot purged minutes: a late check there starts a fresh row.
    store.put_check(check(A, BASE + 1, False, 500, 5.0, "http_status"))
    store.close()
    assert minute_row(backend, MINUTE, A) == expected_agg([check(A, BASE + 1, False, 500, 5.0,
                                                            "http_status")])
    # Minutes after the cut keep rows that count all their checks, purged raw rows or not.
    assert_minutes_match_from(backend, checks, MINUTE + 2)


def assert_minutes_match_from(backend: Backend, checks: list[CheckResult], minute: int) -> None:
    for monitor_id in (A, B):
        for m in range(minute, MINUTE + 6):
            group = [c for c in checks
                     if c.monitor_id == monitor_id and int(c.timestamp // 60) == m]
            assert minute_row(backend, m, monitor_id) == expected_agg(group)


# -- failing writes --------------------------------------------------------------------------

@pytest.fixture
def locker(db: Path) -> Iterator[sqlite3.Connection]:
    """A second connection that can hold the database's write lock."""
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


# SQLite only: the file's write lock refuses (PostgreSQL's: postgres/test_writer.py).
def test_failed_writes_are_kept_and_retried_once(db: Path, make_store, locker) -> None:
    messages: list[str] = []
    store = make_store(db, on_error=messages.append)
    store._conn.execute("PRAGMA busy_timeout=50")
    store.start()
    first = [check(A, BASE + s, True, 200, 10.0 + s) for s in range(5)]
    for c in first:
        store.put_check(c)
    store.put_alert(alert(A, BASE + 1))
    store.flush()
    assert messages == []

    locker.execute("BEGIN IMMEDIATE")
    second = [check(A, BASE + 10 + s, False, 500, 50.0 + s, "http_status") for s in range(4)]
    second.append(check(B, BASE + 15, False, None, 1.0, "connect"))
    for c in second:
        store.put_check(c)
    store.put_alert(alert(B, BASE + 16))
    store.flush()
    assert len(messages) == 1
    assert "cannot write" in messages[0] and str(db) in messages[0]
    locker.execute("ROLLBACK")

    third = [check(A, BASE + 30, True, 200, 5.0)]
    for c in third:
        store.put_check(c)
    assert store.flush() is True
    assert messages[1:] == [f"{db}: writing resumed"]
    store.close()

    everything = first + second + third
    rows = read(db, "SELECT timestamp, host FROM website_monitoring ORDER BY timestamp, host")
    assert rows == sorted((c.timestamp, c.monitor_id) for c in everything)
    assert read(db, "SELECT host FROM website_alerts ORDER BY id") == [(A,), (B,)]
    assert_minutes_match(sqlite_backend(db), everything)
    with reading(db) as reader:
        assert {monitor_id: down_since for monitor_id, (_, down_since)
                in reader.monitor_states().items()} == {A: None, B: BASE + 15}
    assert store.dropped == 0


# SQLite only: the file's write lock refuses.
def test_pending_rows_are_bounded(db: Path, make_store, locker, monkeypatch) -> None:
    monkeypatch.setattr(holding_mod, "MAX_PENDING", 3)
    messages: list[str] = []
    store = make_store(db, on_error=messages.append)
    store._conn.execute("PRAGMA busy_timeout=10")
    locker.execute("BEGIN IMMEDIATE")
    checks = [check(A, BASE + s, True, 200, float(s + 1)) for s in range(5)]
    for c in checks:
        store.put_check(c)
    store.flush()  # synchronous path: fails, keeps the newest 3
    assert store.dropped == 2
    locker.execute("ROLLBACK")
    store.close()
    assert "cannot write" in messages[0]
    assert messages[-1].endswith("writing resumed")
    assert read(db, "SELECT timestamp FROM website_monitoring ORDER BY timestamp") == [
        (c.timestamp,) for c in checks[2:]]
    assert_minutes_match(sqlite_backend(db), checks[2:])


def test_purge_removes_whole_10_minute_blocks(backend: Backend) -> None:
    store = backend.make()
    purge_fixture(store)
    store.put_check(check(A, BASE + 600, True, 200, 5.0))  # the next block
    store.flush()
    store.purge(BASE + 359)  # the end of the first block: it still holds a check
    store.flush()
    assert backend.read("SELECT DISTINCT start / 600 FROM aggregates WHERE span=600"
                        " ORDER BY 1") == [(int(BASE) // 600,), (int(BASE) // 600 + 1,)]
    store.purge(BASE + 360)
    store.flush()
    assert backend.read("SELECT DISTINCT start / 600 FROM aggregates WHERE span=600") == [
        (int(BASE) // 600 + 1,)]
    store.close()


# SQLite only: the file's write lock refuses.
def test_failed_purge_does_not_break_later_writes(db: Path, make_store, locker) -> None:
    messages: list[str] = []
    store = make_store(db, on_error=messages.append)
    store._conn.execute("PRAGMA busy_timeout=50")
    store.start()
    store.put_check(check(A, BASE))
    store.flush()

    locker.execute("BEGIN IMMEDIATE")
    store.purge(BASE + 3600)
    store.flush()
    assert len(messages) == 1 and "purge failed" in messages[0]
    locker.execute("ROLLBACK")

    store.put_check(check(A, BASE + 1))
    store.flush()
    assert len(messages) == 1, messages  # no "cannot write" caused by the failed purge
    assert read(db, "SELECT count(*) FROM website_monitoring") == [(2,)]
    store.purge(BASE + 3600)
    store.flush()
    assert store.purged == (2, 0)


# -- ISO times -------------------------------------------------------------------------------

def test_iso_utc_format_and_known_values() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(BASE + 10.25) == "2023-11-14T22:14:10.250Z"
    assert iso_utc(1_704_067_199.9996) == "2024-01-01T00:00:00.000Z"  # carries into a year
    assert iso_utc(1_704_067_199.9994) == "2023-12-31T23:59:59.999Z"
    assert parse_iso("2024-01-01T00:00:00.000Z") == 1_704_067_200.0
    assert parse_iso("2024-01-01T00:00:00Z") == 1_704_067_200.0
    assert parse_iso("2024-01-01T00:00:01.5Z") == 1_704_067_201.5


def test_iso_utc_round_trip_and_text_order_is_time_order() -> None:
    rng = random.Random(3)
    times = [BASE + rng.uniform(-1e8, 1e8) for _ in range(2000)]
    for whole in (BASE, BASE + 59, 1_704_067_199, 951_782_399):  # minute, year, leap day
        times += [whole + frac for frac in (0.0, 0.0004, 0.0005, 0.0006, 0.4995, 0.9994,
                                            0.9995, 0.9996, 0.9999)]
    times.sort()
    texts = [iso_utc(t) for t in times]
    assert {len(t) for t in texts} == {24}
    assert texts == sorted(texts)
    for t, text in zip(times, texts, strict=True):
        assert abs(parse_iso(text) - t) <= 0.0005 + 1e-6
        assert iso_utc(parse_iso(text)) == text


SCHEMA_1_CHECKS = """
CREATE TABLE website_monitoring (
    id INTEGER PRIMARY KEY, timestamp REAL NOT NULL, host TEXT NOT NULL,
    available INTEGER NOT NULL, status INTEGER, responseTime REAL NOT NULL, reason TEXT,
    detail TEXT, lateness REAL);
CREATE INDEX website_monitoring_time ON website_monitoring(timestamp);
"""


SCHEMA_1_MINUTES = """
CREATE TABLE minute_stats (
    host TEXT NOT NULL, minute INTEGER NOT NULL, checks INTEGER NOT NULL, up INTEGER NOT NULL,
    rt_count INTEGER NOT NULL, rt_sum REAL NOT NULL, rt_min REAL, rt_max REAL,
    hist TEXT NOT NULL, statuses TEXT NOT NULL, reasons TEXT NOT NULL,
    PRIMARY KEY (minute, host)) WITHOUT ROWID;
"""


# SQLite only: a migration of its files' schema.
def test_schema_1_is_migrated_keeping_rows_and_masking_passwords(db: Path, make_store) -> None:
    # A database as version 1 wrote it: `available` NOT NULL, the raw URL as host.
    secret_url, plain_url = "http://ops:hunter2@a.test/?token=t0k", "http://b.test/"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA_1_CHECKS)
    # The other tables did not change from version 1.
    rest = SCHEMA_4.split("CREATE TABLE IF NOT EXISTS website_alerts")[1]
    conn.executescript("CREATE TABLE IF NOT EXISTS website_alerts" + rest)
    # Except the aggregates: version 1 had its minutes keyed by time first, and no blocks.
    conn.executescript("DROP TABLE aggregates;" + SCHEMA_1_MINUTES)
    conn.execute("INSERT INTO minute_stats VALUES (?, ?, 2, 1, 2, 3.0, 1.5, 1.5, '36:2',"
                 " '200:2', '')", (secret_url, int(BASE) // 60))
    conn.executemany("INSERT INTO website_monitoring (timestamp, host, available, status,"
                     " responseTime, reason, detail, lateness) VALUES (?,?,?,?,?,?,?,?)",
                     [(BASE + i, url, i % 2, 200, 1.5, None, None, 0.1)
                      for i, url in enumerate([secret_url, plain_url] * 3)])
    conn.execute("INSERT INTO site_state VALUES (?, ?, NULL, NULL, NULL)", (secret_url, BASE))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()

    store = make_store(db)
    store.put_check(CheckResult("http://c.test/", BASE + 10, None, None, 0.0, "offline"))
    store.flush()
    masked = "http://ops:***@a.test/?token=***"
    assert read(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert read(db, "SELECT host, count(*) FROM website_monitoring GROUP BY host"
                    " ORDER BY host") == [("http://b.test/", 3), ("http://c.test/", 1),
                                          (masked, 3)]
    assert read(db, "SELECT monitor FROM monitor_state WHERE monitor LIKE '%a.test%'"
                ) == [(masked,)]
    # Its minute (schema 1 had no blocks), and the hour and day rolled up from it.
    assert read(db, "SELECT monitor, span, start, checks, hist FROM aggregates"
                    " WHERE monitor LIKE '%a.test%' ORDER BY span") == [
        (masked, span, int(BASE) // span * span, 2, "4P2")  # 36 * 512 + 2: digits (4, 32, 2)
        for span in (60, 3600, 86400)]
    assert read(db, "SELECT available FROM website_monitoring WHERE host='http://c.test/'"
                ) == [(None,)]
    assert read(db, "SELECT name FROM sqlite_master WHERE name LIKE '%_v1'") == []
    assert read(db, "PRAGMA integrity_check") == [("ok",)]
    text = repr(read(db, "SELECT * FROM website_monitoring") + read(db, "SELECT * FROM"
                                                                     " monitor_state"))
    assert "hunter2" not in text and "t0k" not in text


def test_a_writer_that_falls_behind_drops_checks_not_alerts(backend: Backend, monkeypatch) -> None:
    # A writer starved of CPU must not let its queue eat all memory: past MAX_QUEUED
    # waiting checks, new checks are counted and dropped, said once; alerts always queue.
    monkeypatch.setattr(writing, "MAX_QUEUED", 5)
    messages: list[str] = []
    store = backend.make(on_error=messages.append)  # not started: nothing drains the queue
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


def test_a_row_it_can_never_write_costs_that_row_alone(backend: Backend) -> None:
    # Not a refusal of the disk (held and retried) but a row that cannot be written at all
    # (a bug in what made it): that row is reported and dropped; the checks and the alert
    # of the same batch are written, and the writer goes on with the next batch.
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
    assert_minutes_match(backend, [check(A, BASE), check(B, BASE + 3), check(A, BASE + 4)])
    assert store.dropped == 1
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{store.path}: could not write a check of {A} (")
    assert messages[0].endswith("); dropped")


def test_a_row_sqlite_refuses_is_dropped_alone_not_held_for_ever(backend: Backend) -> None:
    # A NaN is turned into malformed JSON that SQLite refuses with an OperationalError: an
    # error about that row, not a full disk. Held and retried, it once kept every later row
    # from the disk until 500,000 of them had piled up.
    messages: list[str] = []
    store = backend.make(on_error=messages.append).start()
    store.put_check(check(A, BASE, response_ms=float("nan")))
    # Not a number in its metrics: written, as the JSON both stores write of it.
    store.put_check(check(A, BASE + 1, metrics={"total": float("inf"), "dns": float("nan")}))
    store.put_alert(alert(A, BASE + 2))
    assert store.flush() is True
    store.put_check(check(B, BASE + 3))
    assert store.flush() is True
    store.close()
    assert backend.read("SELECT timestamp FROM website_monitoring ORDER BY id") == [
        (BASE + 1,), (BASE + 3,)]
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    assert store.dropped == 1 and store.unwritten == (0, 0)
    assert len(messages) == 1
    assert messages[0].startswith(f"{store.path}: could not write a check of")
    assert "cannot write" not in messages[0]


def test_a_failed_purge_drops_nothing_that_was_written(backend: Backend) -> None:
    # retentionDays: 1e300 once reached the purge as a date before year 1: the purge failed
    # with OverflowError, and the writer said the checks of its batch were dropped.
    messages: list[str] = []
    store = backend.make(on_error=messages.append).start()
    for s in range(3):
        store.put_check(check(A, BASE + s))
    store.purge(BASE - 1e300 * 86400)
    store.put_alert(alert(A, BASE + 3))
    assert store.flush()
    store.close()
    assert backend.read("SELECT count(*) FROM website_monitoring") == [(3,)]
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    assert store.dropped == 0
    assert len(messages) == 1 and messages[0].startswith(f"{store.path}: purge failed: ")


# SQLite only: the file's write lock refuses.
def test_rows_still_refused_at_close_are_counted_and_said(db: Path, make_store,
                                                          locker) -> None:
    messages: list[str] = []
    store = make_store(db, on_error=messages.append)
    store._conn.execute("PRAGMA busy_timeout=20")
    store.start()
    locker.execute("BEGIN IMMEDIATE")
    for s in range(4):
        store.put_check(check(A, BASE + s))
    store.put_alert(alert(A, BASE + 5))
    assert store.flush() is False
    store.close()
    locker.execute("ROLLBACK")
    assert store.unwritten == (4, 1)
    assert messages[-1] == (f"{db}: 4 checks and 1 alerts could not be written before"
                            " stopping (database is locked); they are lost")


# SQLite only: a damaged file.
def test_a_damaged_database_is_not_retried_like_a_full_disk(db: Path) -> None:
    store = Store(db).start()
    for s in range(3000):
        store.put_check(check(f"https://s{s % 50}.example/", BASE + s / 10))
    store.close()
    # Garbage over every page but those of an empty database (the header, the schema and
    # each table's root page): the checks' pages.
    empty = db.with_name("empty.db")
    Store(empty).close()
    keep = empty.stat().st_size
    size = db.stat().st_size
    assert size > keep + 4096
    with open(db, "r+b") as file:
        file.seek(keep)
        file.write(bytes(range(256)) * ((size - keep) // 256))
    messages: list[str] = []
    store = Store(db, on_error=messages.append).start()
    store.put_check(check(A, BASE + 400))
    store.flush()
    store.put_check(check(A, BASE + 401))
    store.flush()
    assert store.fatal is not None
    store.close()
    assert messages[0] == str(store.fatal)
    assert messages[0].startswith(f"{db}: cannot write: the database is damaged (")
    assert not any("retrying" in m for m in messages), messages
    assert store.unwritten == (2, 0)
    assert messages[-1].startswith(f"{db}: 2 checks and 0 alerts could not be written")


def test_workers_yield_to_a_starved_writer_for_a_bounded_time(backend: Backend,
                                                              monkeypatch) -> None:
    # A writer that has finished no batch for a while with a deep queue is starved: the
    # worker putting a check sleeps (handing over the GIL) until a batch is written, or
    # at most YIELD_AT_MOST; with the writer keeping up, putting a check never waits.
    monkeypatch.setattr(writing, "STALL_ROWS", 3)
    monkeypatch.setattr(writing, "YIELD_AT_MOST", 0.3)
    store = backend.make()
    blocked = threading.Event()
    original = store._process

    def slow_process(batch, urgent=False):
        blocked.wait(5)
        original(batch, urgent)

    monkeypatch.setattr(store, "_process", slow_process)
    store.start()
    for s in range(5):
        store.put_check(check(A, BASE + s))  # progress is fresh: no waiting
    store._progress -= 10  # the writer has been stuck for a while
    started = time.monotonic()
    store.put_check(check(A, BASE + 5))
    waited = time.monotonic() - started
    assert 0.25 <= waited < 1.0
    blocked.set()
    assert store.flush()
    store.close()
    assert backend.read("SELECT count(*) FROM website_monitoring") == [(6,)]


def test_iso_utc_before_1970_is_well_formed() -> None:
    # A retention of a century reaches back before the epoch.
    assert iso_utc(-0.25) == "1969-12-31T23:59:59.750Z"
    assert parse_iso(iso_utc(-1_000_000.5)) == -1_000_000.5


def test_purge_keeps_each_monitors_latest_row_of_each_group(backend: Backend) -> None:
    # What a restart restores: the alert open (its latest reminder says since when), the
    # warning open, the flapping over; older rows of each group go.
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
    reader = backend.reader()
    try:
        assert reader.open_alerts() == {A: iso_utc(BASE)}
        assert {group: row.type for group, row in reader.latest_alert_rows()[A].items()} == {
            "alert": "reminder", "warning": "warning", "flapping": "settled"}
    finally:
        reader.close()
    store.close()
