"""What a kind of check registers: how it reads its config keys, how it checks (one blocking
check, an event loop of many, or a watch of a source as it comes), and what it tells the
rest of the program (its reasons, whether a failure may be the monitor's own network)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from monitor.core.model import CheckResult, Monitor

if TYPE_CHECKING:
    from monitor.core.deadline import Deadline
    from monitor.core.fields import Fields
    from monitor.core.push import PushFeed
    from monitor.core.series import SeriesFeed


@dataclass(frozen=True)
class Parsed:
    """What a kind's schema makes of a config entry's own keys."""

    spec: Any
    target: str  # masked, as shown and stored
    secrets: tuple[str, ...] = ()
    id: str | None = None  # the derived id, if not "<kind>:<target>"
    # Seconds between its results when `checkInterval` says something else (push: how often
    # its job pushes); what the alert rules and a restart's read-back count on.
    interval: float | None = None


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
    # The pushes received for push monitors, read from the database by the engine.
    pushes: PushFeed | None = None
    # The values pushed to metric series, read from the database by the engine.
    series: SeriesFeed | None = None


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
    # A watching kind whose results the alert rules judge, as a scheduled check's (push),
    # rather than one that raises its own alerts (an access log's traffic).
    judged: bool = False
    # What each of `keys` and `top_keys` means, for people: key -> (its default as shown,
    # what it means). docs/configuration.md is generated from it.
    help: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # The JSON Schema fragment of each of `keys` and `top_keys` (monitor.core.schemas):
    # the config's JSON Schema is made of them.
    schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
