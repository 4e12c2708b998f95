"""Is it me? A connectivity canary that tells a site's failure from the monitor's own.

When the monitor loses its network every site fails at once, and a monitor that believed
its own checks would page about all of them. With a canary configured (a URL that should
always answer), a failed site check is confirmed against it: if the canary fails too, the
check is recorded as unknown and raises no alert.

Only a canary check begun after the site's check failed can speak for it: an older "the
network is fine" may predate the loss. One canary check at a time serves every site that
failed before it began (single flight), and canary checks start at most every MIN_GAP
seconds, so a thousand sites failing cost a few canary checks a second, not a thousand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.core.model import CheckAborted, CheckResult, Monitor

MIN_GAP = 0.25  # seconds between the starts of two canary checks


class Canary:
    def __init__(self, monitor: Monitor, watchdog: Callable[[], Watchdog | None],
                 on_change: Callable[[bool, CheckResult, float], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor = monitor
        self._watchdog = watchdog
        self._on_change = on_change
        self._clock = clock
        self._cond = threading.Condition()
        self._running = False
        self._last: CheckResult | None = None
        self._last_started = float("-inf")
        self.online = True
        self.offline_since: float | None = None
        self.checks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="canary", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Stop making canary checks (a check in flight is cut by the watchdog's stop)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # Briefly: a canary check stuck in a lookup must not hold up a stop or a
            # reload (the thread is a daemon and ends at its next wake-up).
            self._thread.join(0.5)

    def _run(self) -> None:
        # Checked on its own schedule as well, so that "back online" is noticed even when
        # no site fails, and "offline" before the sites' windows fill with unknowns.
        while not self._stop.wait(self.monitor.interval):
            self.is_offline(self._clock())

    def is_offline(self, since: float) -> bool:
        """Whether the monitor is offline, for a check that failed at `since` (monotonic):
        the answer of the first canary check begun at or after then."""
        with self._cond:
            while True:
                if self._last is not None and self._last_started >= since:
                    return not _reached(self._last)
                if not self._running:
                    self._running = True
                    break
                self._cond.wait()
        try:
            wait = self._last_started + MIN_GAP - self._clock()
            if wait > 0:
                self._stop.wait(wait)
            started = self._clock()
            result = self._check()
        except BaseException:
            with self._cond:  # never leave the waiters of this flight waiting forever
                self._running = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._running = False
            self._cond.notify_all()
            if result is None:  # stopping: say nothing new
                return not self.online
            self.checks += 1
            if started >= self._last_started:
                self._last, self._last_started = result, started
            reached = _reached(result)
            changed = reached != self.online
            offline_for = 0.0
            if changed:
                self.online = reached
                if self.online and self.offline_since is not None:
                    offline_for = started - self.offline_since
                self.offline_since = None if self.online else started
        if changed:
            # `offline_for`: seconds between the check that found the network gone and the
            # one that found it back.
            self._on_change(self.online, result, offline_for)
        return not reached

    def _check(self) -> CheckResult | None:
        watchdog = self._watchdog()
        if watchdog is None or self._stop.is_set():
            return None
        try:
            return run_check(self.monitor, watchdog)
        except CheckAborted:
            return None


def _reached(result: CheckResult) -> bool:
    """Any HTTP answer, even an error or a rate limit, means the network is there."""
    return bool(result.available) or result.code is not None
