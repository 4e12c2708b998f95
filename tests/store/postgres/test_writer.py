"""The writer on both stores (the `backend` fixture: SQLite's file and a real PostgreSQL
server's database), where these tests assert more than tests/store/test_store.py's of the
same scenario (metrics, warnings and locations round trip, monitors' order, states' columns);
the writer's other tests are tests/store/'s, on both stores too. What only PostgreSQL has
(the server going away) is at the end."""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pytest

from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, Delivery, MonitorRow, iso_utc
from monitor.store.codec import MinuteAgg
from tests.store.postgres.conftest import Backend

BASE = 1_700_000_040.0  # a whole minute
A = "https://a.example/"
B = "https://b.example/health?x=1"
C = "https://user:secret@c.example/"


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


# -- bad rows ------------------------------------------------------------------------------

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


# -- PostgreSQL only: the server going away --------------------------------------------------

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
