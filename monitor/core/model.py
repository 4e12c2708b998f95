"""What a monitor is (a kind plus its spec) and what a check of it yields: the shapes every
kind, the scheduler, the store and the alerts share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.core.rules import AlertRules

# Reasons any check can end with, whatever its kind.
COMMON_REASONS = (
    "timeout",
    "other",
    "offline",  # the check failed while the monitor itself had no network: unknown
    "skipped",  # a slot that found the monitor's previous check still running: its verdict
    "maintenance",  # run in a maintenance window: unknown, its outcome in the detail
)
# The failures of a connection-based kind that its monitor losing the network could cause
# (the canary is asked): any answer, even a wrong one, proves the network works.
CONNECTION_REASONS = frozenset({"dns", "connect", "timeout"})

# The location of the checks the monitor itself runs; agents name theirs in the config.
LOCAL = "local"

# The events a monitor notifies of when neither it nor the config's top level names its own
# (`notifyOn`): all but "warning". Here, with the Monitor it is the default of.
DEFAULT_NOTIFY_ON = frozenset({"alert", "recovery", "reminder", "flapping"})


@dataclass(frozen=True)
class Monitor:
    """One configured monitor with every default filled in.

    `id` keys it in the database, the scheduler and the alerts; `target` is what it checks
    as it may be shown (a URL with its credentials masked), stored as `host`. `spec` is the
    kind's own settings, validated by the kind; it and `secrets` never leave the check."""

    id: str
    kind: str
    target: str
    name: str = ""
    interval: float = 2.0
    timeout: float = 2.0
    alert_window: float = 120.0
    alert_threshold: float = 0.8
    spec: Any = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # The providers (names in the config's `notify`) this monitor's events go to; None:
    # every provider. `notify_on`: the events it sends (alert, recovery, warning, reminder,
    # flapping).
    notify: tuple[str, ...] | None = None
    notify_on: frozenset[str] = DEFAULT_NOTIFY_ON
    rules: AlertRules = AlertRules()
    # The id of the http monitor (a site) whose `plugins` made this one ("<its id>/<kind>");
    # "" for a monitor of the config's own. What goes with it (`maintenance on NAME`).
    parent_id: str = ""
    # Kept in the config and listed, but not checked (`paused`); `tags` group monitors in
    # the API's lists and the dashboard.
    paused: bool = False
    tags: tuple[str, ...] = ()
    # Where it is checked from (`locations`, "all" expanded at load): LOCAL is the monitor's
    # own process, any other an agent's location. Down when at least `quorum` of them see it
    # down in the same window (None: a majority).
    locations: tuple[str, ...] = (LOCAL,)
    quorum: int | None = None

    @property
    def label(self) -> str:
        return self.name or self.target


def majority(count: int) -> int:
    """The default quorum of `count` locations: more than half of them."""
    return count // 2 + 1


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: the fields common to every kind, then the kind's own figures."""

    monitor_id: str
    timestamp: float  # UTC epoch seconds at the start of the check
    available: bool | None  # None: unknown, the monitor itself was offline
    # The answer's code in the kind's protocol (an HTTP status); None when nothing answered.
    # A check with a code is timed: its duration counts in the response-time figures.
    code: int | None
    response_ms: float  # the check's duration
    reason: str | None = None
    detail: str = ""
    lateness_ms: float = 0.0
    mono: float = 0.0  # monotonic clock at the start of the check: alert windows use it
    # Due times (monotonic) of the slots this check made skip by running past them.
    skipped: tuple[float, ...] = ()
    # The kind's own measurements, by name (HTTP: the phase times in milliseconds).
    metrics: Mapping[str, float] = field(default_factory=dict)
    # Up, but "not broken yet" (a certificate close to expiry, a disk filling): `reason`
    # and `detail` say why. Counts as up for availability and for availability alerts.
    warning: bool = False
    # Where the check ran: LOCAL, or the location of the agent that ran and posted it.
    location: str = LOCAL

    @property
    def state(self) -> str:
        """"up", "warning", "down" or "unknown"."""
        if self.available is None:
            return "unknown"
        if not self.available:
            return "down"
        return "warning" if self.warning else "up"


class CheckAborted(Exception):
    """The check was cut short because the monitor is stopping; its result means nothing."""
