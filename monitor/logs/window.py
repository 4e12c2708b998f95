"""Windows on the log's own time: the 10-second reports and the traffic and error-rate
alerts, computed from the requests' timestamps, never from the clock of the machine
reading them. So a finished log read as fast as it can (`--replay`) gives exactly the
reports and alerts a live reading of it gave.

Requests are counted per second of log time. A second is final once the newest request
seen is `lag` seconds past it (out-of-order lines within `lag` land in their own second);
a request older than that is counted in the oldest second still open, and as `late`.
At each final second boundary B the rules are evaluated over [B - window, B); every
`period` seconds (on multiples of it) a report covers [B - period, B).

A line dated more than JUMP seconds after the newest, or JUMP before the oldest open
second, is far from the log's time: one such line from a wrong clock would otherwise move
log time a year on and make every later line late. It is held in a run: far lines on one
side, each going on from the one before (no earlier, within the lag), as a log going on
from that time writes them, however sparse. The first line of a run is taken when
CONFIRM - 1 more joined it (the log went on from it); then every line held that is no
longer far. A line that goes on from an earlier line of a run than its last contradicts
the later ones, which go to a run of their own. A run that DISMISS lines taken follow
(lines at the log's time, or of other runs), or that is not the log's last at its end,
is dropped and counted (`far_off`, `far_sample`): its lines were from a wrong clock.
Confirmed ahead, the log resumes after a quiet spell; confirmed behind, the clock of the
server writing it was stepped back: what is open is reported, and the windows start
again at the new time (the alerts open stay open). At the end of a finished log the last
run ahead is taken unconfirmed (a sparse end); one behind is not (a single late line
would start the windows again). A live reader moving log time on with the clock
(`advance`) moves the limit ahead with it: a sparse line in step with the clock is not
far.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from monitor.core.timefmt import format_duration, format_time
from monitor.logs.formats import Hit

__all__ = ["LogWindows", "Report", "TrafficEvent", "rule_of"]

PERIOD = 10  # seconds of log time a report covers
WINDOW = 120  # seconds of log time the alert rules average over
LAG = 5  # seconds a line may arrive after a newer one and still count in its second
JUMP = 60  # seconds ahead of the newest line from which a line waits for confirmation
CONFIRM = 3  # lines of a run that confirm the first of them
DISMISS = 50  # lines taken after which a run held and never confirmed goes
MAX_RUNS = 8  # runs held at once; past it the oldest goes (lines at random times)
MAX_SECTIONS = 10_000  # sections whose totals are kept; past it, the rarest are forgotten


@dataclass(frozen=True, slots=True)
class Report:
    """The requests of one period [start, end) of log time."""

    start: float
    end: float
    hits: int
    bytes: int
    statuses: dict[str, int]  # "2xx".."5xx", "other": hits in the period
    sections: list[tuple[str, int, int]]  # the top: (section, hits in the period, in total)
    clients: list[tuple[str, int]]  # the top: (client, hits in the period)
    total: int  # the requests of this period and those before it
    late: int  # requests counted so far in a later second than their own

    @property
    def rate(self) -> float:
        return self.hits / (self.end - self.start)


@dataclass(frozen=True, slots=True)
class TrafficEvent:
    """An alert or recovery of a rule: "traffic" (requests per second) or "errors" (the
    share of 5xx answers)."""

    type: str  # "alert" or "recovery"
    rule: str
    time: float  # log time
    start: float  # when the alert began (log time)
    hits: int  # requests in the window
    value: float  # the rule's figure: requests per second, or the 5xx share
    message: str

    @property
    def end(self) -> float | None:
        return self.time if self.type == "recovery" else None


@dataclass(slots=True)
class _Period:
    """A period's requests. Their sections, clients and statuses are appended as they
    come and counted once, when it is reported: a list append costs a fraction of a
    dictionary's update, and these run for every line."""

    bytes: int = 0
    sections: list[str] = field(default_factory=list)
    clients: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@dataclass(slots=True, eq=False)  # compared by identity
class _Run:
    """Lines held far from the log's time, on one side of it, in the order they came, each
    no earlier than the one before (within the lag)."""

    ahead: bool
    lines: list[Hit]
    order: int  # when it last grew (holds so far): the latest run is the log's last
    mark: int  # the lines taken (`total`) when it last grew: those since contradict it


_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class LogWindows:
    """Not thread-safe: one reader feeds it requests in the log's order (`add`) and takes
    what became final (`take`): the output is a function of the lines alone, whatever
    batches they came in. A live reader may also move log time on while the log is idle
    (`advance`), and a finished log ends with `flush`."""

    def __init__(self, threshold: float = 10.0, max_error_rate: float | None = None,
                 top: int = 10, *, period: int = PERIOD, window: int = WINDOW,
                 lag: int = LAG) -> None:
        self.threshold = threshold
        self.max_error_rate = max_error_rate
        self.top = top
        self.period = period
        self.window = window
        self.lag = lag
        self.newest: float | None = None  # the newest request's time
        self.total = 0
        self.late = 0
        self.totals: Counter[str] = Counter()  # hits per section of the periods reported
        self.reported = 0  # requests of the periods reported
        self._open: int | None = None  # the oldest second not final yet
        self._seconds: dict[int, list[int]] = {}  # open second -> [hits, 5xx]
        self._periods: dict[int, _Period] = {}  # period start -> its counts
        self._ring: deque[tuple[int, int]] = deque()  # the window's final seconds
        self._in_window = [0, 0]  # hits, 5xx of the ring
        self._alerts: dict[str, float] = {}  # rule alerting -> since when (log time)
        self._ready: list[Report | TrafficEvent] = []
        self._reported = False  # a period was reported: empty ones are reported from now
        # The second of the latest line and where its counts go: most lines share their
        # second with the line before.
        self._second: int | None = None
        self._counts: list[int] = [0, 0]
        self._period: _Period = _Period()
        self._late = False  # that second is older than the oldest open one
        self._runs: list[_Run] = []  # lines far from the log's time, waiting for others
        self._holds = 0  # lines held so far (the runs' order)
        self.far_off = 0  # lines dropped: dated far from the log's time, never confirmed
        self.far_sample: Hit | None = None  # the latest of them
        self.restarts = 0  # times the log's clock was found stepped back
        # The times beyond which a line is far from the log's time: JUMP after the newest
        # line, JUMP before the oldest open second (kept up to date, read for every line).
        self._high = math.inf
        self._low = -math.inf
        self.quiet = False  # raise no alert nor recovery (a maintenance)

    def add(self, hit: Hit) -> None:
        at = hit[0]
        if at > self._high or at < self._low:  # far from the log's time
            self._hold(hit)
            return
        self._add(hit)
        if self._runs:
            self._near()

    def _near(self) -> None:
        """A line at the log's time: the runs held that many lines follow are not the
        log's (a line from a wrong clock)."""
        for run in list(self._runs):
            if self.total - run.mark >= DISMISS:
                self._drop(run)
        self._take_near()  # the line may move log time on to lines held

    def _drop(self, run: _Run) -> None:
        self._runs.remove(run)
        self.far_off += len(run.lines)
        self.far_sample = run.lines[-1]

    def _hold(self, hit: Hit) -> None:
        """A line far from the log's time: held after the line it goes on from (the latest
        held on its side no later than it, within the lag), or as a new run. The lines
        that came after that one in its run and are later than this line (beyond the lag)
        are contradicted by it: they go to a run of their own. The first line of a run is
        taken when CONFIRM - 1 more came."""
        at = hit[0]
        ahead = at > self._high
        self._holds += 1
        run: _Run | None = None
        after = -1  # the index in `run` of the line it goes on from
        for other in self._runs:
            if other.ahead != ahead:
                continue
            for index, line in enumerate(other.lines):
                if line[0] - self.lag <= at and (  # ties: the later line
                        run is None or line[0] >= run.lines[after][0]):
                    run, after = other, index
        if run is None:
            run = _Run(ahead, [], self._holds, self.total)
            self._runs.append(run)
        elif after < len(run.lines) - 1:
            tail = run.lines[after + 1:]
            later = [line for line in tail if line[0] - self.lag > at]
            if later:
                self._runs.append(_Run(ahead, later, run.order, run.mark))
                run.lines = run.lines[:after + 1] + [
                    line for line in tail if line[0] - self.lag <= at]
        while len(self._runs) > MAX_RUNS:
            self._drop(min(self._runs, key=lambda other: other.order))
        if run not in self._runs:  # it was the oldest
            run = _Run(ahead, [], self._holds, self.total)
            self._runs.append(run)
        run.lines.append(hit)
        run.order, run.mark = self._holds, self.total
        if len(run.lines) >= CONFIRM:
            self._take(run)

    def _take(self, run: _Run) -> None:
        """The first line of `run` is the log's time now (after a stepped-back clock, what
        is open is reported and the windows start again there); then every line held that
        is no longer far from it, in time order."""
        first = run.lines.pop(0)
        if not run.lines:
            self._runs.remove(run)
        if not run.ahead and first[0] < self._low:  # the clock was stepped back
            self._close_all()
            self.restarts += 1
        self._add(first)
        self._take_near()
        run.mark = self.total  # its lines left go on from those taken

    def _take_near(self) -> None:
        """Take the lines held that are within the log's time now (in time order: each
        moves it on no further than the next), until none is."""
        while self._runs:
            low, high = self._low, self._high
            near: list[Hit] = []
            for run in self._runs:
                far = [line for line in run.lines if not low <= line[0] <= high]
                if len(far) < len(run.lines):
                    near += [line for line in run.lines if low <= line[0] <= high]
                    run.lines = far
            if not near:
                return
            self._runs = [run for run in self._runs if run.lines]
            for line in sorted(near, key=lambda line: line[0]):
                self._add(line)

    def _close_all(self) -> None:
        """Report what is open, as at the end of a log, and start afresh (the alerts
        open stay open: a window filling again cannot end them)."""
        self._report_open()
        self._open = self.newest = self._second = None
        self._high, self._low = math.inf, -math.inf
        self._reported = False  # as a log's start: no empty period before its first line
        self._seconds.clear()
        self._ring.clear()
        self._in_window = [0, 0]

    def _add(self, hit: Hit) -> None:
        at, client, section, status, size = hit
        second = math.floor(at)
        if second != self._second:
            self._enter(second)
        if self._late:
            self.late += 1
        counts = self._counts
        counts[0] += 1
        if 500 <= status < 600:
            counts[1] += 1
        period = self._period
        period.bytes += size
        period.sections.append(section)
        period.clients.append(client)
        period.statuses.append(status)
        self.total += 1
        if self.newest is None or at > self.newest:
            self.newest = at
            self._high = at + JUMP

    def _enter(self, second: int) -> None:
        """A line of another second than the line before: where its counts go, and the
        seconds that are final now."""
        if self._open is None:
            self._open = second - self.lag  # room for the lines just before the first
            self._low = self._open - JUMP
        elif second - self.lag > self._open:
            self._finalize(second - self.lag)
        self._second = second
        self._late = second < self._open
        second = max(second, self._open)
        counts = self._seconds.get(second)
        if counts is None:
            counts = self._seconds[second] = [0, 0]
        self._counts = counts
        start = second - second % self.period
        period = self._periods.get(start)
        if period is None:
            period = self._periods[start] = _Period()
        self._period = period

    def take(self) -> list[Report | TrafficEvent]:
        """The reports and alert events made final since the last call, in time order."""
        ready, self._ready = self._ready, []
        return ready

    def advance(self, until: float, since: float | None = None) -> None:
        """Make final every second that ends at or before `until` (log time): a live
        reader's idle log. `since`: where log time starts when no line came yet (an
        alert read back after a restart, on a log that stays quiet)."""
        if self._open is None and since is not None:
            self._open = math.floor(since)
            self._low = self._open - JUMP
        if self._open is not None:
            self._finalize(math.floor(until))
            # Log time follows the clock: a line up to JUMP after it is in step with it.
            self._high = max(self._high, until + self.lag + JUMP)
            if self._runs:
                self._take_near()

    def flush(self) -> None:
        """At the end of a finished log: everything up to the newest request's second
        is final (the period it is in is reported, cut at that second's end)."""
        if self._runs:
            # The latest run ahead that no line taken came after is the log's last lines
            # (sparse ones, which no more lines came to confirm). The others were
            # contradicted by the lines after them; and lines behind are a stepped-back
            # clock only when confirmed (the windows would start again).
            ends = [run for run in self._runs if run.ahead and run.mark == self.total]
            last = max(ends, key=lambda run: run.order) if ends else None
            for run in list(self._runs):
                if run is not last:
                    self._drop(run)
            while self._runs:
                self._take(self._runs[0])
        self._report_open()

    def _report_open(self) -> None:
        """Everything up to the newest request's second final, and the period it is in
        reported, cut at that second's end."""
        if self.newest is None or self._open is None:
            return
        self._finalize(math.floor(self.newest) + 1)
        for start in sorted(self._periods):
            self._ready.append(self._report(start, self._open))
        self._periods.clear()

    def _finalize(self, end: int) -> None:
        """Close the seconds before `end`."""
        assert self._open is not None
        self._second = None  # the next line looks up its counts again
        while self._open < end:
            if not self._seconds and not self._periods and not self._alerts and (
                    self._in_window == [0, 0]):
                # Nothing open and nothing in the window: skip an idle stretch at once.
                self._ring.clear()
                self._open = end
                break
            self._close(self._open)
            self._open += 1
        self._low = self._open - JUMP

    # -- the final second ------------------------------------------------------------
    def _close(self, second: int) -> None:
        hits, errors = self._seconds.pop(second, (0, 0))
        self._ring.append((hits, errors))
        self._in_window[0] += hits
        self._in_window[1] += errors
        if len(self._ring) > self.window:
            old_hits, old_errors = self._ring.popleft()
            self._in_window[0] -= old_hits
            self._in_window[1] -= old_errors
        boundary = second + 1
        self._rules(boundary)
        if boundary % self.period == 0:
            start = boundary - self.period
            period = self._periods.pop(start, None)
            if period is not None or self._reported:
                self._ready.append(self._report(start, boundary, period))
                self._reported = True

    def _rules(self, at: int) -> None:
        hits, errors = self._in_window
        # A division, not `hits > threshold * window`: exactly at the threshold is no alert.
        rate = hits / self.window
        # A window not yet full (the start of a log) holds fewer requests than the traffic
        # made: it may raise an alert, never end one (one reopened after a restart).
        full = len(self._ring) >= self.window
        self._rule("traffic", rate > self.threshold, full, at, hits, rate)
        if self.max_error_rate is not None:
            share = errors / hits if hits else 0.0
            self._rule("errors", share > self.max_error_rate, full, at, hits, share)

    def _rule(self, rule: str, high: bool, full: bool, at: int, hits: int,
              value: float) -> None:
        if self.quiet:  # a maintenance: neither alert nor recovery; an alert open stays
            return
        opened = self._alerts.get(rule)
        if high and opened is None:
            self._alerts[rule] = at
            self._ready.append(TrafficEvent("alert", rule, at, at, hits, value,
                                            _alert_text(rule, hits, value, at)))
        elif not high and opened is not None and full:
            del self._alerts[rule]
            self._ready.append(TrafficEvent("recovery", rule, at, opened, hits, value,
                                            _recovery_text(rule, hits, value, at, opened)))

    def _report(self, start: int, end: int, period: _Period | None = None) -> Report:
        period = period or self._periods.get(start) or _Period()
        sections = Counter(period.sections)
        self.totals.update(sections)
        if len(self.totals) > MAX_SECTIONS:
            # Bounded whatever the log: scanners ask for a new path each time. The
            # totals of the sections forgotten start again if they come back.
            self.totals = Counter(dict(self.totals.most_common(MAX_SECTIONS // 2)))
        hits = len(period.sections)
        self.reported += hits
        statuses: Counter[str] = Counter()
        for status, count in Counter(period.statuses).items():
            statuses[_CLASSES.get(status // 100, "other")] += count
        return Report(
            start=start, end=end, hits=hits, bytes=period.bytes, statuses=dict(statuses),
            sections=[(name, count, self.totals[name])
                      for name, count in sections.most_common(self.top)],
            clients=Counter(period.clients).most_common(self.top), total=self.reported,
            late=self.late)

    def reopen(self, rule: str, start: float) -> None:
        """An alert of `rule` open since `start` (raised before a restart): not raised
        again while the rule holds; its recovery closes it."""
        self._alerts[rule] = start

    @property
    def alerting(self) -> dict[str, float]:
        """The rules alerting now -> since when (log time)."""
        return dict(self._alerts)


def rule_of(message: str) -> str | None:
    """The rule an alert's or recovery's text (as written here) is about."""
    if message.startswith("High traffic "):
        return "traffic"
    if message.startswith("High error rate "):
        return "errors"
    return None


def _alert_text(rule: str, hits: int, value: float, at: float) -> str:
    if rule == "traffic":
        # The original system's wording, exactly.
        return f"High traffic generated an alert - hits = {hits}, triggered at {format_time(at)}"
    return (f"High error rate generated an alert - 5xx = {value:.1%} of {hits} hits,"
            f" triggered at {format_time(at)}")


def _recovery_text(rule: str, hits: int, value: float, at: float, start: float) -> str:
    lasted = format_duration(at - start)
    if rule == "traffic":
        return (f"High traffic alert recovered - hits = {hits}, recovered at"
                f" {format_time(at)}, after {lasted}")
    return (f"High error rate alert recovered - 5xx = {value:.1%} of {hits} hits,"
            f" recovered at {format_time(at)}, after {lasted}")
