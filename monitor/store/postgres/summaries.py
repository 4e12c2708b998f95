"""The reads of every monitor's state at once and of long history from the rollups, in
PostgreSQL (as monitor.store.sqlite.summaries): the monitors' list with their state and
last result (one query), uptime per UTC day, and the rows of a trend's buckets."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from monitor.store.api import Range
from monitor.store.postgres import uptime
from monitor.store.postgres.windows import RANGES, range_params
from monitor.store.summaries import MonitorSummary, TrendRow, UptimeDays
from monitor.store.tiers import DAY, cover

_SUMMARIES = (
    "SELECT m.monitor, m.kind, m.name, m.target, m.interval, m.active, s.last_check,"
    " s.last_available, s.last_status, s.last_response, s.last_reason, s.last_detail,"
    " s.last_metrics, s.last_ok, s.last_failure, s.down_since, s.warning, s.maintenance"
    " FROM monitors m LEFT JOIN monitor_state s ON s.monitor = m.monitor {where}"
    " ORDER BY m.rowid")
_ONLY = "WHERE m.monitor = ANY(%s::text[])"
_TREND = (
    "SELECT a.start / %(step)s::bigint * %(step)s::bigint AS bucket, sum(checks)::bigint,"
    " sum(up)::bigint, sum(rt_count)::bigint, sum(rt_sum)::float8, min(rt_min), max(rt_max),"
    f" convert_to(string_agg(hist, ''), 'UTF8') FROM {RANGES} JOIN aggregates a"
    " ON a.monitor = %(monitor)s AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi"
    " GROUP BY bucket ORDER BY bucket")
_METRIC_TREND = (
    "SELECT a.start / %(step)s::bigint * %(step)s::bigint AS bucket, 0, 0, sum(count)::bigint,"
    " sum(sum)::float8, min(min), max(max), convert_to(string_agg(hist, ''), 'UTF8')"
    f" FROM {RANGES} JOIN metric_aggs a ON a.monitor = %(monitor)s AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi AND a.metric = %(metric)s"
    " GROUP BY bucket ORDER BY bucket")


def meta_number(conn: Any, key: str) -> float:
    """A number kept in meta (as text), 0 when absent."""
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return 0 if row is None or row[0] is None else _number(row[0])


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def rolled_until(conn: Any) -> int:
    """Every hour before this (epoch seconds) is in the hour tier; 0: none yet."""
    return int(meta_number(conn, "rolled_until"))


def blocks_since(conn: Any) -> float:
    return meta_number(conn, "blocks_since")


def monitor_summaries(conn: Any, monitor_ids: Collection[str] | None = None,
                      ) -> list[MonitorSummary]:
    if monitor_ids is None:
        rows = conn.execute(_SUMMARIES.format(where="")).fetchall()
    else:
        rows = conn.execute(_SUMMARIES.format(where=_ONLY), (list(monitor_ids),)).fetchall()
    # The metrics of all rows parsed as one JSON array: one call, not one per monitor.
    metrics = json.loads("[" + ",".join([row[12] or "null" for row in rows]) + "]")
    # A state row made by unknown checks alone has last_check 0: never checked.
    return [MonitorSummary(monitor_id, kind, name, target, interval, bool(active),
                           last_check or None,
                           None if available is None else bool(available), status, response,
                           reason, detail, parsed, last_ok, last_failure, down_since, warning,
                           maintenance)
            for (monitor_id, kind, name, target, interval, active, last_check, available,
                 status, response, reason, detail, _text, last_ok, last_failure, down_since,
                 warning, maintenance), parsed in zip(rows, metrics, strict=True)]


def _all_monitors(conn: Any) -> list[str]:
    return [m for (m,) in conn.execute(
        "SELECT monitor FROM monitors UNION SELECT monitor FROM monitor_state")]


def uptime_by_day(conn: Any, monitor_ids: Collection[str] | None, days: int,
                  now: float) -> dict[str, UptimeDays]:
    ids, first, counts = day_counts(conn, monitor_ids, days, now)
    return {monitor_id: UptimeDays(first, checks, up)
            for monitor_id, (checks, up) in zip(ids, counts.transpose(0, 2, 1).tolist(),
                                                strict=True)}


def uptime_totals(conn: Any, monitor_ids: Collection[str] | None, days: int,
                  now: float) -> dict[str, tuple[int, int]]:
    ids, _first, counts = day_counts(conn, monitor_ids, days, now)
    return dict(zip(ids, map(tuple, counts.sum(axis=1).tolist()), strict=True))


def day_counts(conn: Any, monitor_ids: Collection[str] | None, days: int,
               now: float) -> tuple[list[str], int, np.ndarray]:
    """The monitors (sorted), the first day, and their (checks, up) of each day: the whole
    days from their packed rows, today from each monitor's counts in monitor_state, any
    day between (not rolled up yet) from the hours, blocks and minutes."""
    ids = sorted(_all_monitors(conn) if monitor_ids is None else set(monitor_ids))
    today = int(now // DAY) * DAY
    first = today - (max(1, days) - 1) * DAY
    rolled = rolled_until(conn)
    whole = max(first, min(int(rolled) // DAY * DAY, today + DAY))
    counts = np.zeros((len(ids), (today + DAY - first) // DAY, 2), dtype=np.int64)
    counts[:, :(whole - first) // DAY] = uptime.read(conn, ids, first, whole,
                                                     every=monitor_ids is None)
    index = {monitor_id: i for i, monitor_id in enumerate(ids)}
    sums = []
    if whole < today:  # days not rolled up yet (the writer stopped, or just past midnight)
        sums = uptime.day_sums(conn, ids, cover(whole, today, rolled, blocks_since(conn)))
    if whole <= today:
        states = conn.execute(
            "SELECT monitor, day_start, day_checks, day_up FROM monitor_state"
            " WHERE monitor = ANY(%s::text[])", (ids,)).fetchall()
        if any(day is not None and day > today for _m, day, _c, _u in states):
            # `now` is in the past: its day is in the tiers.
            sums += uptime.day_sums(conn, ids, cover(today, today + DAY, rolled,
                                                     blocks_since(conn)))
        else:
            sums += [state for state in states if state[1] == today]
    for monitor_id, day, checks, up in sums:
        counts[index[monitor_id], (day - first) // DAY] = (checks, up)
    return ids, first, counts


def trend_rows(conn: Any, monitor_id: str, ranges: Sequence[Range], step: int,
               metric: str | None = None) -> list[TrendRow]:
    """The monitor's rows of `ranges` summed by bucket of `step` seconds, oldest first:
    response times, or the values of `metric`."""
    if not ranges:
        return []
    args = {**range_params(ranges), "step": step, "monitor": monitor_id, "metric": metric}
    rows = [TrendRow(*row) for row in conn.execute(
        _TREND if metric is None else _METRIC_TREND, args)]
    if metric is not None:  # the checks of each bucket, from the checks' rows
        checks = {row.start: row for row in trend_rows(conn, monitor_id, ranges, step)}
        rows = [row._replace(checks=checks[row.start].checks, up=checks[row.start].up)
                if row.start in checks else row for row in rows]
    return rows
