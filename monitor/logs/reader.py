"""A log read into its windows: lines from a source (a followed file, a stream, or the
batches of a finished file), their format told from the first lines, each parsed, the
malformed ones counted and sampled, the requests fed to the windows on log time.

`LogReader.poll(wall)` is one step, driven by the caller's loop and clock: tests run it
without threads or sleeps.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.core.timefmt import format_time
from monitor.logs.formats import SKIP, Hit, LogFormat, LogFormatError, detect, make
from monitor.logs.window import LogWindows, Report, TrafficEvent

__all__ = ["DETECT_LINES", "IDLE", "LogReader"]

DETECT_LINES = 10  # lines the format is told from, when that many have come
GIVE_UP_LINES = 200  # ... and the most it waits for before it says it cannot tell
IDLE = 10.0  # seconds of a quiet log after which its time moves on with the clock
WARN_EVERY = 60.0  # seconds between two warnings about malformed lines


class LogReader:
    def __init__(self, windows: LogWindows, fmt: str = "auto") -> None:
        self.windows = windows
        self.format: LogFormat | None = None if fmt == "auto" else make(fmt)
        self._pending: list[bytes] = []  # lines waiting for the format to be told
        self.malformed = 0
        self._unreported = 0  # malformed lines not warned of yet
        self._sample: bytes | None = None
        self._warned_at: float | None = None
        self._last_line_at: float | None = None  # the clock's time of the latest line
        self._started_at: float | None = None  # the clock's time of the first step
        self._far_said = 0  # lines dropped as far from the log's time, warned of
        self._far_warned_at: float | None = None
        self.notes: list[str] = []  # things to say once: the format told, ...

    def feed(self, lines: Iterable[bytes], idle: bool = False, last: bool = False) -> None:
        """Parse `lines` (in the log's order) into the windows. `idle`: no more lines are
        coming now (the format may be told from fewer). `last`: the log has ended (a
        replay, stdin): a format that cannot be told from its lines is an error then,
        however few they are."""
        if self.format is None:
            self._pending.extend(lines)
            if not self._pending or (len(self._pending) < DETECT_LINES and not idle
                                     and not last):
                return
            try:
                self.format = detect(self._pending[:GIVE_UP_LINES])
            except LogFormatError:
                if len(self._pending) < GIVE_UP_LINES and not last:
                    return  # more lines may tell (a first line that is garbage)
                # Said once for these lines, which are dropped as malformed: the next
                # lines are tried afresh, and memory stays bounded.
                self.malformed += len(self._pending)
                self._pending = []
                raise
            self.notes.append(f"format: {self.format.name}")
            lines, self._pending = self._pending, []
        parse = self.format.parse
        add = self.windows.add
        for line in lines:
            hit = parse(line)
            if hit is SKIP:
                continue
            if hit is None:
                self.malformed += 1
                self._unreported += 1
                if self._sample is None:
                    self._sample = line
                continue
            add(hit)  # type: ignore[arg-type]

    def step(self, lines: list[bytes], wall: float) -> list[Report | TrafficEvent]:
        """A live step: the lines that came since the last one, at `wall` (the clock's
        seconds). A log quiet for IDLE seconds has its time moved on with the clock, so
        that an alert recovers when the traffic has stopped altogether."""
        if self._started_at is None:
            self._started_at = wall
        before = self.windows.newest
        if lines:
            self.feed(lines)
        elif self._pending:
            self.feed([], idle=True)
        newest = self.windows.newest
        if newest is not None and newest != before:
            # Only a line that moved log time on restarts the idle clock: lines held far
            # from it, late or malformed ones would keep log time still for ever.
            self._last_line_at = wall
        if newest is not None and self._last_line_at is not None:
            quiet = wall - self._last_line_at
            if quiet >= IDLE:
                self.windows.advance(newest + quiet - self.windows.lag)
        elif newest is None and self.windows.alerting and wall - self._started_at >= IDLE:
            # Not a line since the start, an alert read back open: the log's time is the
            # clock's, from the start on, so that the alert can end.
            self.windows.advance(wall - self.windows.lag, since=self._started_at)
        return self.windows.take()

    def warnings(self, wall: float, force: bool = False) -> list[str]:
        """At most one line a minute of each: the malformed lines skipped since the last,
        and the lines dropped as far from the log's time, with a sample. `force`: what
        is left to say now, whatever the minute (the end of a run)."""
        out = []
        if self._unreported and (force or self._warned_at is None
                                 or wall - self._warned_at >= WARN_EVERY):
            sample = (self._sample or b"")[:120].decode("utf-8", "replace")
            out.append(f"{self._unreported} malformed line(s) skipped ({self.malformed} in"
                       f" all), e.g. {sample!r}")
            self._unreported, self._sample, self._warned_at = 0, None, wall
        far_off = self.windows.far_off
        if far_off > self._far_said and (force or self._far_warned_at is None
                                         or wall - self._far_warned_at >= WARN_EVERY):
            out.append(far_text(far_off - self._far_said, far_off, self.windows.far_sample))
            self._far_said, self._far_warned_at = far_off, wall
        return out


def far_text(count: int, total: int, sample: Hit | None) -> str:
    """What is said of lines dropped as far from the log's time."""
    dated = f", e.g. one dated {format_time(sample[0])}" if sample is not None else ""
    return (f"{count} line(s) dated far from the log's time dropped ({total} in all)"
            + dated)
