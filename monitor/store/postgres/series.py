"""The reads of the metric series in PostgreSQL (as monitor.store.sqlite.series): paths by
pattern, the tree, a query's steps from the rollups and raw points, a window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from monitor.core.fields import MAX_VALUE
from monitor.metrics.paths import Pattern
from monitor.store.api import SeriesInfo, SeriesNode
from monitor.store.figures import Figures
from monitor.store.postgres.windows import C, bucket_sql
from monitor.store.sqlite.series import PATH_END, SERIES_SPANS, _into, tier_of

_INFO = "id, path, first, last, last_value"
# A raw value as the rollups count it (codec.bounded): held within ±MAX_VALUE, so that the
# steps not yet rolled up add up as the rolled ones do, and a sum never overflows (which
# PostgreSQL refuses where SQLite says inf).
_BOUNDED = f"least(greatest(value, {-MAX_VALUE!r}::float8), {MAX_VALUE!r}::float8)"
# Raw points summed per series, step and histogram bucket: a row per bucket comes out.
_RAW_STEPS = (
    "SELECT series, step, bucket, count(*), sum(value), min(value), max(value) FROM ("
    f" SELECT series, step, value, {bucket_sql('value')} AS bucket FROM ("
    f" SELECT series, floor(timestamp / %(step)s::float8)::bigint AS step, {_BOUNDED} AS value"
    " FROM series_points WHERE series = ANY(%(ids)s::bigint[]) AND timestamp >= %(lo)s::float8"
    " AND timestamp < %(hi)s::float8) v) p GROUP BY series, step, bucket")
_RAW_WINDOW = (
    "SELECT bucket, count(*), sum(value), min(value), max(value) FROM ("
    f" SELECT value, {bucket_sql('value')} AS bucket FROM (SELECT {_BOUNDED} AS value"
    " FROM series_points WHERE series = %s AND timestamp >= %s::float8"
    " AND timestamp <= %s::float8) v) p GROUP BY bucket")
_TIER_STEPS = (
    "SELECT series, start, count, sum, min, max, hist FROM series_aggs"
    " WHERE series = ANY(%s::bigint[]) AND span = %s AND start >= %s::bigint"
    " AND start < %s::bigint")
# The children of a prefix: their segment, how many series at or below each, whether one
# is a series itself. Paths compared in the "C" collation: a prefix is a range of bytes.
_TREE = (
    "SELECT split_part(rest, '.', 1) AS name, count(*), bool_or(strpos(rest, '.') = 0)"
    " FROM (SELECT substr(path, %s::int) AS rest FROM series"
    f" WHERE path {C} >= %s AND path {C} < %s) s GROUP BY name"
    f" ORDER BY split_part(rest, '.', 1) {C} LIMIT %s")


def matching(conn: Any, pattern: Pattern, limit: int) -> list[SeriesInfo]:
    """The series whose path `pattern` matches, by path, at most `limit`."""
    if pattern.exact:
        return [SeriesInfo(*row) for row in conn.execute(
            f"SELECT {_INFO} FROM series WHERE path = %s", (pattern.text,))]
    found = []
    # A range of paths for the literal prefix, the rest matched here; read a chunk at a
    # time (a cursor on the server would hold a transaction open).
    rows = conn.execute(f"SELECT {_INFO} FROM series WHERE path {C} >= %s AND path {C} < %s"
                        f" ORDER BY path {C}", (pattern.prefix, pattern.prefix + PATH_END))
    for row in rows:
        if pattern.matches(row[1]):
            found.append(SeriesInfo(*row))
            if len(found) >= limit:
                break
    return found


def tree(conn: Any, prefix: str, limit: int) -> list[SeriesNode]:
    """The children of `prefix` ("" for the top), by name, at most `limit`."""
    start = prefix + "." if prefix else ""
    end = prefix + "/" if prefix else PATH_END  # "/" follows "."
    return [SeriesNode(name, start + name, count, bool(leaf)) for name, count, leaf
            in conn.execute(_TREE, (len(start) + 1, start, end, limit))]


def info(conn: Any, path: str) -> SeriesInfo | None:
    row = conn.execute(f"SELECT {_INFO} FROM series WHERE path = %s", (path,)).fetchone()
    return None if row is None else SeriesInfo(*row)


def steps(conn: Any, ids: Sequence[int], first: int, last: int, step: int,
          now: float) -> dict[int, dict[int, Figures]]:
    """Per series id, its figures of each step index in [first, last) that has values:
    from the coarsest tier whose rows make whole steps, then the finer ones, then the raw
    points of the minutes not yet rolled up."""
    found: dict[int, dict[int, Figures]] = {series: {} for series in ids}
    if not ids:
        return found
    keys = list(ids)
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
        for series, index, *row in conn.execute(
                _RAW_STEPS, {"step": step, "ids": keys, "lo": lo, "hi": hi}):
            _into(found[series], index).add_bucket(*row)
    return found


def window(conn: Any, series: int, since: float, until: float) -> Figures:
    """The raw points of one series in [since, until], summed."""
    figures = Figures()
    for row in conn.execute(_RAW_WINDOW, (series, since, until)):
        figures.add_bucket(*row)
    return figures


def raw_count(conn: Any, ids: Sequence[int], since: float, until: float) -> int:
    row = conn.execute("SELECT count(*) FROM series_points WHERE series = ANY(%s::bigint[])"
                       " AND timestamp >= %s::float8 AND timestamp < %s::float8",
                       (list(ids), since, until)).fetchone()
    return int(row[0])
