"""One monitor's metrics summed over ranges of aggregate rows, each metric whole and one of
them per step: an access log's status classes, sections and clients over a day, and its
rate by step (monitor.logs.breakdown), from its minute to day rows, a seek per range."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from monitor.store.api import MetricSums, Range

_RANGES = ("WITH r(span, lo, hi) AS (VALUES {values}) SELECT {columns} FROM r CROSS JOIN"
           " metric_aggs a ON a.monitor = ? AND a.span = r.span AND a.start >= r.lo"
           " AND a.start < r.hi{where} GROUP BY 1")


def metric_sums(conn: sqlite3.Connection, monitor_id: str, ranges: Sequence[Range],
                step: int, metric: str) -> MetricSums:
    if not ranges:
        return MetricSums({}, {})
    values = ",".join(["(?,?,?)"] * len(ranges))
    params = [v for r in ranges for v in r]
    totals = {name: (count, total) for name, count, total in conn.execute(
        _RANGES.format(values=values, columns="a.metric, sum(a.count), sum(a.sum)",
                       where=""), (*params, monitor_id))}
    # Integer division (start and step are integers): each row to its step's start.
    steps = {start: (count, total) for start, count, total in conn.execute(
        _RANGES.format(values=values, columns="a.start / ? * ?, sum(a.count), sum(a.sum)",
                       where=" AND a.metric = ?"),
        (*params, step, step, monitor_id, metric))}
    return MetricSums(totals, steps)
