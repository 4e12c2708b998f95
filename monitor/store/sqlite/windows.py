"""The reads of a window's figures: the stored aggregate rows over whole ranges, and the raw
checks of the partial minutes at its edges aggregated in SQL the same way, merged by
monitor (and metric)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence

from monitor.store.api import MetricRow, Range, RawPiece, WindowRow, WindowSummary, WindowTotal
from monitor.store.codec import HIST_DIGIT, HIST_MIN_MS, HIST_TOP, LOG_RATIO, WARNING_MARK

_TIMED = "available IS NOT NULL AND status IS NOT NULL"


def _bucket_sql(value: str) -> str:
    """codec.bucket_of() in SQL: the same libm log, so the same bucket as in Python."""
    return (f"(CASE WHEN {value} <= {HIST_MIN_MS!r} THEN 0 ELSE min({HIST_TOP},"
            f" CAST(ceil(ln({value} / {HIST_MIN_MS!r}) / {LOG_RATIO!r} - 1e-9) AS INTEGER))"
            " END)")


# Each value as a histogram entry of count 1: bucket * 512 + 1 in three base-64 digits.
_ENTRY = (f"char({HIST_DIGIT} + bucket / 8, {HIST_DIGIT} + bucket % 8 * 8,"
          f" {HIST_DIGIT + 1})")  # (char() takes NULL for a 0)

# The raw checks of a partial minute, aggregated per monitor in SQL as MinuteAgg.add would:
# the per-row work stays in C, one row per monitor comes out, in the aggregate rows' columns
# (each status and reason as "key:1", each histogram entry with a count of 1). A check has a
# status, a reason, both (a 503: "503:1,http_status:1") or, if unknown, at most a reason.
_RAW_SQL = (
    "SELECT monitor, count(available) AS checks, CAST(total(available) AS INTEGER) AS up,"
    " count(bucket) AS rt_count, total(CASE WHEN bucket IS NOT NULL THEN responseTime END)"
    " AS rt_sum, min(CASE WHEN bucket IS NOT NULL THEN responseTime END) AS rt_min,"
    " max(CASE WHEN bucket IS NOT NULL THEN responseTime END) AS rt_max,"
    f" group_concat(CASE WHEN bucket IS NOT NULL THEN {_ENTRY} END, '') AS hist,"
    f" group_concat(CASE WHEN {_TIMED}"
    " THEN status || ':1' || ifnull(',' || reason || ':1', '') ELSE reason || ':1' END)"
    " AS outcomes FROM ("
    " SELECT monitor, available, status, responseTime,"
    f" CASE WHEN warning THEN '{WARNING_MARK}' || reason ELSE reason END AS reason,"
    f" CASE WHEN {_TIMED} THEN {_bucket_sql('responseTime')} END AS bucket"
    " FROM website_monitoring WHERE {where}) GROUP BY monitor")
# The texts come out as bytes: numpy parses bytes as well, and decoding megabytes of them
# into str cost as much as the query.
_SUMS = ("sum(checks), sum(up), sum(rt_count), sum(rt_sum), min(rt_min), max(rt_max),"
         " CAST(group_concat(hist, '') AS BLOB),"
         " CAST(group_concat(NULLIF(outcomes, '')) AS BLOB)")
# Monitor by monitor (monitor_state holds every monitor with aggregates), a seek per range of
# rows: the rows come out in monitor order, so SQLite groups them as they come. Over time
# ranges with a GROUP BY, it sorted every row's texts first.
_RANGES_SQL = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    f" SELECT s.monitor, {_SUMS} FROM {{source}} s CROSS JOIN r CROSS JOIN aggregates a"
    " ON a.monitor = s.monitor AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi"
    " GROUP BY s.monitor")
_RAWS_SQL = f"SELECT monitor, {_SUMS} FROM ({{parts}}) GROUP BY monitor"

# Metrics: the same, per monitor and metric; the raw pieces' metrics through json_each.
_METRIC_SUMS = "sum(count), sum(sum), min(min), max(max), CAST(group_concat(hist, '') AS BLOB)"
_METRIC_RANGES_SQL = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    f" SELECT s.monitor, a.metric, {_METRIC_SUMS} FROM {{source}} s CROSS JOIN r"
    " CROSS JOIN metric_aggs a ON a.monitor = s.monitor AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi GROUP BY s.monitor, a.metric")
_METRIC_RAW_SQL = (
    "SELECT monitor, metric, count(*) AS count, total(value) AS sum, min(value) AS min,"
    f" max(value) AS max, group_concat({_ENTRY}, '') AS hist FROM ("
    " SELECT w.monitor, j.key AS metric, j.value AS value,"
    f" {_bucket_sql('j.value')} AS bucket FROM website_monitoring w, json_each(w.metrics) j"
    " WHERE w.metrics IS NOT NULL AND w.available IS NOT NULL AND {where})"
    " GROUP BY monitor, metric")
_METRIC_RAWS_SQL = (f"SELECT monitor, metric, {_METRIC_SUMS} FROM ({{parts}})"
                    " GROUP BY monitor, metric")


# The monitors a read is of: every monitor with aggregates (each has a state row), or those
# given (a JSON array), a seek each: the API's one monitor of thousands.
_EVERY = "monitor_state"
_GIVEN = "(SELECT value AS monitor FROM json_each(?))"


def _raw_where(piece: RawPiece, table: str = "", only: bool = False) -> str:
    column = f"{table}timestamp"
    where = f"{column} >= ? AND {column} {'<=' if piece.closed else '<'} ?"
    return where + (f" AND {table}monitor IN (SELECT value FROM json_each(?))" if only else "")


def _params(ranges: Sequence[Range], raws: Sequence[RawPiece],
            only: Sequence[str] | None) -> tuple[list[object], list[object]]:
    """The parameters of the ranges' query and of the raw pieces' one."""
    given: list[object] = [] if only is None else [json.dumps(list(only))]
    return ([*(v for r in ranges for v in r), *given],
            [v for p in raws for v in (p.lo, p.hi, *given)])


def _ensure_math(conn: sqlite3.Connection) -> None:
    """SQLite's math functions are a build option: supply them where they are missing."""
    try:
        conn.execute("SELECT ln(1.0), ceil(0.5)").fetchone()
    except sqlite3.OperationalError:
        conn.create_function("ln", 1, math.log, deterministic=True)
        conn.create_function("ceil", 1, math.ceil, deterministic=True)


def _extreme(pick: Callable[[float, float], float], x: float | None,
             y: float | None) -> float | None:
    return y if x is None else x if y is None else pick(x, y)


def _joined(x: bytes | None, y: bytes | None, separator: bytes) -> bytes | None:
    return y if not x else x if not y else x + separator + y


def _merge(a: WindowRow, b: WindowRow) -> WindowRow:
    """Two rows of _SUMS for one monitor, as one."""
    return WindowRow(a.monitor_id, a.checks + b.checks, a.up + b.up, a.rt_count + b.rt_count,
                     a.rt_sum + b.rt_sum, _extreme(min, a.rt_min, b.rt_min),
                     _extreme(max, a.rt_max, b.rt_max), _joined(a.hist, b.hist, b""),
                     _joined(a.outcomes, b.outcomes, b","))


def _merge_metric(a: MetricRow, b: MetricRow) -> MetricRow:
    """Two rows of _METRIC_SUMS for one monitor and metric, as one."""
    return MetricRow(a.monitor_id, a.metric, a.samples + b.samples, a.total + b.total,
                     _extreme(min, a.low, b.low), _extreme(max, a.high, b.high),
                     (a.hist or b"") + (b.hist or b""))


def window_rows(conn: sqlite3.Connection, ranges: Sequence[Range],
                raws: Sequence[RawPiece], only: Sequence[str] | None = None,
                ) -> list[WindowRow]:
    """Each monitor's aggregates summed over the stored `ranges` and the `raws` pieces: of
    every monitor, or of those in `only`."""
    rows: list[WindowRow] = []
    range_params, raw_params = _params(ranges, raws, only)
    if ranges:
        rows = [WindowRow(*row) for row in conn.execute(
            _RANGES_SQL.format(values=",".join(["(?,?,?)"] * len(ranges)),
                               source=_EVERY if only is None else _GIVEN), range_params)]
    if raws:
        _ensure_math(conn)  # for the raw pieces' buckets; one trivial query
        parts = " UNION ALL ".join(_RAW_SQL.format(where=_raw_where(p, only=only is not None))
                                   for p in raws)
        extra = conn.execute(_RAWS_SQL.format(parts=parts), raw_params).fetchall()
        merged = {row.monitor_id: row for row in rows}
        for found in extra:
            row = WindowRow(*found)
            old = merged.get(row.monitor_id)
            merged[row.monitor_id] = row if old is None else _merge(old, row)
        rows = sorted(merged.values())
    return rows


def metric_rows(conn: sqlite3.Connection, ranges: Sequence[Range],
                raws: Sequence[RawPiece], only: Sequence[str] | None = None,
                ) -> list[MetricRow]:
    """The same, per monitor and metric."""
    rows: list[MetricRow] = []
    range_params, raw_params = _params(ranges, raws, only)
    if ranges:
        rows = [MetricRow(*row) for row in conn.execute(
            _METRIC_RANGES_SQL.format(values=",".join(["(?,?,?)"] * len(ranges)),
                                      source=_EVERY if only is None else _GIVEN),
            range_params)]
    if raws:
        _ensure_math(conn)
        parts = " UNION ALL ".join(
            _METRIC_RAW_SQL.format(where=_raw_where(p, "w.", only is not None)) for p in raws)
        extra = conn.execute(_METRIC_RAWS_SQL.format(parts=parts), raw_params).fetchall()
        merged = {(row.monitor_id, row.metric): row for row in rows}
        for found in extra:
            row = MetricRow(*found)
            key = (row.monitor_id, row.metric)
            old = merged.get(key)
            merged[key] = row if old is None else _merge_metric(old, row)
        rows = sorted(merged.values(), key=lambda r: (r.monitor_id, r.metric))
    return rows


# The counts alone of every monitor over a window, and its state now, in one read: a summary
# of 100,000 monitors reads no histogram or outcome text (most of what a window's rows hold).
# The monitors configured, in their order (rowid): each state a seek, each range a seek.
_TOTALS = ("sum(a.checks), sum(a.up), sum(a.rt_count), sum(a.rt_sum), max(a.rt_max),"
           " min(a.rt_min)")
_STATE = ("s.last_failure, s.down_since, s.warning IS NOT NULL,"
          " s.maintenance IS NOT NULL")
_JOIN_RANGES = (" CROSS JOIN r LEFT JOIN aggregates a ON a.monitor = {m}.monitor"
                " AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi")
_ACTIVE_TOTALS_SQL = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    f" SELECT m.monitor, {_TOTALS}, {_STATE} FROM monitors m"
    " LEFT JOIN monitor_state s ON s.monitor = m.monitor"
    + _JOIN_RANGES.format(m="m") + " WHERE m.active = 1 GROUP BY m.rowid")
# A database whose writer listed no monitors (a bench's, an old one): those with state.
_EVERY_TOTALS_SQL = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    f" SELECT s.monitor, {_TOTALS}, {_STATE} FROM monitor_state s"
    + _JOIN_RANGES.format(m="s") + " GROUP BY s.monitor")
_RAW_TOTALS_SQL = (
    f"SELECT monitor, count(available), CAST(total(available) AS INTEGER),"
    f" count(CASE WHEN {_TIMED} THEN 1 END),"
    f" total(CASE WHEN {_TIMED} THEN responseTime END),"
    f" max(CASE WHEN {_TIMED} THEN responseTime END),"
    f" min(CASE WHEN {_TIMED} THEN responseTime END)"
    " FROM website_monitoring WHERE {where} GROUP BY monitor")


def window_totals(conn: sqlite3.Connection, ranges: Sequence[Range],
                  raws: Sequence[RawPiece]) -> list[WindowTotal]:
    """Every monitor's counts over the stored `ranges` and the `raws` pieces, and its state
    now: the monitors configured, in their order; else every monitor with aggregates."""
    active = conn.execute("SELECT EXISTS (SELECT 1 FROM monitors WHERE active = 1)"
                          ).fetchone()[0]
    sql = _ACTIVE_TOTALS_SQL if active else _EVERY_TOTALS_SQL
    # No whole minute in the window: a range that holds nothing, for the states alone.
    values = list(ranges) or [Range(0, 0, 0)]
    params = [v for r in values for v in r]
    rows = conn.execute(sql.format(values=",".join(["(?,?,?)"] * len(values))),
                        params).fetchall()
    extra: dict[str, tuple] = {}
    for piece in raws:
        for monitor, *counts in conn.execute(_RAW_TOTALS_SQL.format(where=_raw_where(piece)),
                                             (piece.lo, piece.hi)):
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


# The summaries of several windows in one pass over the monitors: each aggregate row read
# once however many windows hold it (the hour and the 10 minutes share their last block),
# summed per window by the mask of its range; every monitor's figures materialized once,
# then counted by state and the few listed picked from them in SQL: 100,000 monitors' rows
# never come out to Python (they cost as much again as the read). The seeks (one per
# monitor and range) and the aggregate calls (ten a row) are most of the cost.
# Checks and checks up summed as one integer (checks * 2 ** 32 + up: a window holds fewer
# than 2 ** 31 checks of a monitor), split again: one aggregate call less per row, of the
# ten each row costs (most of a pass, beside the seeks).
_CHECKS_UP = "ifnull(sum(CASE WHEN r.mask & {m} THEN a.checks * 4294967296 + a.up END), 0)"
_SUMS_OF = (f"{_CHECKS_UP} >> 32 AS c{{k}}, {_CHECKS_UP} & 4294967295 AS u{{k}},"
            " total(CASE WHEN r.mask & {m} THEN a.rt_count END) AS n{k},"
            " total(CASE WHEN r.mask & {m} THEN a.rt_sum END) AS s{k},"
            " max(CASE WHEN r.mask & {m} THEN a.rt_max END) AS x{k},"
            " min(CASE WHEN r.mask & {m} THEN a.rt_min END) AS y{k}")
# The view's states (render.view), in its order of precedence.
_STATE_OF = ("CASE WHEN f.kept THEN 'maintenance' WHEN f.down_since IS NOT NULL THEN 'down'"
             " WHEN t.c{k} = 0 THEN 'idle' WHEN f.warn THEN 'warning'"
             " WHEN t.u{k} < t.c{k} THEN 'unstable' ELSE 'up' END AS st{k}")
_RANK_OF = ("CASE st{k} WHEN 'down' THEN 0 WHEN 'warning' THEN 1 WHEN 'unstable' THEN 1"
            " WHEN 'up' THEN 2 WHEN 'maintenance' THEN 3 ELSE 4 END")
_ROW_OF = ("{k}, '{part}', id, c{k}, u{k}, n{k}, s{k}, x{k}, failed, down, warn, kept, st{k},"
           " y{k}")
_PARTS = {
    "down": "st{k} = 'down' ORDER BY down, id",
    "lowest": ("st{k} IN ('warning', 'unstable') AND u{k} < c{k} ORDER BY u{k} * 1.0 / c{k},"
               " id"),
    "slowest": "st{k} IN ('warning', 'unstable', 'up') AND n{k} > 0 ORDER BY x{k} DESC, id",
    "worst": (f"1 ORDER BY {_RANK_OF}, CASE WHEN c{{k}} > 0 THEN u{{k}} * 1.0 / c{{k}} ELSE 2.0"
              " END,"
              " CASE WHEN n{k} > 0 THEN -s{k} / n{k} ELSE 0.0 END, id"),
    "special": "down IS NOT NULL OR warn OR kept ORDER BY id",
}
# The monitors down, warning or in maintenance (f: a few), apart from the sums (t): their
# flags read from the state table in one scan, not with a lookup of every monitor's row.
_SUMMARY_SQL = (
    "WITH r(span, lo, hi, mask) AS (VALUES {values}),"
    " f AS MATERIALIZED (SELECT monitor, last_failure, down_since,"
    " warning IS NOT NULL AS warn, maintenance IS NOT NULL AS kept FROM monitor_state"
    " WHERE down_since IS NOT NULL OR warning IS NOT NULL OR maintenance IS NOT NULL),"
    " t AS MATERIALIZED (SELECT s.monitor AS id, {sums} FROM monitor_state s CROSS JOIN r"
    " LEFT JOIN aggregates a ON a.monitor = s.monitor AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi {where} GROUP BY s.monitor),"
    " st AS MATERIALIZED (SELECT t.*, f.last_failure AS failed, f.down_since AS down,"
    " ifnull(f.warn, 0) AS warn, ifnull(f.kept, 0) AS kept, {states}"
    " FROM t LEFT JOIN f ON f.monitor = t.id) {parts}")
# Per state: monitors, checks, up, timed checks, their sum; monitors failing, timed.
_COUNT_OF = ("SELECT {k}, 'count', st{k}, count(*), total(c{k}), total(u{k}), total(n{k}),"
             " total(s{k}), total(u{k} < c{k}), total(n{k} > 0), NULL, NULL, NULL, NULL"
             " FROM st GROUP BY st{k}")
# The monitors no longer configured left out (a few: a probe of each monitor in them).
_LISTED = "s.monitor NOT IN (SELECT monitor FROM monitors WHERE active = 0)"
# The monitor in the middle of the monitors' order: two halves read on two cores.
_MIDDLE = ("SELECT monitor FROM monitor_state ORDER BY monitor LIMIT 1"
           " OFFSET (SELECT count(*) / 2 FROM monitor_state)")
SPLIT_AT = 20_000  # monitors from which a summary is read in two halves at once
_RANK = {"down": 0, "warning": 1, "unstable": 1, "up": 2, "maintenance": 3, "idle": 4}
# Each part's order (as in _PARTS) of its rows, to merge the halves' rows.
_ORDER = {
    "down": lambda row: (row[9], row[2]),
    "lowest": lambda row: (row[4] / row[3], row[2]),
    "slowest": lambda row: (-row[7], row[2]),
    "worst": lambda row: (_RANK[row[12]], row[4] / row[3] if row[3] > 0 else 2.0,
                          -row[6] / row[5] if row[5] > 0 else 0.0, row[2]),
    "special": lambda row: row[2],
}
_UNCHECKED = ("SELECT monitor FROM monitors WHERE active = 1 AND monitor NOT IN"
              " (SELECT monitor FROM monitor_state) ORDER BY rowid LIMIT ?")


def _segments(windows: Sequence[Sequence[Range]]) -> list[tuple[int, int, int, int]]:
    """The windows' ranges cut where any of them starts or ends, each piece with the mask of
    the windows that hold it: (span, lo, hi, mask), one seek per monitor each."""
    bounds: dict[int, set[int]] = {}
    for ranges in windows:
        for r in ranges:
            bounds.setdefault(r.span, set()).update((int(r.lo), int(r.hi)))
    pieces: list[tuple[int, int, int, int]] = []
    for span, points in sorted(bounds.items()):
        ordered = sorted(points)
        for lo, hi in zip(ordered, ordered[1:], strict=False):
            mask = sum(1 << k for k, ranges in enumerate(windows)
                       if any(r.span == span and r.lo <= lo and hi <= r.hi for r in ranges))
            if mask:
                if pieces and pieces[-1][:1] == (span,) and pieces[-1][2] == lo and (
                        pieces[-1][3] == mask):
                    pieces[-1] = (span, pieces[-1][1], hi, mask)
                else:
                    pieces.append((span, lo, hi, mask))
    return pieces


def _total(row: Sequence) -> WindowTotal:
    _k, _part, monitor, c, u, n, total, most, failed, down, warn, kept, _state, least = row
    return WindowTotal(monitor, int(c), int(u), int(n), total, most, failed, down, bool(warn),
                       bool(kept), least)


def window_summaries(conn: sqlite3.Connection, windows: Sequence[Sequence[Range]], each: int,
                     slowest: int, worst: int, special: bool = False,
                     helper: Callable[[], sqlite3.Connection] | None = None,
                     ) -> list[WindowSummary]:
    """The summary of each window (its aggregate ranges), read in one statement; with a
    `helper` connection and SPLIT_AT monitors or more, in two halves of the monitors at
    once, one on each connection, merged."""
    listed = conn.execute("SELECT count(*) FROM monitors WHERE active = 1").fetchone()[0]
    pieces = _segments(windows) or [(0, 0, 0, 0)]  # no whole minute: the states alone
    sums = ", ".join(_SUMS_OF.format(k=k, m=1 << k) for k in range(len(windows)))
    limits = {"down": each, "lowest": each, "slowest": slowest, "worst": worst,
              "special": -1 if special else 0}
    parts, args = [], []
    for k in range(len(windows)):
        parts.append(_COUNT_OF.format(k=k))
        for part, where in _PARTS.items():
            if not limits[part]:
                continue  # not asked for: not sorted
            parts.append(f"SELECT * FROM (SELECT {_ROW_OF.format(k=k, part=part)} FROM st"
                         f" WHERE {where.format(k=k)} LIMIT ?)")
            args.append(limits[part])

    def statement(bound: str) -> str:
        where = [_LISTED] if listed else []
        return _SUMMARY_SQL.format(
            values=",".join(["(?,?,?,?)"] * len(pieces)),
            sums=sums,
            where=" WHERE " + " AND ".join(c for c in (*where, bound) if c)
            if where or bound else "",
            states=", ".join(_STATE_OF.format(k=k) for k in range(len(windows))),
            parts=" UNION ALL ".join(parts))

    values = [v for piece in pieces for v in piece]
    middle = None
    if helper is not None and max(listed, _states(conn)) >= SPLIT_AT:
        middle = conn.execute(_MIDDLE).fetchone()
    if helper is None or middle is None:
        rows = conn.execute(statement(""), values + args).fetchall()
    else:
        rows = _halves(conn, helper(), statement, values, args, middle[0], limits)
    found: list[WindowSummary] = [WindowSummary({}, [], [], [], [], []) for _ in windows]
    monitors = 0
    for row in rows:
        summary = found[row[0]]
        if row[1] == "count":
            summary.counts[row[2]] = (row[3], int(row[4]), int(row[5]), int(row[6]), row[7],
                                      int(row[8]), int(row[9]))
            monitors += row[3] if row[0] == 0 else 0
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


def _states(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM monitor_state").fetchone()[0])


def _halves(conn: sqlite3.Connection, helper: sqlite3.Connection,
            statement: Callable[[str], str], values: list, limits_args: list, middle: str,
            limits: dict[str, int]) -> list[tuple]:
    """The statement's rows over the monitors before `middle` (read by `helper`, on a
    thread: SQLite lets the interpreter go while it reads) and from it (read here),
    merged: counts added, each part's rows in its order, as many as its limit."""
    before: list[tuple] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            before.extend(helper.execute(statement("s.monitor < ?"),
                                         [*values, middle, *limits_args]))
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=read, name="summary-half", daemon=True)
    thread.start()
    after = conn.execute(statement("s.monitor >= ?"),
                         [*values, middle, *limits_args]).fetchall()
    thread.join()
    if failed:
        raise failed[0]
    counts: dict[tuple, list] = {}
    lists: dict[tuple, list[tuple]] = {}
    for row in before + after:
        if row[1] == "count":
            entry = counts.setdefault(row[:3], [0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            for i, value in enumerate(row[3:10]):
                entry[i] += value
        else:
            lists.setdefault(row[:2], []).append(row)
    merged = [(*key, *entry, None, None, None, None) for key, entry in counts.items()]
    for (_k, part), found in lists.items():
        found.sort(key=_ORDER[part])
        merged.extend(found if limits[part] < 0 else found[:limits[part]])
    return merged
