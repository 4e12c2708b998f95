"""Rolling statistics per site, computed from per-minute aggregates.

A window [start, end] is served by the minute rows it covers entirely plus the raw checks
of the partial minutes at its two ends, so a report costs the same whatever the number of
checks: at most two minutes of raw rows are ever read (for a window ending now, the one
at the end is the minute in progress). Percentiles come from a log-bucketed
response-time histogram (buckets 5% wide, so a percentile is within 2.5% of the truth).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

HIST_MIN_MS = 0.1
HIST_RATIO = 1.05
_LOG_RATIO = math.log(HIST_RATIO)


def bucket_of(ms: float) -> int:
    if ms <= HIST_MIN_MS:
        return 0
    return int(math.ceil(math.log(ms / HIST_MIN_MS) / _LOG_RATIO - 1e-9))


def bucket_value(index: int) -> float:
    """A bucket's representative value: the geometric middle of its bounds."""
    if index <= 0:
        return HIST_MIN_MS
    return HIST_MIN_MS * HIST_RATIO ** (index - 0.5)


def _encode(counts: dict) -> str:
    return ",".join(f"{k}:{v}" for k, v in counts.items())


def _decode_into(text: str, counts: dict, numeric_keys: bool) -> None:
    if not text:
        return
    # Sum under the text keys first: the key conversion then runs once per distinct key,
    # not once per minute (this loop is the hot spot of an hourly report).
    raw: dict[str, int] = {}
    for part in text.split(","):
        if part:  # group_concat of empty strings leaves empty parts
            key, _, value = part.rpartition(":")
            raw[key] = raw.get(key, 0) + int(value)
    for key, value in raw.items():
        k = int(key) if numeric_keys else key
        counts[k] = counts.get(k, 0) + value


def _sum_histograms(text: str | None) -> dict[int, int]:
    """Sum the concatenated "bucket:count" histograms of many minutes.

    numpy parses and sums in C: an hour of a busy site is thousands of pairs, and this
    was 70% of an hourly report's time as a Python loop (500 ms -> 65 ms, 1,000 sites).
    """
    if not text:
        return {}
    import numpy as np

    pairs = np.fromstring(text.replace(":", ","), dtype=np.int64, sep=",")
    counts = np.bincount(pairs[0::2], weights=pairs[1::2])
    buckets = np.flatnonzero(counts)
    return dict(zip(buckets.tolist(), counts[buckets].astype(np.int64).tolist(), strict=True))


@dataclass(slots=True)
class MinuteAgg:
    """Counts, sums, extremes and histograms of a set of checks; mergeable."""

    checks: int = 0
    up: int = 0
    rt_count: int = 0
    rt_sum: float = 0.0
    rt_min: float | None = None
    rt_max: float | None = None
    hist: dict[int, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, response_ms: float, available: bool | None, status: int | None,
            reason: str | None) -> None:
        if available is None:
            # Unknown (the monitor was offline): not a check of the site, only a reason.
            if reason:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            return
        self.checks += 1
        if available:
            self.up += 1
        if status is not None:
            # Response time means time to an HTTP answer: a refused connection or a
            # timeout has no response time, it has a reason.
            self.rt_count += 1
            self.rt_sum += response_ms
            self.rt_min = response_ms if self.rt_min is None else min(self.rt_min, response_ms)
            self.rt_max = response_ms if self.rt_max is None else max(self.rt_max, response_ms)
            b = bucket_of(response_ms)
            self.hist[b] = self.hist.get(b, 0) + 1
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def to_row(self) -> tuple:
        return (self.checks, self.up, self.rt_count, self.rt_sum, self.rt_min, self.rt_max,
                _encode(self.hist), _encode(self.statuses), _encode(self.reasons))

    @classmethod
    def from_row(cls, row: Iterable) -> MinuteAgg:
        agg = cls()
        agg.merge_row(row)
        return agg

    def merge(self, other: MinuteAgg) -> None:
        self.checks += other.checks
        self.up += other.up
        self.rt_count += other.rt_count
        self.rt_sum += other.rt_sum
        if other.rt_min is not None:
            self.rt_min = other.rt_min if self.rt_min is None else min(self.rt_min, other.rt_min)
        if other.rt_max is not None:
            self.rt_max = other.rt_max if self.rt_max is None else max(self.rt_max, other.rt_max)
        for mine, theirs in ((self.hist, other.hist), (self.statuses, other.statuses),
                             (self.reasons, other.reasons)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count

    def merge_row(self, row: Iterable) -> None:
        checks, up, rt_count, rt_sum, rt_min, rt_max, hist, statuses, reasons = row
        self.checks += checks
        self.up += up
        self.rt_count += rt_count
        self.rt_sum += rt_sum
        if rt_min is not None:
            self.rt_min = rt_min if self.rt_min is None else min(self.rt_min, rt_min)
        if rt_max is not None:
            self.rt_max = rt_max if self.rt_max is None else max(self.rt_max, rt_max)
        _decode_into(hist, self.hist, True)
        _decode_into(statuses, self.statuses, False)
        _decode_into(reasons, self.reasons, False)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile from the histogram, clamped to the exact extremes."""
        if not self.rt_count:
            return None
        rank = max(1, math.ceil(p / 100.0 * self.rt_count))
        seen = 0
        for index in sorted(self.hist):
            seen += self.hist[index]
            if seen >= rank:
                value = bucket_value(index)
                return min(max(value, self.rt_min), self.rt_max)  # type: ignore[type-var]
        return self.rt_max


_TIMED = "available IS NOT NULL AND status IS NOT NULL"
_EDGE_SQL = (
    "SELECT host, count(available), total(available),"
    f" count(CASE WHEN {_TIMED} THEN 1 END), total(CASE WHEN {_TIMED} THEN responseTime END),"
    f" min(CASE WHEN {_TIMED} THEN responseTime END),"
    f" max(CASE WHEN {_TIMED} THEN responseTime END),"
    # bucket_of() in SQL: the same libm log, so the same bucket as in Python.
    f" group_concat(CASE WHEN {_TIMED} THEN (CASE WHEN responseTime <= ? THEN 0 ELSE"
    " CAST(ceil(ln(responseTime / ?) / ? - 1e-9) AS INTEGER) END) END),"
    " group_concat(CASE WHEN available IS NOT NULL THEN status END), group_concat(reason)"
    " FROM website_monitoring WHERE {where} GROUP BY host")


def _ensure_math(conn: sqlite3.Connection) -> None:
    """SQLite's math functions are a build option: supply them where they are missing."""
    try:
        conn.execute("SELECT ln(1.0), ceil(0.5)").fetchone()
    except sqlite3.OperationalError:
        conn.create_function("ln", 1, math.log, deterministic=True)
        conn.create_function("ceil", 1, math.ceil, deterministic=True)


@dataclass(frozen=True, slots=True)
class SiteStats:
    host: str
    checks: int
    availability: float | None
    rt_min: float | None
    rt_avg: float | None
    rt_max: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    statuses: dict[str, int]
    reasons: dict[str, int]
    down_for: float | None  # seconds the site has been down, if it is down now
    since_failure: float | None  # seconds since the last failed check


def window_stats(conn: sqlite3.Connection, start: float, end: float,
                 hosts: Iterable[str] | None = None) -> dict[str, SiteStats]:
    """Stats of each site's checks with start <= timestamp <= end, from a reader connection."""
    # Minute m holds start-of-check times m*60 <= t < (m+1)*60, keyed t // 60 by the store.
    first_full = -int(-start // 60)  # the first minute that starts at or after `start`
    end_minute = int(end // 60)  # holds `end`: checks after `end` in it are not counted
    aggs: dict[str, MinuteAgg] = {}
    if first_full <= end_minute:
        # A live window (nothing recorded after `end`) takes the minute in progress from
        # its aggregate row too: it holds exactly the checks up to now.
        live = conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp > ? LIMIT 1",
                            (end,)).fetchone() is None
        last = end_minute + 1 if live else end_minute
        # Summing in SQL and concatenating the histograms there keeps the per-row work in
        # C: one row per site reaches Python, not one per site and minute.
        for host, *row, hist in conn.execute(
            "SELECT host, sum(checks), sum(up), sum(rt_count), sum(rt_sum), min(rt_min),"
            " max(rt_max), '', group_concat(NULLIF(statuses, '')),"
            " group_concat(NULLIF(reasons, '')), group_concat(NULLIF(hist, ''))"
            " FROM minute_stats WHERE minute >= ? AND minute < ? GROUP BY host",
            (first_full, last),
        ):
            agg = aggs[host] = MinuteAgg.from_row(row)
            agg.hist = _sum_histograms(hist)
        edges = [("timestamp >= ? AND timestamp < ?", (start, first_full * 60))]
        if not live:
            edges.append(("timestamp >= ? AND timestamp <= ?", (end_minute * 60, end)))
    else:  # no whole minute inside: at most two partial ones
        edges = [("timestamp >= ? AND timestamp <= ?", (start, end))]
    _ensure_math(conn)
    for where, bounds in edges:
        # The raw rows of the partial minutes, aggregated in SQL as MinuteAgg.add would:
        # the per-row work stays in C (up to a minute of every site's checks: 300,000
        # rows at 5,000 sites), one row per site reaches Python.
        for host, checks, up, rt_count, rt_sum, rt_min, rt_max, buckets, statuses, reasons \
                in conn.execute(_EDGE_SQL.format(where=where),
                                (HIST_MIN_MS, HIST_MIN_MS, _LOG_RATIO, *bounds)):
            agg = aggs.get(host)
            if agg is None:
                agg = aggs[host] = MinuteAgg()
            agg.merge(MinuteAgg(
                checks=checks, up=int(up), rt_count=rt_count, rt_sum=rt_sum,
                rt_min=rt_min, rt_max=rt_max,
                hist=dict(Counter(map(int, buckets.split(",")))) if buckets else {},
                statuses=dict(Counter(statuses.split(","))) if statuses else {},
                reasons=dict(Counter(reasons.split(","))) if reasons else {}))

    wanted = list(hosts) if hosts is not None else sorted(aggs)
    states = {
        row[0]: row[1:]
        for row in conn.execute("SELECT host, last_check, last_failure, down_since FROM site_state")
    }
    result = {}
    for host in wanted:
        agg = aggs.get(host, MinuteAgg())
        _last_check, last_failure, down_since = states.get(host, (None, None, None))
        result[host] = SiteStats(
            host=host,
            checks=agg.checks,
            availability=agg.up / agg.checks if agg.checks else None,
            rt_min=agg.rt_min,
            rt_avg=agg.rt_sum / agg.rt_count if agg.rt_count else None,
            rt_max=agg.rt_max,
            p50=agg.percentile(50),
            p90=agg.percentile(90),
            p99=agg.percentile(99),
            statuses=dict(sorted(agg.statuses.items())),
            reasons=dict(sorted(agg.reasons.items(), key=lambda kv: -kv[1])),
            down_for=max(0.0, end - down_since) if down_since is not None else None,
            since_failure=max(0.0, end - last_failure) if last_failure is not None else None,
        )
    return result
