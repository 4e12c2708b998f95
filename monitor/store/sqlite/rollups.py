"""The hour and day rollups of `aggregates` and `metric_aggs`, made from the finished lower
tier rather than from raw checks: once an hour has ended (and LATE_HORIZON after), each
monitor's 10-minute blocks of it (its minutes, before meta's blocks_since) are merged into
its hour row, and that hour into its day row. meta's `rolled_until` says up to when: every
hour before it is rolled, and every day before it rounded down to a day; the day row of
that last day holds the hours rolled so far. Readers use the two tiers below it only. A
day rolled up whole has its checks and checks up packed in `uptime_days` too (uptime.py).

The writer rolls each finished hour (`Rollups`): the writer of the monitor that owns the
file only (Store's `rollups`; `serve`, `logs` and the short writers beside it do not), and
from meta's mark and pass read again under the write lock, so that two never add an hour
twice. The migration to schema 10 rolls every hour a file already held, with the same code
(`roll_up`). A check or metric value written
after its hour was rolled (held back by a refusing disk) is added to the hour and day rows
too, by the writer (aggregates.py), so that the tiers keep adding up.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitor.store.codec import (
    COUNT_MAX,
    HIST_DIGIT,
    HIST_TOP,
    HIST_WIDTH,
    decode_counts_into,
    encode_counts,
    finite_total,
)
from monitor.store.sqlite import uptime

HOUR = 3600
DAY = 86400
ROLLUP_SPANS = (HOUR, DAY)
# Seconds after its end an aggregate row is kept in memory for late checks, and an hour is
# rolled up: the checks of its last minutes are in its blocks by then.
LATE_HORIZON = 120.0
RETRY_AFTER = 60.0  # seconds after a failed chunk (a full disk) the next one is tried
_TEXTS = 1024  # histogram texts summed at once: a bincount over 1024 * 512 counts
# Rows of a tier below read at once: monitors are rolled in chunks of about this many.
CHUNK_ROWS = 50_000
_MARK = "rolled_until"
_PASS = "rolling"  # a pass of the writer in progress: [its end, the last monitor done]
PASS_MONITORS = 200  # monitors rolled up in one transaction of the writer (~0.1 s)

# A chunk of monitors' rows of the ranges (span, lo, hi), summed by monitor, start rounded
# down to the span rolled up to (and metric): one seek per monitor and range; the sums and
# extremes in SQL, the histogram texts joined (compacted after, in numpy).
_AGG_SUMS = ("sum(a.checks), sum(a.up), sum(a.rt_count), sum(a.rt_sum), min(a.rt_min),"
             " max(a.rt_max), CAST(group_concat(a.hist, '') AS BLOB),"
             " group_concat(NULLIF(a.outcomes, ''))")
_METRIC_SUMS = ("sum(a.count), sum(a.sum), min(a.min), max(a.max),"
                " CAST(group_concat(a.hist, '') AS BLOB)")
_SOURCE = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    " SELECT a.monitor, a.start / :span * :span AS t{metric}, {sums} FROM json_each(:monitors) m"
    " CROSS JOIN r CROSS JOIN {table} a ON a.monitor = m.value AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi GROUP BY a.monitor, t{metric}")
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
    """How the rows of a table of aggregates are summed and written."""

    name: str
    columns: str
    sums: str
    metric: bool  # keyed by metric too (metric_aggs)

    def source(self, ranges: int) -> str:
        values = ",".join(f"(:v{3 * i},:v{3 * i + 1},:v{3 * i + 2})" for i in range(ranges))
        return _SOURCE.format(values=values, table=self.name,
                              metric=", a.metric" if self.metric else "", sums=self.sums)

    def upsert(self) -> str:
        width = 3 + self.metric + len(self.columns.split(", "))
        items = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(width))
        return _UPSERT.format(table=self.name, metric=", metric" if self.metric else "",
                              columns=self.columns, items=items)

    def rows(self, conn: sqlite3.Connection, span: int, ranges: list[tuple[int, int, int]],
             monitors: list[str]) -> list[tuple]:
        """The chunk's rows of `ranges` summed into rows of `span`, in this table's
        columns: (monitor, start[, metric], figures...)."""
        args = {f"v{i}": v for i, v in enumerate(v for r in ranges for v in r)}
        found = conn.execute(self.source(len(ranges)), {
            **args, "span": span, "monitors": json.dumps(monitors)}).fetchall()
        key = 3 if self.metric else 2
        hists = compact_hists([row[key + (4 if self.metric else 6)] for row in found])
        # SQL's sum of sums may overflow to infinity, which the JSON of the upsert cannot
        # carry: held at the float's end.
        if self.metric:
            return [(*row[:4], finite_total(row[4]), *row[5:7], hist)
                    for row, hist in zip(found, hists, strict=True)]
        return [(*row[:5], finite_total(row[5]), *row[6:8], hist, _compact_counts(row[9]))
                for row, hist in zip(found, hists, strict=True)]


_TABLES = (
    _Table("aggregates", "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes",
           _AGG_SUMS, False),
    _Table("metric_aggs", "count, sum, min, max, hist", _METRIC_SUMS, True))


def compact_hists(texts: list[bytes | None]) -> list[str]:
    """Histogram texts (codec) joined from several rows, each as one text with an entry per
    bucket: all at once in numpy (a Python loop per entry was most of a year's rollup)."""
    if not texts:
        return []
    data = [text or b"" for text in texts]
    lengths = np.fromiter((len(text) // HIST_WIDTH for text in data), np.int64, len(data))
    digits = (np.frombuffer(b"".join(data), np.uint8).astype(np.int64) - HIST_DIGIT)
    digits = digits.reshape(-1, HIST_WIDTH)
    value = (digits[:, 0] * 64 + digits[:, 1]) * 64 + digits[:, 2]
    # The counts by (text, bucket): texts' entries are in text order, so a chunk of texts
    # is a slice of the entries, summed by one bincount (no sort).
    width = HIST_TOP + 1
    key = np.repeat(np.arange(len(data)), lengths) * width + (value >> 9)
    bounds = np.searchsorted(key, np.arange(0, len(data) + _TEXTS, _TEXTS) * width).tolist()
    keys_parts, count_parts = [], []
    for first, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        if lo == hi:
            continue
        base = first * _TEXTS * width
        summed = np.bincount(key[lo:hi] - base, weights=value[lo:hi] & COUNT_MAX,
                             minlength=_TEXTS * width)
        found = np.flatnonzero(summed)
        keys_parts.append(found + base)
        count_parts.append(summed[found].astype(np.int64))
    keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64)
    counts = np.concatenate(count_parts) if count_parts else np.zeros(0, np.int64)
    # A count above COUNT_MAX takes several entries: full ones, then the rest.
    parts = -(-counts // COUNT_MAX)
    last = np.cumsum(parts) - 1
    entry = np.full(int(parts.sum()), COUNT_MAX, dtype=np.int64)
    entry[last] = counts - COUNT_MAX * (parts - 1)
    entry += np.repeat(keys % width, parts) << 9
    chars = np.stack([entry >> 12, entry >> 6 & 63, entry & 63], axis=1) + HIST_DIGIT
    text = chars.astype(np.uint8).tobytes().decode("ascii")
    ends = np.cumsum(np.bincount(np.repeat(keys // width, parts),
                                 minlength=len(data)) * HIST_WIDTH).tolist()
    return [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _compact_counts(text: str | None) -> str:
    """Outcome counts joined from several rows ("200:58,503:2,200:60"), each key once."""
    if not text:
        return ""
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    decode_counts_into(text, statuses, reasons)
    return encode_counts(statuses | reasons)


def _chunk_size(since: int, until: int) -> int:
    """Monitors rolled at once: about CHUNK_ROWS rows of the tier below."""
    return max(1, CHUNK_ROWS // max(1, (until - since) // HOUR * 6))


def roll_chunk(conn: sqlite3.Connection, since: int, until: int, monitors: list[str]) -> int:
    """Roll the hours from `since` to `until` (multiples of HOUR) of `monitors` into their
    hour and day rows of both tables, within the caller's transaction. Returns the hour
    rows written."""
    mark = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    blocks = 0 if mark is None else int(mark[0]) * 600
    # The blocks from blocks_since on; before it, the minutes (a file older than blocks).
    hours = [r for r in ((600, max(since, blocks), until), (60, since, min(until, blocks)))
             if r[1] < r[2]]
    # The days from the new hours, and the row of a day already begun: it holds the hours
    # rolled before.
    day_lo = since // DAY * DAY
    days = [(HOUR, since, until), *([(DAY, day_lo, day_lo + 1)] if since > day_lo else [])]
    written = 0
    for table in _TABLES:
        for span, ranges in ((HOUR, hours), (DAY, days)):
            rows = table.rows(conn, span, ranges, monitors)
            conn.execute(table.upsert(), (json.dumps(
                [(row[0], span, *row[1:]) for row in rows]),))
            if table.metric:
                continue
            if span == HOUR:
                written += len(rows)
            else:
                uptime.set_days(conn, [(row[0], row[1], row[2], row[3]) for row in rows
                                       if row[1] + DAY <= until])
    return written


def roll_up(conn: sqlite3.Connection, until: int) -> int:
    """Roll every hour from meta's mark up to `until` (a multiple of HOUR) of every monitor,
    within the caller's transaction (the migration's); the mark moves to `until`. Returns
    the hour rows written."""
    mark = rolled_until(conn)
    if until <= mark:
        return 0
    since = _start(conn, mark, until)
    monitors = [m for (m,) in conn.execute("SELECT monitor FROM monitor_state ORDER BY monitor")]
    size = _chunk_size(since, until)
    written = sum(roll_chunk(conn, since, until, monitors[i:i + size])
                  for i in range(0, len(monitors), size) if since < until)
    _set_mark(conn, until)
    return written


def _start(conn: sqlite3.Connection, mark: int, until: int) -> int:
    """Where rolling up to `until` starts: the mark, or for a file never rolled up (0) the
    hour of its oldest minute or block (a seek per monitor), not the epoch."""
    if mark:
        return min(mark, until)
    row = conn.execute(
        "SELECT min(first) FROM (SELECT (SELECT min(start) FROM aggregates a WHERE"
        " a.monitor = s.monitor AND a.span = 60) AS first FROM monitor_state s UNION ALL"
        " SELECT (SELECT min(start) FROM aggregates a WHERE a.monitor = s.monitor AND"
        " a.span = 600) FROM monitor_state s)").fetchone()
    return until if row[0] is None else min(int(row[0]) // HOUR * HOUR, until)


def _set_mark(conn: sqlite3.Connection, until: int) -> None:
    conn.execute(f"INSERT OR REPLACE INTO meta (key, value) VALUES ('{_MARK}', ?)", (until,))
    conn.execute(f"DELETE FROM meta WHERE key = '{_PASS}'")


class Rollups:
    """The writer's side: roll the hours due a chunk of monitors at a time, each chunk a
    transaction of its own between the batches of checks (5,000 monitors at once held the
    writer for seconds), and say which tiers a check or metric value written late must be
    added to. A pass in progress is in meta (`rolling`: its end and the last monitor done,
    in id order), so that a restart goes on with it rather than adding its hours again to
    the day rows of the monitors done."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.until: int | None = None  # meta's mark, read at the first pass
        self._pass: tuple[int, str] | None = None  # (its end, the last monitor done)
        self._retry_at: float | None = None  # after a failed chunk
        self._failures = 0  # chunks failed in a row

    @property
    def late_before(self) -> int:
        """No check from this time on was rolled up yet, for any monitor."""
        return self._pass[0] if self._pass is not None else self.until or 0

    def rolled_for(self, monitor_id: str) -> int:
        """Every hour of the monitor before this is rolled up."""
        if self._pass is not None and monitor_id <= self._pass[1]:
            return self._pass[0]
        return self.until or 0

    def late_spans(self, timestamp: float, monitor_id: str) -> tuple[int, ...]:
        """The rollup spans that already hold the hour of `timestamp` of the monitor: a
        check written now must be added to them too."""
        return ROLLUP_SPANS if timestamp < self.rolled_for(monitor_id) else ()

    def load(self, conn: sqlite3.Connection) -> None:
        if self.until is None:
            self._read(conn)

    def _read(self, conn: sqlite3.Connection) -> None:
        """meta's mark and pass in progress."""
        row = conn.execute(f"SELECT value FROM meta WHERE key = '{_PASS}'").fetchone()
        self._pass = None
        if row is not None:
            end, done = json.loads(row[0])
            self._pass = (end, done)
        self.until = rolled_until(conn)

    def rolling_until(self) -> int:
        """The end of the hours the next chunk rolls up: rows before it must be written."""
        return self._pass[0] if self._pass is not None else due_until(self._clock())

    def due(self) -> bool:
        now = self._clock()
        return (self.until is not None
                and (self._pass is not None or due_until(now) > self.until)
                and (self._retry_at is None or now >= self._retry_at))

    def failed(self) -> int:
        """A chunk failed: retried RETRY_AFTER later. Returns the failures in a row."""
        self._retry_at = self._clock() + RETRY_AFTER
        self._failures += 1
        return self._failures

    def roll(self, conn: sqlite3.Connection) -> int:
        """Roll the next chunk of monitors of the pass due (begun now if none is), in one
        transaction; the caller rolls back on an error. Returns the hour rows written."""
        # The mark and the pass again, under the write lock: another writer on the file
        # may have rolled since they were read, and this one's would add its hours to the
        # day rows again.
        conn.execute("BEGIN IMMEDIATE")
        self._read(conn)
        assert self.until is not None
        until, done = self._pass or (due_until(self._clock()), "")
        if until <= self.until:  # done by another writer
            conn.execute("COMMIT")
            self._retry_at, self._failures = None, 0
            return 0
        since = _start(conn, self.until, until)
        size = min(PASS_MONITORS, _chunk_size(since, until))
        monitors = [m for (m,) in conn.execute(
            "SELECT monitor FROM monitor_state WHERE monitor > ? ORDER BY monitor LIMIT ?",
            (done, size + 1))]
        last = len(monitors) <= size  # no monitor left after these: the pass is done
        monitors = monitors[:size]
        written = roll_chunk(conn, since, until, monitors) if monitors and since < until else 0
        if last:
            _set_mark(conn, until)
        else:
            conn.execute(f"INSERT OR REPLACE INTO meta (key, value) VALUES ('{_PASS}', ?)",
                         (json.dumps([until, monitors[-1]]),))
        conn.execute("COMMIT")
        self._retry_at, self._failures = None, 0
        if last:
            self._pass, self.until = None, until
        else:
            self._pass = (until, monitors[-1])
        return written
