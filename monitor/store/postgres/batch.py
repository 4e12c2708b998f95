"""What one batch of the PostgreSQL writer writes, in one transaction, as SQLite's
(sqlite/batch.py): the monitors, agents' marks, the checks (one INSERT of the batch's rows
as arrays, `unnest`, returning their ids) with their aggregates and states, the alerts with
their notifications, the outcomes of deliveries, pushes, series, acks, maintenance; and the
purge of old rows. Called on the writer thread only."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import replace

import psycopg

from monitor.core.model import LOCAL, CheckResult
from monitor.core.push import MAX_MESSAGE
from monitor.store.api import SPANS, AgentSeen, AlertRecord, Command, MonitorRow, iso_utc
from monitor.store.codec import finite_metrics
from monitor.store.derived import Derived
from monitor.store.folds import KEY, Folds
from monitor.store.postgres.aggregates import Aggregates, MetricFigures, purge_days
from monitor.store.postgres.ranges import RowRanges
from monitor.store.postgres.rollups import PgRollups
from monitor.store.postgres.schema import TYPE_GROUP
from monitor.store.postgres.series_writes import SeriesWrites
from monitor.store.postgres.sql import columns, commit_all, rollback, unnest
from monitor.store.postgres.state import States
from monitor.store.ranges import runs
from monitor.store.sqlite.rollups import DAY, ROLLUP_SPANS
from monitor.store.work import Work, outbox_rows, skip_stored, sort

PURGE_CHUNK = 20000

# The metrics' text as SQLite's writer stores it: the event stream hands it out as it is.
_COMPACT = (",", ":")

# The advisory lock that orders the writers' inserts of followed rows (see Batches.write).
_ID_ORDER_LOCK = 0x75707469  # "upti"

# The ids first (one round trip), then the rows by COPY, which formats them in C.
_IDS = ("SELECT nextval(pg_get_serial_sequence('website_monitoring', 'id'))"
        " FROM generate_series(1, %s)")
_COPY_CHECKS = (
    "COPY website_monitoring (id, timestamp, host, available, status, responseTime, reason,"
    " detail, lateness, monitor, metrics, warning, location) FROM STDIN")
# An agent's mark: its upto never decreases (a late, smaller mark changes nothing).
_UPSERT_MARK = (
    "INSERT INTO agents (name, instance, upto, location) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (name, instance) DO UPDATE SET upto = greatest(agents.upto, excluded.upto),"
    " location = excluded.location")
_DELIVERY_DONE = (
    "UPDATE outbox SET attempts = attempts + %s, sent = %s, failed = %s, error = %s,"
    " retry_at = %s WHERE id = %s AND sent IS NULL AND failed IS NULL")
# When an agent was last heard: never earlier than what is stored (another process may have
# heard it later).
_UPSERT_SEEN = (
    "INSERT INTO agent_seen (name, location, seen) VALUES (%s, %s, %s) ON CONFLICT (name) DO"
    " UPDATE SET seen = greatest(agent_seen.seen, excluded.seen), location = CASE WHEN"
    " excluded.seen >= agent_seen.seen THEN excluded.location ELSE agent_seen.location END")


def _finite(*values: float | None) -> None:
    """PostgreSQL stores NaN and infinities where SQLite's JSON refused them: a check with
    one is a bug in what made it, dropped alone as in SQLite rather than summed."""
    for value in values:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")


class Batches(Derived):
    """The writing connection's transactions, and the caches they keep up to date.
    `connect` opens a new connection when the server dropped the last one."""

    ERROR = psycopg.Error
    _conn: psycopg.Connection
    aggregates: Aggregates
    _metrics: MetricFigures
    _series: SeriesWrites
    _rollups: PgRollups

    def __init__(self, conn: psycopg.Connection, connect: Callable[[], psycopg.Connection],
                 clock: Callable[[], float], say: Callable[[str], None], path: object,
                 deferred: bool = True) -> None:
        self._conn = conn
        self._connect = connect
        self._targets: dict[str, str] = self._load_targets()
        self._say = say
        self._path = path
        self._rollups = PgRollups(clock)
        self.aggregates = Aggregates(clock, self._rollups)  # public for tests
        self.folds = Folds(self.aggregates, States(), RowRanges(KEY), commit_all, deferred)
        self._recovered = False
        self._metrics = MetricFigures(clock, say, path, self._rollups, deferred)
        self._series = SeriesWrites(clock, say, path)

    @property
    def conn(self) -> psycopg.Connection:
        return self._conn

    def _load_targets(self) -> dict[str, str]:
        try:
            return dict(self._conn.execute(
                "SELECT monitor, target FROM monitors WHERE target <> monitor").fetchall())
        except psycopg.Error:
            return {}

    def connected(self) -> psycopg.Connection:
        """The connection, opened again if the server dropped it (raises the refusal
        when it cannot: the rows are held and retried)."""
        if self._conn.closed or self._conn.broken:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = self._connect()
        return self._conn

    def usable(self) -> bool:
        return not (self._conn.closed or self._conn.broken)

    def rollback_transaction(self) -> None:
        rollback(self._conn)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.close()

    def write(self, commands: list[Command]) -> Work:
        """Write `commands` in one transaction; raises what the server raised, the
        transaction left open (the caller rolls it back)."""
        work = sort(commands)
        conn = self.connected()
        self._rollups.load(conn)
        self._recover()
        conn.execute("BEGIN")
        if work.checks or work.alerts or work.pushes:
            # Readers follow these tables by id (the event stream, pushes): with several
            # writers, ids must commit in the order they are drawn, or a reader that saw
            # 105 before 103 committed would skip 103 for good. Held to the commit.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ID_ORDER_LOCK,))
        for monitor_set in work.monitor_sets:
            self._write_monitors(monitor_set.monitors)
        if work.marked:
            self._write_marks(work)
        ids = self._write_checks(work.checks) if work.checks else []
        if work.alerts:
            self._write_alerts(work.alerts)
        if work.deliveries:
            with conn.cursor() as cursor:
                cursor.executemany(_DELIVERY_DONE, [
                    (int(d.attempted), d.at if d.error is None else None,
                     d.at if d.error and d.retry_at is None else None, d.error, d.retry_at,
                     d.id) for d in work.deliveries])
        if work.pushes:
            conn.execute(
                "INSERT INTO pushes (monitor, timestamp, event, status, message, value)"
                f" SELECT * FROM {unnest('text', 'float8', 'text', 'text', 'text', 'float8')}",
                columns([(p.monitor_id, p.timestamp, p.event, p.status,
                          p.message[:MAX_MESSAGE] or None, p.value) for p in work.pushes], 6))
        if work.series:
            self._series.write(conn, work.series)
        if work.acks:
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO acks (alert, monitor, at, by) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (alert) DO NOTHING",
                    [(a.alert, a.monitor_id, a.at, a.by) for a in work.acks])
        if work.seen:
            self._write_seen(work.seen)
        for m in work.maintenance:
            if m.since is None:
                conn.execute("DELETE FROM maintenance WHERE monitor = %s", (m.monitor_id,))
            else:
                conn.execute("INSERT INTO maintenance (monitor, since, until) VALUES"
                             " (%s, %s, %s) ON CONFLICT (monitor) DO UPDATE SET"
                             " since = excluded.since, until = excluded.until",
                             (m.monitor_id, m.since, m.until))
        if work.checks:
            self.folds.batch(conn, work.checks, runs(ids))
            self._metrics.batch(conn, ids)
        conn.execute("COMMIT")
        self.committed(conn, work)
        return work

    def _write_alerts(self, alerts: list[AlertRecord]) -> None:
        """Each alert row, then its notifications in the outbox: one transaction."""
        conn = self._conn
        targets = self._targets
        now = time.time()
        for a in alerts:
            row = conn.execute(
                "INSERT INTO website_alerts (timestamp, host, type, startDate, endDate,"
                " availability, message, monitor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id",
                (a.timestamp, a.host or targets.get(a.monitor_id, a.monitor_id), a.type,
                 a.start, a.end, a.availability, a.message, a.monitor_id)).fetchone()
            if a.deliveries:
                assert row is not None
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO outbox (alert, key, provider, event, title, body,"
                        " created) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        outbox_rows(row[0], a.deliveries, now))

    def _write_monitors(self, monitors: tuple[MonitorRow, ...]) -> None:
        conn = self._conn
        conn.execute("UPDATE monitors SET active = 0")
        # In the config's order: a monitor new to the table gets the next rowid.
        conn.execute(
            "INSERT INTO monitors (monitor, name, interval, active, kind, target)"
            f" SELECT m, n, i, 1, k, t FROM {unnest('text', 'text', 'float8', 'text', 'text')}"
            " WITH ORDINALITY AS u(m, n, i, k, t, o) ORDER BY o"
            " ON CONFLICT (monitor) DO UPDATE SET name = excluded.name,"
            " interval = excluded.interval, active = 1, kind = excluded.kind,"
            " target = excluded.target",
            columns([(m.id, m.name, m.interval, m.kind, m.target) for m in monitors], 5))
        for m in monitors:
            if m.target != m.id:
                self._targets[m.id] = m.target
            else:
                self._targets.pop(m.id, None)

    def _write_seen(self, seen: list[AgentSeen]) -> None:
        # The latest of each agent, in name order: two writers' batches lock the rows in
        # one order (no deadlock).
        latest: dict[str, AgentSeen] = {}
        for s in seen:
            if s.name not in latest or s.at >= latest[s.name].at:
                latest[s.name] = s
        with self._conn.cursor() as cursor:
            cursor.executemany(_UPSERT_SEEN, [(s.name, s.location, s.at)
                                              for _, s in sorted(latest.items())])

    def _write_marks(self, work: Work) -> None:
        """The agents' marks, in the open transaction, and their rows stored already (a
        resend) taken out of `work.checks` (work.skip_stored). The mark's row is locked
        (FOR UPDATE) so that two writers on one database take turns."""
        conn = self._conn

        def stored(key: tuple[str, str]) -> int:
            row = conn.execute("SELECT upto FROM agents WHERE name = %s AND instance = %s"
                               " FOR UPDATE", key).fetchone()
            return 0 if row is None else int(row[0])

        skip_stored(work, stored, lambda key, upto, location: conn.execute(
            _UPSERT_MARK, (*key, upto, location)))

    def _write_checks(self, checks: list[CheckResult]) -> list[int]:
        """The raw rows, one statement; their ids."""
        targets = self._targets
        rows = []
        for index, c in enumerate(checks):
            _finite(c.timestamp, c.response_ms, c.lateness_ms)
            metrics = None
            if c.metrics:
                try:
                    metrics = json.dumps(c.metrics, allow_nan=False, separators=_COMPACT)
                except ValueError:  # a kind's metric of infinity or NaN
                    c = checks[index] = replace(c, metrics=finite_metrics(c.metrics))
                    metrics = json.dumps(c.metrics, separators=_COMPACT) if c.metrics else None
            rows.append((c.timestamp, targets.get(c.monitor_id, c.monitor_id),
                         None if c.available is None else int(c.available), c.code,
                         c.response_ms, c.reason, c.detail or None, c.lateness_ms,
                         c.monitor_id, metrics, 1 if c.warning else None,
                         None if c.location == LOCAL else c.location))
        conn = self._conn
        ids = [ident for (ident,) in conn.execute(_IDS, (len(rows),)).fetchall()]
        with conn.cursor().copy(_COPY_CHECKS) as copy:
            for ident, row in zip(ids, rows, strict=True):
                copy.write_row((ident, *row))
        return ids

    def purge(self, before: float, tiers: dict[int, float | None]) -> tuple[int, int]:
        """Delete the checks and alerts older than `before`, and each span's aggregates
        older than its cutoff in `tiers` (`before` if not in it; None: kept): the checks
        and alerts deleted. In short transactions, so that other writers get between."""
        conn = self.connected()
        cutoff_iso = iso_utc(before)  # (raises for a date out of range: before any delete)
        checks = 0
        while True:
            conn.execute("BEGIN")
            cursor = conn.execute(
                "DELETE FROM website_monitoring WHERE id = ANY(ARRAY(SELECT id FROM"
                " website_monitoring WHERE timestamp < %s LIMIT %s))", (before, PURGE_CHUNK))
            deleted = cursor.rowcount
            conn.execute("COMMIT")
            checks += deleted
            if deleted < PURGE_CHUNK:
                break
        cutoffs = {span: cut for span in SPANS + ROLLUP_SPANS
                   if (cut := tiers.get(span, before)) is not None}
        for span, cut in cutoffs.items():
            conn.execute("BEGIN")
            for table in ("aggregates", "metric_aggs"):
                conn.execute(f"DELETE FROM {table} WHERE span = %s AND start < %s",
                             (span, int(cut // span) * span))
            if span == DAY:
                purge_days(conn, int(cut // DAY) * DAY)
            conn.execute("COMMIT")
        conn.execute("BEGIN")
        # Keep each monitor's latest row of each group: the alert state a restart restores.
        alerts = conn.execute(
            "DELETE FROM website_alerts WHERE timestamp < %s AND id NOT IN (SELECT max(id)"
            f" FROM website_alerts GROUP BY monitor, {TYPE_GROUP})",
            (cutoff_iso,)).rowcount
        conn.execute("DELETE FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM website_alerts a"
                     " WHERE a.id = o.alert)")
        self._purge_pushes(conn, before)
        conn.execute("DELETE FROM acks k WHERE NOT EXISTS (SELECT 1 FROM website_alerts a"
                     " WHERE a.id = k.alert)")
        conn.execute("COMMIT")
        self._series.purge(conn, before, cutoffs)
        self.aggregates.forget_before(cutoffs)
        if 60 in cutoffs:
            self._metrics.forget_before(cutoffs[60])
        return checks, alerts

    @staticmethod
    def _purge_pushes(conn: psycopg.Connection, before: float) -> None:
        """The pushes received before `before` but each monitor's latest start and latest
        run end (as SQLite's pushes.purge)."""
        row = conn.execute("SELECT id FROM pushes WHERE timestamp >= %s ORDER BY id LIMIT 1",
                           (before,)).fetchone()
        if row is not None:
            cut = row[0]
        else:
            found = conn.execute("SELECT max(id) FROM pushes").fetchone()
            cut = (found[0] if found and found[0] is not None else 0) + 1
        conn.execute(
            "DELETE FROM pushes WHERE id < %(cut)s AND id NOT IN (SELECT max(id) FROM pushes"
            " WHERE id < %(cut)s GROUP BY monitor, event = 'start')", {"cut": cut})
