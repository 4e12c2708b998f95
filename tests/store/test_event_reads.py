"""The event stream's reads of both stores (the `backend` fixture) written by the real
writer: checks and
alerts after a position (up to another, at most a number), the span of ids, and each
monitor's known state; each a search of the primary key, whatever the table's size."""

from __future__ import annotations

import json
import threading

from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.events import Position, TailAlert, TailCheck
from tests.store.conftest import as_backend, reading

T = 1_700_000_000.0


def write(db, *commands) -> None:
    store = as_backend(db).make().start()
    try:
        for command in commands:
            if isinstance(command, CheckResult):
                store.put_check(command)
            else:
                store.put_alert(command)
        assert store.flush()
    finally:
        store.close()


def alert(monitor_id: str, at: float, kind: str = "alert") -> AlertRecord:
    return AlertRecord(iso_utc(at), monitor_id, kind, iso_utc(at - 60), None, 0.25, "msg")


def test_rows_after_a_position_in_id_order(backend):
    db = backend
    write(db, CheckResult("a", T, True, 200, 1.5, metrics={"ttfb": 1.0}),
          CheckResult("b", T + 1, False, None, 2.0, reason="connect", detail="refused"),
          alert("b", T + 1),
          CheckResult("a", T + 2, None, None, 0.0, reason="maintenance"),
          CheckResult("b", T + 3, True, 200, 1.0, reason="tls_expiry", detail="5 days",
                      warning=True),
          alert("b", T + 3, "recovery"))
    with reading(db) as reader:
        assert reader.event_span() == (1, Position(4, 2))
        tail = reader.events_after(Position(0, 0), None, 100)
        assert tail.checks[0] == TailCheck(1, "a", T, True, False, 200, 1.5, None, "",
                                           tail.checks[0].metrics)
        assert json.loads(tail.checks[0].metrics or "") == {"ttfb": 1.0}
        assert [(c.id, c.state) for c in tail.checks] == [
            (1, "up"), (2, "down"), (3, None), (4, "warning")]
        assert tail.alerts == [
            TailAlert(1, "b", "alert", iso_utc(T + 1), iso_utc(T - 59), None, 0.25, "msg"),
            TailAlert(2, "b", "recovery", iso_utc(T + 3), iso_utc(T - 57), None, 0.25, "msg")]
        part = reader.events_after(Position(1, 0), Position(3, 1), 100)
        assert [c.id for c in part.checks] == [2, 3] and [a.id for a in part.alerts] == [1]
        first = reader.events_after(Position(0, 0), None, 2)
        assert [c.id for c in first.checks] == [1, 2] and [a.id for a in first.alerts] == [1, 2]
        assert reader.events_after(Position(4, 2), None, 100) == ([], [])


def test_metrics_are_the_compact_json_text_sqlite_stores(backend):
    write(backend, CheckResult("a", T, True, 200, 1.5, metrics={"ttfb": 1.0, "total": 1.5}))
    with reading(backend) as reader:
        assert reader.events_after(Position(0, 0), None, 1).checks[0].metrics == (
            '{"ttfb":1.0,"total":1.5}')


def test_an_empty_database_is_at_zero(backend):
    db = backend
    write(db)
    with reading(db) as reader:
        assert reader.event_span() == (0, Position(0, 0))
        assert reader.event_states() == (Position(0, 0), {})


def test_each_monitor_known_state_as_the_writer_keeps_it(backend):
    db = backend
    write(db, CheckResult("up", T, True, 200, 1.0),
          CheckResult("down", T, True, 200, 1.0),
          CheckResult("down", T + 1, False, None, 1.0, reason="connect"),
          CheckResult("down", T + 2, None, None, 1.0, reason="offline"),  # leaves it down
          CheckResult("warns", T, True, 200, 1.0, reason="tls_expiry", warning=True),
          CheckResult("never", T, None, None, 1.0, reason="maintenance"))
    with reading(db) as reader:
        assert reader.event_states() == (Position(6, 0), {"up": "up", "down": "down",
                                                          "warns": "warning"})


# SQLite only: its EXPLAIN QUERY PLAN.
def test_the_reads_are_searches_of_the_primary_key(tmp_path):
    from monitor.store.sqlite import events

    db = tmp_path / "m.db"
    write(db, CheckResult("a", T, True, 200, 1.0))
    with reading(db) as reader:
        for sql in (events._CHECKS, events._ALERTS):
            plan = " ".join(row[3] for row in reader.conn.execute(
                f"EXPLAIN QUERY PLAN {sql}", (0, 10, 10)))
            assert "USING INTEGER PRIMARY KEY" in plan, plan


def test_checks_and_alerts_are_read_in_one_snapshot(backend):
    """An alert is never read without the check committed with it, however the reads and
    the writer's commits interleave."""
    db = backend
    write(db)
    store = as_backend(db).make().start()
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def read() -> None:
        with reading(db) as reader:
            while not stop.is_set():
                tail = reader.events_after(Position(0, 0), None, 100_000)
                seen.append((len(tail.checks), len(tail.alerts)))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(200):
            # One check and its alert per batch: flushed together, committed together.
            store.put_check(CheckResult("a", T + i, False, None, 1.0, reason="connect"))
            store.put_alert(alert("a", T + i))
            assert store.flush()
    finally:
        stop.set()
        thread.join()
        store.close()
    assert seen and all(alerts <= checks for checks, alerts in seen)
