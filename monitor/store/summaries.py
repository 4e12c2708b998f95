"""What the reads of monitors' current state and long history return: every monitor's
state and last result at once (for the API's list, /metrics, the dashboard), its uptime
per day and its trend, read from the rollups (store.tiers), never from raw checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class MonitorSummary(NamedTuple):
    """A monitor of the writing process's list (configured now or once) and its state as
    the writer keeps it with each check: the last result is the check at `last_check`
    (None before the first; a check of unknown result, in maintenance or offline, leaves
    it as it was)."""

    id: str
    kind: str
    name: str  # '' when it has none
    target: str  # masked, as stored
    interval: float  # seconds
    active: bool  # in the writing process's config now
    last_check: float | None
    last_available: bool | None
    last_status: int | None
    last_response: float | None  # ms
    last_reason: str | None
    last_detail: str | None
    last_metrics: Mapping[str, float] | None
    last_ok: float | None
    last_failure: float | None
    down_since: float | None
    warning: str | None  # "reason: detail" of the warning now
    maintenance: float | None  # its checks are in maintenance since


class UptimeDays(NamedTuple):
    """A monitor's checks of each UTC day from `first` on, oldest first, as the stats count
    them: known checks (unknown ones, offline or in maintenance, are not checks of it),
    and those up (warnings too). Day i starts at first + i * 86400; no checks: 0."""

    first: int  # epoch seconds of the first day's 00:00 UTC
    checks: list[int]
    up: list[int]


class TrendRow(NamedTuple):
    """A bucket of a trend as the store sums it: checks, and the timed ones' (or a metric's
    values') count, sum, extremes and histogram text (codec)."""

    start: int
    checks: int
    up: int
    values: int  # not `count`: a named tuple's own method
    total: float
    low: float | None
    high: float | None
    hist: bytes | None


class TrendBucket(NamedTuple):
    """A bucket of a trend: availability and response time (or a metric's values)."""

    start: int  # epoch seconds
    checks: int
    up: int
    values: int  # timed checks, or the metric's values (not `count`: a tuple's method)
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p99: float | None
