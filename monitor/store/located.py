"""A few monitors' recent checks with their locations: what the views read to split a
monitor checked from several locations when no alert evaluator judges it here
(monitor.engine.locations replays the rules on them). `Reader.located_checks` returns
them; monitor.store.sqlite.located and monitor.store.postgres.located read them."""

from __future__ import annotations

from typing import NamedTuple

# The rows of every monitor a read walks at most: website_monitoring is indexed by time
# alone, so the rows of the other monitors in the range are walked too. 600,000 rows are
# two minutes (the default alertWindow) of 5,000 monitors checked every second.
LOCATED_SCAN_ROWS = 600_000


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
