"""Alerts: evaluated after every check, by the monitor's rules.

The rules (README, "Alert rules"): the window rule (`alertWindow`, `alertThreshold`,
`alertMinChecks`) and the count rules (`alertAfter`, `recoverAfter`) must all agree for an
alert to open, and all agree again for it to recover; `remindEvery` repeats an open alert;
an alert acknowledged (through the API) is reminded no more; a monitor whose verdict
changes more than `flapLimit` times within `flapWindow` is reported once as flapping and
raises nothing more until the changes fall to half the limit. A warning (a check up, but
warning) is its own event, sent only while no alert is open. With none of the newer keys
set, alerts and recoveries are exactly the window rule's.

The evaluator holds, per monitor, its recent checks and what is open (an alert, a warning,
a flapping). Its state is rebuilt from the database at start-up (each monitor's latest
rows and its recent checks), so a restart neither repeats an event nor loses one.

Windows are kept on the monotonic clock: a wall clock stepped by NTP or by hand, an hour
either way, must neither empty a window nor fill it with checks from the "future". The
wall clock only dates what is printed and stored. Both clocks are injected, so tests
drive the boundaries exactly.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.alerts.messages import (
    alert_message,
    cause,
    cleared_message,
    flapping_message,
    note,
    own_name,
    recovery_message,
    reminder_message,
    settled_message,
    subject,
    warning_message,
)
from monitor.core.model import CheckResult, Monitor
from monitor.core.rules import AlertRules

__all__ = ["EVENT_OF", "AlertEvaluator", "AlertEvent", "Restored", "history_span"]

# The notification event (`notifyOn`) of each type of alert row.
EVENT_OF = {"alert": "alert", "recovery": "recovery", "reminder": "reminder",
            "warning": "warning", "cleared": "warning", "flapping": "flapping",
            "settled": "flapping"}
MAX_HISTORY = 86400.0  # seconds of checks a restart reads back, at most


@dataclass(frozen=True, slots=True)
class AlertEvent:
    type: str  # a key of EVENT_OF
    monitor_id: str
    availability: float
    time: float  # when it was raised, UTC epoch seconds
    start: float  # when what it is about began (the alert, the warning, the flapping)
    end: float | None  # when that ended (recovery, cleared, settled)
    message: str
    # Why: an alert's and a reminder's, the latest failed check's reason and detail; a
    # warning's, its check's. Empty for the others.
    reason: str = ""
    detail: str = ""
    # The state the monitor was in before an alert ("up", "warning", or "unknown": never
    # seen up) or a recovery ("down"); empty for the others.
    previous: str = ""

    @property
    def event(self) -> str:
        """The notification event it is (`notifyOn`)."""
        return EVENT_OF[self.type]


@dataclass(frozen=True, slots=True)
class Restored:
    """What the database says was open for a monitor, in wall-clock epoch seconds."""

    alert_start: float | None = None
    reminded: float | None = None  # the alert's latest reminder (or the alert itself)
    warning_start: float | None = None
    flapping_start: float | None = None
    acknowledged: bool = False  # the open alert was acknowledged: no reminders
    checks: list[tuple[float, bool]] = field(default_factory=list)
    # The latest failed check's (reason, detail), and whether it was ever seen up (a check
    # up, a recovery).
    cause: tuple[str, str] | None = None
    seen_up: bool = False


class _Open:
    """Something open (an alert, a warning, a flapping): when it began on both clocks."""

    __slots__ = ("wall", "mono", "acked")

    def __init__(self, wall: float, mono: float) -> None:
        self.wall = wall  # for messages and the database
        self.mono = mono  # the same moment, monotonic, for durations
        self.acked = False  # an alert someone acknowledged: reminded no more


class _State:
    __slots__ = ("times", "oks", "window", "threshold", "rules", "subject", "name", "recent",
                 "changes", "alert", "reminded", "warning", "flapping", "counts", "cause",
                 "seen_up")

    def __init__(self, monitor: Monitor) -> None:
        self.subject = ""  # what messages call it: "Website <masked URL>", "disk /"
        self.name = ""  # its name, when it has one the subject does not say
        self.cause: tuple[str, str] | None = None  # the latest failed check's reason, detail
        self.seen_up = False  # a check of it was ever up: what an alert changes from
        self.times: list[float] = []  # monotonic, the checks in the window
        self.oks: list[bool] = []
        # The latest verdicts (monotonic time, up), whatever their age: the count rules'.
        self.recent: list[tuple[float, bool]] = []
        self.changes: list[float] = []  # when the verdict changed, within flapWindow
        self.alert: _Open | None = None
        self.reminded = 0.0  # monotonic: the alert's latest reminder
        self.warning: _Open | None = None
        self.flapping: _Open | None = None
        self.apply(monitor)

    def apply(self, monitor: Monitor) -> None:
        self.window = monitor.alert_window
        self.threshold = monitor.alert_threshold
        self.rules: AlertRules = monitor.rules
        self.subject = subject(monitor.kind, monitor.target)
        self.name = own_name(self.subject, monitor.name)
        # Whether a rule looks at the latest verdicts (not the window rule alone, whose
        # checks cost what they did before the rules).
        self.counts = (self.rules.alert_after is not None or self.rules.recover_after
                       is not None or self.rules.flap_limit is not None)

    def add(self, at: float, ok: bool) -> None:
        self.seen_up = self.seen_up or ok
        # Checks can finish out of order (a slow one after a quick one): keep time order.
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.oks.insert(index, ok)
        if not self.counts:
            return
        entry = (at, ok)
        index = bisect.bisect_right(self.recent, entry)
        if index == len(self.recent) and self.recent and self.recent[-1][1] != ok:
            self.changes.append(at)  # only the newest can change the state now
        self.recent.insert(index, entry)
        del self.recent[:-self.rules.history]

    def forget(self) -> None:
        """Drop the checks (what is open stays open)."""
        self.times.clear()
        self.oks.clear()
        self.recent.clear()
        self.changes.clear()

    def prune(self, now: float) -> None:
        cut = bisect.bisect_left(self.times, now - self.window)
        if cut:
            del self.times[:cut]
            del self.oks[:cut]
        if self.changes:
            cut = bisect.bisect_left(self.changes, now - self.rules.flap_window)
            if cut:
                del self.changes[:cut]

    def availability(self) -> float | None:
        # A division, not `up < threshold * total`: 0.7 * 10 is 7.000000000000001 in
        # floating point, which would turn "exactly at the threshold" into an alert.
        return sum(self.oks) / len(self.oks) if self.oks else None

    def failing(self, availability: float) -> bool:
        """Every rule that opens an alert agrees."""
        if availability >= self.threshold or len(self.oks) < self.rules.min_checks:
            return False
        if self.rules.alert_after is None:
            return True
        failures, of = self.rules.alert_after
        return sum(not ok for _, ok in self.recent[-of:]) >= failures

    def recovered(self, availability: float) -> bool:
        """Every rule that closes an alert agrees."""
        if availability < self.threshold:
            return False
        count = self.rules.recover_after
        return count is None or (len(self.recent) >= count
                                 and all(ok for _, ok in self.recent[-count:]))


class AlertEvaluator:
    """Thread-safe: workers call `record` as their checks finish."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mono = mono
        self._states: dict[str, _State] = {}  # by monitor id
        self._lock = threading.Lock()

    def configure(self, monitors: Iterable[Monitor]) -> None:
        """Apply the config's monitors: new ones start empty, kept ones keep their history
        and what is open."""
        with self._lock:
            current = {}
            for monitor in monitors:
                state = self._states.get(monitor.id)
                if state is None:
                    state = _State(monitor)
                else:
                    state.apply(monitor)
                    del state.recent[:-state.rules.history]
                current[monitor.id] = state
            self._states = current

    def restore(self, monitor_id: str, restored: Restored, now: float | None = None) -> None:
        """Load state read from the database, where times are wall-clock epochs, placed by
        their age at `now` (default: the wall clock's now). After the wall clock stepped
        back, the caller passes the newest stored time: rows dated in the "future" would
        otherwise sit in the window, never pruned, for as long as the step."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None:
                return
            offset = (self._clock() if now is None else now) - self._mono()

            def opened(start: float | None) -> _Open | None:
                return None if start is None else _Open(start, start - offset)

            state.alert = opened(restored.alert_start)
            if state.alert is not None:
                state.alert.acked = restored.acknowledged
            reminded = restored.reminded if restored.reminded is not None else (
                restored.alert_start)
            state.reminded = 0.0 if reminded is None else reminded - offset
            state.warning = opened(restored.warning_start)
            state.flapping = opened(restored.flapping_start)
            state.cause = restored.cause
            state.seen_up = restored.seen_up
            for at, ok in sorted(restored.checks):
                state.add(at - offset, ok)

    def reminding(self) -> dict[str, float]:
        """The monitors whose open alert reminders repeat, not acknowledged: id -> the
        alert's start (wall clock). What an acknowledgement can change."""
        with self._lock:
            return {monitor_id: state.alert.wall for monitor_id, state in self._states.items()
                    if state.alert is not None and not state.alert.acked
                    and state.rules.remind_every is not None}

    def acknowledge(self, monitor_id: str, start: float) -> None:
        """The monitor's alert begun at `start` (as `reminding` gave it) was acknowledged:
        no reminders for it from now on. An alert closed since, or another one opened since,
        is left as it is."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is not None and state.alert is not None and state.alert.wall == start:
                state.alert.acked = True

    def is_alerting(self, monitor_id: str) -> bool:
        state = self._states.get(monitor_id)
        return state is not None and state.alert is not None

    def record(self, result: CheckResult) -> list[AlertEvent]:
        """Add a check's verdict; the events it raises, in order."""
        with self._lock:
            state = self._states.get(result.monitor_id)
            if state is None:  # the monitor was removed while its check ran
                return []
            if result.available is None:  # unknown (offline, maintenance): no evidence
                if result.reason == "maintenance":
                    state.forget()  # what came before the maintenance is not evidence after
                return []
            if not result.available and result.reason != "skipped":
                # A skipped slot's row says its check's verdict: the check said why.
                state.cause = (result.reason or "", result.detail)
            state.add(result.mono, result.available)
            return self._evaluate(result.monitor_id, state, result)

    def evaluate(self, monitor_id: str) -> list[AlertEvent]:
        """The events due with no new check (a reminder, a window emptied)."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None:
                return []
            return self._evaluate(monitor_id, state, None)

    def availability(self, monitor_id: str) -> float | None:
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None:
                return None
            state.prune(self._mono())
            return state.availability()

    def _evaluate(self, monitor_id: str, state: _State, result: CheckResult | None,
                  ) -> list[AlertEvent]:
        mono = self._mono()
        state.prune(mono)
        events: list[AlertEvent] = []
        availability = state.availability()
        if availability is None:
            return events
        called, named = state.subject, note(state.name)
        reason, detail = state.cause or ("", "")
        about = note(state.name, cause(reason, detail))  # an alert's and a reminder's
        rules = state.rules
        changes = len(state.changes)
        if rules.flap_limit is not None and state.flapping is None:
            if changes > rules.flap_limit:
                now = self._clock()
                state.flapping = _Open(now, mono)
                events.append(AlertEvent("flapping", monitor_id, availability, now, now, None,
                                         flapping_message(called, changes, rules.flap_window,
                                                          now, named)))
        elif state.flapping is not None and (rules.flap_limit is None
                                             or changes <= rules.flap_limit // 2):
            # Settled, or no longer watched for flapping (flapLimit removed): released.
            now, flap = self._clock(), state.flapping
            state.flapping = None
            verdict = "up" if state.oks[-1] else "down"
            events.append(AlertEvent("settled", monitor_id, availability, now, flap.wall, now,
                                     settled_message(called, verdict, flap.wall, now,
                                                     mono - flap.mono, named)))
        if state.flapping is not None:
            return events  # held until it settles
        if state.alert is None and state.failing(availability):
            now = self._clock()
            previous = ("warning" if state.warning is not None
                        else "up" if state.seen_up else "unknown")
            state.alert = _Open(now, mono)
            state.reminded = mono
            events.append(AlertEvent("alert", monitor_id, availability, now, now, None,
                                     alert_message(called, availability, now, about),
                                     reason, detail, previous))
        elif state.alert is not None and state.recovered(availability):
            now, alert = self._clock(), state.alert
            state.alert = None
            events.append(AlertEvent("recovery", monitor_id, availability, now, alert.wall, now,
                                     recovery_message(called, availability, alert.wall, now,
                                                      mono - alert.mono, named),
                                     previous="down"))
        elif (state.alert is not None and rules.remind_every is not None
              and not state.alert.acked and mono - state.reminded >= rules.remind_every):
            now, alert = self._clock(), state.alert
            state.reminded = mono
            events.append(AlertEvent("reminder", monitor_id, availability, now, alert.wall, None,
                                     reminder_message(called, availability, alert.wall, now,
                                                      mono - alert.mono, about),
                                     reason, detail))
        if (result is not None and state.alert is None
                and (result.warning or state.warning is not None)):
            events += self._warning(monitor_id, state, result, availability, mono)
        return events

    def _warning(self, monitor_id: str, state: _State, result: CheckResult, availability: float,
                 mono: float) -> list[AlertEvent]:
        """A warning opens with the first check that warns and clears with the first one
        up without a warning; while an alert is open, the alert is what is said."""
        called, named = state.subject, note(state.name)
        if result.warning and state.warning is None:
            now = self._clock()
            state.warning = _Open(now, mono)
            why = cause(result.reason or "warning", result.detail)
            return [AlertEvent("warning", monitor_id, availability, now, now, None,
                               warning_message(called, why, now, named),
                               result.reason or "", result.detail)]
        if state.warning is not None and result.available and not result.warning:
            now, warning = self._clock(), state.warning
            state.warning = None
            return [AlertEvent("cleared", monitor_id, availability, now, warning.wall, now,
                               cleared_message(called, warning.wall, now,
                                               mono - warning.mono, named))]
        return []


def history_span(monitors: Iterable[Monitor]) -> float:
    """Seconds of checks a restart reads back for the rules to start where they were:
    each monitor's window, its flap window, and room for the verdicts its count rules
    look at (at most MAX_HISTORY)."""
    span = 0.0
    for m in monitors:
        rules = m.rules
        span = max(span, m.alert_window, rules.flap_window if rules.flap_limit else 0.0,
                   rules.history * m.interval + m.timeout)
    return min(span, MAX_HISTORY)
