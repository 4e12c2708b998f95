"""Availability alerts: evaluated after every check, over the site's own window.

The evaluator holds, per site, the checks of its past `alertWindow` seconds and whether an
alert is open. Its state is rebuilt from the database at start-up (the last alert row of
each site and its recent checks), so a restart neither repeats an alert nor loses a
recovery.

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
from dataclasses import dataclass

from monitor.checks import CheckResult, Monitor
from monitor.secrets import display_url


@dataclass(frozen=True, slots=True)
class AlertEvent:
    type: str  # "alert" or "recovery"
    url: str  # the monitor's id
    availability: float
    time: float  # when it was raised, UTC epoch seconds
    start: float  # when the alert started
    end: float | None  # when it ended (recoveries)
    message: str


def format_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def format_duration(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def alert_message(url: str, availability: float, at: float) -> str:
    return (f"Website {display_url(url)} is down. availability={availability:.1%}, "
            f"time={format_time(at)}")


def recovery_message(url: str, availability: float, start: float, end: float,
                     down_for: float | None = None) -> str:
    """`down_for` is measured on the monotonic clock; `start` and `end` are wall-clock
    times, which a clock step may have moved."""
    down_for = end - start if down_for is None else down_for
    return (f"Website {display_url(url)} has recovered. availability={availability:.1%}, "
            f"time={format_time(end)}; down since {format_time(start)}, "
            f"for {format_duration(down_for)}")


class _SiteWindow:
    __slots__ = ("times", "oks", "window", "threshold", "alert_start", "alert_mono", "target")

    def __init__(self, window: float, threshold: float) -> None:
        self.target = ""  # what messages name: the masked URL of an http monitor
        self.times: list[float] = []  # monotonic
        self.oks: list[bool] = []
        self.window = window
        self.threshold = threshold
        self.alert_start: float | None = None  # wall clock, for messages and the database
        self.alert_mono: float | None = None  # the same moment, monotonic, for durations

    def add(self, at: float, ok: bool) -> None:
        # Checks can finish out of order (a slow one after a quick one): keep time order.
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.oks.insert(index, ok)

    def prune(self, now: float) -> None:
        cut = bisect.bisect_left(self.times, now - self.window)
        if cut:
            del self.times[:cut]
            del self.oks[:cut]


class AlertEvaluator:
    """Thread-safe: workers call `record` as their checks finish."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._mono = mono
        self._sites: dict[str, _SiteWindow] = {}
        self._lock = threading.Lock()

    def configure(self, sites: Iterable[Monitor]) -> None:
        """Apply the config's sites: new ones start empty, kept ones keep their history."""
        with self._lock:
            current = {}
            for site in sites:
                state = self._sites.get(site.id) or _SiteWindow(site.alert_window,
                                                                 site.alert_threshold)
                state.window = site.alert_window
                state.threshold = site.alert_threshold
                state.target = site.target
                current[site.id] = state
            self._sites = current

    def restore(self, url: str, alert_start: float | None,
                checks: Iterable[tuple[float, bool]], now: float | None = None) -> None:
        """Load state read from the database, where times are wall-clock epochs, placed by
        their age at `now` (default: the wall clock's now). After the wall clock stepped
        back, the caller passes the newest stored time: rows dated in the "future" would
        otherwise sit in the window, never pruned, for as long as the step."""
        with self._lock:
            state = self._sites.get(url)
            if state is None:
                return
            offset = (self._clock() if now is None else now) - self._mono()
            state.alert_start = alert_start
            state.alert_mono = None if alert_start is None else alert_start - offset
            for at, ok in checks:
                state.add(at - offset, ok)

    def is_alerting(self, url: str) -> bool:
        state = self._sites.get(url)
        return state is not None and state.alert_start is not None

    def record(self, result: CheckResult) -> AlertEvent | None:
        with self._lock:
            state = self._sites.get(result.monitor)
            if state is None:  # the site was removed while its check ran
                return None
            if result.available is None:  # unknown: neither up nor down
                return None
            state.add(result.mono, result.available)
            return self._evaluate(result.monitor, state)

    def evaluate(self, url: str) -> AlertEvent | None:
        with self._lock:
            state = self._sites.get(url)
            if state is None:
                return None
            return self._evaluate(url, state)

    def availability(self, url: str) -> float | None:
        with self._lock:
            state = self._sites.get(url)
            if state is None:
                return None
            state.prune(self._mono())
            return sum(state.oks) / len(state.oks) if state.oks else None

    def _evaluate(self, url: str, state: _SiteWindow) -> AlertEvent | None:
        mono = self._mono()
        state.prune(mono)
        if not state.oks:
            return None
        # A division, not `up < threshold * total`: 0.7 * 10 is 7.000000000000001 in
        # floating point, which would turn "exactly at the threshold" into an alert.
        availability = sum(state.oks) / len(state.oks)
        if state.alert_start is None and availability < state.threshold:
            now = self._clock()
            state.alert_start, state.alert_mono = now, mono
            return AlertEvent("alert", url, availability, now, now, None,
                              alert_message(state.target or url, availability, now))
        if state.alert_start is not None and availability >= state.threshold:
            now = self._clock()
            start, state.alert_start = state.alert_start, None
            down_for = mono - (state.alert_mono if state.alert_mono is not None else mono)
            state.alert_mono = None
            return AlertEvent("recovery", url, availability, now, start, now,
                              recovery_message(state.target or url, availability, start, now,
                                               down_for))
        return None
