"""Each monitor's state row (monitor_state) as the PostgreSQL writer keeps it: SQLite's
states (sqlite/state.py: how a check changes a state is its code), read and written by
PostgreSQL's statements."""

from __future__ import annotations

import json

import psycopg

from monitor.core.model import CheckResult
from monitor.store.postgres.sql import stage
from monitor.store.sqlite.state import MonitorState, MonitorStates

_COLUMNS = ("monitor, last_check, last_ok, last_failure, down_since, warning, maintenance,"
            " last_available, last_status, last_response, last_reason, last_detail,"
            " last_metrics, day_start, day_checks, day_up")
_TYPES = ("text", "float8", "float8", "float8", "float8", "text", "float8", "int2", "int4",
          "float8", "text", "text", "text", "int8", "int8", "int8")
_NAMES = _COLUMNS.split(", ")
_UPSERT_STATES = (
    f"INSERT INTO monitor_state ({_COLUMNS}) SELECT * FROM {{}}"
    " ON CONFLICT (monitor) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:]))
# The urgent write leaves the day's counts as the last full write left them (as SQLite's).
_UPSERT_URGENT = (
    f"INSERT INTO monitor_state ({', '.join(_NAMES[:13])}, day_checks, day_up)"
    " SELECT *, 0, 0 FROM {}"
    " ON CONFLICT (monitor) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:13]))
_SELECT_STATES = f"SELECT {_COLUMNS} FROM monitor_state WHERE monitor = ANY(%s)"


def _row(state: MonitorState, monitor_id: str) -> tuple:
    row = list(state.row(monitor_id))
    if row[12] is not None and not isinstance(row[12], str):
        row[12] = json.dumps(row[12])  # the metrics, as JSON text (website_monitoring's)
    return tuple(row)


class States(MonitorStates):
    def write_urgent(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        states = self._states
        table = stage(conn, "stage_urgent", _TYPES[:13],
                      [_row(states[monitor_id], monitor_id)[:13] for monitor_id in self.urgent])
        conn.execute(_UPSERT_URGENT.format(table))

    def write(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        if not self.dirty:
            return
        states = self._states
        table = stage(conn, "stage_states", _TYPES,
                      [_row(states[monitor_id], monitor_id) for monitor_id in self.dirty])
        conn.execute(_UPSERT_STATES.format(table))

    def _preload(self, conn: psycopg.Connection, checks: list[CheckResult],  # type: ignore[override]
                 ) -> None:
        monitor_ids = {c.monitor_id for c in checks} - self._states.keys()
        if not monitor_ids:
            return
        newest = self._newest
        for monitor_id in monitor_ids:
            self._states[monitor_id] = MonitorState(newest=newest.get(monitor_id))
        for (monitor_id, last_check, last_ok, last_failure, down_since, warning,
             maintenance, *result) in conn.execute(_SELECT_STATES, (list(monitor_ids),)):
            if result[5] is not None:
                result[5] = json.loads(result[5])
            self._states[monitor_id] = MonitorState(
                last_check, last_ok, last_failure, down_since, warning, maintenance,
                tuple(result[:6]), tuple(result[6:]), newest.get(monitor_id))
