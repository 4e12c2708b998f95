"""A few monitors' checks of a recent range with their locations, in SQLite: one walk of
the range's rows by id (the table's own order), bounded (monitor.store.located)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from monitor.core.model import LOCAL
from monitor.store.located import PROBE, LocatedCheck, LocatedChecks


def located_checks(conn: sqlite3.Connection, monitor_ids: Collection[str], since: float,
                   until: float, scan: int) -> LocatedChecks:
    """The checks of `monitor_ids` with since <= timestamp <= until, by time, walking at
    most about `scan` rows (the newest)."""
    if not monitor_ids:
        return LocatedChecks([], since)
    # The rows are walked by id, the table's own order (no lookup through the time index
    # per row: about twice as fast), from the first written of the range's first seconds:
    # found on the time index alone, which holds the ids. (The range's lowest id overall
    # would walk every index entry of the range: a row dated later but written before all
    # of those is one from a clock ahead by as much, not read.)
    first = None
    for upto in (min(until, since + PROBE), until):
        first = conn.execute("SELECT min(id) FROM website_monitoring WHERE timestamp >= ?"
                             " AND timestamp <= ?", (since, upto)).fetchone()[0]
        if first is not None:
            break
    if first is None:
        return LocatedChecks([], since)
    last = conn.execute("SELECT max(id) FROM website_monitoring").fetchone()[0]
    low = max(first, last - scan + 1)
    if low > first:  # cut: from the first row walked
        (start,) = conn.execute("SELECT timestamp FROM website_monitoring WHERE id >= ?"
                                " ORDER BY id LIMIT 1", (low,)).fetchone()
        since = max(since, start)
    # `+timestamp` and no ORDER BY: the time index would be walked instead, all of it.
    rows = conn.execute(
        "SELECT monitor, timestamp, location, available, warning, status, responseTime,"
        " reason FROM website_monitoring WHERE id >= ? AND +timestamp >= ? AND"
        " +timestamp <= ? AND monitor IN (SELECT value FROM json_each(?))",
        (low, since, until, json.dumps(list(monitor_ids)))).fetchall()
    rows.sort(key=lambda row: row[1])  # by time; the same instant: by id (a stable sort)
    return LocatedChecks([
        LocatedCheck(monitor, timestamp, location or LOCAL,
                     None if available is None else bool(available), bool(warning), status,
                     response, reason)
        for monitor, timestamp, location, available, warning, status, response, reason
        in rows], since)
