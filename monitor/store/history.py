"""What the history reads return, apart from any database: a monitor's stored checks a page
at a time, alert rows with their acknowledgement, and an acknowledgement itself. The
Reader protocol (monitor.store.api) names the reads; monitor.store.sqlite.history makes
them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from monitor.core.model import LOCAL

# The newest instant a read may ask for: "no upper bound" without an infinity in SQL.
END_OF_TIME = 1e15
# Stored rows a page of one monitor's checks walks at most (website_monitoring is indexed by
# time only, so its rows of other monitors are walked too): a page that stops there says
# where the next one starts. About 0.1 s of reading (docs: the API's checks).
SCAN_ROWS = 200_000


class StoredCheck(NamedTuple):
    """A row of website_monitoring, as the API shows it."""

    id: int
    timestamp: float  # epoch seconds
    available: bool | None  # None: unknown (offline, maintenance)
    status: int | None
    response_ms: float
    reason: str | None
    detail: str | None
    lateness_ms: float | None
    metrics: Mapping[str, float]
    warning: bool
    location: str = LOCAL  # "local" or an agent's location


class CheckPage(NamedTuple):
    """A monitor's checks, newest first; `next_until`: where the next (older) page ends,
    exclusive, None when there is no older row in the range."""

    checks: list[StoredCheck]
    next_until: float | None


class AckRow(NamedTuple):
    """An acknowledged alert: its 'alert' row, its monitor, when and by whom."""

    alert: int
    monitor_id: str
    at: float  # epoch seconds
    by: str


class AlertEntry(NamedTuple):
    """A row of website_alerts with what the API adds: whether an 'alert' row is still open
    (None for the other types) and its acknowledgement."""

    id: int
    timestamp: str  # ISO-8601 UTC, as stored
    monitor_id: str
    type: str
    start: str
    end: str | None
    availability: float
    message: str
    open: bool | None
    ack: AckRow | None
