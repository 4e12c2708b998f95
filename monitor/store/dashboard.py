"""What the dashboard reads of every monitor at once, apart from any database: its checks
and checks up over several windows ending now, a short response history for a sparkline,
and its last failure with the reason. The Reader protocol (monitor.store.api) names the
reads; monitor.store.sqlite.dashboard makes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from monitor.store.events import Position
    from monitor.store.summaries import MonitorSummary

# Points of a sparkline at most: the monitor's last minutes with checks.
SPARK_POINTS = 20


class Spark(NamedTuple):
    """A monitor's average response time of each of its last minutes with checks, oldest
    first, as text: "83,91,,120" (two significant digits; empty: no timed check that
    minute), and the last minute's start (epoch seconds) and timed checks."""

    values: str
    last_minute: int
    last_count: int


class Failure(NamedTuple):
    """A monitor's latest failed check: when, and its reason and detail (None once the raw
    check is purged)."""

    at: float
    reason: str | None
    detail: str | None


class Dashboard(NamedTuple):
    """Every monitor of the list (configured now or once) with its state and last result,
    its (checks, up) of each window asked for, its sparkline and its last failure, read in
    one snapshot; and the event stream's position then: the events after it are what the
    read does not show."""

    position: Position
    summaries: list[MonitorSummary]
    windows: dict[str, list[tuple[int, int]]]  # monitors without checks in any left out
    sparks: dict[str, Spark]
    failures: dict[str, Failure]
