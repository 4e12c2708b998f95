"""A few monitors' checks of a recent range with their locations, in PostgreSQL: one
bounded read of the range's newest rows (monitor.store.located)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from monitor.core.model import LOCAL
from monitor.store.located import LocatedCheck, LocatedChecks


def located_checks(conn: Any, monitor_ids: Collection[str], since: float, until: float,
                   scan: int) -> LocatedChecks:
    """The checks of `monitor_ids` with since <= timestamp <= until, by time, among the
    newest `scan` rows of the table (the planner walks them by id or by time, whichever
    is fewer)."""
    if not monitor_ids:
        return LocatedChecks([], since)
    (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM website_monitoring").fetchone()
    low = last - scan + 1
    if low > 1:  # the range may hold more rows than are walked: from the first one walked
        found = conn.execute("SELECT timestamp FROM website_monitoring WHERE id >= %s"
                             " ORDER BY id LIMIT 1", (low,)).fetchone()
        if found is not None:
            since = max(since, found[0])
    rows = conn.execute(
        "SELECT monitor, timestamp, location, available, warning, status, responseTime,"
        " reason, id FROM website_monitoring WHERE id >= %s AND timestamp >= %s::float8 AND"
        " timestamp <= %s::float8 AND monitor = ANY(%s)",
        (low, since, until, list(monitor_ids))).fetchall()
    # Sorted here: an ORDER BY could make the planner walk the time index for its order.
    rows.sort(key=lambda row: (row[1], row[8]))
    return LocatedChecks([
        LocatedCheck(monitor, timestamp, location or LOCAL,
                     None if available is None else bool(available), bool(warning), status,
                     response, reason)
        for monitor, timestamp, location, available, warning, status, response, reason, _
        in rows], since)
