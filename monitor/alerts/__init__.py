"""Alerts: evaluated after every check, by the monitor's rules.

The rules (README, "Alert rules"): the window rule (`alertWindow`, `alertThreshold`,
`alertMinChecks`) and the count rules (`alertAfter`, `recoverAfter`) must all agree for an
alert to open, and all agree again for it to recover; `remindEvery` repeats an open alert;
an alert acknowledged (through the API) is reminded no more; a monitor whose verdict
changes more than `flapLimit` times within `flapWindow` is reported once as flapping and
raises nothing more until the changes fall to half the limit. A warning (a check up, but
warning) is its own event, sent only while no alert is open. With none of the newer keys
set, alerts and recoveries are exactly the window rule's.

A monitor checked from several locations (`locations`, agents') applies these rules to
each location's checks on its own, and is down when at least `quorum` of its locations are
at once (one alert naming them); fewer is a warning of its own. A location whose agents are
lost (`location_lost`), or silent for a whole window, counts neither way: nothing opens or
closes on its silence. One location: exactly the rules above.

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
    is_location_warning,
    location_cleared_message,
    location_escalated_message,
    location_warning_message,
    names,
    note,
    own_name,
    recovery_message,
    reminder_message,
    settled_message,
    subject,
    warning_message,
    where,
)
from monitor.core.model import LOCAL, CheckResult, Monitor, majority
from monitor.core.rules import AlertRules

__all__ = ["EVENT_OF", "AlertEvaluator", "AlertEvent", "LocationVerdict", "Restored",
           "history_span"]

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
    # Of a monitor of several locations: each location's checks (`checks` do not say
    # whose), and the open warning row's message, which tells a location warning ("is
    # down from eu only") from a check's own ("warns: ...").
    located: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    warning_message: str = ""


@dataclass(frozen=True, slots=True)
class LocationVerdict:
    """One location of a monitor checked from several, as the rules see it now: what the
    views show of it (`AlertEvaluator.locations`)."""

    location: str
    lost: bool  # every agent of it lost: its checks count neither way
    down: bool  # the rules' verdict on its checks alone (as its own alert would be open)
    warns: bool  # its latest check warned
    checks: int  # its known checks in the alert window, as the window rule counts them
    up: int  # ... of them, those up
    latest: CheckResult | None  # its latest check, whatever its age; None: none since start


class _Open:
    """Something open (an alert, a warning, a flapping): when it began on both clocks."""

    __slots__ = ("wall", "mono", "acked")

    def __init__(self, wall: float, mono: float) -> None:
        self.wall = wall  # for messages and the database
        self.mono = mono  # the same moment, monotonic, for durations
        self.acked = False  # an alert someone acknowledged: reminded no more


class _Window:
    """One location's checks, what the rules read (a monitor of one location has one)."""

    __slots__ = ("times", "oks", "recent", "changes", "down", "warns", "cause", "cause_at")

    def __init__(self) -> None:
        self.times: list[float] = []  # monotonic, the checks in the window
        self.oks: list[bool] = []
        # The latest verdicts (monotonic time, up), whatever their age: the count rules'.
        self.recent: list[tuple[float, bool]] = []
        self.changes: list[float] = []  # when the verdict changed, within flapWindow
        # Of a location of a monitor of several: the rules' verdict on this location alone
        # (as an alert would be open for it), whether its latest check warned, and its
        # latest failure's (reason, detail) with when (monotonic).
        self.down = False
        self.warns = False
        self.cause: tuple[str, str] | None = None
        self.cause_at = 0.0

    def add(self, at: float, ok: bool, counts: bool, history: int) -> None:
        # Checks can finish out of order (a slow one after a quick one): keep time order.
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.oks.insert(index, ok)
        if not counts:
            return
        entry = (at, ok)
        index = bisect.bisect_right(self.recent, entry)
        if index == len(self.recent) and self.recent and self.recent[-1][1] != ok:
            self.changes.append(at)  # only the newest can change the state now
        self.recent.insert(index, entry)
        del self.recent[:-history]

    def forget(self) -> None:
        """Drop the checks (what is open stays open)."""
        self.times.clear()
        self.oks.clear()
        self.recent.clear()
        self.changes.clear()

    def prune(self, now: float, window: float, flap_window: float) -> None:
        cut = bisect.bisect_left(self.times, now - window)
        if cut:
            del self.times[:cut]
            del self.oks[:cut]
        if self.changes:
            cut = bisect.bisect_left(self.changes, now - flap_window)
            if cut:
                del self.changes[:cut]

    def availability(self) -> float | None:
        # A division, not `up < threshold * total`: 0.7 * 10 is 7.000000000000001 in
        # floating point, which would turn "exactly at the threshold" into an alert.
        return sum(self.oks) / len(self.oks) if self.oks else None


class _State:
    __slots__ = ("window", "threshold", "rules", "subject", "name", "counts", "alert",
                 "reminded", "warning", "flapping", "cause", "seen_up", "locations",
                 "quorum", "windows", "main", "partial", "changed", "wait", "latest")

    def __init__(self, monitor: Monitor) -> None:
        self.subject = ""  # what messages call it: "Website <masked URL>", "disk /"
        self.name = ""  # its name, when it has one the subject does not say
        self.cause: tuple[str, str] | None = None  # the latest failed check's reason, detail
        self.seen_up = False  # a check of it was ever up: what an alert changes from
        self.windows: dict[str, _Window] = {}  # by location
        self.alert: _Open | None = None
        self.reminded = 0.0  # monotonic: the alert's latest reminder
        self.warning: _Open | None = None  # a check's own warning (a certificate expiring)
        self.partial: _Open | None = None  # failing from fewer locations than the quorum
        # The latest check (monotonic) of the location whose verdict changed last: a
        # location warning waits for every location heard to have checked since.
        self.changed = 0.0
        self.flapping: _Open | None = None
        # Of several locations: each one's latest check, for the views (a window forgets
        # its checks when its location is lost; this keeps when it was last heard).
        self.latest: dict[str, CheckResult] = {}
        self.apply(monitor)

    @property
    def several(self) -> bool:
        """Checked from several locations: the quorum rules apply."""
        return len(self.locations) > 1

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
        self.locations = monitor.locations or (LOCAL,)
        self.quorum = monitor.quorum or majority(len(self.locations))
        # How long a location warning waits for the other locations' checks: one round,
        # and a second for an agent's results to be posted.
        self.wait = monitor.interval + monitor.timeout + 1.0
        # Kept locations keep their checks; a location added starts empty.
        self.windows = {location: self.windows.get(location) or _Window()
                        for location in self.locations}
        for window in self.windows.values():
            del window.recent[:-self.rules.history]
        self.main = self.windows[self.locations[0]]  # one location's: all its checks
        if not self.several and self.partial is not None:
            # Down to one location: its warning clears as a check's does (a closing row).
            self.warning, self.partial = self.warning or self.partial, None

    def add(self, window: _Window, at: float, ok: bool) -> None:
        self.seen_up = self.seen_up or ok
        window.add(at, ok, self.counts, self.rules.history)

    def prune(self, window: _Window, now: float) -> None:
        window.prune(now, self.window, self.rules.flap_window)

    def failing(self, window: _Window, availability: float) -> bool:
        """Every rule that opens an alert agrees."""
        if availability >= self.threshold or len(window.oks) < self.rules.min_checks:
            return False
        if self.rules.alert_after is None:
            return True
        failures, of = self.rules.alert_after
        return sum(not ok for _, ok in window.recent[-of:]) >= failures

    def recovered(self, window: _Window, availability: float) -> bool:
        """Every rule that closes an alert agrees."""
        if availability < self.threshold:
            return False
        count = self.rules.recover_after
        return count is None or (len(window.recent) >= count
                                 and all(ok for _, ok in window.recent[-count:]))

    def judge(self, window: _Window, availability: float) -> None:
        """A location's own verdict, by the rules, as its own alert would open and close."""
        if (self.recovered(window, availability) if window.down
                else self.failing(window, availability)):
            window.down = not window.down
            self.changed = max(self.changed, window.times[-1])


class AlertEvaluator:
    """Thread-safe: workers call `record` as their checks finish."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mono = mono
        self._states: dict[str, _State] = {}  # by monitor id
        self._lost: set[str] = set()  # locations whose every agent is lost
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
            if state.several and is_location_warning(restored.warning_message):
                state.warning, state.partial = None, opened(restored.warning_start)
            else:
                state.warning, state.partial = opened(restored.warning_start), None
            state.flapping = opened(restored.flapping_start)
            state.cause = restored.cause
            state.seen_up = restored.seen_up
            if not state.several:
                for at, ok in sorted(restored.checks):
                    state.add(state.main, at - offset, ok)
                return
            # Each location's verdict replayed check by check, as it was reached live (a
            # location's verdict raises nothing: what was raised is in the rows above).
            # `checks` without their location say nothing of any one location.
            replay = sorted((at - offset, ok, location)
                            for location, checks in restored.located.items()
                            if location in state.windows and location not in self._lost
                            for at, ok in checks)
            for at, ok, location in replay:
                window = state.windows[location]
                state.add(window, at, ok)
                state.prune(window, at)
                availability = window.availability()
                if availability is not None:
                    state.judge(window, availability)

    def location_lost(self, location: str) -> None:
        """Every agent of `location` is lost: its checks count neither way for any monitor
        until `location_back`. Its checks so far are dropped (they would age into a
        verdict of their own), what is open stays open: a recovery is only ever seen, never
        made up from a silence. Raises nothing."""
        with self._lock:
            if location == LOCAL:
                return  # the monitor's own checks: never lost while it runs
            self._lost.add(location)
            for state in self._states.values():
                if location in state.windows:
                    state.windows[location] = _Window()
                    state.main = state.windows[state.locations[0]]

    def location_back(self, location: str) -> None:
        """An agent of `location` is heard again: its checks count again, from fresh."""
        with self._lock:
            self._lost.discard(location)
            for state in self._states.values():
                if location in state.windows:
                    state.windows[location] = _Window()
                    state.main = state.windows[state.locations[0]]

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

    def locations(self, monitor_id: str) -> list[LocationVerdict] | None:
        """Each location's verdict of a monitor checked from several, in its config's
        order, read without changing anything (its window as of now); None for a monitor
        of one location, or not judged here."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None or not state.several:
                return None
            start = self._mono() - state.window
            verdicts = []
            for location in state.locations:
                window = state.windows[location]
                oks = window.oks[bisect.bisect_left(window.times, start):]
                verdicts.append(LocationVerdict(location, location in self._lost, window.down,
                                                window.warns, len(oks), sum(oks),
                                                state.latest.get(location)))
            return verdicts

    def is_alerting(self, monitor_id: str) -> bool:
        state = self._states.get(monitor_id)
        return state is not None and state.alert is not None

    def record(self, result: CheckResult) -> list[AlertEvent]:
        """Add a check's verdict; the events it raises, in order."""
        with self._lock:
            state = self._states.get(result.monitor_id)
            if state is None:  # the monitor was removed while its check ran
                return []
            if state.several:
                window = state.windows.get(result.location)
                if window is None:  # not (or no longer) a location of the monitor
                    return []
                state.latest[result.location] = result
            else:
                window = state.main
            if result.location in self._lost:  # counts neither way until it is back
                return []
            if result.available is None:  # unknown (offline, maintenance): no evidence
                if result.reason == "maintenance":
                    window.forget()  # what came before the maintenance is not evidence after
                return []
            if not result.available and result.reason != "skipped":
                # A skipped slot's row says its check's verdict: the check said why.
                state.cause = window.cause = (result.reason or "", result.detail)
                window.cause_at = result.mono
            state.add(window, result.mono, result.available)
            if state.several:
                window.warns = result.warning
                return self._evaluate_located(result.monitor_id, state, result)
            return self._evaluate(result.monitor_id, state, result)

    def evaluate(self, monitor_id: str) -> list[AlertEvent]:
        """The events due with no new check (a reminder, a window emptied)."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None:
                return []
            if state.several:
                return self._evaluate_located(monitor_id, state, None)
            return self._evaluate(monitor_id, state, None)

    def availability(self, monitor_id: str) -> float | None:
        """Over the window of every location heard (the monitor's own checks, with one)."""
        with self._lock:
            state = self._states.get(monitor_id)
            if state is None:
                return None
            mono = self._mono()
            for window in state.windows.values():
                state.prune(window, mono)
            return _pooled(list(state.windows.values()))

    def _evaluate(self, monitor_id: str, state: _State, result: CheckResult | None,
                  ) -> list[AlertEvent]:
        mono = self._mono()
        main = state.main
        state.prune(main, mono)
        events: list[AlertEvent] = []
        availability = main.availability()
        if availability is None:
            return events
        called, named = state.subject, note(state.name)
        reason, detail = state.cause or ("", "")
        about = note(state.name, cause(reason, detail))  # an alert's and a reminder's
        rules = state.rules
        changes = len(main.changes)
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
            verdict = "up" if main.oks[-1] else "down"
            events.append(AlertEvent("settled", monitor_id, availability, now, flap.wall, now,
                                     settled_message(called, verdict, flap.wall, now,
                                                     mono - flap.mono, named)))
        if state.flapping is not None:
            return events  # held until it settles
        if state.alert is None and state.failing(main, availability):
            now = self._clock()
            previous = ("warning" if state.warning is not None
                        else "up" if state.seen_up else "unknown")
            state.alert = _Open(now, mono)
            state.reminded = mono
            events.append(AlertEvent("alert", monitor_id, availability, now, now, None,
                                     alert_message(called, availability, now, about),
                                     reason, detail, previous))
        elif state.alert is not None and state.recovered(main, availability):
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

    def _evaluate_located(self, monitor_id: str, state: _State, result: CheckResult | None,
                          ) -> list[AlertEvent]:
        """The rules of a monitor of several locations: each location judged on its own
        checks (`_State.judge`), the monitor down when at least `quorum` of them are at
        once. A location lost, or without a check in its window, counts neither way: an
        alert recovers when enough locations are seen up that a quorum could not be
        failing even among the unheard ones, and a location warning clears when every
        location is seen up."""
        mono = self._mono()
        heard: dict[str, _Window] = {}
        for location in state.locations:
            window = state.windows[location]
            state.prune(window, mono)
            availability = window.availability()
            if availability is not None and location not in self._lost:
                state.judge(window, availability)
                heard[location] = window
        events: list[AlertEvent] = []
        if not heard:
            return events
        down = [location for location, window in heard.items() if window.down]
        up = [location for location, window in heard.items() if not window.down]
        unheard = [location for location in state.locations if location not in heard]
        total, quorum = len(state.locations), state.quorum
        called, named = state.subject, note(state.name)
        # A line's figure is over the locations its verdict is about: a location seeing the
        # monitor up would otherwise dilute a down one's (and the reverse).
        low = _pooled([heard[location] for location in down])
        high = _pooled([heard[location] for location in up])
        rules = state.rules
        # Each location's changes in its own order (interleaved, two locations that
        # disagree are no flapping); flapping when `quorum` locations each changed more
        # than flapLimit: with one location, the monitor's own count. Changes outlive the
        # alert window: every location not lost counts.
        counts = sorted((len(window.changes) for location, window in state.windows.items()
                         if location not in self._lost), reverse=True)
        changes = counts[quorum - 1] if len(counts) >= quorum else 0
        figure = low if low is not None else high if high is not None else 1.0
        low = 0.0 if low is None else low  # (said only with a location down)
        high = 1.0 if high is None else high  # (said only with a location up)
        if rules.flap_limit is not None and state.flapping is None:
            if changes > rules.flap_limit:
                now = self._clock()
                state.flapping = _Open(now, mono)
                flappers = [location for location, window in state.windows.items()
                            if location not in self._lost and len(window.changes) >= changes]
                events.append(AlertEvent("flapping", monitor_id, figure, now, now, None,
                                         flapping_message(called, changes, rules.flap_window,
                                                          now, note(state.name, "from "
                                                                    + names(flappers)))))
        elif state.flapping is not None and (rules.flap_limit is None
                                             or changes <= rules.flap_limit // 2):
            now, flap = self._clock(), state.flapping
            state.flapping = None
            verdict = "down" if len(down) >= quorum else "up"
            events.append(AlertEvent("settled", monitor_id, figure, now, flap.wall, now,
                                     settled_message(called, verdict, flap.wall, now,
                                                     mono - flap.mono, named)))
        if state.flapping is not None:
            return events  # held until it settles
        reason, detail = _latest_cause([heard[location] for location in down]) or state.cause \
            or ("", "")
        downs = where("down", down, "up", up, unheard)
        if state.alert is None and len(down) >= quorum:
            now = self._clock()
            previous = ("warning" if state.warning is not None or state.partial is not None
                        else "up" if state.seen_up else "unknown")
            if state.partial is not None:  # the alert takes over from the warning
                events.append(self._partial_closed(monitor_id, state, low, now, mono,
                                                   location_escalated_message, down))
            state.alert = _Open(now, mono)
            state.reminded = mono
            about = note(state.name, cause(reason, detail), downs)
            events.append(AlertEvent("alert", monitor_id, low, now, now, None,
                                     alert_message(called, low, now, about),
                                     reason, detail, previous))
        elif state.alert is not None and len(up) >= total - quorum + 1:
            now, alert = self._clock(), state.alert
            state.alert = None
            events.append(AlertEvent("recovery", monitor_id, high, now, alert.wall, now,
                                     recovery_message(called, high, alert.wall, now,
                                                      mono - alert.mono,
                                                      note(state.name, where(
                                                          "up", up, "down", down, unheard))),
                                     previous="down"))
        elif (state.alert is not None and rules.remind_every is not None
              and not state.alert.acked and mono - state.reminded >= rules.remind_every):
            now, alert = self._clock(), state.alert
            state.reminded = mono
            about = note(state.name, cause(reason, detail), downs)
            events.append(AlertEvent("reminder", monitor_id, figure, now, alert.wall, None,
                                     reminder_message(called, figure, alert.wall, now,
                                                      mono - alert.mono, about),
                                     reason, detail))
        if state.alert is not None:
            return events  # the alert is what is said
        # A location flapping alone holds the location warning where it is (its own changes
        # past flapLimit), as flapping holds a monitor's alerts.
        held = rules.flap_limit is not None and bool(counts) and counts[0] > rules.flap_limit
        if held:
            pass
        elif down and state.partial is None and self._settled(state, mono):
            now = self._clock()
            state.partial = _Open(now, mono)
            about = note(state.name, cause(reason, detail),
                         f"no checks from {names(unheard)}" if unheard else "")
            events.append(AlertEvent("warning", monitor_id, low, now, now, None,
                                     location_warning_message(called, down, total, quorum,
                                                              now, about),
                                     reason, detail))
        elif state.partial is not None and len(up) == total:
            events.append(self._partial_closed(monitor_id, state, high, self._clock(),
                                               mono, None, up))
        if result is not None and (result.warning or state.warning is not None):
            events += self._warning(monitor_id, state, result, figure, mono)
        return events

    def _settled(self, state: _State, mono: float) -> bool:
        """Whether every location has checked since the latest change of a location's
        verdict, so that the first location to see an outage the others see too in the
        same round is no warning. Lost locations are not waited for, and the others only
        for a round (`wait`): a silent agent not yet found lost holds nothing longer."""
        if mono - state.changed >= state.wait:
            return True
        return all(location in self._lost or (window.times
                                              and window.times[-1] >= state.changed)
                   for location, window in state.windows.items())

    def _partial_closed(self, monitor_id: str, state: _State, availability: float,
                        now: float, mono: float, escalated: Callable[..., str] | None,
                        down: list[str]) -> AlertEvent:
        """The location warning's "cleared" row: every location up, or `escalated` into
        an alert (its words, naming the locations `down`)."""
        warning = state.partial
        assert warning is not None
        state.partial = None
        named = note(state.name)
        message = (location_cleared_message(state.subject, len(state.locations),
                                            warning.wall, now, mono - warning.mono, named)
                   if escalated is None else
                   escalated(state.subject, down, warning.wall, now, mono - warning.mono,
                             named))
        return AlertEvent("cleared", monitor_id, availability, now, warning.wall, now, message)

    def _warning(self, monitor_id: str, state: _State, result: CheckResult, availability: float,
                 mono: float) -> list[AlertEvent]:
        """A warning opens with the first check that warns and clears with the first one
        up without a warning (of several locations: once none of theirs warns); while an
        alert is open, the alert is what is said."""
        called, named = state.subject, note(state.name)
        if result.warning and state.warning is None:
            now = self._clock()
            state.warning = _Open(now, mono)
            why = cause(result.reason or "warning", result.detail)
            if state.several:
                named = note(state.name, f"from {result.location}")
            return [AlertEvent("warning", monitor_id, availability, now, now, None,
                               warning_message(called, why, now, named),
                               result.reason or "", result.detail)]
        if (state.warning is not None and result.available and not result.warning
                and not any(window.warns for window in state.windows.values())):
            now, warning = self._clock(), state.warning
            state.warning = None
            return [AlertEvent("cleared", monitor_id, availability, now, warning.wall, now,
                               cleared_message(called, warning.wall, now,
                                               mono - warning.mono, named))]
        return []


def _pooled(windows: list[_Window]) -> float | None:
    """The availability over these windows' checks together."""
    checks = sum(len(window.oks) for window in windows)
    return sum(sum(window.oks) for window in windows) / checks if checks else None


def _latest_cause(windows: list[_Window]) -> tuple[str, str] | None:
    """The latest failure's (reason, detail) among these locations'."""
    causes = [(window.cause_at, window.cause) for window in windows if window.cause]
    return max(causes, key=lambda pair: pair[0])[1] if causes else None


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
