"""Maintenance: whether a monitor is in maintenance at an instant, why, and until when.

Two sources say so: the monitor's config windows (`maintenance` in the config, their time
math in monitor.core.windows) and the set from the command line (`maintenance on|off`),
kept in the store's `maintenance` table so that a running monitor reads it (the engine
polls it every quarter second) and a restart keeps it. The engine asks `covers` of every
check and `poll`s the set; the `maintenance` command writes the set (`put_on`, `put_off`)
and lists it through the same object. A site's plugged monitors go with it (`group`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.core import windows
from monitor.core.errors import StoreError
from monitor.core.model import CheckResult, Monitor
from monitor.store.api import Reader, SetMaintenance
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store

# A maintenance set from the command line begins this many seconds after the command: the
# running monitor, reading the set every quarter second, knows of it before the first
# check it must mark.
START_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of maintenance: from `since` until `until` (None: until `maintenance
    off`), set from the command line (`by_hand`) or an occurrence of a config window."""

    since: float
    until: float | None
    by_hand: bool


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

    # -- the set from the command line ---------------------------------------------------
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

    def put_on(self, db_path: str, monitor_ids: Iterable[str],
               duration: float | None = None) -> Period:
        """Put the monitors in maintenance from START_DELAY on, for `duration` seconds
        (None: until `off`), in the database at `db_path`."""
        since = self._clock() + START_DELAY
        until = None if duration is None else since + duration
        self._write(db_path, [SetMaintenance(m, since, until) for m in monitor_ids])
        return Period(since, until, True)

    def put_off(self, db_path: str, monitor_ids: Iterable[str]) -> None:
        """Take the monitors out of the maintenance set from the command line (their
        config windows stay)."""
        self._write(db_path, [SetMaintenance(m, None) for m in monitor_ids])

    def _write(self, db_path: str, commands: list[SetMaintenance]) -> None:
        # Only a database a monitor made: a typo must not create an empty one that no
        # monitor reads ("database not found", "not a monitoring database", as -r says).
        open_reader(db_path).close()
        errors: list[str] = []
        store = Store(db_path, on_error=errors.append)
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
