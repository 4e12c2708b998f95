"""One monitor's metrics summed over ranges of aggregate rows, in PostgreSQL (as
monitor.store.sqlite.traffic): each metric whole, and one of them per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.store.api import MetricSums, Range
from monitor.store.postgres.windows import RANGES, range_params

_RANGES = (f"SELECT {{columns}} FROM {RANGES} JOIN metric_aggs a ON a.monitor = %(monitor)s"
           " AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi{where} GROUP BY 1")


def metric_sums(conn: Any, monitor_id: str, ranges: Sequence[Range], step: int,
                metric: str) -> MetricSums:
    if not ranges:
        return MetricSums({}, {})
    params = {**range_params(ranges), "monitor": monitor_id, "step": step, "metric": metric}
    totals = {name: (count, total) for name, count, total in conn.execute(
        _RANGES.format(columns="a.metric, sum(a.count)::bigint, sum(a.sum)::float8",
                       where=""), params)}
    steps = {start: (count, total) for start, count, total in conn.execute(
        _RANGES.format(columns="a.start / %(step)s::bigint * %(step)s::bigint,"
                       " sum(a.count)::bigint, sum(a.sum)::float8",
                       where=" AND a.metric = %(metric)s"), params)}
    return MetricSums(totals, steps)
