"""The event stream's reads in PostgreSQL (as monitor.store.sqlite.events): ranges of ids of
website_monitoring and website_alerts, and each monitor's known state from monitor_state,
each read in one snapshot (a REPEATABLE READ transaction) so that an alert is never seen
before the check that raised it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from monitor.core.model import LOCAL
from monitor.store.events import Position, Tail, TailAlert, TailCheck

_END = 2 ** 63 - 1  # past every id: an open upper bound
_CHECKS = (
    "SELECT id, monitor, timestamp, available, warning, status, responsetime, reason,"
    " detail, metrics, location FROM website_monitoring WHERE id > %s AND id <= %s"
    " ORDER BY id LIMIT %s")
_ALERTS = (
    "SELECT id, monitor, type, timestamp, startdate, enddate, availability, message"
    " FROM website_alerts WHERE id > %s AND id <= %s ORDER BY id LIMIT %s")
NEWEST = "SELECT (SELECT max(id) FROM website_monitoring), (SELECT max(id) FROM website_alerts)"


@contextlib.contextmanager
def snapshot(conn: Any) -> Iterator[None]:
    """A read-only transaction whose statements all see the same commits (the connection
    is in autocommit: each statement is its own transaction otherwise)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def span(conn: Any) -> tuple[int, Position]:
    """The oldest stored check's id and the newest position (0 where none)."""
    oldest, check, alert = conn.execute(
        "SELECT (SELECT min(id) FROM website_monitoring), (SELECT max(id) FROM"
        " website_monitoring), (SELECT max(id) FROM website_alerts)").fetchone()
    return oldest or 0, Position(check or 0, alert or 0)


def after(conn: Any, start: Position, upto: Position | None, limit: int) -> Tail:
    """The checks and alerts after `start` (up to `upto`), oldest first, at most `limit`
    of each."""
    end = upto or Position(_END, _END)
    with snapshot(conn):
        checks = [TailCheck(ident, monitor, ts, None if available is None else bool(available),
                            bool(warning), code, rt, reason, detail or "", metrics,
                            location or LOCAL)
                  for (ident, monitor, ts, available, warning, code, rt, reason, detail,
                       metrics, location)
                  in conn.execute(_CHECKS, (start.check, end.check, limit))]
        alerts = [TailAlert(*row) for row in conn.execute(
            _ALERTS, (start.alert, end.alert, limit))]
    return Tail(checks, alerts)


def states(conn: Any) -> tuple[Position, dict[str, str]]:
    """The newest position and each monitor's known state then ("up", "warning", "down")."""
    with snapshot(conn):
        check, alert = conn.execute(NEWEST).fetchone()
        found = {}
        for monitor_id, down_since, last_ok, warning in conn.execute(
                "SELECT monitor, down_since, last_ok, warning FROM monitor_state"):
            if down_since is not None:
                found[monitor_id] = "down"
            elif last_ok is not None:
                found[monitor_id] = "warning" if warning is not None else "up"
    return Position(check or 0, alert or 0), found
