"""What one batch writes, in one transaction: the monitors, the checks with their
aggregates and states, the alerts with their notifications, the outcomes of deliveries,
maintenance; and the purge of old rows. Called on the writer thread only."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace

from monitor.core.model import LOCAL, CheckResult
from monitor.store.api import SPANS, AgentSeen, AlertRecord, Command, MonitorRow, iso_utc
from monitor.store.codec import finite_metrics
from monitor.store.derived import Derived
from monitor.store.folds import KEY, Folds
from monitor.store.sqlite import history, pushes, uptime
from monitor.store.sqlite.aggregates import CheckAggregates, MetricFigures
from monitor.store.sqlite.ranges import RowRanges
from monitor.store.sqlite.rollups import DAY, ROLLUP_SPANS, Rollups
from monitor.store.sqlite.schema import TYPE_GROUP
from monitor.store.sqlite.series import SeriesWrites
from monitor.store.sqlite.sql import commit_all, items
from monitor.store.sqlite.state import MonitorStates
from monitor.store.work import Work, outbox_rows, skip_stored, sort

PURGE_CHUNK = 20000

# The metrics item is a JSON object in the batch's array: json_extract gives its text.
_COLUMNS = ("timestamp, host, available, status, responseTime, reason, detail, lateness,"
            " monitor, metrics, warning")
_INSERT_CHECKS = (f"INSERT INTO website_monitoring ({_COLUMNS}) SELECT {items(11)}"
                  " FROM json_each(?)")
# A batch with an agent's checks in it: their location too. Local ones alone leave it NULL
# without an item more to parse per row (a tenth of the statement's cost).
_INSERT_LOCATED = (f"INSERT INTO website_monitoring ({_COLUMNS}, location) SELECT {items(12)}"
                   " FROM json_each(?)")
# An agent's mark: its upto never decreases (a late, smaller mark changes nothing).
_UPSERT_MARK = (
    "INSERT INTO agents (name, instance, upto, location) VALUES (?,?,?,?)"
    " ON CONFLICT (name, instance) DO UPDATE SET upto = max(upto, excluded.upto),"
    " location = excluded.location")
# An attempt's outcome: sent, failed for good, or to be retried (attempts counted).
_DELIVERY_DONE = (
    "UPDATE outbox SET attempts = attempts + ?, sent = ?, failed = ?, error = ?,"
    " retry_at = ? WHERE id = ? AND sent IS NULL AND failed IS NULL")
# When an agent was last heard: never earlier than what is stored (another process may have
# heard it later).
_UPSERT_SEEN = (
    "INSERT INTO agent_seen (name, location, seen) VALUES (?,?,?) ON CONFLICT (name) DO"
    " UPDATE SET seen = max(seen, excluded.seen), location = CASE WHEN excluded.seen >= seen"
    " THEN excluded.location ELSE location END")


class Batches(Derived):
    """The writing connection's transactions, and the caches they keep up to date."""

    ERROR = sqlite3.Error
    _conn: sqlite3.Connection
    aggregates: CheckAggregates
    _metrics: MetricFigures
    _series: SeriesWrites
    _rollups: Rollups

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float],
                 say: Callable[[str], None], path: object, deferred: bool = True) -> None:
        self._conn = conn
        # Monitor id -> its target, where they differ: stored as each check's `host`.
        self._targets: dict[str, str] = self._load_targets()
        self._say = say
        self._path = path
        self._rollups = Rollups(clock)
        # The aggregates and states of the checks written; `deferred`: the owner's way.
        self.aggregates = CheckAggregates(clock, self._rollups)  # public for tests
        self.folds = Folds(self.aggregates, MonitorStates(), RowRanges(KEY), commit_all,
                           deferred)
        self._recovered = False
        self._metrics = MetricFigures(clock, say, path, self._rollups, deferred)
        self._series = SeriesWrites(clock, say, path)

    def _load_targets(self) -> dict[str, str]:
        """The targets recorded by the last run, for checks of monitors that the owner has
        not listed yet. A damaged file is found by the first write, as ever: not here."""
        try:
            return dict(self._conn.execute(
                "SELECT monitor, target FROM monitors WHERE target <> monitor"))
        except sqlite3.DatabaseError:
            return {}

    def write(self, commands: list[Command]) -> Work:
        """Write `commands` in one transaction; raises what the database raised, the
        transaction left open (the caller rolls it back)."""
        work = sort(commands)
        conn = self._conn
        self._rollups.load(conn)  # which hours a late check must be added to
        self._recover()
        conn.execute("BEGIN")
        # The monitors first: a batch's checks of a monitor just added carry its target.
        for monitor_set in work.monitor_sets:
            self._write_monitors(monitor_set.monitors)
        if work.marked:
            self._write_marks(work)
        if work.checks:
            self._write_checks(work.checks)
        if work.alerts:
            self._write_alerts(work.alerts)
        if work.deliveries:
            conn.executemany(_DELIVERY_DONE, [(int(d.attempted),
                                               d.at if d.error is None else None,
                                               d.at if d.error and d.retry_at is None
                                               else None, d.error, d.retry_at, d.id)
                                              for d in work.deliveries])
        if work.pushes:
            pushes.write(conn, work.pushes)
        if work.series:
            self._series.write(conn, work.series)
        if work.acks:
            history.write_acks(conn, work.acks)
        if work.seen:
            self._write_seen(work.seen)
        for m in work.maintenance:
            if m.since is None:
                conn.execute("DELETE FROM maintenance WHERE monitor = ?", (m.monitor_id,))
            else:
                conn.execute("INSERT OR REPLACE INTO maintenance (monitor, since, until)"
                             " VALUES (?,?,?)", (m.monitor_id, m.since, m.until))
        conn.execute("COMMIT")
        self.committed(conn, work)
        return work

    def _write_alerts(self, alerts: list[AlertRecord]) -> None:
        """Each alert row, then its notifications in the outbox: one transaction, so an
        alert is never stored without them nor they without it."""
        conn = self._conn
        targets = self._targets
        now = time.time()
        for a in alerts:
            cursor = conn.execute(
                "INSERT INTO website_alerts (timestamp, host, type, startDate, endDate,"
                " availability, message, monitor) VALUES (?,?,?,?,?,?,?,?)",
                (a.timestamp, a.host or targets.get(a.monitor_id, a.monitor_id), a.type,
                 a.start, a.end, a.availability, a.message, a.monitor_id))
            if a.deliveries:
                assert cursor.lastrowid is not None
                conn.executemany(
                    "INSERT INTO outbox (alert, key, provider, event, title, body, created)"
                    " VALUES (?,?,?,?,?,?,?)", outbox_rows(cursor.lastrowid, a.deliveries, now))

    def _write_seen(self, seen: list[AgentSeen]) -> None:
        self._conn.executemany(_UPSERT_SEEN, [(s.name, s.location, s.at) for s in seen])

    def _write_marks(self, work: Work) -> None:
        """The agents' marks, in the open transaction, and their rows stored already (a
        resend) taken out of `work.checks` (work.skip_stored)."""
        conn = self._conn

        def stored(key: tuple[str, str]) -> int:
            row = conn.execute("SELECT upto FROM agents WHERE name = ? AND instance = ?",
                               key).fetchone()
            return 0 if row is None else int(row[0])

        skip_stored(work, stored, lambda key, upto, location: conn.execute(
            _UPSERT_MARK, (*key, upto, location)))

    def _write_monitors(self, monitors: tuple[MonitorRow, ...]) -> None:
        conn = self._conn
        conn.execute("UPDATE monitors SET active=0")
        conn.executemany(
            "INSERT INTO monitors (monitor, name, interval, active, kind, target)"
            " VALUES (?,?,?,1,?,?) ON CONFLICT (monitor) DO UPDATE SET name=excluded.name,"
            " interval=excluded.interval, active=1, kind=excluded.kind,"
            " target=excluded.target",
            [(m.id, m.name, m.interval, m.kind, m.target) for m in monitors])
        for m in monitors:
            if m.target != m.id:
                self._targets[m.id] = m.target
            else:
                self._targets.pop(m.id, None)

    def _write_checks(self, checks: list[CheckResult]) -> None:
        conn = self._conn
        targets = self._targets
        # Each statement is one call with the batch as a JSON array, not one call per
        # row: sqlite3 gives up the GIL at every row's step, and with busy worker
        # threads getting it back takes up to a switch interval (5 ms) each time. Per
        # row, a 2,000-row batch could take seconds to write while using milliseconds.
        located = any(c.location != LOCAL for c in checks)

        def rows() -> str:
            found: list[tuple] = [
                (c.timestamp, targets.get(c.monitor_id, c.monitor_id),
                 None if c.available is None else int(c.available), c.code, c.response_ms,
                 c.reason, c.detail or None, c.lateness_ms, c.monitor_id, c.metrics or None,
                 1 if c.warning else None)
                for c in checks]
            if located:
                found = [(*row, None if c.location == LOCAL else c.location)
                         for row, c in zip(found, checks, strict=True)]
            return json.dumps(found, allow_nan=False)
        try:
            text = rows()
        except ValueError:  # a kind's metric of infinity or NaN, which JSON cannot carry
            checks[:] = [c if not c.metrics else replace(c, metrics=finite_metrics(c.metrics))
                         for c in checks]  # (the caller's list: its figures count these)
            text = rows()
        conn.execute(_INSERT_LOCATED if located else _INSERT_CHECKS, (text,))
        (last_id,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        self.folds.batch(conn, checks, [(last_id - len(checks), last_id)])
        self._metrics.batch(conn, len(checks), last_id)

    def purge(self, before: float, tiers: dict[int, float | None]) -> tuple[int, int]:
        """Delete the checks and alerts older than `before`, and each span's aggregates
        older than its cutoff in `tiers` (`before` if not in it; None: kept): the checks
        and alerts deleted."""
        conn = self._conn
        checks = 0
        # In chunks of short transactions, so that readers and other writers get in between.
        while True:
            conn.execute("BEGIN")
            deleted = conn.execute(
                "DELETE FROM website_monitoring WHERE id IN (SELECT id FROM"
                " website_monitoring WHERE timestamp < ? LIMIT ?)", (before, PURGE_CHUNK),
            ).rowcount
            conn.execute("COMMIT")
            checks += deleted
            if deleted < PURGE_CHUNK:
                break
        cutoffs = {span: cut for span in SPANS + ROLLUP_SPANS
                   if (cut := tiers.get(span, before)) is not None}
        # A transaction per span. Monitor by monitor, a seek each (by time alone it would
        # be a scan of every row): every monitor with aggregates has a state row.
        for span, cut in cutoffs.items():
            conn.execute("BEGIN")
            for table in ("aggregates", "metric_aggs"):
                conn.execute(f"DELETE FROM {table} WHERE monitor IN (SELECT monitor FROM"
                             " monitor_state) AND span = ? AND start < ?",
                             (span, int(cut // span) * span))
            if span == DAY:  # the days' uptime goes with their rows
                uptime.purge(conn, int(cut // DAY) * DAY)
            conn.execute("COMMIT")
        conn.execute("BEGIN")
        # Keep each monitor's latest row of each group: the alert state a restart restores.
        alerts = conn.execute(
            "DELETE FROM website_alerts WHERE timestamp < ? AND id NOT IN (SELECT max(id)"
            f" FROM website_alerts GROUP BY monitor, {TYPE_GROUP})",
            (iso_utc(before),),
        ).rowcount
        # The messages of the alerts purged go with them, sent or not.
        conn.execute("DELETE FROM outbox WHERE alert NOT IN (SELECT id FROM website_alerts)")
        pushes.purge(conn, before)  # with the raw checks
        history.purge_acks(conn)
        conn.execute("COMMIT")
        self._series.purge(conn, before, cutoffs)
        self.aggregates.forget_before(cutoffs)
        if 60 in cutoffs:
            self._metrics.forget_before(cutoffs[60])
        return checks, alerts

