"""The reads of a metrics scrape, for every monitor at once and cheap at any history: the
day's checks by reason from a few aggregate rows per monitor (the day's rollup of the hours
rolled so far, then the 10-minute blocks since), and the notifications waiting."""

from __future__ import annotations

import re
import sqlite3

from monitor.store.scrape import DayCounts
from monitor.store.sqlite.rollups import DAY, rolled_until

# Each monitor's rows in two seeks (the key leads with the monitor; every monitor with
# aggregates has a state row): the day row, which holds the hours of its day rolled so far,
# then the 10-minute blocks after those; summed in SQL in the scan's order, one row out per
# monitor. Only outcomes with a reason (a letter: codes are digits) are joined: most rows
# have none, and Python is left nothing to parse for them.
_DAY_COUNTS = (
    "WITH r(span, lo) AS (VALUES (:day_span, :day), (600, :blocks))"
    " SELECT m.monitor, sum(a.checks), sum(a.up),"
    " group_concat(CASE WHEN a.outcomes GLOB '*[^0-9:,]*' THEN a.outcomes END, ',')"
    " FROM monitor_state m CROSS JOIN r CROSS JOIN aggregates a ON a.monitor = m.monitor"
    " AND a.span = r.span AND a.start >= r.lo GROUP BY m.monitor")
# The entries of an outcomes text whose key is a reason (a status code is digits only).
_REASON = re.compile(r"(?:^|(?<=,))(?!\d+:)([^,]+):(\d+)")


def day_counts(conn: sqlite3.Connection, day: int) -> dict[str, DayCounts]:
    """Each monitor's checks from `day` (the start of a UTC day, epoch seconds) on: the day
    rows (the hours rolled up), then the 10-minute blocks after the last hour rolled."""
    found = {}
    for monitor_id, checks, up, outcomes in conn.execute(_DAY_COUNTS, {
            "day_span": DAY, "day": day, "blocks": max(day, rolled_until(conn))}):
        reasons: dict[str, int] = {}
        if outcomes is not None:
            for reason, count in _REASON.findall(outcomes):
                reasons[reason] = reasons.get(reason, 0) + int(count)
        found[monitor_id] = DayCounts(checks, up, reasons)
    return found


def notifications_waiting(conn: sqlite3.Connection) -> dict[str, int]:
    """Provider -> its notifications neither sent nor given up (the outbox_pending index)."""
    return dict(conn.execute("SELECT provider, count(*) FROM outbox WHERE sent IS NULL AND"
                             " failed IS NULL GROUP BY provider"))
