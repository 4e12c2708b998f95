"""The dashboard's reads of every monitor at once (monitor.store.dashboard): checks and
checks up over windows ending now, the last minutes' response times, the last failures.

Windows (24 h, 7 d, 30 d) count exactly the checks the stats count for them (stats.py,
store.tiers), from other rows. Read as the stats read them, the three windows of 5,000
monitors take 15 seeks and about 140 rows a monitor (its hours, blocks and minutes at both
ends of each window, and its days): 0.66 s. Here the whole days come from the packed days
and today from each monitor's counts in monitor_state, as the uptime per day reads them
(summaries.py: no seek a monitor), and only the part of each window's first day is read
from the tiers, on whichever side of its start has fewer rows: the rows after the start,
or the day less the rows before it. 9 seeks and about 50 rows a monitor: 0.22 s."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from monitor.store.api import Range, RawPiece
from monitor.store.dashboard import SPARK_POINTS, Dashboard, Failure, Spark
from monitor.store.events import Position
from monitor.store.sqlite.events import _NEWEST, _snapshot
from monitor.store.sqlite.rollups import rolled_until
from monitor.store.sqlite.summaries import _blocks_since, _day_counts, monitor_summaries
from monitor.store.tiers import DAY, MINUTE, cover


class Term(NamedTuple):
    """The rows of `range`, added (sign 1) or taken (-1) to window `window`'s checks."""

    window: int
    sign: int
    range: Range


class Head(NamedTuple):
    """A window's whole days from `first_day` on (counted from the days), and the terms of
    the rest of it."""

    first_day: int
    terms: list[Term]


def _rows(ranges: Sequence[Range]) -> int:
    return sum((r.hi - r.lo) // r.span for r in ranges)


def plan(starts: Sequence[int], end: float, live: bool, rolled: float,
         blocks_since: float) -> tuple[list[Head], list[RawPiece]]:
    """How to count each window [start, end] (starts on whole minutes): its days from
    first_day to the day of `end`, and its terms; and the raw pieces every window adds.
    A window that is not `live` (checks are stored after `end`) is read as the stats
    read it (stats._plan): the days of monitor_state count checks after `end` too."""
    hi = int(end // MINUTE) * MINUTE + (MINUTE if live else 0)
    today = int(end // DAY) * DAY
    heads = []
    for i, start in enumerate(starts):
        if start % MINUTE or start >= hi:
            raise ValueError(f"a window starts on a minute before its end: {start}, {end}")
        day = start // DAY * DAY
        stop = min(day + DAY, hi)
        after = cover(start, stop, rolled, blocks_since, live=live and stop == hi)
        before = cover(day, start, rolled, blocks_since)
        if not live:
            whole = cover(start, hi, rolled, blocks_since)
            heads.append(Head(today + DAY, [Term(i, 1, r) for r in whole]))
        elif _rows(before) < _rows(after):  # the whole day, less its rows before the start
            heads.append(Head(day, [Term(i, -1, r) for r in before]))
        else:
            heads.append(Head(min(day + DAY, today + DAY), [Term(i, 1, r) for r in after]))
    return heads, ([] if live else [RawPiece(hi, end, True)])


# Monitor by monitor (monitor_state holds every monitor with aggregates), each window's
# terms in a subquery of its own, a seek per term: plain sums per row (a sum per window
# chosen by a CASE on every row cost a third more).
_WINDOW = ("(SELECT sum(r.sign * a.checks) || ',' || sum(r.sign * a.up) FROM r{i}"
           " r CROSS JOIN aggregates a ON a.monitor = s.monitor AND a.span = r.span"
           " AND a.start >= r.lo AND a.start < r.hi)")
_TERMS = "WITH {ranges} SELECT s.monitor, {windows} FROM monitor_state s"


_RAWS = ("SELECT monitor, count(available), CAST(total(available) AS INTEGER)"
         " FROM website_monitoring WHERE timestamp >= ? AND timestamp <= ? GROUP BY monitor")


def window_counts(conn: sqlite3.Connection, starts: Sequence[int], end: float,
                  ) -> dict[str, list[tuple[int, int]]]:
    """Each monitor's (checks, up) of each window [start, end], in the order of `starts`;
    monitors with no checks in any left out."""
    live = conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp > ? LIMIT 1",
                        (end,)).fetchone() is None
    heads, raws = plan(starts, end, live, rolled_until(conn), _blocks_since(conn))
    width = len(starts)
    found: dict[str, list[tuple[int, int]]] = {}
    first = min(head.first_day for head in heads)
    if first <= end:
        ids, day0, counts = _day_counts(conn, None, int((end - first) // DAY) + 1, end)
        # Each window's days summed from a running total: one pass over the array.
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
        ranges = ",".join(f"r{i}(sign, span, lo, hi) AS (VALUES"
                          f" {','.join(['(?,?,?,?)'] * len(t))})"
                          for i, t in enumerate(with_terms))
        query = _TERMS.format(ranges=ranges, windows=",".join(
            _WINDOW.format(i=i) for i in range(len(with_terms))))
        params = [v for terms in with_terms for t in terms for v in (t.sign, *t.range)]
        which = [i for i, head in enumerate(heads) if head.terms]
        for monitor_id, *texts in conn.execute(query, params):
            row = list(found.get(monitor_id, nothing))
            for i, text in zip(which, texts, strict=True):
                if text is not None:
                    checks, up = map(int, text.split(","))
                    row[i] = (row[i][0] + checks, row[i][1] + up)
            found[monitor_id] = row
    for piece in raws:
        for monitor_id, checks, up in conn.execute(_RAWS, (piece.lo, piece.hi)):
            old = found.get(monitor_id, nothing)
            found[monitor_id] = [(c + checks, u + up) for c, u in old]
    return {monitor_id: windows for monitor_id, windows in found.items()
            if any(checks for checks, _up in windows)}


# Each monitor's minute rows from `points` of its intervals (a minute at least) back, in
# order: a seek each. Two significant digits: a sparkline's shape needs no more, and the
# page carries 100,000 of them at 5,000 monitors.
_V = "(rt_sum / rt_count)"
_VALUE = (f"CASE WHEN rt_count = 0 THEN '' ELSE CASE"
          f" WHEN {_V} >= 1000 THEN CAST(CAST({_V} / 100 + 0.5 AS INTEGER) * 100 AS TEXT)"
          f" WHEN {_V} >= 100 THEN CAST(CAST({_V} / 10 + 0.5 AS INTEGER) * 10 AS TEXT)"
          f" WHEN {_V} >= 10 THEN CAST(CAST({_V} + 0.5 AS INTEGER) AS TEXT)"
          f" WHEN {_V} >= 1 THEN CAST(round({_V}, 1) AS TEXT)"
          f" ELSE CAST(round({_V}, 2) AS TEXT) END END")
_SPARKS = (
    "SELECT m.monitor, (SELECT group_concat(v) || char(0) || max(start) || char(0) || n"
    f" FROM (SELECT {_VALUE} AS v, start, rt_count AS n FROM aggregates a"
    " WHERE a.monitor = m.monitor AND a.span = 60 AND a.start <= :minute"
    " AND a.start > :minute - :points * max(60, m.interval) ORDER BY a.start))"
    " FROM monitors m")


def recent_responses(conn: sqlite3.Connection, now: float, points: int = SPARK_POINTS,
                     ) -> dict[str, Spark]:
    """Each monitor's response time per minute over its last `points` intervals (a
    minute at least), up to the minute of `now`; monitors without checks then left out."""
    minute = int(now // MINUTE) * MINUTE
    found = {}
    for monitor_id, text in conn.execute(_SPARKS, {"minute": minute, "points": points}):
        if text is not None:
            values, last, count = text.split("\0")
            found[monitor_id] = Spark(values, int(last), int(count))
    return found


# The raw check at each monitor's last failure (a seek by time, the only index there).
_FAILURES = (
    "SELECT s.monitor, s.last_failure, w.reason, w.detail FROM monitor_state s"
    " LEFT JOIN website_monitoring w ON w.timestamp = s.last_failure"
    " AND w.monitor = s.monitor AND w.available = 0"
    " WHERE s.last_failure IS NOT NULL ORDER BY w.id")


def last_failures(conn: sqlite3.Connection) -> dict[str, Failure]:
    """Each monitor's latest failed check (kept in monitor_state), with its reason and
    detail from the raw check while it is kept."""
    return {monitor_id: Failure(at, reason, detail)
            for monitor_id, at, reason, detail in conn.execute(_FAILURES)}


def dashboard(conn: sqlite3.Connection, starts: Sequence[int], end: float) -> Dashboard:
    """Everything the dashboard shows of every monitor, in one snapshot."""
    with _snapshot(conn):
        check, alert = conn.execute(_NEWEST).fetchone()
        return Dashboard(Position(check or 0, alert or 0), monitor_summaries(conn),
                         window_counts(conn, starts, end), recent_responses(conn, end),
                         last_failures(conn))
