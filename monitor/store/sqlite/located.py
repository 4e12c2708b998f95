"""A few monitors' checks of a recent range with their locations, in SQLite: one walk of
the range's rows by id (the table's own order), bounded (monitor.store.located)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from monitor.core.model import LOCAL
from monitor.store.located import LocatedCheck, LocatedChecks


def located_checks(conn: sqlite3.Connection, monitor_ids: Collection[str], since: float,
                   until: float, scan: int) -> LocatedChecks:
    """The checks of `monitor_ids` with since <= timestamp <= until, by time, walking at
    most about `scan` rows (the newest)."""
    if not monitor_ids:
        return LocatedChecks([], since)
    # Every row of the range has an id from its lowest on: found on the time index alone
    # (it holds the ids), then the rows walked by id, the table's order, without a lookup
    # through the index per row (about twice as fast).
    first = conn.execute("SELECT min(id) FROM website_monitoring WHERE timestamp >= ? AND"
                         " timestamp <= ?", (since, until)).fetchone()[0]
    if first is None:
        return LocatedChecks([], since)
    last = conn.execute("SELECT max(id) FROM website_monitoring").fetchone()[0]
    low = max(first, last - scan + 1)
    if low > first:  # cut: from the first row walked
        (start,) = conn.execute("SELECT timestamp FROM website_monitoring WHERE id >= ?"
                                " ORDER BY id LIMIT 1", (low,)).fetchone()
        since = max(since, start)
    # `+timestamp`: not through the time index, whatever the planner would think of it.
    rows = conn.execute(
        "SELECT monitor, timestamp, location, available, warning, status, responseTime,"
        " reason FROM website_monitoring WHERE id >= ? AND +timestamp >= ? AND"
        " +timestamp <= ? AND monitor IN (SELECT value FROM json_each(?))"
        " ORDER BY timestamp, id", (low, since, until, json.dumps(list(monitor_ids))))
    return LocatedChecks([
        LocatedCheck(monitor, timestamp, location or LOCAL,
                     None if available is None else bool(available), bool(warning), status,
                     response, reason)
        for monitor, timestamp, location, available, warning, status, response, reason
        in rows], since)
