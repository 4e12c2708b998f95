"""The dashboard's reads of every monitor at once, in PostgreSQL (as
monitor.store.sqlite.dashboard, which says how the windows are counted): checks and
checks up over windows ending now, the last minutes' response times, the last failures,
in one snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.store.dashboard import SPARK_POINTS, Dashboard, Failure, Spark
from monitor.store.events import Position
from monitor.store.postgres.events import NEWEST, snapshot
from monitor.store.postgres.summaries import (
    blocks_since,
    day_counts,
    monitor_summaries,
    rolled_until,
)
from monitor.store.sqlite.dashboard import plan
from monitor.store.tiers import DAY, MINUTE

# Every window's terms summed in one lateral subquery per monitor (a seek per term), each
# window's apart by its index: one subquery a monitor, not one per window.
_TERMS = (
    "SELECT s.monitor, t.* FROM monitor_state s CROSS JOIN LATERAL (SELECT {sums}"
    " FROM unnest(%(win)s::int[], %(sign)s::int[], %(span)s::int[], %(lo)s::bigint[],"
    " %(hi)s::bigint[]) AS r(win, sign, span, lo, hi) JOIN aggregates a"
    " ON a.monitor = s.monitor AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi) t")
_SUMS = ("sum(r.sign * a.checks) FILTER (WHERE r.win = {i}),"
         " sum(r.sign * a.up) FILTER (WHERE r.win = {i})")
_RAWS = ("SELECT monitor, count(available), coalesce(sum(available), 0)::bigint"
         " FROM website_monitoring WHERE timestamp >= %s::float8 AND timestamp <= %s::float8"
         " GROUP BY monitor")


def window_counts(conn: Any, starts: Sequence[int], end: float,
                  ) -> dict[str, list[tuple[int, int]]]:
    """Each monitor's (checks, up) of each window [start, end], in the order of `starts`;
    monitors with no checks in any left out."""
    live = conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp > %s::float8"
                        " LIMIT 1", (end,)).fetchone() is None
    heads, raws = plan(starts, end, live, rolled_until(conn), blocks_since(conn))
    width = len(starts)
    found: dict[str, list[tuple[int, int]]] = {}
    first = min(head.first_day for head in heads)
    if first <= end:
        ids, day0, counts = day_counts(conn, None, int((end - first) // DAY) + 1, end)
        running = counts.cumsum(axis=1)
        total = running[:, -1]
        sums = []
        for head in heads:
            skip = (head.first_day - day0) // DAY
            sums.append((total - running[:, skip - 1] if skip > 0 else total).tolist())
        found = {monitor_id: [(s[m][0], s[m][1]) for s in sums]
                 for m, monitor_id in enumerate(ids)}
    nothing = [(0, 0)] * width
    with_terms = [head.terms for head in heads if head.terms]
    if with_terms:
        query = _TERMS.format(sums=", ".join(_SUMS.format(i=i)
                                             for i in range(len(with_terms))))
        terms = [(i, t) for i, head_terms in enumerate(with_terms) for t in head_terms]
        params = {"win": [i for i, _t in terms], "sign": [t.sign for _i, t in terms],
                  "span": [int(t.range.span) for _i, t in terms],
                  "lo": [int(t.range.lo) for _i, t in terms],
                  "hi": [int(t.range.hi) for _i, t in terms]}
        which = [i for i, head in enumerate(heads) if head.terms]
        for monitor_id, *figures in conn.execute(query, params):
            row = list(found.get(monitor_id, nothing))
            for j, i in enumerate(which):
                checks, up = figures[2 * j], figures[2 * j + 1]
                if checks is not None:
                    row[i] = (row[i][0] + int(checks), row[i][1] + int(up))
            found[monitor_id] = row
    for piece in raws:
        for monitor_id, checks, up in conn.execute(_RAWS, (piece.lo, piece.hi)):
            old = found.get(monitor_id, nothing)
            found[monitor_id] = [(c + checks, u + up) for c, u in old]
    return {monitor_id: windows for monitor_id, windows in found.items()
            if any(checks for checks, _up in windows)}


# A sparkline's value: two significant digits, written as SQLite's reader writes them
# (numeric's round, its trailing zeros taken off but one: "0.5", "5.0", "0.25").
_V = "(a.rt_sum / a.rt_count)"
_TRIM = r"regexp_replace(round({v}::numeric, {n})::text, '(\.[0-9]*?[0-9])0+$', '\1')"
_VALUE = (f"CASE WHEN a.rt_count = 0 THEN '' ELSE CASE"
          f" WHEN {_V} >= 1000 THEN (trunc({_V} / 100 + 0.5)::bigint * 100)::text"
          f" WHEN {_V} >= 100 THEN (trunc({_V} / 10 + 0.5)::bigint * 10)::text"
          f" WHEN {_V} >= 10 THEN trunc({_V} + 0.5)::bigint::text"
          f" WHEN {_V} >= 1 THEN {_TRIM.format(v=_V, n=1)}"
          f" ELSE {_TRIM.format(v=_V, n=2)} END END")
_SPARKS = (
    "SELECT m.monitor, sp.v, sp.last, sp.n FROM monitors m CROSS JOIN LATERAL ("
    f" SELECT string_agg({_VALUE}, ',' ORDER BY a.start) AS v, max(a.start) AS last,"
    " (array_agg(a.rt_count ORDER BY a.start DESC))[1] AS n FROM aggregates a"
    " WHERE a.monitor = m.monitor AND a.span = 60 AND a.start <= %(minute)s::bigint"
    " AND a.start > %(minute)s::bigint - %(points)s::int * greatest(60, m.interval)) sp")


def recent_responses(conn: Any, now: float, points: int = SPARK_POINTS) -> dict[str, Spark]:
    """Each monitor's response time per minute over its last `points` intervals (a
    minute at least), up to the minute of `now`; monitors without checks then left out."""
    minute = int(now // MINUTE) * MINUTE
    return {monitor_id: Spark(values, int(last), int(count))
            for monitor_id, values, last, count in conn.execute(
                _SPARKS, {"minute": minute, "points": points}) if values is not None}


# The raw check at each monitor's last failure (a seek by time, the only index there).
_FAILURES = (
    "SELECT s.monitor, s.last_failure, w.reason, w.detail FROM monitor_state s"
    " LEFT JOIN website_monitoring w ON w.timestamp = s.last_failure"
    " AND w.monitor = s.monitor AND w.available = 0"
    " WHERE s.last_failure IS NOT NULL ORDER BY w.id NULLS FIRST")


def last_failures(conn: Any) -> dict[str, Failure]:
    return {monitor_id: Failure(at, reason, detail)
            for monitor_id, at, reason, detail in conn.execute(_FAILURES)}


def dashboard(conn: Any, starts: Sequence[int], end: float) -> Dashboard:
    """Everything the dashboard shows of every monitor, in one snapshot."""
    with snapshot(conn):
        check, alert = conn.execute(NEWEST).fetchone()
        return Dashboard(Position(check or 0, alert or 0), monitor_summaries(conn),
                         window_counts(conn, starts, end), recent_responses(conn, end),
                         last_failures(conn))
