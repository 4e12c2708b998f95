"""Maintenance windows: when a monitor is expected to be down. Pure time math, no I/O.

A window is either one-off (`OneOff`: two UTC instants, active from `start` inclusive to
`end` exclusive) or recurring (`Recurring`: on each listed weekday, at a local time of day
in an IANA time zone, for a number of seconds). `current` gives the occurrence of any of a
monitor's windows active at an instant.

Daylight saving time. A recurring window starts at the wall-clock time `hour:minute` of its
zone on each listed day, and lasts `seconds` of real elapsed time: a 1-hour window is 3600 s
long on the days the clocks change too, so its end on the clock moves: from 01:30 for 1 h
ends at 03:30 the night the clocks go forward (02:00 -> 03:00), and from 02:30 for 1 h at
02:30 again, winter time, the night they go back (03:00 -> 02:00). A start time that does
not exist that day (in the spring-forward gap: 02:30 on 2026-03-29 in Europe/Paris)
is read with the UTC offset before the gap, as Python's zoneinfo does with fold=0: 02:30
+01:00, i.e. 01:30 UTC = 03:30 CEST, shifted forward by the gap. A start time that occurs
twice (fall back: 02:30 on 2026-10-25 in Europe/Paris) starts at its first occurrence only
(02:30 CEST = 00:30 UTC), never twice that day. Both are the rules of iCalendar (RFC 5545,
sections 3.3.5 and 3.3.10), java.time and JavaScript's Temporal, so a window copied from a
calendar lines up with it. cron instead runs a job set in the gap at the gap's end (03:00),
before such a window starts (03:30 for 02:30): to cover a cron job that night, start the
window outside the gap (02:00-03:00 in Paris and New York) or use UTC.

Occurrences of one recurring window may overlap (every day for 25 h); they are not merged:
the one ending last is the one reported, as `current` does across windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["DAY_NAMES", "MAX_SECONDS", "OneOff", "Recurring", "Window", "current", "duration"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index: date.weekday()
MAX_SECONDS = 7 * 86400.0  # the longest recurring window: a week


@dataclass(frozen=True)
class OneOff:
    """From `start` (inclusive) to `end` (exclusive), UTC epoch seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"a window must end after it starts: {self.start!r} to {self.end!r}")

    def window_at(self, at: float) -> tuple[float, float] | None:
        if self.start <= at < self.end:
            return (self.start, self.end)
        return None

    def next_window(self, after: float) -> tuple[float, float] | None:
        """The occurrence that starts after `after`, if any (a status page's schedule)."""
        return (self.start, self.end) if self.start > after else None

    def describe(self) -> str:
        return f"{_instant(self.start)} to {_instant(self.end)}"


@dataclass(frozen=True)
class Recurring:
    """Each local day in `days` (0 Monday .. 6 Sunday) at `hour:minute` in the IANA time zone
    `zone`, for `seconds` of elapsed time (at most a week; may run into the following days).
    See the module's docstring for the days the clocks change."""

    days: frozenset[int]
    hour: int
    minute: int
    seconds: float
    zone: str
    # Derived in __post_init__: the zone, and how many local days back an occurrence that
    # is still running may have started: its length in whole days, one for the part day,
    # one for the clocks (a start's local date is up to a day off from 86400 s a day:
    # Samoa skipped 2011-12-30).
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _back: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days = frozenset(self.days)
        if not days or not days <= frozenset(range(7)):
            raise ValueError(f"days must be weekdays 0 (Monday) to 6 (Sunday): {self.days!r}")
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60):
            raise ValueError(f"not a time of day: {self.hour!r}:{self.minute!r}")
        if not 0 < self.seconds <= MAX_SECONDS:  # also rejects NaN
            raise ValueError(f"seconds must be more than 0, at most a week: {self.seconds!r}")
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "_tz", ZoneInfo(self.zone))
        object.__setattr__(self, "_back", int(self.seconds // 86400) + 2)

    def window_at(self, at: float) -> tuple[float, float] | None:
        tz = self._tz
        local = datetime.fromtimestamp(at, tz)
        # The local days an occurrence containing `at` may have started on, latest first:
        # the day of `at` and `_back` days before it. Starts only move forward from one day
        # to the next (the same wall time on a later day, each read with fold=0), and every
        # occurrence lasts as long: the first start not after `at` is the only one that may
        # contain it, and of any that do it ends last.
        # The next day is looked at too when `at` is the second pass of a repeated wall
        # time: where the clocks went back across midnight (America/St_Johns until 2011,
        # 00:01 -> 23:01 the day before), Sunday's 00:00 window had started while it was
        # Saturday again. A wall time seen only once cannot be after a later day's start.
        today = local.toordinal()
        for day in range(today + local.fold, today - self._back - 1, -1):
            start = self._start_on(day)
            if start is not None and start <= at:
                end = start + self.seconds
                return (start, end) if at < end else None
        return None

    def next_window(self, after: float) -> tuple[float, float] | None:
        """The first occurrence that starts after `after`: within the week's days and the
        clocks' day either side of `after`'s local date."""
        today = datetime.fromtimestamp(after, self._tz).toordinal()
        for day in range(today, today + 9):
            start = self._start_on(day)
            if start is not None and start > after:
                return (start, start + self.seconds)
        return None

    def _start_on(self, day: int) -> float | None:
        """The start of the occurrence on the local day of ordinal `day`, None if it is not
        one of `days` (its wall time read with fold=0)."""
        if (day - 1) % 7 not in self.days:  # day 1, 0001-01-01, was a Monday
            return None
        on = date.fromordinal(day)
        return datetime(on.year, on.month, on.day, self.hour, self.minute,
                        tzinfo=self._tz).timestamp()

    def describe(self) -> str:
        days = ("daily" if len(self.days) == 7
                else ",".join(DAY_NAMES[d] for d in sorted(self.days)))
        return (f"{days} at {self.hour:02d}:{self.minute:02d} {self.zone}"
                f" for {duration(self.seconds)}")


Window = OneOff | Recurring


def current(windows: Sequence[Window], at: float) -> tuple[float, float] | None:
    """The (start, end) of the occurrence of `windows` active at `at` (epoch seconds); of
    several that overlap, the one ending last; None when none is active."""
    found = None
    for window in windows:
        hit = window.window_at(at)
        if hit is not None and (found is None or hit[1] > found[1]):
            found = hit
    return found


def duration(seconds: float) -> str:
    """A length as `describe` shows it: 45s, 30m, 1h00m, 1m30s, 2d03h00m."""
    whole = int(seconds)
    rest = seconds - whole
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = ""
    if days:
        text = f"{days}d{hours:02d}h{minutes:02d}m"
    elif hours:
        text = f"{hours}h{minutes:02d}m"
    elif minutes:
        text = f"{minutes}m"
    if secs or rest or not text:
        text += f"{secs + rest:02g}s" if text else f"{secs + rest:g}s"
    return text


def _instant(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
