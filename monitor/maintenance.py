"""Maintenance: whether a monitor is in maintenance at an instant, why, and until when.

Two sources say so: the monitor's config windows (`maintenance` in the config, their time
math in monitor.core.windows) and the set from the command line (`maintenance on|off`),
kept in the store's `maintenance` table so that a running monitor reads it (the engine
polls it every quarter second) and a restart keeps it. The engine asks `covers` of every
check and `poll`s the set; the `maintenance` command and the API write the set (`switch`:
`put_on`, `put_off`) and list it (`statuses`) through the same object, with the same
words. A site's plugged monitors go with it (`group`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.core import windows
from monitor.core.errors import StoreError
from monitor.core.model import CheckResult, Monitor
from monitor.core.timefmt import format_time, parse_duration
from monitor.store.api import Reader, SetMaintenance
from monitor.store.open import AnyStore as Store
from monitor.store.open import open_reader, open_store

# A maintenance set from the command line begins this many seconds after the command: the
# running monitor, reading the set every quarter second, knows of it before the first
# check it must mark.
START_DELAY = 0.5
MAX_FOR = 366 * 86400.0  # the longest maintenance set at once: a year


def duration_of(value: object) -> float:
    """A maintenance's length as a user gives it (seconds, or a number with s, m, h or d),
    in seconds; ValueError says what is wrong."""
    seconds = parse_duration(value) or 0.0  # the config's durations read the same
    if not 0 < seconds <= MAX_FOR:
        raise ValueError(f"{value!r} is not a duration of up to a year: seconds, or a number"
                         " with s, m, h or d (90m, 2h)")
    return seconds


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of maintenance: from `since` until `until` (None: until `maintenance
    off`), set from the command line (`by_hand`) or an occurrence of a config window."""

    since: float
    until: float | None
    by_hand: bool


@dataclass(frozen=True, slots=True)
class Change:
    """A monitor put in maintenance (`period`) or taken out of the set (`window`: the
    config window it is still in, if any)."""

    monitor_id: str
    label: str
    period: Period | None
    window: Period | None = None

    @property
    def line(self) -> str:
        """As `maintenance on|off` says it."""
        if self.period is not None:
            end = "" if self.period.until is None else f" until {format_time(self.period.until)}"
            return f"{self.label}: maintenance on{end}"
        still = "" if self.window is None or self.window.until is None else (
            f" (still in a config window until {format_time(self.window.until)})")
        return f"{self.label}: maintenance off{still}"


@dataclass(frozen=True, slots=True)
class Status:
    """A monitor in maintenance now or with config windows: set by hand (`by_hand`), in an
    occurrence of its windows now (`window`), its windows as the config gives them."""

    monitor: Monitor
    by_hand: Period | None
    window: Period | None
    windows: tuple[str, ...]

    @property
    def line(self) -> str:
        """As `maintenance list` says it."""
        parts = []
        if self.by_hand is not None:
            parts.append("on since " + format_time(self.by_hand.since) + (
                "" if self.by_hand.until is None else f" until {format_time(self.by_hand.until)}"))
        if self.window is not None and self.window.until is not None:
            parts.append(f"in a window until {format_time(self.window.until)}")
        parts += [f"window {w}" for w in self.windows]
        return f"{self.monitor.label}: " + "; ".join(parts)


class Maintenance:
    """The maintenance of the monitors of one config. `clock` (wall, epoch seconds) is when
    a question without its own instant is asked."""

    def __init__(self, monitors: Iterable[Monitor] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._monitors: dict[str, Monitor] = {}
        self._windowed: set[str] = set()  # the monitors with config windows
        self._by_hand: dict[str, tuple[float, float | None]] = {}  # id -> (since, until)
        self._current: set[str] = set()  # in maintenance at the last poll
        self.configure(monitors)

    def configure(self, monitors: Iterable[Monitor]) -> None:
        """The monitors of a new config (a reload): their windows from now on."""
        self._monitors = {m.id: m for m in monitors}
        self._windowed = {m.id for m in self._monitors.values() if m.rules.maintenance}

    # -- what is asked -----------------------------------------------------------------
    def at(self, monitor_id: str, when: float | None = None) -> Period | None:
        """Why the monitor is in maintenance at `when` (default: now), and until when; None
        when it is not. Set by hand comes first: `off` is what ends it."""
        when = self._clock() if when is None else when
        manual = self._by_hand.get(monitor_id)
        if manual is not None and manual[0] <= when and (manual[1] is None or when < manual[1]):
            return Period(manual[0], manual[1], True)
        return self.window(monitor_id, when)

    def window(self, monitor_id: str, when: float | None = None) -> Period | None:
        """The occurrence of the monitor's config windows at `when` (default: now)."""
        monitor = self._monitors.get(monitor_id)
        if monitor is None or not monitor.rules.maintenance:
            return None
        hit = windows.current(monitor.rules.maintenance, self._clock() if when is None else when)
        return None if hit is None else Period(hit[0], hit[1], False)

    def by_hand(self, monitor_id: str, when: float | None = None) -> Period | None:
        """The maintenance set from the command line for the monitor, unless over by `when`
        (default: now); it may begin after `when` (`on` starts it START_DELAY ahead)."""
        when = self._clock() if when is None else when
        manual = self._by_hand.get(monitor_id)
        if manual is None or (manual[1] is not None and when >= manual[1]):
            return None
        return Period(manual[0], manual[1], True)

    def covers(self, result: CheckResult) -> bool:
        """Whether a check begun or ended in maintenance: one that began just before a
        window and failed in it is the work the window is for."""
        if result.monitor_id not in self._windowed and result.monitor_id not in self._by_hand:
            return False  # every check asks: most monitors have no maintenance at all
        end = result.timestamp + result.response_ms / 1000.0
        return (self.at(result.monitor_id, result.timestamp) is not None
                or self.at(result.monitor_id, end) is not None)

    def group(self, monitor: Monitor) -> list[Monitor]:
        """The monitor and those its `plugins` made (`<its id>/<kind>`): what `on NAME` and
        `off NAME` take."""
        return [m for m in self._monitors.values() if monitor.id in (m.id, m.parent_id)]

    def statuses(self, when: float | None = None) -> list[Status]:
        """Each monitor in maintenance at `when` (default: now) or with config windows, in
        the config's order (the set as last `read`)."""
        when = self._clock() if when is None else when
        found = []
        for m in self._monitors.values():
            status = Status(m, self.by_hand(m.id, when), self.window(m.id, when),
                            tuple(w.describe() for w in m.rules.maintenance))
            if status.by_hand is not None or status.windows or (
                    status.window is not None and status.window.until is not None):
                found.append(status)
        return found

    # -- the set from the command line ---------------------------------------------------
    def switch(self, target: str | Store, monitors: Iterable[Monitor], on: bool,
               duration: float | None = None) -> list[Change]:
        """Put `monitors` and those their plugins made in maintenance (for `duration`
        seconds, None: until taken out), or take them out of the set; what changed, in
        order. `target`: the database's path, or the store that writes it. Raises
        StoreError."""
        chosen: dict[str, str] = {}  # id -> label
        for monitor in monitors:
            for m in self.group(monitor):
                chosen.setdefault(m.id, m.label)
        if on:
            period = self.put_on(target, chosen, duration)
            return [Change(monitor_id, label, period) for monitor_id, label in chosen.items()]
        self.put_off(target, chosen)
        return [Change(monitor_id, label, None, self.window(monitor_id))
                for monitor_id, label in chosen.items()]

    def read(self, reader: Reader) -> None:
        """The set from the command line, as the database holds it now."""
        self._by_hand = reader.maintenance()

    def poll(self, reader: Reader) -> tuple[list[tuple[Monitor, Period]], list[Monitor]]:
        """Read the set, and say which monitors went into maintenance since the last poll
        (with why) and which came out of it (by the command line or their windows). A read
        that fails (StoreError) leaves what was known."""
        self.read(reader)
        now = self._clock()
        # Only those that can be (asked four times a second: not every monitor each time).
        found = {monitor_id: period for monitor_id in self._windowed | self._by_hand.keys()
                 if monitor_id in self._monitors
                 and (period := self.at(monitor_id, now)) is not None}
        entered = [(self._monitors[monitor_id], found[monitor_id])
                   for monitor_id in sorted(found.keys() - self._current)]
        left = [self._monitors[monitor_id] for monitor_id in sorted(self._current - found.keys())
                if monitor_id in self._monitors]
        self._current = set(found)
        return entered, left

    def put_on(self, target: str | Store, monitor_ids: Iterable[str],
               duration: float | None = None) -> Period:
        """Put the monitors in maintenance from START_DELAY on, for `duration` seconds
        (None: until `off`), in the database at `target` (a path, or its store)."""
        since = self._clock() + START_DELAY
        until = None if duration is None else since + duration
        self._write(target, [SetMaintenance(m, since, until) for m in monitor_ids])
        return Period(since, until, True)

    def put_off(self, target: str | Store, monitor_ids: Iterable[str]) -> None:
        """Take the monitors out of the maintenance set from the command line (their
        config windows stay)."""
        self._write(target, [SetMaintenance(m, None) for m in monitor_ids])

    def _write(self, target: str | Store, commands: list[SetMaintenance]) -> None:
        if not isinstance(target, str):
            # A running store (the web server's): written once its batch is.
            for command in commands:
                target.set_maintenance(command)
            if not target.flush():
                raise StoreError(f"{target.path}: the maintenance set could not be written"
                                 " now (the disk refuses it, or the writer is behind)")
        else:
            # Only a database a monitor made: a typo must not create an empty one that no
            # monitor reads ("database not found", "not a monitoring database", as -r says).
            open_reader(target).close()
            errors: list[str] = []
            store = open_store(target, on_error=errors.append, rollups=False)  # a short writer
            try:
                for command in commands:
                    store.set_maintenance(command)
            finally:
                store.close()
            if errors:
                raise StoreError(errors[0])
        for command in commands:
            if command.since is None:
                self._by_hand.pop(command.monitor_id, None)
            else:
                self._by_hand[command.monitor_id] = (command.since, command.until)
