"""The event stream's reads in SQLite: ranges of rowids of website_monitoring and
website_alerts (a seek and a walk of the primary key, whatever the table's size), and each
monitor's known state from monitor_state, each read in one snapshot so that an alert is
never seen before the check that raised it (the writer commits both together)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from monitor.core.model import LOCAL
from monitor.store.events import Position, Tail, TailAlert, TailCheck

# Past every id: an open upper bound.
_END = 2 ** 63 - 1
_CHECKS = (
    "SELECT id, monitor, timestamp, available, warning, status, responseTime, reason,"
    " detail, metrics, location FROM website_monitoring WHERE id > ? AND id <= ?"
    " ORDER BY id LIMIT ?")
_ALERTS = (
    "SELECT id, monitor, type, timestamp, startDate, endDate, availability, message"
    " FROM website_alerts WHERE id > ? AND id <= ? ORDER BY id LIMIT ?")
_NEWEST = "SELECT (SELECT max(id) FROM website_monitoring), (SELECT max(id) FROM website_alerts)"


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: the statements in it see the same commits."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("COMMIT")


def span(conn: sqlite3.Connection) -> tuple[int, Position]:
    """The oldest stored check's id and the newest position (0 where none)."""
    oldest, check, alert = conn.execute(
        "SELECT (SELECT min(id) FROM website_monitoring), (SELECT max(id) FROM"
        " website_monitoring), (SELECT max(id) FROM website_alerts)").fetchone()
    return oldest or 0, Position(check or 0, alert or 0)


def after(conn: sqlite3.Connection, start: Position, upto: Position | None,
          limit: int) -> Tail:
    """The checks and alerts after `start` (up to `upto`), oldest first, at most `limit`
    of each."""
    end = upto or Position(_END, _END)
    with _snapshot(conn):
        checks = [TailCheck(ident, monitor, ts, None if available is None else bool(available),
                            bool(warning), code, rt, reason, detail or "", metrics,
                            location or LOCAL)
                  for (ident, monitor, ts, available, warning, code, rt, reason, detail,
                       metrics, location)
                  in conn.execute(_CHECKS, (start.check, end.check, limit))]
        alerts = [TailAlert(*row) for row in conn.execute(
            _ALERTS, (start.alert, end.alert, limit))]
    return Tail(checks, alerts)


def states(conn: sqlite3.Connection) -> tuple[Position, dict[str, str]]:
    """The newest position and each monitor's known state then ("up", "warning", "down"),
    as the writer keeps it: unknown checks leave it, as they leave down_since."""
    with _snapshot(conn):
        check, alert = conn.execute(_NEWEST).fetchone()
        found = {}
        for monitor_id, down_since, last_ok, warning in conn.execute(
                "SELECT monitor, down_since, last_ok, warning FROM monitor_state"):
            if down_since is not None:
                found[monitor_id] = "down"
            elif last_ok is not None:
                found[monitor_id] = "warning" if warning is not None else "up"
    return Position(check or 0, alert or 0), found
