"""What the host kinds share: a measured value judged against a limit (fail above `max`,
warn above `warn`), the result of a check, a trace ending with the verdict, and waits that
end when the check's deadline does or the monitor stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.checks.trace import debugger
from monitor.checks.trace import detail as trace_detail
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Kind, ParseSpec
from monitor.core.model import CheckResult, Monitor

REASON = "threshold"  # the measured value is above maxPercent (down) or warnPercent (warning)
METRIC = "value"  # what every host kind records: its measured value
PERCENT_KEYS = ("maxPercent", "warnPercent")
DEFAULT_MAX_PERCENT = 90.0
PERCENT_HELP = {
    "maxPercent": ("90", "above this percentage the check is down (greater than 0, at most"
                         " 100)"),
    "warnPercent": ("none", "above this percentage the check warns (up); below `maxPercent`"),
}
PERCENT_SCHEMA = {key: schemas.positive(100.0) for key in PERCENT_KEYS}
POLL = 0.05  # how often a wait looks whether the monitor is stopping

# A kind's check: (monitor, deadline, trace or None) -> result; the trace is filled only
# for `check NAME`, so that a scheduled check builds no text it does not need.
Check = Callable[[Monitor, Deadline, "list[str] | None"], CheckResult]


@dataclass(frozen=True)
class Limit:
    """The highest value that is still fine (`most`), and the highest that is not yet a
    warning (`warn`; None: no warning). Both are allowed values: a disk 90.0% full with
    maxPercent 90 is up, 90.1% is down."""

    most: float
    warn: float | None = None
    most_key: str = "maxPercent"
    warn_key: str = "warnPercent"

    def judge(self, value: float) -> tuple[str, str] | None:
        """None when `value` is fine, else ("down" or "warning", "> maxPercent 90")."""
        if value > self.most:
            return "down", f"> {self.most_key} {self.most:g}"
        if self.warn is not None and value > self.warn:
            return "warning", f"> {self.warn_key} {self.warn:g}"
        return None


def limit(fields: Fields, entry: Mapping[str, Any], path: str, default: float,
          most: float = 100.0, keys: tuple[str, str] = PERCENT_KEYS) -> Limit:
    """The entry's `maxPercent` (default `default`) and `warnPercent` (no default): numbers
    greater than 0 and at most `most`, the warning below the failure."""
    obj = dict(entry)
    most_key, warn_key = keys
    high = fields.positive(obj, most_key, f"{path}.{most_key}", default, most)
    if warn_key not in obj:
        return Limit(high, None, most_key, warn_key)
    warn = fields.positive(obj, warn_key, f"{path}.{warn_key}", 0.0, most)
    if warn >= high:
        given = "" if most_key in obj else ", the default"
        raise fields.fail(f"{path}.{warn_key}", f"{warn_key} ({warn:g}) must be below"
                                                f" {most_key} ({high:g}{given})")
    return Limit(high, warn, most_key, warn_key)


class Clock:
    """The start of one check: wall clock for the record, monotonic for its duration."""

    __slots__ = ("started", "mono")

    def __init__(self) -> None:
        self.started = time.time()
        self.mono = time.monotonic()

    def ms(self) -> float:
        return (time.monotonic() - self.mono) * 1000.0


def judged(monitor: Monitor, clock: Clock, value: float, shown: str, bound: Limit,
           metrics: Mapping[str, float]) -> CheckResult:
    """The result of a check that measured `value` (`shown` says it for people, e.g.
    "disk /data 93.1% used"), judged against `bound`."""
    verdict = bound.judge(value)
    state, detail = verdict if verdict else ("up", "")
    return CheckResult(monitor.id, clock.started, state != "down", None, clock.ms(),
                       REASON if verdict else None,
                       trace_detail(f"{shown} {detail}" if verdict else "", monitor.secrets),
                       mono=clock.mono, metrics=dict(metrics), warning=state == "warning")


def failed(monitor: Monitor, clock: Clock, reason: str, detail: str,
           metrics: Mapping[str, float] | None = None) -> CheckResult:
    # A path or a process pattern from the config, an error's text: one short line, as
    # every kind's detail.
    return CheckResult(monitor.id, clock.started, False, None, clock.ms(), reason,
                       trace_detail(detail, monitor.secrets), mono=clock.mono,
                       metrics=dict(metrics or {}))


def kind(name: str, keys: tuple[str, ...], parse: ParseSpec, reasons: tuple[str, ...],
         check: Check, help: Mapping[str, tuple[str, str]] | None = None,
         schema: Mapping[str, Mapping[str, Any]] | None = None) -> Kind:
    """A host kind: never a network check (the canary never applies), run in the worker
    pool, its trace from the same `check`. `help`: its keys, for people; `schema`: their
    JSON Schema fragments (both default to maxPercent and warnPercent's)."""
    return Kind(name=name, keys=keys, parse=parse, reasons=reasons, run=runner(check),
                network=False, debug=debugger(check), help=help or PERCENT_HELP,
                schema=schema or PERCENT_SCHEMA)


def runner(check: Check) -> Callable[[Monitor, Deadline], CheckResult]:
    """A kind's `run`: the check without a trace."""

    def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
        return check(monitor, deadline, None)

    return run


def pause(seconds: float, deadline: Deadline) -> bool:
    """Sleep `seconds` (at most what the deadline leaves); False if the monitor stopped."""
    end = time.monotonic() + min(seconds, deadline.remaining())
    while not deadline.aborted:
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, POLL))
    return False


def wait(event: threading.Event, deadline: Deadline) -> bool:
    """Wait for `event` until the deadline (or the monitor stops); True if it is set."""
    while not deadline.aborted:
        left = deadline.remaining()
        if event.wait(min(left, POLL)):
            return True
        if left <= POLL:
            return event.is_set()
    return event.is_set()
