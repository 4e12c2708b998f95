"""A push monitor's pushes made its results, on the clock it is polled with.

Each run's end (a ping, a failure) is a result, dated when it was received: up, or down
(`failed`) when the job said so; a `/start` before it makes the run's duration a
measurement (`duration`, ms, as Healthchecks measures it), a pushed `value` another.
Between pushes the monitor is judged at every poll: down (`late`) once nothing has come
within `checkInterval` + `grace` of the latest run's end, or within `grace` of a start
that has not ended; `new` (unknown) while nothing has come yet and the first period has
not passed. A change of that verdict is a result at once; an unchanged one is said again
once a minute, so that its stats and alert window stay filled (a quiet push monitor
stores 1,440 results a day whatever its checkInterval)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.checks.trace import detail as trace_detail
from monitor.core.kind import WatchEvent, WatchState
from monitor.core.model import CheckResult, Monitor
from monitor.core.push import Latest, Push, PushFeed
from monitor.core.timefmt import format_duration, format_seconds

RESULT_EVERY = 60.0  # seconds between two results of an unchanged verdict
RESULTS_PER_POLL = 20  # results of pushes in one poll at most: the newest (a job's flood)
# Seconds a push may take from its receipt to the database (the writer's batch): a run's
# end received before its deadline but not yet read must not make it late.
SETTLE = 1.0
REASONS = ("late", "failed", "new")


@dataclass(frozen=True)
class PushSpec:
    """A push monitor's keys. `token` is None when generated (from the key beside the
    database); `seen` and `shown` are set only for a check now (`check NAME`): what the
    database holds of its pushes (None: no database at hand), and its generated token."""

    token: str | None
    period: float  # checkInterval: how often the job pushes
    grace: float
    seen: Latest | None = field(default=None, compare=False, repr=False)
    shown: str | None = field(default=None, compare=False, repr=False)

    @property
    def expected(self) -> str:
        return f"expected every {format_seconds(self.period)} + {format_seconds(self.grace)}" \
               " grace"


Verdict = tuple[bool | None, str | None, str]  # available, reason, detail


class Judge:
    """What a monitor's job has pushed so far, and the verdict at an instant."""

    def __init__(self, monitor: Monitor, latest: Latest, since: float | None) -> None:
        self.monitor = monitor
        self.spec: PushSpec = monitor.spec
        self.done = latest.done  # the latest run's end
        # The latest start, while its run has not ended.
        self.start = latest.start if _after(latest.start, latest.done) else None
        self.since = since  # when this monitor began to be watched (None: not yet)

    def add(self, push: Push, mono: float, wall: float) -> CheckResult | None:
        """Take a push in; the result it makes (a run's end), or None (a start)."""
        if not push.done:
            self.start = push
            return None
        started = self.start if _after(self.start, self.done) else None
        self.done, self.start = push, None
        metrics = {}
        if started is not None and started.timestamp <= push.timestamp:
            metrics["duration"] = (push.timestamp - started.timestamp) * 1000
        if push.value is not None:
            metrics["value"] = push.value
        text = trace_detail(push.message, self.monitor.secrets)
        if push.ok:
            available, reason = True, None
        else:
            available, reason = False, "failed"
            text = text or ("the job reported a failure (/fail)" if push.event == "fail"
                            else "the job reported status=down")
        return CheckResult(self.monitor.id, push.timestamp, available, None, 0.0, reason, text,
                           mono=mono - (wall - push.timestamp), metrics=metrics)

    def verdict(self, at: float) -> Verdict:
        """The verdict at `at`, from the pushes taken."""
        spec = self.spec
        if self.start is not None and at > self.start.timestamp + spec.grace:
            return False, "late", (f"started {format_duration(at - self.start.timestamp)}"
                                   f" ago, not ended within its {format_seconds(spec.grace)}"
                                   " grace")
        if self.done is None:
            since = at if self.since is None else self.since
            if at > since + spec.period + spec.grace:
                return False, "late", (f"no push since watching began"
                                       f" {format_duration(at - since)} ago;"
                                       f" {spec.expected}")
            return None, "new", f"no push yet; {spec.expected}"
        if at > self.done.timestamp + spec.period + spec.grace:
            return False, "late", (f"no push for {format_duration(at - self.done.timestamp)};"
                                   f" {spec.expected}")
        if self.done.ok:
            return True, None, trace_detail(self.done.message, self.monitor.secrets)
        return False, "failed", (trace_detail(self.done.message, self.monitor.secrets)
                                 or f"the job's latest run failed ({self.done.event})")


def _after(start: Push | None, done: Push | None) -> bool:
    return start is not None and (done is None or start.id > done.id)


class PushWatch:
    """A push monitor's watch: polled a few times a second, it takes its pushes from the
    engine's feed (read every few seconds) and returns the results they and the clock
    make."""

    def __init__(self, monitor: Monitor, feed: PushFeed,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self._monitor = monitor
        self._feed = feed
        self._mono = mono
        self.judge = Judge(monitor, feed.open(monitor.id), None)
        self._said: tuple[bool | None, str | None] | None = None  # the last result's verdict
        self._said_at = float("-inf")  # and when it was recorded (wall)

    def poll(self, wall: float, quiet: bool = False,
             ) -> tuple[list[CheckResult], list[WatchEvent], list[str]]:
        pushes, complete = self._feed.take(self._monitor.id, wall)
        mono = self._mono()
        if self.judge.since is None:  # watched since the first poll, on the poller's clock
            self.judge.since = wall
        results = [result for push in pushes
                   if (result := self.judge.add(push, mono, wall)) is not None]
        results = results[-RESULTS_PER_POLL:]
        if results:
            last = results[-1]
            self._said, self._said_at = (last.available, last.reason), wall
            return results, [], []
        # Judged as of the feed's read, less the time a push takes to be written: what
        # came before the deadline is known by then.
        available, reason, text = self.judge.verdict(min(wall, complete - SETTLE))
        if (available, reason) != self._said or wall - self._said_at >= RESULT_EVERY:
            self._said, self._said_at = (available, reason), wall
            results.append(CheckResult(self._monitor.id, wall, available, None, 0.0, reason,
                                       text, mono=mono))
        return results, [], []

    def close(self) -> None:
        self._feed.close(self._monitor.id)


def open_watch(monitor: Monitor, state: WatchState) -> PushWatch:
    """The kind's `watch`: the engine hands the feed of pushes in the watch's state."""
    feed = state.pushes
    if feed is None:
        raise ValueError("no feed of pushes: push monitors are watched by the engine only")
    return PushWatch(monitor, feed)
