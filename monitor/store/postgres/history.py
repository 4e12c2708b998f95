"""The history reads of the web API in PostgreSQL (as monitor.store.sqlite.history): one
monitor's raw checks a bounded page at a time, alert rows with whether they are open and
their acknowledgement, the acknowledged alerts the engine polls, the agents' marks."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from monitor.core.model import LOCAL
from monitor.store.history import SCAN_ROWS, AckRow, AlertEntry, CheckPage, StoredCheck

_CHECK_COLUMNS = ("id, timestamp, available, status, responsetime, reason, detail, lateness,"
                  " metrics, warning, location")
# An 'alert' row is open until a later alert or recovery row of its monitor.
_ALERT_COLUMNS = (
    "w.id, w.timestamp, w.monitor, w.type, w.startdate, w.enddate, w.availability,"
    " w.message, CASE WHEN w.type = 'alert' THEN NOT EXISTS (SELECT 1 FROM website_alerts r"
    " WHERE r.monitor = w.monitor AND r.id > w.id AND r.type IN ('alert', 'recovery')) END,"
    " k.alert, k.monitor, k.at, k.by")
_ALERTS = f"SELECT {_ALERT_COLUMNS} FROM website_alerts w LEFT JOIN acks k ON k.alert = w.id"


def location_where(location: str | None, column: str = "location") -> tuple[str, tuple]:
    """The condition (and its argument) for the checks of one location; "local" is NULL."""
    if location is None:
        return "", ()
    if location == LOCAL:
        return f" AND {column} IS NULL", ()
    return f" AND {column} = %s", (location,)


def checks_page(conn: Any, monitor_id: str, since: float, until: float, limit: int,
                scan: int = SCAN_ROWS, location: str | None = None) -> CheckPage:
    """The monitor's checks with since <= timestamp < until, newest first, at most `limit`,
    walking at most about `scan` rows of the range (the table is indexed by time alone);
    of one `location` if given. A page that reaches the walk's bound says where the next
    one ends."""
    bound = conn.execute(
        "SELECT timestamp FROM website_monitoring WHERE timestamp >= %s::float8"
        " AND timestamp < %s::float8 ORDER BY timestamp DESC LIMIT 1 OFFSET %s",
        (since, until, scan - 1)).fetchone()
    low = since if bound is None else bound[0]
    where, extra = location_where(location)
    rows = conn.execute(
        f"SELECT {_CHECK_COLUMNS} FROM website_monitoring WHERE timestamp >= %s::float8 AND"
        f" timestamp < %s::float8 AND monitor = %s{where} ORDER BY timestamp DESC, id DESC"
        " LIMIT %s", (low, until, monitor_id, *extra, limit)).fetchall()
    checks = [_check(row) for row in rows]
    if len(checks) == limit:
        # The next page ends before the last row's instant: the rows of other locations at
        # that very instant are on this page too.
        last = checks[-1]
        checks += [_check(row) for row in conn.execute(
            f"SELECT {_CHECK_COLUMNS} FROM website_monitoring WHERE timestamp = %s::float8"
            f" AND monitor = %s{where} AND id < %s ORDER BY id DESC",
            (last.timestamp, monitor_id, *extra, last.id))]
        following: float | None = last.timestamp
    else:
        following = None if bound is None or low <= since else low
    if following is not None and conn.execute(
            "SELECT 1 FROM website_monitoring WHERE timestamp >= %s::float8"
            " AND timestamp < %s::float8 LIMIT 1", (since, following)).fetchone() is None:
        following = None  # no row of any monitor left in [since, following)
    return CheckPage(checks, following)


def _check(row: tuple) -> StoredCheck:
    (ident, timestamp, available, status, response, reason, detail, lateness, metrics, warn,
     location) = row
    return StoredCheck(ident, timestamp, None if available is None else bool(available),
                       status, response, reason, detail, lateness,
                       json.loads(metrics) if metrics else {}, bool(warn), location or LOCAL)


def agent_marks(conn: Any) -> dict[tuple[str, str], int]:
    """(agent, instance) -> the highest local row id of its checks stored."""
    return {(name, instance): upto for name, instance, upto
            in conn.execute("SELECT name, instance, upto FROM agents")}


def knows_monitor(conn: Any, monitor_id: str) -> bool:
    return conn.execute("SELECT 1 FROM monitors WHERE monitor = %s",
                        (monitor_id,)).fetchone() is not None


def alert_entries(conn: Any, monitor_id: str | None, kind: str | None, after: int,
                  before: int | None, limit: int) -> list[AlertEntry]:
    """Alert rows with after < id < before, of one monitor and one type if given, newest
    first: the `limit` newest of them, or with `after` (> 0) the `limit` just after it."""
    where = ["w.id > %s"]
    args: list[object] = [after]
    if before is not None:
        where.append("w.id < %s")
        args.append(before)
    if monitor_id is not None:
        where.append("w.monitor = %s")
        args.append(monitor_id)
    if kind is not None:
        where.append("w.type = %s")
        args.append(kind)
    order = "ASC" if after > 0 else "DESC"
    rows = conn.execute(f"{_ALERTS} WHERE {' AND '.join(where)} ORDER BY w.id {order}"
                        " LIMIT %s", [*args, limit]).fetchall()
    entries = [_entry(row) for row in rows]
    return entries[::-1] if after > 0 else entries


def alert_entry(conn: Any, alert_id: int) -> AlertEntry | None:
    row = conn.execute(f"{_ALERTS} WHERE w.id = %s", (alert_id,)).fetchone()
    return None if row is None else _entry(row)


def _entry(row: tuple) -> AlertEntry:
    ident, stamp, monitor_id, kind, start, end, availability, message, is_open = row[:9]
    ack = None if row[9] is None else AckRow(*row[9:])
    return AlertEntry(ident, stamp, monitor_id, kind, start, end, availability, message,
                      None if is_open is None else bool(is_open), ack)


def acked_starts(conn: Any, monitor_ids: Collection[str]) -> dict[str, set[str]]:
    """Each monitor's acknowledged alerts, by their start as stored (ISO-8601)."""
    found: dict[str, set[str]] = {}
    for monitor_id, start in conn.execute(
            "SELECT k.monitor, w.startdate FROM acks k JOIN website_alerts w ON w.id = k.alert"
            " WHERE k.monitor = ANY(%s::text[])", (sorted(monitor_ids),)):
        found.setdefault(monitor_id, set()).add(start)
    return found
