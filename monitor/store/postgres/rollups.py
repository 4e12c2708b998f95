"""The hour and day rollups in PostgreSQL, as SQLite's (sqlite/rollups.py: when a pass is
due, the chunks of monitors, which tiers a late check goes to, is its code): each finished
hour's 10-minute blocks (minutes before meta's blocks_since) summed into hour rows and the
hour into its day row, in SQL (sum, min, max, string_agg where SQLite has group_concat),
the histogram texts compacted in numpy. meta's `rolled_until` and `rolling` as in SQLite; a
pass's chunk is read again under an advisory lock (SQLite: BEGIN IMMEDIATE), so that two
writers never add an hour twice."""

from __future__ import annotations

import json

import psycopg

from monitor.store.codec import decode_counts_into, encode_counts, finite_total
from monitor.store.postgres.aggregates import set_days, upsert_aggs, upsert_metrics
from monitor.store.postgres.ranges import UPSERT_META
from monitor.store.sqlite.rollups import (
    DAY,
    HOUR,
    PASS_MONITORS,
    Rollups,
    _chunk_size,
    compact_hists,
    due_until,
)

_MARK = "rolled_until"
_PASS = "rolling"
_LOCK = 0x726F6C6C  # "roll": one pass at a time per database
_AGG_SUMS = ("sum(a.checks)::int8, sum(a.up)::int8, sum(a.rt_count)::int8, sum(a.rt_sum),"
             " min(a.rt_min), max(a.rt_max), string_agg(a.hist, ''),"
             " string_agg(NULLIF(a.outcomes, ''), ',')")
_METRIC_SUMS = "sum(a.count)::int8, sum(a.sum), min(a.min), max(a.max), string_agg(a.hist, '')"
_SOURCE = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    " SELECT a.monitor, a.start / %(span)s * %(span)s AS t{metric}, {sums}"
    " FROM {table} a JOIN r ON a.span = r.span AND a.start >= r.lo AND a.start < r.hi"
    " WHERE a.monitor = ANY(%(monitors)s) GROUP BY a.monitor, t{metric}")


def rolled_until(conn: psycopg.Connection) -> int:
    """Every hour before this (epoch seconds) is in the hour tier; 0: none yet."""
    row = conn.execute(f"SELECT value FROM meta WHERE key = '{_MARK}'").fetchone()
    return 0 if row is None else int(row[0])


def _compact_counts(text: str | None) -> str:
    if not text:
        return ""
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    decode_counts_into(text, statuses, reasons)
    return encode_counts(statuses | reasons)


def _rows(conn: psycopg.Connection, metric: bool, span: int,
          ranges: list[tuple[int, int, int]], monitors: list[str]) -> list[tuple]:
    """The chunk's rows of `ranges` summed into rows of `span`: (monitor, start[, metric],
    figures...)."""
    values = ",".join(f"(%(v{3 * i})s::int4, %(v{3 * i + 1})s::int8, %(v{3 * i + 2})s::int8)"
                      for i in range(len(ranges)))
    sql = _SOURCE.format(values=values, table="metric_aggs" if metric else "aggregates",
                         metric=", a.metric" if metric else "",
                         sums=_METRIC_SUMS if metric else _AGG_SUMS)
    args: dict[str, object] = {f"v{i}": v for i, v in enumerate(v for r in ranges for v in r)}
    found = conn.execute(sql, {**args, "span": span, "monitors": monitors}).fetchall()
    key = 3 if metric else 2
    hists = compact_hists([(row[key + (4 if metric else 6)] or "").encode()
                           for row in found])
    if metric:
        return [(*row[:4], finite_total(row[4]), *row[5:7], hist)
                for row, hist in zip(found, hists, strict=True)]
    return [(*row[:5], finite_total(row[5]), *row[6:8], hist, _compact_counts(row[9]))
            for row, hist in zip(found, hists, strict=True)]


def roll_chunk(conn: psycopg.Connection, since: int, until: int, monitors: list[str]) -> int:
    """Roll the hours from `since` to `until` of `monitors` into their hour and day rows of
    both tables, in the caller's transaction: the hour rows written."""
    mark = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    blocks = 0 if mark is None else int(mark[0]) * 600
    hours = [r for r in ((600, max(since, blocks), until), (60, since, min(until, blocks)))
             if r[1] < r[2]]
    day_lo = since // DAY * DAY
    days = [(HOUR, since, until), *([(DAY, day_lo, day_lo + 1)] if since > day_lo else [])]
    written = 0
    for metric in (False, True):
        for span, ranges in ((HOUR, hours), (DAY, days)):
            rows = _rows(conn, metric, span, ranges, monitors)
            if not rows:
                continue
            if metric:
                upsert_metrics(conn, [(row[0], span, *row[1:]) for row in rows], add=False)
                continue
            upsert_aggs(conn, [(row[0], span, *row[1:]) for row in rows])
            if span == HOUR:
                written += len(rows)
            else:
                set_days(conn, [(row[0], row[1], row[2], row[3]) for row in rows
                                if row[1] + DAY <= until])
    return written


def _start(conn: psycopg.Connection, mark: int, until: int) -> int:
    if mark:
        return min(mark, until)
    row = conn.execute(
        "SELECT min(first) FROM (SELECT (SELECT min(start) FROM aggregates a WHERE"
        " a.monitor = s.monitor AND a.span = 60) AS first FROM monitor_state s UNION ALL"
        " SELECT (SELECT min(start) FROM aggregates a WHERE a.monitor = s.monitor AND"
        " a.span = 600) FROM monitor_state s) AS firsts").fetchone()
    return until if row is None or row[0] is None else min(int(row[0]) // HOUR * HOUR, until)


def _set_mark(conn: psycopg.Connection, until: int) -> None:
    conn.execute(UPSERT_META, (_MARK, str(until)))
    conn.execute("DELETE FROM meta WHERE key = %s", (_PASS,))


class PgRollups(Rollups):
    """SQLite's passes, with PostgreSQL's statements."""

    def load(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        if self.until is None:
            self._read(conn)

    def _read(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        row = conn.execute("SELECT value FROM meta WHERE key = %s", (_PASS,)).fetchone()
        self._pass = None
        if row is not None:
            end, done = json.loads(row[0])
            self._pass = (end, done)
        self.until = rolled_until(conn)

    def roll(self, conn: psycopg.Connection) -> int:  # type: ignore[override]
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        self._read(conn)
        assert self.until is not None
        until, done = self._pass or (due_until(self._clock()), "")
        if until <= self.until:  # done by another writer
            conn.execute("COMMIT")
            self._retry_at, self._failures = None, 0
            return 0
        since = _start(conn, self.until, until)
        size = min(PASS_MONITORS, _chunk_size(since, until))
        # In the C collation, as SQLite compares texts: the order the pass's mark assumes.
        monitors = [m for (m,) in conn.execute(
            'SELECT monitor FROM monitor_state WHERE monitor > %s COLLATE "C"'
            ' ORDER BY monitor COLLATE "C" LIMIT %s', (done, size + 1))]
        last = len(monitors) <= size
        monitors = monitors[:size]
        written = roll_chunk(conn, since, until, monitors) if monitors and since < until else 0
        if last:
            _set_mark(conn, until)
        else:
            conn.execute(UPSERT_META, (_PASS, json.dumps([until, monitors[-1]])))
        conn.execute("COMMIT")
        self._retry_at, self._failures = None, 0
        if last:
            self._pass, self.until = None, until
        else:
            self._pass = (until, monitors[-1])
        return written
