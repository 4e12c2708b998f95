"""The reads of a metrics scrape in PostgreSQL (as monitor.store.sqlite.scrape): the day's
checks by reason from a few aggregate rows per monitor, and the notifications waiting."""

from __future__ import annotations

from typing import Any

from monitor.store.postgres.summaries import rolled_until
from monitor.store.scrape import DayCounts
from monitor.store.sqlite.rollups import DAY
from monitor.store.sqlite.scrape import _REASON

# The day row (the hours of its day rolled so far), then the 10-minute blocks after
# those; only outcomes with a reason (not digits alone) are joined.
_DAY_COUNTS = (
    "SELECT m.monitor, t.* FROM monitor_state m CROSS JOIN LATERAL (SELECT"
    " sum(a.checks)::bigint AS checks, sum(a.up)::bigint,"
    " string_agg(CASE WHEN a.outcomes ~ '[^0-9:,]' THEN a.outcomes END, ',')"
    " FROM (VALUES (%(day_span)s::int, %(day)s::bigint), (600, %(blocks)s::bigint))"
    " AS r(span, lo) JOIN aggregates a ON a.monitor = m.monitor AND a.span = r.span"
    " AND a.start >= r.lo) t WHERE t.checks IS NOT NULL")


def day_counts(conn: Any, day: int) -> dict[str, DayCounts]:
    found = {}
    for monitor_id, checks, up, outcomes in conn.execute(_DAY_COUNTS, {
            "day_span": DAY, "day": day, "blocks": max(day, rolled_until(conn))}):
        reasons: dict[str, int] = {}
        if outcomes is not None:
            for reason, count in _REASON.findall(outcomes):
                reasons[reason] = reasons.get(reason, 0) + int(count)
        found[monitor_id] = DayCounts(checks, up, reasons)
    return found


def notifications_waiting(conn: Any) -> dict[str, int]:
    return dict(conn.execute("SELECT provider, count(*) FROM outbox WHERE sent IS NULL AND"
                             " failed IS NULL GROUP BY provider"))
