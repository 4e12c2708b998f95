"""The hour and day rollups of `aggregates` and `metric_aggs`, made from the finished lower
tier rather than from raw checks: once an hour has ended (and LATE_HORIZON after), each
monitor's 10-minute blocks of it (its minutes, before meta's blocks_since) are merged into
its hour row, and that hour into its day row. meta's `rolled_until` says up to when: every
hour before it is rolled, and every day before it rounded down to a day; the day row of
that last day holds the hours rolled so far. Readers use the two tiers below it only. A
day rolled up whole has its checks and checks up packed in `uptime_days` too (uptime.py).

The writer rolls each finished hour (`Rollups`); the migration to schema 10 rolls every
hour a file already held, with the same code (`roll_up`). A check or metric value written
after its hour was rolled (held back by a refusing disk) is added to the hour and day rows
too, by the writer (aggregates.py), so that the tiers keep adding up.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from monitor.store.codec import MinuteAgg, decode_hist_into, encode_hist
from monitor.store.sqlite import uptime

HOUR = 3600
DAY = 86400
ROLLUP_SPANS = (HOUR, DAY)
# Seconds after its end an aggregate row is kept in memory for late checks, and an hour is
# rolled up: the checks of its last minutes are in its blocks by then.
LATE_HORIZON = 120.0
RETRY_AFTER = 60.0  # seconds after a failed pass (a full disk) the next one is tried
# Rows of a tier below read at once: monitors are rolled in chunks of about this many.
CHUNK_ROWS = 50_000
_MARK = "rolled_until"

_AGG_COLUMNS = "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
_METRIC_COLUMNS = "count, sum, min, max, hist"
# A monitor's rows of the ranges (span, lo, hi): one seek per monitor and range.
_SOURCE = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    " SELECT a.monitor, a.start{metric}, {columns} FROM json_each(?) m CROSS JOIN r"
    " CROSS JOIN {table} a ON a.monitor = m.value AND a.span = r.span AND a.start >= r.lo"
    " AND a.start < r.hi")
_UPSERT = (
    "INSERT OR REPLACE INTO {table} (monitor, span, start{metric}, {columns})"
    " SELECT {items} FROM json_each(?)")


def rolled_until(conn: sqlite3.Connection) -> int:
    """Every hour before this (epoch seconds) is in the hour tier; 0: none yet."""
    row = conn.execute(f"SELECT value FROM meta WHERE key = '{_MARK}'").fetchone()
    return 0 if row is None else int(row[0])


def due_until(now: float) -> int:
    """The end of the last hour that may be rolled up at `now`."""
    return int((now - LATE_HORIZON) // HOUR) * HOUR


@dataclass(frozen=True, slots=True)
class _Table:
    """How the rows of a table of aggregates are read, merged and written."""

    name: str
    columns: str
    metric: bool  # keyed by metric too (metric_aggs)

    def source(self, ranges: int) -> str:
        return _SOURCE.format(values=",".join(["(?,?,?)"] * ranges), table=self.name,
                              metric=", a.metric" if self.metric else "",
                              columns=", ".join(f"a.{c}" for c in self.columns.split(", ")))

    def upsert(self) -> str:
        width = 3 + self.metric + len(self.columns.split(", "))
        items = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(width))
        return _UPSERT.format(table=self.name, metric=", metric" if self.metric else "",
                              columns=self.columns, items=items)


_TABLES = (_Table("aggregates", _AGG_COLUMNS, False), _Table("metric_aggs", _METRIC_COLUMNS,
                                                             True))


class _Figures:
    """A metric_aggs row being merged: count, sum, extremes, histogram."""

    __slots__ = ("count", "hist", "high", "low", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.low: float | None = None
        self.high: float | None = None
        self.hist: dict[int, int] = {}

    def merge_row(self, row: tuple) -> None:
        count, total, low, high, hist = row
        self.count += count
        self.total += total
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
        if high is not None:
            self.high = high if self.high is None else max(self.high, high)
        decode_hist_into(hist, self.hist)

    def to_row(self) -> tuple:
        return self.count, self.total, self.low, self.high, encode_hist(self.hist)


def _merged(rows: Iterator[tuple], span: int, metric: bool) -> dict[tuple, MinuteAgg | _Figures]:
    """Rows (monitor, start[, metric], figures...) merged by monitor, start rounded down to
    `span`[, metric]."""
    out: dict[tuple, MinuteAgg | _Figures] = {}
    make = _Figures if metric else MinuteAgg
    cut = 3 if metric else 2
    for row in rows:
        key = (row[0], row[1] // span * span, *row[2:cut])
        found = out.get(key)
        if found is None:
            found = out[key] = make()
        found.merge_row(row[cut:])
    return out


def _monitor_chunks(conn: sqlite3.Connection, rows_each: int) -> Iterator[list[str]]:
    """The monitors with aggregates (each has a state row), in chunks of about CHUNK_ROWS
    rows when each monitor has `rows_each`."""
    monitors = [m for (m,) in conn.execute("SELECT monitor FROM monitor_state ORDER BY monitor")]
    size = max(1, CHUNK_ROWS // max(1, rows_each))
    for i in range(0, len(monitors), size):
        yield monitors[i:i + size]


def roll_up(conn: sqlite3.Connection, until: int) -> int:
    """Roll every hour from meta's mark up to `until` (a multiple of HOUR) into the hour
    and day tiers of both tables, within the caller's transaction; the mark moves to
    `until`. Returns the hour rows written."""
    since = rolled_until(conn)
    if until <= since:
        return 0
    mark = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    blocks = 0 if mark is None else int(mark[0]) * 600
    # The blocks from blocks_since on; before it, the minutes (a file older than blocks).
    ranges = [r for r in ((600, max(since, blocks), until), (60, since, min(until, blocks)))
              if r[1] < r[2]]
    # A day row of a day already begun holds the hours rolled so far: merged with the new.
    day_lo = since // DAY * DAY
    hours = (until - since) // HOUR
    written = 0
    for monitors in _monitor_chunks(conn, hours * 6):
        for table in _TABLES:
            values = [v for r in ranges for v in r]
            found = conn.execute(table.source(len(ranges)),
                                 (*values, json.dumps(monitors))).fetchall()
            hour_rows = _merged(iter(found), HOUR, table.metric)
            day_rows = _merged(_rows_of(hour_rows), DAY, table.metric)
            if since > day_lo:
                _merge_existing(conn, table, day_rows, day_lo)
            for span, rows in ((HOUR, hour_rows), (DAY, day_rows)):
                conn.execute(table.upsert(), (json.dumps(
                    [(key[0], span, *key[1:], *agg.to_row()) for key, agg in rows.items()]),))
            if not table.metric:
                written += len(hour_rows)
                uptime.set_days(conn, ((monitor_id, day, agg.checks, agg.up)
                                       for (monitor_id, day), agg in day_rows.items()
                                       if day + DAY <= until and isinstance(agg, MinuteAgg)))
    conn.execute(f"INSERT OR REPLACE INTO meta (key, value) VALUES ('{_MARK}', ?)", (until,))
    return written


def _rows_of(merged: dict[tuple, MinuteAgg | _Figures]) -> Iterator[tuple]:
    for key, agg in merged.items():
        yield (*key, *agg.to_row())


def _merge_existing(conn: sqlite3.Connection, table: _Table,
                    day_rows: dict[tuple, MinuteAgg | _Figures], day: int) -> None:
    """Add the stored day rows of `day` (its hours rolled before) to the new ones."""
    monitors = sorted({key[0] for key in day_rows if key[1] == day})
    if not monitors:
        return
    for row in conn.execute(table.source(1), (DAY, day, day + 1, json.dumps(monitors))):
        key = (row[0], row[1], *row[2:3 if table.metric else 2])
        found = day_rows.get(key)
        if found is None:
            continue  # nothing new for it: its stored row stays as it is
        found.merge_row(row[3 if table.metric else 2:])


class Rollups:
    """The writer's side: roll each hour once it is due, and say which tiers a check or
    metric value written late must be added to."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.until: int | None = None  # meta's mark, read at the first pass
        self._retry_at: float | None = None  # after a failed pass

    def late_spans(self, timestamp: float) -> tuple[int, ...]:
        """The rollup spans that already hold the hour of `timestamp`: a check written now
        must be added to them too."""
        if self.until is None or timestamp >= self.until:
            return ()
        return ROLLUP_SPANS

    def load(self, conn: sqlite3.Connection) -> None:
        if self.until is None:
            self.until = rolled_until(conn)

    def due(self) -> bool:
        now = self._clock()
        return (self.until is not None and due_until(now) > self.until
                and (self._retry_at is None or now >= self._retry_at))

    def failed(self) -> bool:
        """A pass failed: retried RETRY_AFTER later. True for the first failure in a row."""
        first = self._retry_at is None
        self._retry_at = self._clock() + RETRY_AFTER
        return first

    def roll(self, conn: sqlite3.Connection) -> int:
        """Roll the hours due, in one transaction; the caller rolls back on an error."""
        until = due_until(self._clock())
        conn.execute("BEGIN")
        written = roll_up(conn, until)
        conn.execute("COMMIT")
        self.until = max(self.until or 0, until)
        self._retry_at = None
        return written
