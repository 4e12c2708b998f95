"""The reads of a window's figures in PostgreSQL, as monitor.store.sqlite.windows makes them:
the stored aggregate rows over whole ranges, the raw checks of the partial minutes at its
edges aggregated in SQL the same way (the same buckets, the same histogram and outcome
texts), merged by monitor (and metric); every monitor's counts and state; the summaries of
many monitors in one statement.

The ranges are sent as three arrays (unnest), not as a VALUES list of placeholders: one
statement text whatever their number, prepared once. Texts are compared and ordered in
the "C" collation: SQLite's order (bytes), whatever the database's locale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.store.api import MetricRow, Range, RawPiece, WindowRow, WindowSummary, WindowTotal
from monitor.store.codec import (
    HIST_DIGIT,
    HIST_MIN_MS,
    HIST_RATIO,
    HIST_TOP,
    LOG_RATIO,
    WARNING_MARK,
)
from monitor.store.sqlite.windows import _extreme, _merge, _merge_metric, _segments, _total

_TIMED = "available IS NOT NULL AND status IS NOT NULL"
_BEYOND_TOP = HIST_MIN_MS * HIST_RATIO ** (HIST_TOP + 1)
C = 'COLLATE "C"'


def bucket_sql(value: str) -> str:
    """codec.bucket_of() in SQL: the same libm log, so the same bucket as in Python. Past
    the top the division would overflow, which PostgreSQL refuses (SQLite says inf)."""
    return (f"(CASE WHEN {value} <= {HIST_MIN_MS!r}::float8 THEN 0"
            f" WHEN NOT {value} < {_BEYOND_TOP!r}::float8 THEN {HIST_TOP}"
            f" ELSE least({HIST_TOP}, ceil(ln({value} / {HIST_MIN_MS!r}::float8)"
            f" / {LOG_RATIO!r}::float8 - 1e-9::float8)::int) END)")


# Each value as a histogram entry of count 1: bucket * 512 + 1 in three base-64 digits.
ENTRY = (f"chr({HIST_DIGIT} + bucket / 8) || chr({HIST_DIGIT} + mod(bucket, 8) * 8)"
         f" || chr({HIST_DIGIT + 1})")

# The ranges as arrays: (span, lo, hi) rows.
RANGES = "unnest(%(spans)s::int[], %(los)s::bigint[], %(his)s::bigint[]) AS r(span, lo, hi)"
# The monitors a read is of: every monitor with aggregates (each has a state row), or those
# given.
_EVERY = "monitor_state"
_GIVEN = "(SELECT unnest(%(only)s::text[]) AS monitor)"

# The raw checks of a partial minute, aggregated per monitor as MinuteAgg.add would (see
# the SQLite reader): one row per monitor, in the aggregate rows' columns.
_RAW_SQL = (
    "SELECT monitor, count(available) AS checks, coalesce(sum(available), 0) AS up,"
    " count(bucket) AS rt_count,"
    " coalesce(sum(CASE WHEN bucket IS NOT NULL THEN responsetime END), 0) AS rt_sum,"
    " min(CASE WHEN bucket IS NOT NULL THEN responsetime END) AS rt_min,"
    " max(CASE WHEN bucket IS NOT NULL THEN responsetime END) AS rt_max,"
    f" string_agg(CASE WHEN bucket IS NOT NULL THEN {ENTRY} END, '') AS hist,"
    f" string_agg(CASE WHEN {_TIMED}"
    " THEN status || ':1' || coalesce(',' || reason || ':1', '') ELSE reason || ':1' END,"
    " ',') AS outcomes FROM ("
    " SELECT monitor, available, status, responsetime,"
    f" CASE WHEN warning <> 0 THEN '{WARNING_MARK}' || reason ELSE reason END AS reason,"
    f" CASE WHEN {_TIMED} THEN {bucket_sql('responsetime')} END AS bucket"
    " FROM website_monitoring WHERE {where}) w GROUP BY monitor")
# The texts come out as bytes, as SQLite's reader gives them (numpy parses bytes).
_SUMS = ("sum(checks)::bigint AS checks, sum(up)::bigint, sum(rt_count)::bigint,"
         " sum(rt_sum)::float8, min(rt_min), max(rt_max), convert_to(string_agg(hist, ''), 'UTF8'),"
         " convert_to(string_agg(nullif(outcomes, ''), ','), 'UTF8')")
# Monitor by monitor, a seek per range of rows (the key leads with the monitor), summed
# in a lateral subquery of each monitor: a join would let the planner hash the whole
# table's rows (every day of every monitor) to keep an hour's.
_RANGES_SQL = (
    f"SELECT s.monitor, t.* FROM {{source}} s CROSS JOIN LATERAL (SELECT {_SUMS} FROM {RANGES}"
    " JOIN aggregates a ON a.monitor = s.monitor AND a.span = r.span AND a.start >= r.lo"
    f" AND a.start < r.hi) t WHERE t.checks IS NOT NULL ORDER BY s.monitor {C}")
_RAWS_SQL = f"SELECT monitor, {_SUMS} FROM ({{parts}}) p GROUP BY monitor"

_METRIC_SUMS = ("sum(count)::bigint, sum(sum)::float8, min(min), max(max),"
                " convert_to(string_agg(hist, ''), 'UTF8')")
_METRIC_RANGES_SQL = (
    f"SELECT s.monitor, t.* FROM {{source}} s CROSS JOIN LATERAL (SELECT a.metric,"
    f" {_METRIC_SUMS} FROM {RANGES} JOIN metric_aggs a ON a.monitor = s.monitor"
    " AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi GROUP BY a.metric) t"
    f" ORDER BY s.monitor {C}, t.metric {C}")
# The metrics' JSON text read as json (not jsonb: no conversion, only a parse).
_METRIC_RAW_SQL = (
    "SELECT monitor, metric, count(*) AS count, sum(value) AS sum, min(value) AS min,"
    f" max(value) AS max, string_agg({ENTRY}, '') AS hist FROM ("
    " SELECT w.monitor, j.key AS metric, j.value::float8 AS value,"
    f" {bucket_sql('j.value::float8')} AS bucket FROM website_monitoring w"
    " CROSS JOIN json_each_text(w.metrics::json) j"
    " WHERE w.metrics IS NOT NULL AND w.available IS NOT NULL AND {where}) m"
    " GROUP BY monitor, metric")
_METRIC_RAWS_SQL = (f"SELECT monitor, metric, {_METRIC_SUMS} FROM ({{parts}}) p"
                    " GROUP BY monitor, metric")


def range_params(ranges: Sequence[Range]) -> dict[str, list[int]]:
    return {"spans": [int(r.span) for r in ranges], "los": [int(r.lo) for r in ranges],
            "his": [int(r.hi) for r in ranges]}


def _raw_where(i: int, piece: RawPiece, table: str = "", only: bool = False) -> str:
    column = f"{table}timestamp"
    where = (f"{column} >= %(lo{i})s::float8 AND {column} {'<=' if piece.closed else '<'}"
             f" %(hi{i})s::float8")
    return where + (f" AND {table}monitor = ANY(%(only)s::text[])" if only else "")


def _raw_params(raws: Sequence[RawPiece], only: Sequence[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, piece in enumerate(raws):
        params[f"lo{i}"], params[f"hi{i}"] = float(piece.lo), float(piece.hi)
    if only is not None:
        params["only"] = list(only)
    return params


def window_rows(conn: Any, ranges: Sequence[Range], raws: Sequence[RawPiece],
                only: Sequence[str] | None = None) -> list[WindowRow]:
    """Each monitor's aggregates summed over the stored `ranges` and the `raws` pieces: of
    every monitor, or of those in `only`; by monitor id."""
    rows: list[WindowRow] = []
    if ranges:
        params: dict[str, Any] = range_params(ranges)
        if only is not None:
            params["only"] = list(only)
        rows = [WindowRow(*row) for row in conn.execute(
            _RANGES_SQL.format(source=_EVERY if only is None else _GIVEN), params)]
    if raws:
        parts = " UNION ALL ".join(
            _RAW_SQL.format(where=_raw_where(i, p, only=only is not None))
            for i, p in enumerate(raws))
        extra = conn.execute(_RAWS_SQL.format(parts=parts), _raw_params(raws, only)).fetchall()
        merged = {row.monitor_id: row for row in rows}
        for found in extra:
            row = WindowRow(*found)
            old = merged.get(row.monitor_id)
            merged[row.monitor_id] = row if old is None else _merge(old, row)
        rows = sorted(merged.values())
    return rows


def metric_rows(conn: Any, ranges: Sequence[Range], raws: Sequence[RawPiece],
                only: Sequence[str] | None = None) -> list[MetricRow]:
    """The same, per monitor and metric."""
    rows: list[MetricRow] = []
    if ranges:
        params: dict[str, Any] = range_params(ranges)
        if only is not None:
            params["only"] = list(only)
        rows = [MetricRow(*row) for row in conn.execute(
            _METRIC_RANGES_SQL.format(source=_EVERY if only is None else _GIVEN), params)]
    if raws:
        parts = " UNION ALL ".join(
            _METRIC_RAW_SQL.format(where=_raw_where(i, p, "w.", only is not None))
            for i, p in enumerate(raws))
        extra = conn.execute(_METRIC_RAWS_SQL.format(parts=parts),
                             _raw_params(raws, only)).fetchall()
        merged = {(row.monitor_id, row.metric): row for row in rows}
        for found in extra:
            row = MetricRow(*found)
            key = (row.monitor_id, row.metric)
            old = merged.get(key)
            merged[key] = row if old is None else _merge_metric(old, row)
        rows = sorted(merged.values(), key=lambda r: (r.monitor_id, r.metric))
    return rows


# The counts alone of every monitor over a window, and its state now, in one read.
_TOTALS = ("sum(a.checks)::bigint, sum(a.up)::bigint, sum(a.rt_count)::bigint,"
           " sum(a.rt_sum)::float8, max(a.rt_max), min(a.rt_min)")
_STATE = ("s.last_failure, s.down_since, s.warning IS NOT NULL,"
          " s.maintenance IS NOT NULL")
_SUMS_OF_MONITOR = (f" LEFT JOIN LATERAL (SELECT {_TOTALS} FROM {RANGES} JOIN aggregates a"
                    " ON a.monitor = {m}.monitor AND a.span = r.span AND a.start >= r.lo"
                    " AND a.start < r.hi) t ON true")
_ACTIVE_TOTALS_SQL = (
    f"SELECT m.monitor, t.*, {_STATE} FROM monitors m"
    " LEFT JOIN monitor_state s ON s.monitor = m.monitor"
    + _SUMS_OF_MONITOR.format(m="m") + " WHERE m.active = 1 ORDER BY m.rowid")
# A database whose writer listed no monitors (a bench's, an old one): those with state.
_EVERY_TOTALS_SQL = (
    f"SELECT s.monitor, t.*, {_STATE} FROM monitor_state s"
    + _SUMS_OF_MONITOR.format(m="s") + f" ORDER BY s.monitor {C}")
_RAW_TOTALS_SQL = (
    "SELECT monitor, count(available), coalesce(sum(available), 0)::bigint,"
    f" count(CASE WHEN {_TIMED} THEN 1 END),"
    f" coalesce(sum(CASE WHEN {_TIMED} THEN responsetime END), 0)::float8,"
    f" max(CASE WHEN {_TIMED} THEN responsetime END),"
    f" min(CASE WHEN {_TIMED} THEN responsetime END)"
    " FROM website_monitoring WHERE {where} GROUP BY monitor")


def window_totals(conn: Any, ranges: Sequence[Range], raws: Sequence[RawPiece],
                  ) -> list[WindowTotal]:
    """Every monitor's counts over the stored `ranges` and the `raws` pieces, and its state
    now: the monitors configured, in their order; else every monitor with aggregates."""
    active = conn.execute("SELECT EXISTS (SELECT 1 FROM monitors WHERE active = 1)"
                          ).fetchone()[0]
    sql = _ACTIVE_TOTALS_SQL if active else _EVERY_TOTALS_SQL
    # No whole minute in the window: a range that holds nothing, for the states alone.
    rows = conn.execute(sql, range_params(list(ranges) or [Range(0, 0, 0)])).fetchall()
    extra: dict[str, tuple] = {}
    for piece in raws:
        for monitor, *counts in conn.execute(_RAW_TOTALS_SQL.format(where=_raw_where(0, piece)),
                                             _raw_params([piece], None)):
            old = extra.get(monitor)
            extra[monitor] = tuple(counts) if old is None else (
                old[0] + counts[0], old[1] + counts[1], old[2] + counts[2],
                old[3] + counts[3], _extreme(max, old[4], counts[4]),
                _extreme(min, old[5], counts[5]))
    out = []
    for (monitor, checks, up, rt_count, rt_sum, rt_max, rt_min, failed, down, warning,
         kept) in rows:
        checks, up, rt_count, rt_sum = checks or 0, up or 0, rt_count or 0, rt_sum or 0.0
        more = extra.get(monitor)
        if more is not None:
            checks, up, rt_count = checks + more[0], up + more[1], rt_count + more[2]
            rt_sum, rt_max = rt_sum + more[3], _extreme(max, rt_max, more[4])
            rt_min = _extreme(min, rt_min, more[5])
        out.append(WindowTotal(monitor, checks, up, rt_count, rt_sum, rt_max, failed, down,
                               bool(warning), bool(kept), rt_min))
    return out


# The summaries of several windows in one pass over the monitors (see the SQLite reader):
# each aggregate row read once however many windows hold it, summed per window by the mask
# of its piece; every monitor's figures materialized once, then counted by state and the
# few listed picked from them in SQL.
_IN = "(r.mask & {m}) <> 0"
_SUMS_OF = (f"coalesce(sum(CASE WHEN {_IN} THEN a.checks END), 0)::bigint AS c{{k}},"
            f" coalesce(sum(CASE WHEN {_IN} THEN a.up END), 0)::bigint AS u{{k}},"
            f" coalesce(sum(CASE WHEN {_IN} THEN a.rt_count END), 0)::float8 AS n{{k}},"
            f" coalesce(sum(CASE WHEN {_IN} THEN a.rt_sum END), 0)::float8 AS s{{k}},"
            f" max(CASE WHEN {_IN} THEN a.rt_max END) AS x{{k}},"
            f" min(CASE WHEN {_IN} THEN a.rt_min END) AS y{{k}}")
# The view's states (render.view), in its order of precedence.
_STATE_OF = ("CASE WHEN f.kept THEN 'maintenance' WHEN f.down_since IS NOT NULL THEN 'down'"
             " WHEN t.c{k} = 0 THEN 'idle' WHEN f.warn THEN 'warning'"
             " WHEN t.u{k} < t.c{k} THEN 'unstable' ELSE 'up' END AS st{k}")
_RANK_OF = ("CASE st{k} WHEN 'down' THEN 0 WHEN 'warning' THEN 1 WHEN 'unstable' THEN 1"
            " WHEN 'up' THEN 2 WHEN 'maintenance' THEN 3 ELSE 4 END")
# Every part's rows in one shape (UNION ALL wants one type per column): the counts' rows
# put their figures in the same columns as float8.
_ROW_OF = ("{k}, '{part}'::text, id, c{k}::float8, u{k}::float8, n{k}, s{k}, x{k}, failed,"
           " down, warn, kept, st{k}, y{k}")
_PARTS = {
    "down": f"st{{k}} = 'down' ORDER BY down, id {C}",
    "lowest": ("st{k} IN ('warning', 'unstable') AND u{k} < c{k}"
               f" ORDER BY u{{k}}::float8 / c{{k}}, id {C}"),
    "slowest": f"st{{k}} IN ('warning', 'unstable', 'up') AND n{{k}} > 0 ORDER BY x{{k}} DESC"
               f" NULLS LAST, id {C}",
    "worst": (f"true ORDER BY {_RANK_OF}, CASE WHEN c{{k}} > 0 THEN u{{k}}::float8 / c{{k}}"
              " ELSE 2.0 END,"
              f" CASE WHEN n{{k}} > 0 THEN -s{{k}} / n{{k}} ELSE 0.0 END, id {C}"),
    "special": f"down IS NOT NULL OR warn OR kept ORDER BY id {C}",
}
_SUMMARY_SQL = (
    "WITH r AS (SELECT * FROM unnest(%(spans)s::int[], %(los)s::bigint[], %(his)s::bigint[],"
    " %(masks)s::int[]) AS r(span, lo, hi, mask)),"
    " f AS MATERIALIZED (SELECT monitor, last_failure, down_since,"
    " warning IS NOT NULL AS warn, maintenance IS NOT NULL AS kept FROM monitor_state"
    " WHERE down_since IS NOT NULL OR warning IS NOT NULL OR maintenance IS NOT NULL),"
    " t AS MATERIALIZED (SELECT s.monitor AS id, sums.* FROM monitor_state s CROSS JOIN"
    " LATERAL (SELECT {sums} FROM r LEFT JOIN aggregates a ON a.monitor = s.monitor"
    " AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi) sums {where}),"
    " st AS MATERIALIZED (SELECT t.*, f.last_failure AS failed, f.down_since AS down,"
    " coalesce(f.warn, false) AS warn, coalesce(f.kept, false) AS kept, {states}"
    " FROM t LEFT JOIN f ON f.monitor = t.id) {parts}")
# Per state: monitors, checks, up, timed checks, their sum; monitors failing, timed.
_COUNT_OF = ("SELECT {k}, 'count'::text, st{k}, count(*)::float8, sum(c{k})::float8,"
             " sum(u{k})::float8, sum(n{k}), sum(s{k}), count(*) FILTER (WHERE u{k} < c{k})"
             "::float8, count(*) FILTER (WHERE n{k} > 0)::float8, NULL::boolean,"
             " NULL::boolean, NULL::text, NULL::float8 FROM st GROUP BY st{k}")
# The monitors no longer configured left out.
_LISTED = "s.monitor NOT IN (SELECT monitor FROM monitors WHERE active = 0)"
_UNCHECKED = ("SELECT monitor FROM monitors WHERE active = 1 AND monitor NOT IN"
              " (SELECT monitor FROM monitor_state) ORDER BY rowid LIMIT %s")


def window_summaries(conn: Any, windows: Sequence[Sequence[Range]], each: int,
                     slowest: int, worst: int, special: bool = False) -> list[WindowSummary]:
    """The summary of each window (its aggregate ranges), read in one statement."""
    listed = conn.execute("SELECT count(*) FROM monitors WHERE active = 1").fetchone()[0]
    pieces = _segments(windows) or [(0, 0, 0, 0)]  # no whole minute: the states alone
    sums = ", ".join(_SUMS_OF.format(k=k, m=1 << k) for k in range(len(windows)))
    limits = {"down": each, "lowest": each, "slowest": slowest, "worst": worst,
              "special": -1 if special else 0}
    parts: list[str] = []
    params: dict[str, Any] = {
        "spans": [p[0] for p in pieces], "los": [p[1] for p in pieces],
        "his": [p[2] for p in pieces], "masks": [p[3] for p in pieces]}
    for k in range(len(windows)):
        parts.append(_COUNT_OF.format(k=k))
        for part, where in _PARTS.items():
            if not limits[part]:
                continue  # not asked for: not sorted
            name = f"limit_{part}"
            parts.append(f"(SELECT {_ROW_OF.format(k=k, part=part)} FROM st"
                         f" WHERE {where.format(k=k)} LIMIT %({name})s)")
            params[name] = None if limits[part] < 0 else limits[part]
    statement = _SUMMARY_SQL.format(
        sums=sums, where=f" WHERE {_LISTED}" if listed else "",
        states=", ".join(_STATE_OF.format(k=k) for k in range(len(windows))),
        parts=" UNION ALL ".join(parts))
    rows = conn.execute(statement, params).fetchall()
    found: list[WindowSummary] = [WindowSummary({}, [], [], [], [], []) for _ in windows]
    monitors = 0
    for row in rows:
        summary = found[row[0]]
        if row[1] == "count":
            summary.counts[row[2]] = (int(row[3]), int(row[4]), int(row[5]), int(row[6]),
                                      row[7], int(row[8]), int(row[9]))
            monitors += int(row[3]) if row[0] == 0 else 0
        else:
            getattr(summary, row[1]).append(_total(row))
    if listed > monitors:  # configured, never checked: idle, listed last
        unchecked = [m for (m,) in conn.execute(_UNCHECKED, (worst,))] if any(
            len(summary.worst) < worst for summary in found) else []
        for summary in found:
            old = summary.counts.get("idle", (0, 0, 0, 0, 0.0, 0, 0))
            summary.counts["idle"] = (old[0] + listed - monitors, *old[1:])
            summary.worst.extend(WindowTotal(m, 0, 0, 0, 0.0, None, None, None, False, False)
                                 for m in unchecked[:worst - len(summary.worst)])
    return found
