"""The reads of every monitor's state at once and of long history from the rollups: the
monitors' list with their state and last result (one query), uptime per UTC day, and the
rows of a trend's buckets. Long ranges are read from the day and hour tiers
(store.tiers), never from raw checks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence

import numpy as np

from monitor.store.api import Range
from monitor.store.sqlite import uptime
from monitor.store.sqlite.rollups import rolled_until
from monitor.store.summaries import MonitorSummary, TrendRow, UptimeDays
from monitor.store.tiers import DAY, cover

_SUMMARIES = (
    "SELECT m.monitor, m.kind, m.name, m.target, m.interval, m.active, s.last_check,"
    " s.last_available, s.last_status, s.last_response, s.last_reason, s.last_detail,"
    " s.last_metrics, s.last_ok, s.last_failure, s.down_since, s.warning, s.maintenance"
    " FROM monitors m LEFT JOIN monitor_state s ON s.monitor = m.monitor {where}"
    " ORDER BY m.rowid")
# A few monitors of thousands (a badge, a monitor's page): a seek each by the primary key.
_ONLY = "WHERE m.monitor IN (SELECT value FROM json_each(?))"
_RANGES = "WITH r(span, lo, hi) AS (VALUES {values})"
_TREND = (
    _RANGES + " SELECT a.start / :step * :step AS bucket, sum(checks), sum(up), sum(rt_count),"
    " sum(rt_sum), min(rt_min), max(rt_max), CAST(group_concat(hist, '') AS BLOB)"
    " FROM r CROSS JOIN aggregates a ON a.monitor = :monitor AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi GROUP BY bucket ORDER BY bucket")
_METRIC_TREND = (
    _RANGES + " SELECT a.start / :step * :step AS bucket, 0, 0, sum(count), sum(sum),"
    " min(min), max(max), CAST(group_concat(hist, '') AS BLOB)"
    " FROM r CROSS JOIN metric_aggs a ON a.monitor = :monitor AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi AND a.metric = :metric"
    " GROUP BY bucket ORDER BY bucket")


def monitor_summaries(conn: sqlite3.Connection, monitor_ids: Collection[str] | None = None,
                      ) -> list[MonitorSummary]:
    if monitor_ids is None:
        rows = conn.execute(_SUMMARIES.format(where="")).fetchall()
    else:
        rows = conn.execute(_SUMMARIES.format(where=_ONLY),
                            (json.dumps(list(monitor_ids)),)).fetchall()
    # The metrics of all rows parsed as one JSON array: one call, not one per monitor.
    metrics = json.loads("[" + ",".join([row[12] or "null" for row in rows]) + "]")
    # A state row made by unknown checks alone has last_check 0: never checked, as far as
    # its state goes (the column is NOT NULL).
    return [MonitorSummary(monitor_id, kind, name, target, interval, bool(active),
                           last_check or None,
                           None if available is None else bool(available), status, response,
                           reason, detail, parsed, last_ok, last_failure, down_since, warning,
                           maintenance)
            for (monitor_id, kind, name, target, interval, active, last_check, available,
                 status, response, reason, detail, _text, last_ok, last_failure, down_since,
                 warning, maintenance), parsed in zip(rows, metrics, strict=True)]


def _all_monitors(conn: sqlite3.Connection) -> list[str]:
    return [m for (m,) in conn.execute(
        "SELECT monitor FROM monitors UNION SELECT monitor FROM monitor_state")]


def _blocks_since(conn: sqlite3.Connection) -> float:
    row = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    return 0 if row is None else row[0]


def uptime_by_day(conn: sqlite3.Connection, monitor_ids: Collection[str] | None, days: int,
                  now: float) -> dict[str, UptimeDays]:
    """Each monitor's checks and checks up of each of the last `days` UTC days (the day of
    `now` the last, so far)."""
    ids, first, counts = _day_counts(conn, monitor_ids, days, now)
    # One conversion of the whole array: one per monitor cost as much again.
    return {monitor_id: UptimeDays(first, checks, up)
            for monitor_id, (checks, up) in zip(ids, counts.transpose(0, 2, 1).tolist(),
                                                strict=True)}


def uptime_totals(conn: sqlite3.Connection, monitor_ids: Collection[str] | None, days: int,
                  now: float) -> dict[str, tuple[int, int]]:
    """Each monitor's checks and checks up over the last `days` UTC days, summed as
    arrays: no list of days is made (90 days of 5,000 monitors are 900,000 numbers)."""
    ids, _first, counts = _day_counts(conn, monitor_ids, days, now)
    return dict(zip(ids, map(tuple, counts.sum(axis=1).tolist()), strict=True))


def _day_counts(conn: sqlite3.Connection, monitor_ids: Collection[str] | None, days: int,
                now: float) -> tuple[list[str], int, np.ndarray]:
    """The monitors (sorted), the first day, and their (checks, up) of each day: the whole
    days rolled up from their packed rows, today from each monitor's counts in
    monitor_state, any day between (not rolled up yet) from the hours, blocks and
    minutes."""
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
        sums = uptime.day_sums(conn, ids, cover(whole, today, rolled, _blocks_since(conn)))
    if whole <= today:
        states = conn.execute(
            "SELECT s.value, day_start, day_checks, day_up FROM json_each(?) s CROSS JOIN"
            " monitor_state m ON m.monitor = s.value", (json.dumps(ids),)).fetchall()
        if any(day is not None and day > today for _m, day, _c, _u in states):
            # `now` is in the past: its day is in the tiers.
            sums += uptime.day_sums(conn, ids, cover(today, today + DAY, rolled,
                                                     _blocks_since(conn)))
        else:
            sums += [state for state in states if state[1] == today]
    for monitor_id, day, checks, up in sums:
        counts[index[monitor_id], (day - first) // DAY] = (checks, up)
    return ids, first, counts


def trend_rows(conn: sqlite3.Connection, monitor_id: str, ranges: Sequence[Range], step: int,
               metric: str | None = None) -> list[TrendRow]:
    """The monitor's rows of `ranges` summed by bucket of `step` seconds (each range's
    span divides it), oldest first: response times, or the values of `metric`."""
    if not ranges:
        return []
    values = {f"v{i}": v for i, v in enumerate(v for r in ranges for v in r)}
    marks = ",".join(f"(:v{3 * i},:v{3 * i + 1},:v{3 * i + 2})" for i in range(len(ranges)))
    args = {**values, "step": step, "monitor": monitor_id, "metric": metric}
    rows = [TrendRow(*row) for row in conn.execute(
        (_TREND if metric is None else _METRIC_TREND).format(values=marks), args)]
    if metric is not None:  # the checks of each bucket, from the checks' rows
        checks = {row.start: row for row in trend_rows(conn, monitor_id, ranges, step)}
        rows = [row._replace(checks=checks[row.start].checks, up=checks[row.start].up)
                if row.start in checks else row for row in rows]
    return rows
