"""The metric series pushed to the server: the writer's side (a series row on its first
value, the raw points, each series' latest value, and its minute, 10-minute, hour and day
rows in series_aggs) and the reads (paths by pattern, the tree, a query's steps, a window).

The raw points are written with their batch. Their rollups are summed once a minute, as
the check metrics' are (aggregates.MetricFigures): a value costs an append, not four row
writes. Each row is read, merged and written back whole, so that a day row's histogram
stays one entry per bucket rather than growing with every minute added to it. Minute rows
are complete up to the start of the minute before the current one: a read takes the
tiers' rows before that and the raw points after it (`steps`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Sequence

from monitor.metrics.paths import Pattern
from monitor.store.api import RecordSeries, SeriesInfo, SeriesNode
from monitor.store.codec import bounded, bucket_of, encode_hist, finite_total
from monitor.store.figures import Figures
from monitor.store.sqlite.sql import commit_all, items
from monitor.store.sqlite.windows import _bucket_sql, _ensure_math

SERIES_SPANS = (60, 600, 3600, 86400)
MAX_HELD = 5_000_000  # values held for the rollups while the disk refuses their rows
PURGE_CHUNK = 20_000  # raw points deleted by one transaction
PATH_END = "{"  # after every character a path may hold: "a" <= path < "a{" is a prefix range

_UPSERT_SERIES = (
    f"INSERT INTO series (path, first, last, last_value) SELECT {items(4)}"
    " FROM json_each(?) WHERE true"  # the parser needs it: an upsert's SELECT ends so
    " ON CONFLICT (path) DO UPDATE SET first = min(series.first, excluded.first),"
    " last = max(series.last, excluded.last), last_value = CASE WHEN excluded.last >="
    " series.last THEN excluded.last_value ELSE series.last_value END")
_INSERT_POINTS = (
    f"INSERT INTO series_points (series, timestamp, value) SELECT {items(3)}"
    " FROM json_each(?)")
_AGG_COLUMNS = "count, sum, min, max, hist"
_SELECT_AGGS = (
    f"SELECT series, span, start, {_AGG_COLUMNS} FROM series_aggs"
    f" WHERE (series, span, start) IN (SELECT {items(3)} FROM json_each(?))")
_REPLACE_AGGS = (
    f"INSERT OR REPLACE INTO series_aggs (series, span, start, {_AGG_COLUMNS})"
    f" SELECT {items(8)} FROM json_each(?)")
_INFO = "id, path, first, last, last_value"
# The raw points of some series in [lo, hi), summed per series, step and histogram bucket
# (as windows._RAW_SQL sums raw checks: the per-row work in C): a row per bucket, not per
# value, comes out.
_RAW_STEPS = (
    "SELECT series, CAST(timestamp / ? AS INTEGER) AS step, bucket, count(*), total(value),"
    f" min(value), max(value) FROM (SELECT series, timestamp, value, {_bucket_sql('value')}"
    " AS bucket FROM series_points WHERE series IN (SELECT value FROM json_each(?))"
    " AND timestamp >= ? AND timestamp < ?) GROUP BY series, step, bucket")
_RAW_WINDOW = (
    "SELECT bucket, count(*), total(value), min(value), max(value) FROM (SELECT value,"
    f" {_bucket_sql('value')} AS bucket FROM series_points WHERE series = ? AND timestamp"
    " >= ? AND timestamp <= ?) GROUP BY bucket")
_TIER_STEPS = (
    f"SELECT series, start, {_AGG_COLUMNS} FROM series_aggs WHERE series IN"
    " (SELECT value FROM json_each(?)) AND span = ? AND start >= ? AND start < ?")
# The children of a prefix: their segment, how many series at or below each, whether one
# is a series itself.
_TREE = (
    "SELECT substr(rest, 1, instr(rest || '.', '.') - 1) AS name, count(*),"
    " max(instr(rest, '.') = 0) FROM (SELECT substr(path, ?) AS rest FROM series"
    " WHERE path >= ? AND path < ?) GROUP BY name ORDER BY name LIMIT ?")


class SeriesWrites:
    """The writer's series: ids by path (cached), and the values of committed points not
    yet in their rollups, by (minute, series id)."""

    def __init__(self, clock: Callable[[], float], say: Callable[[str], None],
                 path: object) -> None:
        self._clock = clock
        self._say = say
        self._path = path
        self._ids: dict[str, int] = {}
        self._values: dict[tuple[int, int], list[float]] = {}
        self._held = 0
        self._minute = int(clock() // 60)  # when the rollups were last written
        self._pending: list[tuple[int, float, float]] = []  # this transaction's points

    def clear(self) -> None:
        """A rollback: ids given in it are gone, its points not committed."""
        self._ids.clear()
        self._pending = []

    def write(self, conn: sqlite3.Connection, commands: Sequence[RecordSeries]) -> int:
        """The points of `commands`, in the caller's transaction: new series, the points,
        each series' first, latest and latest value. The number of points."""
        latest: dict[str, list[float]] = {}  # path -> [first, last, last value]
        for command in commands:
            for path, timestamp, value in command.points:
                seen = latest.get(path)
                if seen is None:
                    latest[path] = [timestamp, timestamp, value]
                else:
                    if timestamp < seen[0]:
                        seen[0] = timestamp
                    if timestamp >= seen[1]:
                        seen[1], seen[2] = timestamp, value
        conn.execute(_UPSERT_SERIES, (json.dumps(
            [(path, *figures) for path, figures in latest.items()]),))
        missing = [path for path in latest if path not in self._ids]
        if missing:
            self._ids.update(conn.execute(
                "SELECT path, id FROM series WHERE path IN (SELECT value FROM json_each(?))",
                (json.dumps(missing),)))
        ids = self._ids
        points = [(ids[path], timestamp, value) for command in commands
                  for path, timestamp, value in command.points]
        conn.execute(_INSERT_POINTS, (json.dumps(points),))
        self._pending = points
        return len(points)

    def committed(self) -> None:
        """The transaction of the last `write` is committed: hold its values for the
        rollups."""
        values = self._values
        for series, timestamp, value in self._pending:
            values.setdefault((int(timestamp // 60), series), []).append(value)
        self._held += len(self._pending)
        self._pending = []
        if self._held > MAX_HELD:
            # The disk has refused the rollups for long: they go first, never a raw point.
            self._say(f"{self._path}: rollups of {self._held} series values dropped while"
                      " the database refuses them")
            values.clear()
            self._held = 0

    def write_rollups(self, conn: sqlite3.Connection, force: bool = False) -> None:
        """Add the held values to their rows of every span: once a minute of the clock, or
        now when `force`d (a flush, a stop). Kept for the next time if refused."""
        minute = int(self._clock() // 60)
        if not self._values or (not force and minute == self._minute):
            return
        rows: dict[tuple[int, int, int], Figures] = {}
        for (start, series), values in self._values.items():
            minute_figures = _figures(values)
            for span in SERIES_SPANS:
                key = (series, span, start * 60 // span * span)
                found = rows.get(key)
                if found is None:
                    rows[key] = found = Figures()
                found.merge(minute_figures)

        def merge_and_write() -> None:
            for series, span, start, *row in conn.execute(_SELECT_AGGS, (json.dumps(
                    list(rows)),)).fetchall():
                rows[series, span, start].add_row(*row)
            conn.execute(_REPLACE_AGGS, (json.dumps(
                [(*key, f.count, finite_total(f.total), f.low, f.high, encode_hist(f.hist))
                 for key, f in rows.items()]),))

        if not commit_all(conn, merge_and_write):
            return  # held for the next time; the points' own writes say what the disk does
        self._values = {}
        self._held = 0
        self._minute = minute

    def drop(self) -> None:
        """Forget the values held for the rollups: summing them failed, and would again."""
        self._values = {}
        self._held = 0

    def purge(self, conn: sqlite3.Connection, before: float,
              cutoffs: dict[int, float]) -> None:
        """The raw points older than `before`, each span's rows older than its cutoff (a
        span not in `cutoffs` is kept), and the series left with nothing: in short
        transactions, so that readers and other writers get in between."""
        # Series by series, a seek each on (series, timestamp); PURGE_CHUNK rows at a time.
        while True:
            conn.execute("BEGIN")
            deleted = conn.execute(
                "DELETE FROM series_points WHERE rowid IN (SELECT rowid FROM series_points"
                " WHERE series IN (SELECT id FROM series) AND timestamp < ? LIMIT ?)",
                (before, PURGE_CHUNK)).rowcount
            conn.execute("COMMIT")
            if deleted < PURGE_CHUNK:
                break
        conn.execute("BEGIN")
        for span, cut in cutoffs.items():
            conn.execute("DELETE FROM series_aggs WHERE series IN (SELECT id FROM series)"
                         " AND span = ? AND start < ?", (span, int(cut // span) * span))
        conn.execute("DELETE FROM series WHERE last < ? AND NOT EXISTS (SELECT 1 FROM"
                     " series_aggs WHERE series = series.id) AND NOT EXISTS (SELECT 1 FROM"
                     " series_points WHERE series = series.id)", (before,))
        conn.execute("COMMIT")
        self._ids.clear()  # a series deleted gets a new id if it comes back
        if 60 in cutoffs:
            self._values = {(minute, series): values
                            for (minute, series), values in self._values.items()
                            if minute >= int(cutoffs[60] // 60)}
            self._held = sum(len(v) for v in self._values.values())


def _figures(given: list[float]) -> Figures:
    values = bounded(given)
    hist: dict[int, int] = {}
    for value in values:
        bucket = bucket_of(value)
        hist[bucket] = hist.get(bucket, 0) + 1
    try:
        total = math.fsum(values)
    except OverflowError:  # the sum beyond the float's end: fsum raises where sum() says inf
        total = finite_total(sum(values))
    return Figures(len(values), total, min(values), max(values), hist)


# -- reads ---------------------------------------------------------------------------------

def matching(conn: sqlite3.Connection, pattern: Pattern, limit: int) -> list[SeriesInfo]:
    """The series whose path `pattern` matches, by path, at most `limit`."""
    if pattern.exact:
        return [SeriesInfo(*row) for row in conn.execute(
            f"SELECT {_INFO} FROM series WHERE path = ?", (pattern.text,))]
    found = []
    # A range of the path index for the literal prefix, the rest matched here.
    for row in conn.execute(f"SELECT {_INFO} FROM series WHERE path >= ? AND path < ?"
                            " ORDER BY path", (pattern.prefix, pattern.prefix + PATH_END)):
        if pattern.matches(row[1]):
            found.append(SeriesInfo(*row))
            if len(found) >= limit:
                break
    return found


def tree(conn: sqlite3.Connection, prefix: str, limit: int) -> list[SeriesNode]:
    """The children of `prefix` ("" for the top), by name, at most `limit`."""
    start = prefix + "." if prefix else ""
    end = prefix + "/" if prefix else PATH_END  # "/" follows "."
    return [SeriesNode(name, start + name, count, bool(leaf)) for name, count, leaf
            in conn.execute(_TREE, (len(start) + 1, start, end, limit))]


def info(conn: sqlite3.Connection, path: str) -> SeriesInfo | None:
    row = conn.execute(f"SELECT {_INFO} FROM series WHERE path = ?", (path,)).fetchone()
    return None if row is None else SeriesInfo(*row)


def tier_of(step: int) -> int:
    """The coarsest span whose rows make whole steps of `step` seconds; 0: raw points."""
    return next((span for span in reversed(SERIES_SPANS) if step % span == 0), 0)


def steps(conn: sqlite3.Connection, ids: Sequence[int], first: int, last: int, step: int,
          now: float) -> dict[int, dict[int, Figures]]:
    """Per series id, its figures of each step index in [first, last) (a step's start is
    index * step) that has values: from the coarsest tier whose rows make whole steps, then
    the finer ones, then the raw points of the minutes not yet rolled up."""
    found: dict[int, dict[int, Figures]] = {series: {} for series in ids}
    if not ids:
        return found
    keys = json.dumps(list(ids))
    lo, hi = first * step, last * step
    complete = (math.floor(now / 60) - 1) * 60  # minute rows before this are whole
    tier = tier_of(step)
    for span in reversed(SERIES_SPANS):
        if span > tier:
            continue
        end = max(lo, min(hi, complete // span * span))
        for series, start, *row in conn.execute(_TIER_STEPS, (keys, span, lo, end)):
            _into(found[series], start // step).add_row(*row)
        lo = end
    if lo < hi:
        _ensure_math(conn)
        for series, index, *row in conn.execute(_RAW_STEPS, (step, keys, lo, hi)):
            _into(found[series], index).add_bucket(*row)
    return found


def _into(steps_of: dict[int, Figures], index: int) -> Figures:
    figures = steps_of.get(index)
    if figures is None:
        steps_of[index] = figures = Figures()
    return figures


def window(conn: sqlite3.Connection, series: int, since: float, until: float) -> Figures:
    """The raw points of one series in [since, until], summed."""
    _ensure_math(conn)
    figures = Figures()
    for row in conn.execute(_RAW_WINDOW, (series, since, until)):
        figures.add_bucket(*row)
    return figures


def raw_count(conn: sqlite3.Connection, ids: Sequence[int], since: float, until: float) -> int:
    """How many raw points of the series `ids` lie in [since, until): from the index
    alone."""
    row = conn.execute("SELECT count(*) FROM series_points WHERE series IN (SELECT value"
                       " FROM json_each(?)) AND timestamp >= ? AND timestamp < ?",
                       (json.dumps(list(ids)), since, until)).fetchone()
    return int(row[0])
