"""Each monitor's state as the writer keeps it up to date with every check it writes: the
rows of monitor_state (when it was last checked, last up, last down, down since when, its
warning now, in maintenance since when, the last check's result, its checks of the day),
cached in memory between batches."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from monitor.core.model import CheckResult
from monitor.store.sqlite.sql import items
from monitor.store.sqlite.uptime import DAY

_COLUMNS = ("monitor, last_check, last_ok, last_failure, down_since, warning, maintenance,"
            " last_available, last_status, last_response, last_reason, last_detail,"
            " last_metrics, day_start, day_checks, day_up")
# The metrics item is a JSON object in the array (or null): json_extract gives its text.
_UPSERT_STATES = (
    f"INSERT OR REPLACE INTO monitor_state ({_COLUMNS}) SELECT {items(16)} FROM json_each(?)")
# The urgent write leaves the day's counts as the last full write left them: they count
# only folds written, so that a restart's refold of the rows after them counts each once.
_URGENT_COLUMNS = _COLUMNS.split(", day_start")[0]
_UPSERT_URGENT = (
    f"INSERT INTO monitor_state ({_URGENT_COLUMNS}, day_checks, day_up)"
    f" SELECT {items(13)}, 0, 0 FROM json_each(?) WHERE true ON CONFLICT (monitor) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in _URGENT_COLUMNS.split(", ")[1:]))
_SELECT_STATES = (
    f"SELECT {_COLUMNS} FROM monitor_state WHERE monitor IN (SELECT value FROM json_each(?))")


@dataclass(slots=True)
class MonitorState:
    """One monitor's row of monitor_state, and the order of its checks."""

    last_check: float = 0.0
    last_ok: float | None = None
    last_failure: float | None = None
    down_since: float | None = None
    warning: str | None = None  # "tls_expiry: certificate expires in 5.0 days"
    maintenance: float | None = None  # since when, as its newest check says
    # The result of the check at last_check (its available, status, response time in ms,
    # reason, detail, metrics as JSON text or a mapping): as website_monitoring has it.
    result: tuple = (None, None, None, None, None, None)
    # The known checks of the UTC day of the newest one, and those up: (day, checks, up).
    day: tuple = (None, 0, 0)
    # The newest check's start on the monotonic clock: in memory only, never stored.
    newest: float | None = None

    def row(self, monitor_id: str) -> tuple:
        """Its monitor_state row, in _UPSERT_STATES's order."""
        return (monitor_id, self.last_check, self.last_ok, self.last_failure, self.down_since,
                self.warning, self.maintenance, *self.result, *self.day)


class MonitorStates:
    """The states of the monitors whose checks are being written, by monitor id."""

    def __init__(self) -> None:
        self._states: dict[str, MonitorState] = {}
        # Monitor id -> the newest check's monotonic start: the order of checks, which a
        # rollback of the cached states must not forget (its rows are retried).
        self._newest: dict[str, float] = {}
        self.dirty: set[str] = set()  # monitors whose state changed since it was written
        self.urgent: set[str] = set()  # ... of them, those to write with the next batch

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        """Forget the cached states: they are read again from the database."""
        self._states.clear()
        self.dirty.clear()
        self.urgent.clear()

    def fold(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        """Bring the states of committed checks' monitors up to date with them, in
        memory."""
        self._preload(conn, checks)
        update = self._update
        states = self._states
        urgent = self.urgent
        for check in checks:
            state = states[check.monitor_id]
            before = (state.last_check, state.last_failure, state.down_since, state.warning,
                      state.maintenance)
            update(check)
            # What the live views read (down or not, since when, the last failure, the
            # warning, maintenance), and a monitor's first state: written at once.
            if (before[0] == 0.0 or before[1:] != (state.last_failure, state.down_since,
                                                   state.warning, state.maintenance)):
                urgent.add(check.monitor_id)
        self.dirty.update(c.monitor_id for c in checks)

    def write_urgent(self, conn: sqlite3.Connection) -> None:
        """The states whose change the live views must see now (in the caller's
        transaction); `urgent` is emptied once it is committed."""
        states = self._states
        conn.execute(_UPSERT_URGENT, (json.dumps(
            [states[monitor_id].row(monitor_id)[:13] for monitor_id in self.urgent]),))

    def write(self, conn: sqlite3.Connection) -> None:
        """The changed states into the database (in the caller's transaction); `written`
        once it is committed."""
        if not self.dirty:
            return
        states = self._states
        conn.execute(_UPSERT_STATES, (json.dumps(
            [states[monitor_id].row(monitor_id) for monitor_id in self.dirty]),))

    def written(self) -> None:
        self.dirty.clear()
        self.urgent.clear()

    def _preload(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        """Read the states of the monitors of this batch that the cache lacks, one query."""
        monitor_ids = {c.monitor_id for c in checks} - self._states.keys()
        if not monitor_ids:
            return
        # The newest check's start lives in memory only (and survives a rollback in
        # _newest): after a restart the first check is the present.
        newest = self._newest
        for monitor_id in monitor_ids:
            self._states[monitor_id] = MonitorState(newest=newest.get(monitor_id))
        for (monitor_id, last_check, last_ok, last_failure, down_since, warning,
             maintenance, *result) in conn.execute(_SELECT_STATES,
                                                   (json.dumps(list(monitor_ids)),)):
            if result[5] is not None:  # the metrics' JSON text, written back as an object
                result[5] = json.loads(result[5])
            self._states[monitor_id] = MonitorState(
                last_check, last_ok, last_failure, down_since, warning, maintenance,
                tuple(result[:6]), tuple(result[6:]), newest.get(monitor_id))

    def _update(self, check: CheckResult) -> None:
        state = self._states[check.monitor_id]
        ts = check.timestamp
        if check.available is None:  # unknown says nothing about the monitor's state
            if check.reason == "maintenance" and state.maintenance is None:
                state.maintenance = ts  # but the view says it is in maintenance
            return
        # Counted as the aggregates count it: a check of an earlier day is in its rows.
        day, checks, up = state.day
        today = int(ts // DAY) * DAY
        if day is None or today > day:
            state.day = (today, 1, int(check.available))
        elif today == day:
            state.day = (day, checks + 1, up + int(check.available))
        # Ordered by the monotonic clock: after the wall clock steps back, every new check
        # is "older" than the last one stored, and down_since would never clear.
        if state.newest is not None and check.mono < state.newest:
            # A slow check finishing after a newer one: it is history, not the present.
            if check.available:
                state.last_ok = max(state.last_ok or 0.0, ts)
            else:
                state.last_failure = max(state.last_failure or 0.0, ts)
            return
        state.last_check = ts
        state.maintenance = None
        state.newest = self._newest[check.monitor_id] = check.mono
        # The warning now, if any ("tls_expiry: certificate expires in 5.0 days").
        # A skipped slot's row warns as the check it stands for, which said why itself.
        if check.reason != "skipped" or not check.warning:
            state.warning = f"{check.reason}: {check.detail}" if check.warning else None
        # A skipped slot's row repeats its check's verdict: the check's result stays.
        if check.reason != "skipped" or state.result[0] is None:
            state.result = (int(check.available), check.code, check.response_ms,
                            check.reason, check.detail or None, check.metrics or None)
        if check.available:
            state.last_ok = ts
            state.down_since = None
        else:
            state.last_failure = ts
            if state.down_since is None:
                state.down_since = ts
