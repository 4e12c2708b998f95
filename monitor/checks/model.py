"""What a monitor is (a kind plus its spec), what a check of it yields, and what a kind
registers: the shapes every kind, the scheduler, the store and the alerts share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from monitor.checks.deadline import Deadline
    from monitor.checks.schema import Fields

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

# The events a monitor notifies of when neither it nor the config's top level names its own
# (`notifyOn`): all but "warning". Here, not in monitor.config.notify, which re-exports it,
# because config imports checks and never the other way round.
DEFAULT_NOTIFY_ON = frozenset({"alert", "recovery", "reminder", "flapping"})


@dataclass(frozen=True)
class AlertRules:
    """A monitor's alert rules beyond its window (`alertWindow`, `alertThreshold`). The
    defaults are the window rule alone: every alert and recovery where it always was."""

    # `alertAfter`: at least `failures` of the last `of` checks failed (3 in a row: (3, 3)).
    alert_after: tuple[int, int] | None = None
    recover_after: int | None = None  # `recoverAfter`: this many successes in a row
    remind_every: float | None = None  # `remindEvery`: seconds between reminders
    flap_limit: int | None = None  # `flapLimit`: more state changes than this is flapping
    flap_window: float = 600.0  # `flapWindow`: ... within these seconds
    min_checks: int = 1  # `alertMinChecks`: checks in the window before an alert
    # `maintenance`: monitor.checks.maintenance windows (one-off or recurring).
    maintenance: tuple[Any, ...] = ()

    @property
    def history(self) -> int:
        """How many of the latest verdicts the rules look at."""
        counts = [2]  # the previous verdict tells a state change
        if self.alert_after is not None:
            counts.append(self.alert_after[1])
        if self.recover_after is not None:
            counts.append(self.recover_after)
        return max(counts)


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

    @property
    def label(self) -> str:
        return self.name or self.target


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


@dataclass(frozen=True)
class Parsed:
    """What a kind's schema makes of a config entry's own keys."""

    spec: Any
    target: str  # masked, as shown and stored
    secrets: tuple[str, ...] = ()
    id: str | None = None  # the derived id, if not "<kind>:<target>"


Done = Callable[[CheckResult | None], None]  # None: aborted, the monitor is stopping


class CheckLoop(Protocol):
    """An event loop that drives many checks of one kind at once (one per probe process).
    `limit` bounds its checks in flight (maxWorkers); the excess waits in the loop."""

    limit: int

    def submit(self, monitor: Monitor, lateness_ms: float, done: Done) -> None:
        """Start a check now; `done` is called once, on the loop's thread, when it ends."""

    def stop(self) -> None:
        """Abort every check in flight (their `done` get None) and end the loop."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """An alert or recovery a watching kind raises itself (an access log's traffic), with
    its own text: stored, printed and notified as the monitor's."""

    type: str  # "alert" or "recovery"
    time: float  # epoch seconds
    start: float  # when the alert began
    end: float | None
    message: str
    key: str = ""  # which of the monitor's alerts (its rule): a recovery closes its own


@dataclass(frozen=True, slots=True)
class WatchState:
    """What a new watch of a monitor is told: its latest alert rows, oldest first, as
    (type, start, message) (its alerts still open are among them: not raised again), and
    whether it was watched before (a log is then read on from its end, not re-read)."""

    alerts: tuple[tuple[str, float, str], ...] = ()
    resumed: bool = False


class Watch(Protocol):
    """A monitor that watches a source as it comes rather than checking on a schedule."""

    def poll(self, wall: float, quiet: bool = False,
             ) -> tuple[list[CheckResult], list[WatchEvent], list[str]]:
        """What came since the last poll, at `wall` (epoch seconds): results to record,
        events to raise, warnings to print. `quiet`: in maintenance, raise no alert.
        Never blocks."""

    def close(self) -> None: ...


ParseSpec = Callable[["Fields", Mapping[str, Any], str, Mapping[str, Any]], Parsed]
RunCheck = Callable[[Monitor, "Deadline"], CheckResult]


@dataclass(frozen=True)
class Kind:
    """A kind of check, as it registers itself.

    `parse(fields, entry, path, defaults)` validates the entry's kind-specific `keys` (with
    `fields`, which names the file and JSON path in its errors). `run` checks once,
    blocking, within a Deadline (kinds without a `loop` run in a small thread pool);
    `loop` makes an event loop that drives all of one process's checks of this kind;
    `debug` runs one check and returns its result with a trace of it.
    `network`: a failure may mean the monitor lost its network (the canary applies), when
    its reason is one of `network_reasons`."""

    name: str
    keys: tuple[str, ...]
    parse: ParseSpec
    reasons: tuple[str, ...]
    run: RunCheck
    loop: Callable[[], CheckLoop] | None = None
    network: bool = True
    network_reasons: frozenset[str] = frozenset({"timeout"})
    # Keys of this kind that may also be set at the top level of the config, as defaults;
    # `defaults(fields, document)` validates them there and returns them by key.
    top_keys: tuple[str, ...] = ()
    defaults: Callable[[Fields, Mapping[str, Any]], dict[str, Any]] | None = None
    # One check with a trace for people (hops, address, phases, headers, certificate,
    # verdict): what the `check` command prints.
    debug: Callable[[Monitor], tuple[CheckResult, list[str]]] | None = None
    # How this kind also checks an http site when named in `plugins`: the site's monitor
    # and the top-level defaults -> the spec of a monitor of this kind (id "<site id>/<kind>"),
    # or None when the kind has nothing to check on that site (tls on an http:// URL).
    plugin: Callable[[Monitor, Mapping[str, Any]], Parsed | None] | None = None
    # A kind whose monitors watch a source as it comes (an access log) instead of being
    # checked on a schedule: `watch(monitor, state)` opens one, told what came before (a
    # restart, a reload); the engine polls it. `run` then is what `check NAME` does once.
    watch: Callable[[Monitor, WatchState], Watch] | None = None
    # What each of `keys` and `top_keys` means, for people: key -> (its default as shown,
    # what it means). docs/configuration.md is generated from it.
    help: Mapping[str, tuple[str, str]] = field(default_factory=dict)
