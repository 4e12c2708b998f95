"""The read side of the SQLite store: every query the program makes of the database, on a
read-only connection for one reading thread (reports, the live view, `-a`, restores)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from monitor.core.errors import StoreError, UpgradeRefused
from monitor.core.model import LOCAL
from monitor.core.push import Latest, Push
from monitor.metrics.paths import Pattern
from monitor.store.api import (
    AlertRow,
    DeliveryState,
    MetricRow,
    MetricSums,
    MonitorInfo,
    OutboxRow,
    Range,
    RawPiece,
    SeriesInfo,
    SeriesNode,
    WindowRow,
    WindowSummary,
    WindowTotal,
)
from monitor.store.dashboard import Dashboard
from monitor.store.events import Position, Tail
from monitor.store.figures import Figures
from monitor.store.history import AlertEntry, CheckPage
from monitor.store.located import LOCATED_SCAN_ROWS, LocatedChecks
from monitor.store.scrape import DayCounts
from monitor.store.sqlite import (
    dashboard,
    events,
    history,
    pushes,
    rollups,
    scrape,
    series,
    summaries,
    traffic,
)
from monitor.store.sqlite import windows as windows_
from monitor.store.sqlite.connection import explain, open_writer_connection
from monitor.store.sqlite.located import located_checks
from monitor.store.sqlite.schema import SCHEMA_VERSION, TYPE_GROUP
from monitor.store.summaries import MonitorSummary, TrendRow, UptimeDays

# The most rows last_check_time walks back past the rows of monitors dated by other clocks.
LAST_CHECK_ROWS = 100_000

_F = TypeVar("_F", bound=Callable[..., Any])


def _reading(method: _F) -> _F:
    """SQLite's errors as StoreError: callers know no database library."""
    @wraps(method)
    def wrapper(self: SqliteReader, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the database:"
                             f" {explain(exc, self.path)}") from None
    return wrapper  # type: ignore[return-value]


class SqliteReader:
    """A Reader (monitor.store.api) on a read-only SQLite connection."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn  # for tests and tools that inspect the file; not part of Reader
        self.path = path
        # A second connection, opened at the first summary of many monitors: it reads
        # half of them on a thread of its own while this one reads the other half.
        self._helper: sqlite3.Connection | None = None

    def close(self) -> None:
        if self._helper is not None:
            self._helper.close()
        self.conn.close()

    @_reading
    def checks_after(self, when: float) -> bool:
        return self.conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp > ?"
                                 " LIMIT 1", (when,)).fetchone() is not None

    @_reading
    def blocks_since(self) -> float:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
        return 0 if row is None else row[0]  # no row: a database with blocks from the start

    @_reading
    def window_rows(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                    only: Sequence[str] | None = None) -> list[WindowRow]:
        return windows_.window_rows(self.conn, ranges, raws, only)

    @_reading
    def metric_rows(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                    only: Sequence[str] | None = None) -> list[MetricRow]:
        return windows_.metric_rows(self.conn, ranges, raws, only)

    @_reading
    def window_totals(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                      ) -> list[WindowTotal]:
        return windows_.window_totals(self.conn, ranges, raws)

    @_reading
    def window_summaries(self, windows: Sequence[Sequence[Range]], each: int, slowest: int,
                         worst: int, special: bool = False) -> list[WindowSummary]:
        return windows_.window_summaries(self.conn, windows, each, slowest, worst, special,
                                         self._helper_connection)

    def _helper_connection(self) -> sqlite3.Connection:
        if self._helper is None:
            self._helper = _connect(self.path)
        return self._helper

    @_reading
    def monitor_states(self, only: Sequence[str] | None = None,
                       ) -> dict[str, tuple[float | None, float | None]]:
        if only is None:
            rows = self.conn.execute("SELECT monitor, last_failure, down_since"
                                     " FROM monitor_state")
        else:  # a seek each: the API's one monitor of 100,000
            rows = self.conn.execute(
                "SELECT monitor, last_failure, down_since FROM monitor_state WHERE monitor"
                " IN (SELECT value FROM json_each(?))", (json.dumps(list(only)),))
        return {monitor_id: (last_failure, down_since)
                for monitor_id, last_failure, down_since in rows}

    @_reading
    def down_now(self) -> dict[str, float]:
        return self._states_with("down_since")

    @_reading
    def warnings(self) -> dict[str, str]:
        return self._states_with("warning")

    @_reading
    def in_maintenance(self) -> dict[str, float]:
        return self._states_with("maintenance")

    @_reading
    def ever_up(self) -> set[str]:
        return set(self._states_with("last_ok"))

    def _states_with(self, column: str) -> dict[str, Any]:
        """Each monitor whose state has `column` set -> its value."""
        return dict(self.conn.execute(
            f"SELECT monitor, {column} FROM monitor_state WHERE {column} IS NOT NULL"))

    @_reading
    def active_monitors(self) -> list[MonitorInfo]:
        return [MonitorInfo(*row) for row in self.conn.execute(
            "SELECT monitor, kind, target, name FROM monitors WHERE active=1 ORDER BY rowid")]

    @_reading
    def monitors_of(self, monitor_ids: Sequence[str]) -> list[MonitorInfo]:
        return [MonitorInfo(*row) for row in self.conn.execute(
            "SELECT monitor, kind, target, name FROM monitors WHERE monitor IN"
            " (SELECT value FROM json_each(?)) ORDER BY rowid",
            (json.dumps(list(monitor_ids)),))]

    @_reading
    def alerts_after(self, after_id: int = 0, limit: int | None = None,
                     ) -> list[tuple[int, str]]:
        if limit is None:
            return list(self.conn.execute(
                "SELECT id, message FROM website_alerts WHERE id > ? ORDER BY id", (after_id,)))
        rows = list(self.conn.execute(
            "SELECT id, message FROM website_alerts WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after_id, limit)))
        return rows[::-1]

    @_reading
    def alert_types(self, monitor_id: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "SELECT type FROM website_alerts WHERE monitor = ? ORDER BY id", (monitor_id,))]

    @_reading
    def recent_lateness(self, since: float) -> tuple[list[float], float | None]:
        # This machine's scheduler's: an agent's lateness is its own machine's.
        rows = self.conn.execute(
            "SELECT lateness FROM website_monitoring WHERE timestamp >= ? AND reason IS NOT"
            " 'skipped' AND lateness IS NOT NULL AND location IS NULL", (since,)).fetchall()
        newest = self.conn.execute("SELECT max(timestamp) FROM website_monitoring").fetchone()
        return [r[0] for r in rows], newest[0]

    @_reading
    def last_check_time(self, other_clocks: Collection[str] = ()) -> float | None:
        # Agents' checks are dated by their machines' clocks: never this one's present.
        row = self.conn.execute("SELECT timestamp, location FROM website_monitoring ORDER BY"
                                " id DESC LIMIT 1").fetchone()
        if row is None or (not other_clocks and row[1] is None):
            return None if row is None else row[0]
        # Walking back from the newest row past the other clocks' rows, LAST_CHECK_ROWS at
        # most (not the whole table, for a monitor added to a history of logs alone).
        row = self.conn.execute(
            "SELECT timestamp FROM website_monitoring WHERE id > (SELECT max(id) FROM"
            " website_monitoring) - ? AND location IS NULL AND monitor NOT IN (SELECT"
            " monitor FROM monitors WHERE kind IN (SELECT value FROM json_each(?)))"
            " ORDER BY id DESC LIMIT 1",
            (LAST_CHECK_ROWS, json.dumps(sorted(other_clocks)))).fetchone()
        return None if row is None else row[0]

    @_reading
    def failure_causes(self, since: float, until: float, location: str | None = None,
                       ) -> dict[str, tuple[str, str]]:
        causes: dict[str, tuple[str, str]] = {}
        where, args = _location(location)
        for monitor_id, reason, detail in self.conn.execute(
            "SELECT monitor, reason, detail FROM website_monitoring WHERE"
            " timestamp BETWEEN ? AND ? AND available = 0 AND reason IS NOT 'skipped'"
            f"{where} ORDER BY timestamp", (since, until, *args)):
            causes[monitor_id] = (reason or "", detail or "")
        return causes

    @_reading
    def recent_verdicts(self, since: float, until: float, location: str | None = None,
                        ) -> dict[str, list[tuple[float, bool]]]:
        recent: dict[str, list[tuple[float, bool]]] = {}
        where, args = _location(location)
        for monitor_id, ts, ok in self.conn.execute(
            "SELECT monitor, timestamp, available FROM website_monitoring"
            " WHERE timestamp BETWEEN ? AND ? AND (available IS NOT NULL OR reason ="
            f" 'maintenance'){where} ORDER BY timestamp", (since, until, *args)):
            if ok is None:  # a maintenance: the checks before it count for nothing
                recent[monitor_id] = []
            else:
                recent.setdefault(monitor_id, []).append((ts, bool(ok)))
        return recent

    @_reading
    def pending_deliveries(self, provider: str, now: float, limit: int = 100,
                           ) -> list[OutboxRow]:
        # Up to the first row that waits for its retry: a later row never overtakes an
        # earlier one (a recovery sent before its alert), across restarts and reloads.
        return [OutboxRow(*row) for row in self.conn.execute(
            "SELECT id, key, alert, provider, event, title, body, created, attempts, error"
            " FROM outbox WHERE provider = ? AND sent IS NULL AND failed IS NULL"
            " AND id < coalesce((SELECT min(id) FROM outbox WHERE provider = ?"
            " AND sent IS NULL AND failed IS NULL AND retry_at > ?), 9223372036854775807)"
            " ORDER BY id LIMIT ?",
            (provider, provider, now, limit))]

    @_reading
    def deliveries(self, alert_ids: Sequence[int]) -> dict[int, list[DeliveryState]]:
        found: dict[int, list[DeliveryState]] = {}
        if not alert_ids:
            return found
        for alert, *state in self.conn.execute(
                "SELECT alert, provider, CASE WHEN sent IS NOT NULL THEN 'sent'"
                " WHEN failed IS NOT NULL THEN 'failed' ELSE 'pending' END, attempts, error"
                " FROM outbox WHERE alert IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(list(alert_ids)),)):
            found.setdefault(alert, []).append(DeliveryState(*state))
        return found

    @_reading
    def rolled_until(self) -> float:
        return rollups.rolled_until(self.conn)

    @_reading
    def monitor_summaries(self, monitor_ids: Collection[str] | None = None,
                          ) -> list[MonitorSummary]:
        return summaries.monitor_summaries(self.conn, monitor_ids)

    @_reading
    def uptime_by_day(self, monitor_ids: Collection[str] | None, days: int, now: float,
                      ) -> dict[str, UptimeDays]:
        return summaries.uptime_by_day(self.conn, monitor_ids, days, now)

    @_reading
    def uptime_totals(self, monitor_ids: Collection[str] | None, days: int, now: float,
                      ) -> dict[str, tuple[int, int]]:
        return summaries.uptime_totals(self.conn, monitor_ids, days, now)

    @_reading
    def trend_rows(self, monitor_id: str, ranges: Sequence[Range], step: int,
                   metric: str | None = None) -> list[TrendRow]:
        return summaries.trend_rows(self.conn, monitor_id, ranges, step, metric)

    @_reading
    def open_alerts(self) -> dict[str, str]:
        return {monitor_id: row.start for monitor_id, groups in self.latest_alert_rows().items()
                if (row := groups.get("alert")) is not None and row.type != "recovery"}

    @_reading
    def latest_alerts(self, monitor_id: str, limit: int) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(
            "SELECT type, startDate, message FROM website_alerts WHERE monitor = ?"
            " ORDER BY id DESC LIMIT ?", (monitor_id, limit)).fetchall()
        return rows[::-1]

    @_reading
    def latest_alert_rows(self) -> dict[str, dict[str, AlertRow]]:
        found: dict[str, dict[str, AlertRow]] = {}
        for monitor_id, group, *row in self.conn.execute(
                f"SELECT monitor, {TYPE_GROUP}, id, type, startDate, timestamp, message"
                " FROM website_alerts WHERE id IN (SELECT max(id) FROM website_alerts"
                f" GROUP BY monitor, {TYPE_GROUP})"):
            found.setdefault(monitor_id, {})[group] = AlertRow(*row)
        return found

    @_reading
    def maintenance(self) -> dict[str, tuple[float, float | None]]:
        return {monitor_id: (since, until) for monitor_id, since, until in self.conn.execute(
            "SELECT monitor, since, until FROM maintenance")}

    @_reading
    def pushes_after(self, after_id: int, monitor_id: str | None = None,
                     limit: int = 1000) -> list[Push]:
        return pushes.after(self.conn, after_id, monitor_id, limit)

    @_reading
    def latest_pushes(self, monitor_ids: Collection[str], upto: int | None = None,
                      ) -> dict[str, Latest]:
        return pushes.latest(self.conn, monitor_ids, upto)

    @_reading
    def last_push_id(self) -> int:
        return pushes.last_id(self.conn)

    @_reading
    def event_span(self) -> tuple[int, Position]:
        return events.span(self.conn)

    @_reading
    def events_after(self, start: Position, upto: Position | None, limit: int) -> Tail:
        return events.after(self.conn, start, upto, limit)

    @_reading
    def event_states(self) -> tuple[Position, dict[str, str]]:
        return events.states(self.conn)

    @_reading
    def series_matching(self, pattern: Pattern, limit: int) -> list[SeriesInfo]:
        return series.matching(self.conn, pattern, limit)

    @_reading
    def series_tree(self, prefix: str, limit: int) -> list[SeriesNode]:
        return series.tree(self.conn, prefix, limit)

    @_reading
    def series_info(self, path: str) -> SeriesInfo | None:
        return series.info(self.conn, path)

    @_reading
    def series_steps(self, ids: Sequence[int], first: int, last: int, step: int,
                     now: float) -> dict[int, dict[int, Figures]]:
        return series.steps(self.conn, ids, first, last, step, now)

    @_reading
    def series_window(self, series_id: int, since: float, until: float) -> Figures:
        return series.window(self.conn, series_id, since, until)

    @_reading
    def series_raw_count(self, ids: Sequence[int], since: float, until: float) -> int:
        return series.raw_count(self.conn, ids, since, until)

    @_reading
    def checks_page(self, monitor_id: str, since: float, until: float,
                    limit: int, location: str | None = None) -> CheckPage:
        return history.checks_page(self.conn, monitor_id, since, until, limit,
                                   location=location)

    @_reading
    def agent_marks(self) -> dict[tuple[str, str], int]:
        return history.agent_marks(self.conn)

    @_reading
    def agents_seen(self) -> dict[str, float]:
        return {name: float(seen) for name, seen in self.conn.execute(
            "SELECT name, seen FROM agent_seen")}

    @_reading
    def knows_monitor(self, monitor_id: str) -> bool:
        return history.knows_monitor(self.conn, monitor_id)

    @_reading
    def alert_entries(self, monitor_id: str | None, kind: str | None, after: int,
                      before: int | None, limit: int) -> list[AlertEntry]:
        return history.alert_entries(self.conn, monitor_id, kind, after, before, limit)

    @_reading
    def alert_entry(self, alert_id: int) -> AlertEntry | None:
        return history.alert_entry(self.conn, alert_id)

    @_reading
    def acked_starts(self, monitor_ids: Collection[str]) -> dict[str, set[str]]:
        return history.acked_starts(self.conn, monitor_ids)

    @_reading
    def day_counts(self, day: int) -> dict[str, DayCounts]:
        return scrape.day_counts(self.conn, day)

    @_reading
    def notifications_waiting(self) -> dict[str, int]:
        return scrape.notifications_waiting(self.conn)

    @_reading
    def metric_sums(self, monitor_id: str, ranges: Sequence[Range], step: int,
                    metric: str) -> MetricSums:
        return traffic.metric_sums(self.conn, monitor_id, ranges, step, metric)

    @_reading
    def dashboard(self, starts: Sequence[int], end: float) -> Dashboard:
        return dashboard.dashboard(self.conn, starts, end)

    @_reading
    def located_checks(self, monitor_ids: Collection[str], since: float, until: float,
                       scan: int = LOCATED_SCAN_ROWS) -> LocatedChecks:
        return located_checks(self.conn, monitor_ids, since, until, scan)


def _location(location: str | None) -> tuple[str, tuple[str, ...]]:
    """The condition (and its argument) for the checks of one location; "local" is NULL."""
    if location is None:
        return "", ()
    if location == LOCAL:
        return " AND location IS NULL", ()
    return " AND location = ?", (location,)


def open_reader(path: str | Path) -> SqliteReader:
    """A read-only reader for one reading thread (reports, `-a`, `-r`). A database of an
    older schema is brought up to date first, as the monitor would at its start: the
    queries read the tables of this version only."""
    path = Path(path)
    reader = _open_reader(path)
    version = reader.conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return reader
    reader.close()
    try:
        open_writer_connection(path).close()
    except UpgradeRefused:
        raise
    except StoreError as exc:
        raise StoreError(f"{path}: schema {version} must be upgraded to {SCHEMA_VERSION}"
                         f" before it can be read, and that failed ({exc}); start the"
                         " monitor (-m) on it once") from None
    return _open_reader(path)


def _connect(path: Path) -> sqlite3.Connection:
    # A URI with the path percent-encoded: a raw '#', '?' or '%' in a folder name would cut
    # the path short, and the cut path would be opened (and created) read-write.
    conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _open_reader(path: Path) -> SqliteReader:
    if not path.exists():
        raise StoreError(f"{path}: database not found (start the monitor with -m first)")
    try:
        conn = _connect(path)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read the database: {explain(exc, path)}") from None
    if "website_alerts" not in tables:
        conn.close()
        raise StoreError(f"{path}: not a monitoring database")
    return SqliteReader(conn, path)
