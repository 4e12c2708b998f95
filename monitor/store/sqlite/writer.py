"""The SQLite writer: one thread owns the connection that writes; everything else hands it
typed commands (monitor.store.api) through a queue, and it commits in batches: one
transaction per batch is what makes thousands of checks a second cheap (WAL +
synchronous=NORMAL). While it writes raw checks it keeps the per-minute and 10-minute
aggregates (response times, outcomes, each metric) and each monitor's state up to date, so
that reports never scan the raw table.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.checks.model import CheckResult, Monitor
from monitor.errors import StoreError
from monitor.store.api import (
    KEY_FIELD,
    SPANS,
    AlertRecord,
    Command,
    DeliveryDone,
    Flush,
    MonitorRow,
    Purge,
    SetMaintenance,
    SetMonitors,
    Stop,
    iso_utc,
)
from monitor.store.sqlite.aggregates import CheckAggregates, MetricFigures
from monitor.store.sqlite.migrations import migrate
from monitor.store.sqlite.schema import SCHEMA, SCHEMA_VERSION, TYPE_GROUP
from monitor.store.sqlite.sql import items
from monitor.store.sqlite.state import MonitorStates

BATCH_MAX = 2000
BATCH_WAIT = 0.1  # seconds a batch may wait for more rows before it is committed
PURGE_CHUNK = 20000
RETRY_DELAY = 1.0
MAX_PENDING = 500_000  # rows kept in memory while the disk refuses writes
MAX_QUEUED = 500_000  # rows waiting for a writer that cannot keep up (a starved CPU)
PROGRESS_EVERY = 1.0  # seconds between the stop's "writing N left" lines
ABANDON_WAIT = 2.0  # seconds a forced stop waits for the batch in hand
STALL_ROWS = 100  # a queue this deep ...
STALL_SECONDS = 0.25  # ... with no batch finished for this long: the writer is starved
YIELD_AT_MOST = 0.5  # seconds a check's worker may wait for the writer to catch up


# The metrics item is a JSON object in the batch's array: json_extract gives its text.
_INSERT_CHECKS = (
    "INSERT INTO website_monitoring (timestamp, host, available, status, responseTime, reason,"
    f" detail, lateness, monitor, metrics, warning) SELECT {items(11)} FROM json_each(?)")
# An attempt's outcome: sent, failed for good, or to be retried (attempts counted).
_DELIVERY_DONE = (
    "UPDATE outbox SET attempts = attempts + ?, sent = ?, failed = ?, error = ?,"
    " retry_at = ? WHERE id = ? AND sent IS NULL AND failed IS NULL")


def _create_private(path: Path) -> None:
    # The database holds URLs that may carry credentials: readable by its owner only, also
    # when the file was made beforehand (`touch`) with the umask's 0644.
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(name.stat().st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)


# SQLite's primary result codes for a file that is not (or no longer) a sound database:
# retrying cannot help, unlike a full disk or a lock.
_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
# The database refusing for now, whatever the rows: a lock, a full disk, an I/O error, a
# read-only remount. Held and retried. Any other error (a constraint, malformed JSON from a
# NaN) is about a row: found and dropped alone.
_REFUSALS = (5, 6, 7, 8, 10, 13, 14, 15)  # BUSY LOCKED NOMEM READONLY IOERR FULL CANTOPEN
#                                          PROTOCOL


def _code(exc: sqlite3.Error) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def _damaged(exc: sqlite3.Error) -> bool:
    return _code(exc) in _DAMAGED


def _refused(exc: Exception) -> bool:
    """The database refuses whatever it is given (held and retried), or is damaged."""
    return isinstance(exc, sqlite3.Error) and _code(exc) in _REFUSALS + _DAMAGED


def _explain(exc: sqlite3.Error, path: Path) -> str:
    """SQLite says "disk I/O error" when it cannot even make its shared-memory file on a full
    disk: say that the disk is full."""
    text = str(exc)
    if "disk I/O error" in text:
        with contextlib.suppress(OSError):
            if os.statvfs(path.absolute().parent).f_bavail == 0:
                return f"{text} (the disk is full)"
    return text


def open_writer_connection(path: str | Path) -> sqlite3.Connection:
    """The writing connection, the file created private and its schema brought up to date."""
    path = Path(path)
    try:
        _create_private(path)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path}: written by a newer version (schema {version}, "
                             f"this program knows {SCHEMA_VERSION})")
        # Nothing is written to a database already at this version: the monitor must start
        # on a full disk too, holding its checks in memory until space comes back.
        if version == 0:
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version < SCHEMA_VERSION:
            migrate(conn, version)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {_explain(exc, path)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database: {exc.strerror}") from None
    return conn


@dataclass(slots=True)
class _Work:
    """A batch's commands by type, in their order within each type."""

    checks: list[CheckResult] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    monitor_sets: list[SetMonitors] = field(default_factory=list)
    maintenance: list[SetMaintenance] = field(default_factory=list)
    deliveries: list[DeliveryDone] = field(default_factory=list)
    purges: list[Purge] = field(default_factory=list)
    flushes: list[Flush] = field(default_factory=list)
    stop: bool = False


def _sort(commands: Iterable[Command]) -> _Work:
    """The one place commands are told apart."""
    work = _Work()
    for command in commands:
        match command:
            case CheckResult():
                work.checks.append(command)
            case AlertRecord():
                work.alerts.append(command)
            case SetMonitors():
                work.monitor_sets.append(command)
            case DeliveryDone():
                work.deliveries.append(command)
            case SetMaintenance():
                work.maintenance.append(command)
            case Purge():
                work.purges.append(command)
            case Flush():
                work.flushes.append(command)
            case Stop():
                work.stop = True
            case _:
                raise TypeError(f"not a store command: {command!r}")
    return work


def _is_data(command: Command) -> bool:
    """Data to write (kept and retried while the disk refuses), not a control command."""
    return not isinstance(command, Purge | Flush | Stop)


def monitor_rows(monitors: Iterable[Monitor | MonitorRow]) -> tuple[MonitorRow, ...]:
    """Monitors as the store keeps them."""
    return tuple(MonitorRow(m.id, m.kind, m.target, m.name, m.interval)
                 if isinstance(m, Monitor) else m for m in monitors)


class Store:
    """The single writer. `put_check` and `put_alert` never block the caller."""

    def __init__(self, path: str | Path, on_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._conn = open_writer_connection(self.path)
        self._closed = False  # set by close(): late deliveries and flushes are ignored
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        # Monitor id -> its target, where they differ: stored as each check's host.
        self._targets: dict[str, str] = self._load_targets()
        self._pending: list[Command] = []
        self._on_error = _never_raising(on_error or (lambda message: None))
        self._aggregates = CheckAggregates(clock)
        self._metrics = MetricFigures(clock, self._on_error, self.path)
        self._states = MonitorStates()
        # Called on the writer thread with each new alert once its batch has been written,
        # or kept in memory because the disk refuses it: alerting goes on on a full disk.
        self.on_alert: Callable[[AlertRecord], None] = lambda record: None
        self._retry_at = 0.0
        self._progress = time.monotonic()  # when the writer last finished a batch
        self._clock = clock
        self._failing = False
        self._failing_since: float | None = None
        self._behind = False
        self._drop_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self.dropped = 0
        self.purged = (0, 0)  # checks and alerts deleted by purges so far
        self.unwritten = (0, 0)  # checks and alerts still unwritten when the store closed
        # Checks and alerts queued, committed, and dropped after queueing (a row the
        # database can never take, rows held beyond MAX_PENDING): what is left to write at
        # a stop is the difference, and the last line counts only committed rows.
        self._count_lock = threading.Lock()
        self._queued = [0, 0]
        self.written = [0, 0]
        self._discarded = [0, 0]
        self._abandon = False  # set by a forced stop: the writer ends after its batch
        # Set when the database turns out damaged: retrying cannot help, the owner must stop.
        self.fatal: StoreError | None = None

    def _load_targets(self) -> dict[str, str]:
        """The targets recorded by the last run, for checks of monitors that the owner has
        not listed yet. A damaged file is found by the first write, as ever: not here."""
        try:
            return dict(self._conn.execute(
                "SELECT host, target FROM sites WHERE target IS NOT NULL"))
        except sqlite3.DatabaseError:
            return {}

    # -- API for any thread ---------------------------------------------------------
    def start(self) -> Store:
        self._progress = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        return self

    def put_check(self, result: CheckResult) -> None:
        if self._queue.qsize() >= MAX_QUEUED:
            # Memory stays bounded when the writer falls behind for long; alerts are
            # never dropped, and the count of dropped checks is reported.
            with self._drop_lock:
                self.dropped += 1
                if not self._behind:
                    self._behind = True
                    self._on_error(f"{self.path}: the writer is {MAX_QUEUED} checks behind;"
                                   " dropping new checks until it catches up")
            return
        with self._count_lock:
            self._queued[0] += 1
        self._queue.put(result)
        if (self._thread is not None and self._queue.qsize() > STALL_ROWS
                and time.monotonic() - self._progress > STALL_SECONDS):
            self._yield_to_writer()

    def _yield_to_writer(self) -> None:
        """Backpressure: the writer gives up the GIL at every database call and, with many
        busy worker threads, can wait seconds to win it back while checks pile up (a kill
        then loses them). A worker that finds it starved sleeps, which hands the GIL over,
        until a batch is written or for at most YIELD_AT_MOST: under overload, durability
        before punctuality."""
        seen = self._progress
        end = time.monotonic() + YIELD_AT_MOST
        while self._progress == seen and time.monotonic() < end:
            time.sleep(0.002)

    def lag(self) -> float:
        """Seconds the oldest row not yet on disk has been waiting, about: since the disk
        began to refuse, or since the writer last finished a batch with rows queued."""
        now = time.monotonic()
        if self._pending and self._failing_since is not None:
            return now - self._failing_since
        return now - self._progress if self._queue.qsize() else 0.0

    def put_alert(self, record: AlertRecord) -> None:
        with self._count_lock:
            self._queued[1] += 1
        self._queue.put(record)

    def left(self) -> tuple[int, int]:
        """Checks and alerts queued but not yet written (nor dropped)."""
        with self._count_lock:
            return (self._queued[0] - self.written[0] - self._discarded[0],
                    self._queued[1] - self.written[1] - self._discarded[1])

    def put_delivery(self, done: DeliveryDone) -> None:
        """How an attempt at sending an outbox row went (from a provider's sender). After
        `close`, ignored: the row, not marked, is sent again by the next start."""
        if not self._closed:
            self._queue.put(done)

    def set_maintenance(self, command: SetMaintenance) -> None:
        """Put a monitor in maintenance or take it out (`maintenance on|off NAME`)."""
        self._queue.put(command)

    def purge(self, before: float) -> None:
        self._queue.put(Purge(before))

    def flush(self, timeout: float = 5.0, urgent: bool = True) -> bool:
        """Wait until everything queued so far has been written; False if some of it is
        only held in memory (the disk refuses it) or the wait timed out. Not `urgent`: rows
        a refusing disk holds are not retried before their time."""
        if self._closed:
            return False  # a sender's send that ended after the stop
        if self._thread is None:
            self._drain_sync()
            return not self._pending
        barrier = Flush(urgent=urgent)
        self._queue.put(barrier)
        return barrier.done.wait(timeout) and barrier.written[0]

    def close(self, *, force: threading.Event | None = None,
              progress: Callable[[str], None] | None = None,
              timeout: float | None = None) -> None:
        """Write everything queued (one last try for rows the disk refused), then close;
        what still cannot be written is counted in `unwritten` and said in one message.

        It waits as long as the writing takes, saying what is left through `progress`
        every second; `force` set (a second Ctrl-C) or `timeout` passed, it stops after
        the batch in hand and names exactly what was not written."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(Stop())
            start = told = time.monotonic()
            while self._thread.is_alive():
                self._thread.join(0.05)
                now = time.monotonic()
                if (force is not None and force.is_set()) or (
                        timeout is not None and now - start >= timeout):
                    self._give_up()
                    return
                if progress is not None and now - told >= PROGRESS_EVERY:
                    told = now
                    checks, alerts = self.left()
                    what = (f"writing {checks} checks and {alerts} alerts to" if checks
                            or alerts else "every check and alert written; closing")
                    # Saying it must not stop the writing (a stderr nobody reads).
                    with contextlib.suppress(Exception):
                        progress(f"Stopping: {what} {self.path}, {now - start:.0f} s so far"
                                 " (Ctrl-C again to stop without waiting)")
            self._thread = None
        else:
            self._drain_sync()
        if self._pending:
            held = _sort(self._pending)
            checks, alerts = len(held.checks), len(held.alerts)
            self.unwritten = (checks, alerts)
            self._pending = []
            self._on_error(f"{self.path}: {checks} checks and {alerts} alerts could not be"
                           f" written before stopping ({self._last_error}); they are lost")
        _close_keeping_wal(self._conn, self.path)

    def _give_up(self) -> None:
        """A forced stop: the writer ends after the batch in hand; what it had not
        written is counted and named. A transaction cut by the exit rolls back whole,
        so rows not counted as written are not in the database."""
        self._abandon = True
        assert self._thread is not None
        self._thread.join(ABANDON_WAIT)
        self.unwritten = self.left()
        checks, alerts = self.unwritten
        if self._thread.is_alive():
            # Still in a transaction (a slow disk): leave it; the exit rolls it back.
            self._on_error(f"{self.path}: stopped while writing: {checks} checks and"
                           f" {alerts} alerts not written")
            return
        self._thread = None
        self._on_error(f"{self.path}: stopped before writing everything: {checks} checks"
                       f" and {alerts} alerts not written")
        self._pending = []
        with contextlib.suppress(sqlite3.Error):  # a forced exit waits for no lock
            self._conn.execute("PRAGMA busy_timeout=0")
        _close_keeping_wal(self._conn, self.path)

    def set_monitors(self, monitors: Iterable[Monitor | MonitorRow]) -> None:
        """Record the configured monitors (called before start or from the owning thread);
        the others are marked inactive."""
        self._queue.put(SetMonitors(monitor_rows(monitors)))
        if self._thread is None:
            self._drain_sync()


    # -- the writer thread ----------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop and not self._abandon:
            try:
                item = self._queue.get(timeout=RETRY_DELAY if self._pending else 1.0)
            except queue.Empty:
                item = None
            batch = [] if item is None else [item]
            deadline = time.monotonic() + BATCH_WAIT
            # Someone waits on a flush (a sender making "sent" durable before its next
            # send): write now rather than wait for more rows.
            while len(batch) < BATCH_MAX and not isinstance(item, Flush | Stop):
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(item)
            stop = any(isinstance(entry, Stop) for entry in batch)
            try:
                self._process(batch)
            except Exception as exc:  # noqa: BLE001 - the one writer must never die
                # _process guards each of its steps; this is the last resort for a bug in
                # it. Nothing is counted as dropped: what it wrote is written, and what it
                # held is still held.
                self._rollback()
                for entry in batch:
                    if isinstance(entry, Flush):
                        entry.done.set()
                with contextlib.suppress(Exception):
                    self._on_error(f"{self.path}: writer error: {exc!r}")
            self._progress = time.monotonic()
            if self._behind and self._queue.qsize() < MAX_QUEUED // 2:
                with self._drop_lock:
                    self._behind = False
                    self._on_error(f"{self.path}: the writer has caught up; {self.dropped}"
                                   " checks dropped so far")

    def _drain_sync(self) -> None:
        batch = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._process(batch, urgent=True)  # a flush or close by the owner: write now

    def _process(self, batch: list[Command], urgent: bool = False) -> None:
        control = _sort(e for e in batch if not _is_data(e))
        new = [e for e in batch if _is_data(e)]
        work = self._pending + new
        urgent = urgent or any(f.urgent for f in control.flushes) or control.stop
        if self._pending and not urgent and time.monotonic() < self._retry_at:
            # The disk refused the last write: retry once a second, not once per batch
            # (each retry rewrites everything held back).
            self._hold(work)
        elif work:
            self._write_all(work)
        if self.fatal is None:
            self._metrics.write(self._conn, force=urgent)
        for record in _sort(new).alerts:
            try:
                self.on_alert(record)
            except Exception as exc:  # noqa: BLE001 - announcing must not stop writing
                self._on_error(f"announcing an alert failed: {exc}")
        for purge in control.purges:
            try:
                self._purge(purge.before)
            except Exception as exc:  # noqa: BLE001 - a failed purge loses no new row
                # Left open, the failed purge's transaction would make the next write fail.
                self._rollback()
                self._on_error(f"{self.path}: purge failed: {exc}")
        for barrier in control.flushes:
            barrier.written[0] = not self._pending
            barrier.done.set()

    def _write_all(self, work: list[Command]) -> None:
        """Write `work` in one transaction; hold it for a retry if the database refuses
        (a full disk, a lock); on any other error, find the rows that cannot be written."""
        if self.fatal is not None:
            self._hold(work)  # a damaged database: kept for close() to count, not retried
            return
        try:
            self._write(work)
        except Exception as exc:  # noqa: BLE001 - sorted below: a refusal, or a bad row
            if _refused(exc):
                self._keep_pending(work, exc)  # type: ignore[arg-type]
            else:
                self._rollback()
                self._write_each(work)
            return
        self._written()

    def _write_each(self, work: list[Command]) -> None:
        """A row that can never be written (a bug in what made it: a NaN, a None where a
        number belongs) must cost that row alone, never the alerts and checks beside it:
        write them one at a time."""
        bad: list[str] = []
        for index, entry in enumerate(work):
            try:
                self._write([entry])
            except Exception as error:  # noqa: BLE001 - a refusal, or this row is the one
                if _refused(error):
                    self._keep_pending(work[index:], error)  # type: ignore[arg-type]
                    break
                self._rollback()
                match entry:
                    case CheckResult(monitor=name):
                        with self._drop_lock:
                            self.dropped += 1
                        with self._count_lock:
                            self._discarded[0] += 1
                        what = f"a check of {name}"
                    case AlertRecord(monitor=name):
                        with self._count_lock:
                            self._discarded[1] += 1
                        what = f"an alert of {name}"
                    case DeliveryDone(id=row):
                        what = f"the outcome of notification {row}"
                    case _:
                        what = "the list of monitors"
                bad.append(f"{what} ({error!r})")
        else:
            self._written()
        if bad:  # one message, however many: a bug that spoils every row must not flood
            more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
            self._on_error(f"{self.path}: could not write {bad[0]}{more}; dropped")

    def _written(self) -> None:
        """Everything held has been written."""
        self._pending = []
        if self._failing:
            self._failing = False
            self._failing_since = None
            self._on_error(f"{self.path}: writing resumed")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")
        # The cached aggregates already counted the rolled-back rows; reload them from the
        # database so that a retry does not count them twice.
        self._aggregates.clear()
        self._states.clear()

    def _keep_pending(self, work: list[Command], exc: sqlite3.Error) -> None:
        self._rollback()
        self._last_error = str(exc)
        self._retry_at = time.monotonic() + RETRY_DELAY
        self._hold(work)
        if _damaged(exc):
            self.fatal = StoreError(f"{self.path}: cannot write: the database is damaged"
                                    f" ({exc})")
            self._on_error(str(self.fatal))
        elif not self._failing:
            self._failing = True
            self._failing_since = time.monotonic()
            self._on_error(f"{self.path}: cannot write ({exc}); keeping checks in memory "
                           "and retrying")

    def _hold(self, work: list[Command]) -> None:
        checks = _sort(work).checks
        if len(checks) > MAX_PENDING:
            # Only checks are dropped, oldest first: alerts and monitor lists are kept.
            excess = len(checks) - MAX_PENDING
            self.dropped += excess
            with self._count_lock:
                self._discarded[0] += excess
            oldest = {id(e) for e in checks[:excess]}
            work = [e for e in work if id(e) not in oldest]
        self._pending = work

    def _write(self, commands: list[Command]) -> None:
        work = _sort(commands)
        conn = self._conn
        conn.execute("BEGIN")
        # The monitors first: a batch's checks of a monitor just added carry its target.
        for monitor_set in work.monitor_sets:
            self._write_monitors(monitor_set.monitors)
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
        for m in work.maintenance:
            if m.since is None:
                conn.execute("DELETE FROM maintenance WHERE monitor = ?", (m.monitor,))
            else:
                conn.execute("INSERT OR REPLACE INTO maintenance (monitor, since, until)"
                             " VALUES (?,?,?)", (m.monitor, m.since, m.until))
        conn.execute("COMMIT")
        with self._count_lock:
            self.written[0] += len(work.checks)
            self.written[1] += len(work.alerts)
        if work.checks:
            self._metrics.add(work.checks)
        self._aggregates.evict(len(self._states))

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
                (a.timestamp, targets.get(a.monitor, a.monitor), a.type, a.start, a.end,
                 a.availability, a.message, a.monitor if a.monitor in targets else None))
            if a.deliveries:
                alert = cursor.lastrowid
                rows = []
                for d in a.deliveries:
                    key = f"{alert}:{d.provider}"
                    rows.append((alert, key, d.provider, d.event,
                                 d.title.replace(KEY_FIELD, key),
                                 d.body.replace(KEY_FIELD, key), now))
                conn.executemany(
                    "INSERT INTO outbox (alert, key, provider, event, title, body, created)"
                    " VALUES (?,?,?,?,?,?,?)", rows)

    def _write_monitors(self, monitors: tuple[MonitorRow, ...]) -> None:
        conn = self._conn
        conn.execute("UPDATE sites SET active=0")
        conn.executemany(
            "INSERT INTO sites (host, name, interval, active, kind, target)"
            " VALUES (?,?,?,1,?,?) ON CONFLICT (host) DO UPDATE SET name=excluded.name,"
            " interval=excluded.interval, active=1, kind=excluded.kind,"
            " target=excluded.target",
            [(m.id, m.name, m.interval, m.kind, None if m.target == m.id else m.target)
             for m in monitors])
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
        # A monitor whose target is its id (every http monitor) stores monitor NULL.
        conn.execute(_INSERT_CHECKS, (json.dumps(
            [(c.timestamp, targets.get(c.monitor, c.monitor),
              None if c.available is None else int(c.available), c.code, c.response_ms,
              c.reason, c.detail or None, c.lateness_ms,
              c.monitor if c.monitor in targets else None, c.metrics or None,
              1 if c.warning else None)
             for c in checks]),))
        self._aggregates.write(conn, checks)
        self._states.write(conn, checks)

    def _purge(self, before: float) -> None:
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
        conn.execute("BEGIN")
        # Site by site, a seek each (by time alone it would be a scan of every row): every
        # site with aggregates has a state row.
        for span in SPANS:
            conn.execute("DELETE FROM aggregates WHERE host IN (SELECT host FROM site_state)"
                         " AND span = ? AND start < ?", (span, int(before // span) * span))
            conn.execute("DELETE FROM metric_aggs WHERE monitor IN (SELECT host FROM"
                         " site_state) AND span = ? AND start < ?",
                         (span, int(before // span) * span))
        # Keep each monitor's latest row of each group: the alert state a restart restores.
        alerts = conn.execute(
            "DELETE FROM website_alerts WHERE timestamp < ? AND id NOT IN (SELECT max(id)"
            f" FROM website_alerts GROUP BY coalesce(monitor, host), {TYPE_GROUP})",
            (iso_utc(before),),
        ).rowcount
        # The messages of the alerts purged go with them, sent or not.
        conn.execute("DELETE FROM outbox WHERE alert NOT IN (SELECT id FROM website_alerts)")
        conn.execute("COMMIT")
        self.purged = (self.purged[0] + checks, self.purged[1] + alerts)
        self._aggregates.forget_before(before)
        self._metrics.forget_before(before)


def _never_raising(say: Callable[[str], None]) -> Callable[[str], None]:
    """Saying what happened must never stop the writing (a stderr nobody reads raises)."""
    def quietly(message: str) -> None:
        with contextlib.suppress(Exception):
            say(message)
    return quietly


def _close_keeping_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Close the writing connection but leave the -wal and -shm files in place (the WAL
    emptied into the database first): SQLite deletes them when the last connection closes,
    and then the next start, or a reader, cannot make them again on a full disk ("disk I/O
    error"). A read-only connection closed last cannot delete them."""
    keeper = None
    with contextlib.suppress(sqlite3.Error):
        keeper = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
        keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with contextlib.suppress(sqlite3.Error):
        conn.close()
    if keeper is not None:
        with contextlib.suppress(sqlite3.Error):
            keeper.close()


