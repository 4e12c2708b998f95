"""The history reads of the web API in SQLite, and the acknowledgements of alerts: one
monitor's raw checks a bounded page at a time, alert rows with whether they are open and
their acknowledgement, the acknowledged alerts the engine polls, and the writer's part
(acks written in its batches, purged with their alerts)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable

from monitor.core.model import LOCAL
from monitor.store.api import Ack
from monitor.store.history import SCAN_ROWS, AckRow, AlertEntry, CheckPage, StoredCheck

_CHECK_COLUMNS = ("id, timestamp, available, status, responseTime, reason, detail, lateness,"
                  " metrics, warning, location")
# An 'alert' row is open until a later alert or recovery row of its monitor (the index on
# (monitor, id): one seek); the other types have no such state.
_ALERT_COLUMNS = (
    "w.id, w.timestamp, w.monitor, w.type, w.startDate, w.endDate, w.availability, w.message,"
    " CASE WHEN w.type = 'alert' THEN NOT EXISTS (SELECT 1 FROM website_alerts r"
    " WHERE r.monitor = w.monitor AND r.id > w.id AND r.type IN ('alert', 'recovery')) END,"
    " k.alert, k.monitor, k.at, k.by")
_ALERTS = f"SELECT {_ALERT_COLUMNS} FROM website_alerts w LEFT JOIN acks k ON k.alert = w.id"


def checks_page(conn: sqlite3.Connection, monitor_id: str, since: float, until: float,
                limit: int, scan: int = SCAN_ROWS, location: str | None = None) -> CheckPage:
    """The monitor's checks with since <= timestamp < until, newest first, at most `limit`,
    walking at most about `scan` rows of the range (every monitor's: the table is indexed by
    time alone); of one `location` if given ("local": NULL in the table). The walk's bound
    is found on the index alone (no row read); a page that reaches it says where the next
    one ends."""
    bound = conn.execute(
        "SELECT timestamp FROM website_monitoring WHERE timestamp >= ? AND timestamp < ?"
        " ORDER BY timestamp DESC LIMIT 1 OFFSET ?", (since, until, scan - 1)).fetchone()
    low = since if bound is None else bound[0]
    where, args = "", [low, until, monitor_id]
    if location == LOCAL:
        where = " AND location IS NULL"
    elif location is not None:
        where, args = " AND location = ?", [*args, location]
    rows = conn.execute(
        f"SELECT {_CHECK_COLUMNS} FROM website_monitoring WHERE timestamp >= ? AND"
        f" timestamp < ? AND monitor = ?{where} ORDER BY timestamp DESC, id DESC LIMIT ?",
        (*args, limit)).fetchall()
    checks = [_check(row) for row in rows]
    if len(checks) == limit:
        # The next page ends before the last row's instant: the rows of other locations at
        # that very instant (checks of one monitor from several) are on this page too.
        last = checks[-1]
        checks += [_check(row) for row in conn.execute(
            f"SELECT {_CHECK_COLUMNS} FROM website_monitoring WHERE timestamp = ? AND"
            f" monitor = ?{where} AND id < ? ORDER BY id DESC",
            (last.timestamp, monitor_id, *args[3:], last.id))]
        following: float | None = last.timestamp
    else:
        following = None if bound is None or low <= since else low
    if following is not None and not _any_before(conn, since, following):
        following = None
    return CheckPage(checks, following)


def _any_before(conn: sqlite3.Connection, since: float, until: float) -> bool:
    """Whether any row (of any monitor) is left in [since, until): a page at the very end of
    the range says there is no next one."""
    return conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp >= ? AND"
                        " timestamp < ? LIMIT 1", (since, until)).fetchone() is not None


def _check(row: tuple) -> StoredCheck:
    (ident, timestamp, available, status, response, reason, detail, lateness, metrics, warn,
     location) = row
    return StoredCheck(ident, timestamp, None if available is None else bool(available),
                       status, response, reason, detail, lateness,
                       json.loads(metrics) if metrics else {}, bool(warn), location or LOCAL)


def agent_marks(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """(agent, instance) -> the highest local row id of its checks stored."""
    return {(name, instance): upto for name, instance, upto
            in conn.execute("SELECT name, instance, upto FROM agents")}


def knows_monitor(conn: sqlite3.Connection, monitor_id: str) -> bool:
    """Whether the database has the monitor in its list (configured now or once)."""
    return conn.execute("SELECT 1 FROM monitors WHERE monitor = ?",
                        (monitor_id,)).fetchone() is not None


def alert_entries(conn: sqlite3.Connection, monitor_id: str | None, kind: str | None,
                  after: int, before: int | None, limit: int) -> list[AlertEntry]:
    """Alert rows with after < id < before (None: no upper bound), of one monitor and one
    type if given, newest first: the `limit` newest of them, or with `after` (> 0) the
    `limit` just after it (a client that polls for new rows misses none)."""
    where = ["w.id > ?"]
    args: list[object] = [after]
    if before is not None:
        where.append("w.id < ?")
        args.append(before)
    if monitor_id is not None:
        where.append("w.monitor = ?")
        args.append(monitor_id)
    if kind is not None:
        where.append("w.type = ?")
        args.append(kind)
    order = "ASC" if after > 0 else "DESC"
    rows = conn.execute(f"{_ALERTS} WHERE {' AND '.join(where)} ORDER BY w.id {order}"
                        " LIMIT ?", [*args, limit]).fetchall()
    entries = [_entry(row) for row in rows]
    return entries[::-1] if after > 0 else entries


def alert_entry(conn: sqlite3.Connection, alert_id: int) -> AlertEntry | None:
    row = conn.execute(f"{_ALERTS} WHERE w.id = ?", (alert_id,)).fetchone()
    return None if row is None else _entry(row)


def _entry(row: tuple) -> AlertEntry:
    ident, stamp, monitor_id, kind, start, end, availability, message, is_open = row[:9]
    ack = None if row[9] is None else AckRow(*row[9:])
    return AlertEntry(ident, stamp, monitor_id, kind, start, end, availability, message,
                      None if is_open is None else bool(is_open), ack)


def acked_starts(conn: sqlite3.Connection, monitor_ids: Collection[str],
                 ) -> dict[str, set[str]]:
    """Each monitor's acknowledged alerts, by their start as stored (ISO-8601): what the
    engine compares with the alert it holds open. The acks table holds only what people
    acknowledged, a few rows: walked whole."""
    found: dict[str, set[str]] = {}
    for monitor_id, start in conn.execute(
            "SELECT k.monitor, w.startDate FROM acks k JOIN website_alerts w ON w.id = k.alert"
            " WHERE k.monitor IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(monitor_ids)),)):
        found.setdefault(monitor_id, set()).add(start)
    return found


def write_acks(conn: sqlite3.Connection, acks: Iterable[Ack]) -> None:
    """Insert the acknowledgements (in the writer's open transaction); the first of an
    alert stays: acknowledging again changes nothing."""
    conn.executemany("INSERT OR IGNORE INTO acks (alert, monitor, at, by) VALUES (?,?,?,?)",
                     [(a.alert, a.monitor_id, a.at, a.by) for a in acks])


def purge_acks(conn: sqlite3.Connection) -> None:
    """The acknowledgements of purged alerts go with them (in the purge's transaction)."""
    conn.execute("DELETE FROM acks WHERE alert NOT IN (SELECT id FROM website_alerts)")
