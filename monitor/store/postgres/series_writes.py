"""The metric series pushed to the server, the PostgreSQL writer's side (as sqlite/series.py's
SeriesWrites): a series row on its first value, the raw points with their batch, each
series' first, latest and latest value, and the rollups summed once a minute, each row read,
merged and written back whole."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import psycopg

from monitor.store.api import RecordSeries
from monitor.store.codec import bounded, bucket_of, encode_hist, finite_total
from monitor.store.figures import Figures
from monitor.store.postgres.sql import columns, commit_all, unnest

SERIES_SPANS = (60, 600, 3600, 86400)
MAX_HELD = 5_000_000
PURGE_CHUNK = 20_000

_UPSERT_SERIES = (
    "INSERT INTO series (path, first, last, last_value) SELECT * FROM"
    f" {unnest('text', 'float8', 'float8', 'float8')}"
    " ON CONFLICT (path) DO UPDATE SET first = least(series.first, excluded.first),"
    " last = greatest(series.last, excluded.last), last_value = CASE WHEN excluded.last >="
    " series.last THEN excluded.last_value ELSE series.last_value END")
_INSERT_POINTS = (
    "INSERT INTO series_points (series, timestamp, value) SELECT * FROM"
    f" {unnest('int8', 'float8', 'float8')}")
_AGG_COLUMNS = "count, sum, min, max, hist"
_SELECT_AGGS = (
    f"SELECT a.series, a.span, a.start, {_AGG_COLUMNS} FROM series_aggs a JOIN"
    f" {unnest('int8', 'int4', 'int8')} AS k(series, span, start)"
    " ON a.series = k.series AND a.span = k.span AND a.start = k.start")
_REPLACE_AGGS = (
    f"INSERT INTO series_aggs (series, span, start, {_AGG_COLUMNS}) SELECT * FROM"
    f" {unnest('int8', 'int4', 'int8', 'int8', 'float8', 'float8', 'float8', 'text')}"
    " ON CONFLICT (series, span, start) DO UPDATE SET count = excluded.count,"
    " sum = excluded.sum, min = excluded.min, max = excluded.max, hist = excluded.hist")


class SeriesWrites:
    def __init__(self, clock: Callable[[], float], say: Callable[[str], None],
                 path: object) -> None:
        self._clock = clock
        self._say = say
        self._path = path
        self._ids: dict[str, int] = {}
        self._values: dict[tuple[int, int], list[float]] = {}
        self._held = 0
        self._minute = int(clock() // 60)
        self._pending: list[tuple[int, float, float]] = []

    def clear(self) -> None:
        self._ids.clear()
        self._pending = []

    def write(self, conn: psycopg.Connection, commands: Sequence[RecordSeries]) -> int:
        latest: dict[str, list[float]] = {}
        for command in commands:
            for path, timestamp, value in command.points:
                if math.isnan(value):  # PostgreSQL stores it, SQLite refuses it (NULL):
                    # the command is dropped alone, as there, not summed into rollups.
                    raise ValueError(f"{path}: not a number")
                seen = latest.get(path)
                if seen is None:
                    latest[path] = [timestamp, timestamp, value]
                else:
                    if timestamp < seen[0]:
                        seen[0] = timestamp
                    if timestamp >= seen[1]:
                        seen[1], seen[2] = timestamp, value
        conn.execute(_UPSERT_SERIES, columns(
            [(path, *figures) for path, figures in latest.items()], 4))
        missing = [path for path in latest if path not in self._ids]
        if missing:
            self._ids.update(conn.execute(
                "SELECT path, id FROM series WHERE path = ANY(%s)", (missing,)).fetchall())
        ids = self._ids
        points = [(ids[path], timestamp, value) for command in commands
                  for path, timestamp, value in command.points]
        conn.execute(_INSERT_POINTS, columns(points, 3))
        self._pending = points
        return len(points)

    def committed(self) -> None:
        values = self._values
        for series, timestamp, value in self._pending:
            values.setdefault((int(timestamp // 60), series), []).append(value)
        self._held += len(self._pending)
        self._pending = []
        if self._held > MAX_HELD:
            self._say(f"{self._path}: rollups of {self._held} series values dropped while"
                      " the database refuses them")
            values.clear()
            self._held = 0

    def write_rollups(self, conn: psycopg.Connection, force: bool = False) -> None:
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
            for series, span, start, *row in conn.execute(_SELECT_AGGS, columns(
                    list(rows), 3)).fetchall():
                rows[series, span, start].add_row(*row)
            conn.execute(_REPLACE_AGGS, columns(
                [(*key, f.count, finite_total(f.total), f.low, f.high, encode_hist(f.hist))
                 for key, f in rows.items()], 8))

        if not commit_all(conn, merge_and_write):
            return
        self._values = {}
        self._held = 0
        self._minute = minute

    def drop(self) -> None:
        self._values = {}
        self._held = 0

    def purge(self, conn: psycopg.Connection, before: float,
              cutoffs: dict[int, float]) -> None:
        while True:
            conn.execute("BEGIN")
            deleted = conn.execute(
                "DELETE FROM series_points WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
                " series_points WHERE timestamp < %s LIMIT %s))",
                (before, PURGE_CHUNK)).rowcount
            conn.execute("COMMIT")
            if deleted < PURGE_CHUNK:
                break
        conn.execute("BEGIN")
        for span, cut in cutoffs.items():
            conn.execute("DELETE FROM series_aggs WHERE span = %s AND start < %s",
                         (span, int(cut // span) * span))
        conn.execute("DELETE FROM series WHERE last < %s AND NOT EXISTS (SELECT 1 FROM"
                     " series_aggs WHERE series = series.id) AND NOT EXISTS (SELECT 1 FROM"
                     " series_points WHERE series = series.id)", (before,))
        conn.execute("COMMIT")
        self._ids.clear()
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
    except OverflowError:
        total = finite_total(sum(values))
    return Figures(len(values), total, min(values), max(values), hist)
