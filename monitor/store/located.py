"""A few monitors' recent checks with their locations: what the views read to split a
monitor checked from several locations when no alert evaluator judges it here
(monitor.engine.locations replays the rules on them). `Reader.located_checks` returns
them; monitor.store.sqlite.located and monitor.store.postgres.located read them."""

from __future__ import annotations

from typing import NamedTuple

# The rows of every monitor a read walks at most: website_monitoring is indexed by time
# alone, so the rows of the other monitors in the range are walked too. 200,000 rows take
# about 40 ms to walk here (a loaded 2-core machine): the whole of a 2-minute alertWindow
# up to about 1,650 checks a second; at 5,000 a second its last 40 s.
LOCATED_SCAN_ROWS = 200_000
# Seconds at the start of a range whose rows' lowest id starts the walk (SQLite's).
PROBE = 10.0


class LocatedCheck(NamedTuple):
    """A stored check, as the views split it by location."""

    monitor_id: str
    timestamp: float  # epoch seconds, the check's start
    location: str  # "local" or an agent's location
    available: bool | None  # None: unknown (offline, maintenance)
    warning: bool
    status: int | None
    response_ms: float
    reason: str | None


class LocatedChecks(NamedTuple):
    """The checks read, by time, and from when they are all there: the start asked for,
    or later when the range held more rows than a read walks (its newest part is read)."""

    checks: list[LocatedCheck]
    since: float
