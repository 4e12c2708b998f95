"""What the web server's event stream reads of the store: the checks and alerts written
after a position (the ids of the newest check and alert seen), and each monitor's known
state at a position. Ids grow with every row written (one writer at a time, each commit's
ids after the last one's), so "after a position" misses nothing and repeats nothing."""

from __future__ import annotations

from typing import NamedTuple

from monitor.core.model import LOCAL

# The states a monitor's checks can put it in; an unknown check (offline, maintenance)
# says nothing of the monitor and leaves its state as it was.
STATES = ("up", "warning", "down")


class Position(NamedTuple):
    """The newest check id and alert id seen (0: none)."""

    check: int
    alert: int


class TailCheck(NamedTuple):
    """A stored check, as the event stream tells it."""

    id: int
    monitor_id: str
    timestamp: float  # epoch seconds, the check's start
    available: bool | None
    warning: bool
    code: int | None
    response_ms: float
    reason: str | None
    detail: str
    metrics: str | None  # JSON text, as stored
    location: str = LOCAL  # "local" or an agent's location

    @property
    def state(self) -> str | None:
        """"up", "warning" or "down"; None for an unknown check."""
        return known_state(self.available, self.warning)


class TailAlert(NamedTuple):
    """A stored alert row (alert, recovery, reminder, warning, cleared, flapping,
    settled)."""

    id: int
    monitor_id: str
    type: str
    timestamp: str  # ISO-8601, as stored
    start: str
    end: str | None
    availability: float
    message: str


class Tail(NamedTuple):
    """Checks and alerts after a position, oldest first, read in one snapshot."""

    checks: list[TailCheck]
    alerts: list[TailAlert]


def known_state(available: bool | None, warning: bool) -> str | None:
    if available is None:
        return None
    if not available:
        return "down"
    return "warning" if warning else "up"
