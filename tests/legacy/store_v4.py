# ruff: noqa
# The store of schema 4 as commit 1d28f40 had it, verbatim but for its import of the
# stats of that time (stats_v4) and today's name of a check's id (`monitor_id`): it writes
# the databases that the migration tests upgrade.
"""SQLite storage: the schema, the one writer thread, and read-only connections for readers.

One thread owns the connection that writes. Everything else hands it work through a
queue, and it commits in batches: one transaction per batch is what makes thousands of
checks a second cheap (WAL + synchronous=NORMAL). While it writes raw checks it keeps the
per-minute, per-site aggregates up to date, so that reports never scan the raw table.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import math
import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.model import CheckResult
from monitor.core.errors import StoreError
from tests.legacy.stats_v4 import MinuteAgg, upgrade_hist

SCHEMA_VERSION = 4
BATCH_MAX = 2000
BATCH_WAIT = 0.1  # seconds a batch may wait for more rows before it is committed
PURGE_CHUNK = 20000
RETRY_DELAY = 1.0
MAX_PENDING = 500_000  # rows kept in memory while the disk refuses writes
MAX_QUEUED = 500_000  # rows waiting for a writer that cannot keep up (a starved CPU)
STALL_ROWS = 100  # a queue this deep ...
STALL_SECONDS = 0.25  # ... with no batch finished for this long: the writer is starved
YIELD_AT_MOST = 0.5  # seconds a check's worker may wait for the writer to catch up
LATE_HORIZON = 120.0  # seconds after its end an aggregate row is kept in memory for late checks

SCHEMA = """
CREATE TABLE IF NOT EXISTS website_monitoring (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,          -- UTC, epoch seconds
    host TEXT NOT NULL,               -- the site's URL, password and secret values masked
    available INTEGER,                -- 1 up, 0 down, NULL unknown (the monitor was offline)
    status INTEGER,
    responseTime REAL NOT NULL,       -- milliseconds
    reason TEXT,
    detail TEXT,
    lateness REAL                     -- milliseconds after the scheduled start
);
-- Only the time is indexed: an index leading with the site would turn every insert into
-- a random B-tree write (measured: 1.2 M rows/s fall to 35 k rows/s). Per-site reads go
-- to aggregates instead.
CREATE INDEX IF NOT EXISTS website_monitoring_time ON website_monitoring(timestamp);

CREATE TABLE IF NOT EXISTS website_alerts (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,          -- UTC, ISO-8601 with Z
    host TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('alert', 'recovery')),
    startDate TEXT NOT NULL,
    endDate TEXT,
    availability REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS website_alerts_host ON website_alerts(host, id);

-- Per site, the checks of each minute (span 60) and of each 10 minutes (span 600), kept up
-- to date by the writer: counts, sums, extremes, and the response-time histogram. Keyed by
-- site first, so that a report reads each site's few rows in one seek per span, in site
-- order, with no sort. Blocks of 10 minutes before meta's blocks_since (a database older
-- than them) are not filled in.
CREATE TABLE IF NOT EXISTS aggregates (
    host TEXT NOT NULL,
    span INTEGER NOT NULL,            -- seconds: 60 or 600
    start INTEGER NOT NULL,           -- epoch seconds, a multiple of span
    checks INTEGER NOT NULL,
    up INTEGER NOT NULL,
    rt_count INTEGER NOT NULL,        -- checks that got an HTTP answer (timed ones)
    rt_sum REAL NOT NULL,
    rt_min REAL,
    rt_max REAL,
    hist TEXT NOT NULL,               -- response-time histogram (stats.HIST_DIGIT)
    outcomes TEXT NOT NULL,           -- codes, then reasons: "200:58,503:2,http_status:2"
    PRIMARY KEY (host, span, start)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
);

CREATE TABLE IF NOT EXISTS site_state (
    host TEXT PRIMARY KEY,
    last_check REAL NOT NULL,
    last_ok REAL,
    last_failure REAL,
    down_since REAL
);

CREATE TABLE IF NOT EXISTS sites (
    host TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    interval REAL NOT NULL,
    active INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    timestamp: str
    host: str
    type: str
    start: str
    end: str | None
    availability: float
    message: str
    id: int | None = None
    event: object = field(default=None, compare=False, repr=False)  # handed to on_alert


def _items(count: int) -> str:
    """The first `count` items of each JSON array of a json_each(?) parameter, as columns
    (json_extract rather than ->>, which needs SQLite 3.38)."""
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(count))


_INSERT_CHECKS = (
    "INSERT INTO website_monitoring (timestamp, host, available, status, responseTime, reason,"
    f" detail, lateness) SELECT {_items(8)} FROM json_each(?)")
# The aggregate levels: seconds per row.
SPANS = (60, 600)
_AGG_COLUMNS = "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
_UPSERT_AGGS = (
    f"INSERT INTO aggregates (host, span, start, {_AGG_COLUMNS}) SELECT {_items(11)}"
    " FROM json_each(?)"
    " WHERE true"  # the parser needs it: an upsert's SELECT must not end in its FROM
    " ON CONFLICT (host, span, start) DO UPDATE SET checks=excluded.checks,"
    " up=excluded.up, rt_count=excluded.rt_count, rt_sum=excluded.rt_sum,"
    " rt_min=excluded.rt_min, rt_max=excluded.rt_max, hist=excluded.hist,"
    " outcomes=excluded.outcomes")
_UPSERT_STATES = (
    "INSERT OR REPLACE INTO site_state (host, last_check, last_ok, last_failure, down_since)"
    f" SELECT {_items(5)} FROM json_each(?)")


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
        if version != SCHEMA_VERSION:
            if version == 1:
                _migrate_from_1(conn)
            conn.executescript(SCHEMA)
            if 0 < version < 4:
                _migrate_aggregates(conn, version)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {_explain(exc, path)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database: {exc.strerror}") from None
    return conn


def _migrate_from_1(conn: sqlite3.Connection) -> None:
    """Schema 1 had `available NOT NULL` (no "unknown") and hosts with passwords in them.
    SQLite cannot drop a NOT NULL, so the table is copied, in one transaction."""
    from monitor.core.secrets import display_url

    conn.create_function("display_url", 1, display_url, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE website_monitoring RENAME TO website_monitoring_v1")
        conn.execute("DROP INDEX IF EXISTS website_monitoring_time")
        # executescript would commit half-way: run the two statements one by one.
        for statement in SCHEMA.split(";"):
            if "website_monitoring" in statement and "CREATE" in statement:
                conn.execute(statement)
        conn.execute("INSERT INTO website_monitoring SELECT id, timestamp, display_url(host),"
                     " available, status, responseTime, reason, detail, lateness"
                     " FROM website_monitoring_v1")
        conn.execute("DROP TABLE website_monitoring_v1")
        for table in ("website_alerts", "minute_stats", "site_state", "sites"):
            conn.execute(f"UPDATE OR REPLACE {table} SET host = display_url(host)"
                         " WHERE host LIKE '%@%' OR host LIKE '%?%'")
        conn.execute("PRAGMA user_version=2")
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise


def _migrate_aggregates(conn: sqlite3.Connection, version: int) -> None:
    """Schemas 1-3 kept the aggregates in minute_stats (and, from 3, block_stats), keyed by
    time first, with histograms as "bucket:count,..." and statuses apart from reasons: move
    them into `aggregates`, in today's texts, in one transaction."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.create_function("upgrade_hist", 1, upgrade_hist, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version < 3:
            # Older history has no 10-minute rows: reports read its minutes instead.
            last = (conn.execute("SELECT max(minute) FROM minute_stats").fetchone()[0]
                    if "minute_stats" in tables else None)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('blocks_since', ?)",
                         (0 if last is None else last // 10 + 1,))
        for table, span, column in (("minute_stats", 60, "minute"),
                                    ("block_stats", 600, "block")):
            if table in tables:
                conn.execute(f"INSERT OR REPLACE INTO aggregates (host, span, start,"
                             f" {_AGG_COLUMNS}) SELECT host, {span}, {column} * {span},"
                             " checks, up, rt_count, rt_sum, rt_min, rt_max,"
                             " upgrade_hist(hist), statuses || CASE WHEN statuses <> ''"
                             f" AND reasons <> '' THEN ',' ELSE '' END || reasons FROM {table}"
                             " ORDER BY host, 2, 3")
                conn.execute(f"DROP TABLE {table}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise


def open_reader(path: str | Path) -> sqlite3.Connection:
    """A read-only connection for one reading thread (reports, `-a`, `-r`)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: database not found (start the monitor with -m first)")
    try:
        # A URI with the path percent-encoded: a raw '#', '?' or '%' in a folder name would cut
        # the path short, and the cut path would be opened (and created) read-write.
        conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read the database: {_explain(exc, path)}") from None
    if "website_alerts" not in tables:
        raise StoreError(f"{path}: not a monitoring database")
    return conn


class _Barrier:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.written = False


class _Purge:
    def __init__(self, before: float) -> None:
        self.before = before


_STOP = object()


class Store:
    """The single writer. `put_check` and `put_alert` never block the caller."""

    def __init__(self, path: str | Path, on_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._conn = open_writer_connection(self.path)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        # (seconds per row, row index, host) -> its aggregate, for rows still being filled
        self._aggs: dict[tuple[int, int, str], MinuteAgg] = {}
        self._states: dict[str, list] = {}
        # URL -> the newest check's monotonic start: the order of checks, which a rollback
        # of the cached states must not forget (its rows are retried).
        self._newest: dict[str, float] = {}
        self._evicted = 0  # the minute of the last eviction
        self._pending: list = []
        self._on_error = on_error or (lambda message: None)
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
        # Set when the database turns out damaged: retrying cannot help, the owner must stop.
        self.fatal: StoreError | None = None

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
        self._queue.put(record)

    def purge(self, before: float) -> None:
        self._queue.put(_Purge(before))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far has been written; False if some of it is
        only held in memory (the disk refuses it) or the wait timed out."""
        if self._thread is None:
            self._drain_sync()
            return not self._pending
        barrier = _Barrier()
        self._queue.put(barrier)
        return barrier.done.wait(timeout) and barrier.written

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (one last try for rows the disk refused), then close; what
        still cannot be written is counted in `unwritten` and said in one message."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still committing (a long purge, a slow disk): closing the connection under
                # it would roll back what it is writing. The daemon thread ends with us.
                self._on_error(f"{self.path}: still writing after {timeout:g} s; "
                               "left to finish")
                return
            self._thread = None
        else:
            self._drain_sync()
        if self._pending:
            checks = sum(isinstance(e, CheckResult) for e in self._pending)
            alerts = sum(isinstance(e, AlertRecord) for e in self._pending)
            self.unwritten = (checks, alerts)
            self._pending = []
            self._on_error(f"{self.path}: {checks} checks and {alerts} alerts could not be"
                           f" written before stopping ({self._last_error}); they are lost")
        _close_keeping_wal(self._conn, self.path)

    def write_sites(self, sites: Iterable[tuple[str, str, float]]) -> None:
        """Record the configured sites (called before start or from the owning thread)."""
        self._queue.put(("sites", list(sites)))
        if self._thread is None:
            self._drain_sync()

    # -- the writer thread ----------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=RETRY_DELAY if self._pending else 1.0)
            except queue.Empty:
                item = None
            batch = [] if item is None else [item]
            deadline = time.monotonic() + BATCH_WAIT
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            stop = any(entry is _STOP for entry in batch)
            try:
                self._process(batch)
            except Exception as exc:  # noqa: BLE001 - the one writer must never die
                # _process guards each of its steps; this is the last resort for a bug in
                # it. Nothing is counted as dropped: what it wrote is written, and what it
                # held is still held.
                self._rollback()
                for entry in batch:
                    if isinstance(entry, _Barrier):
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

    def _process(self, batch: list, urgent: bool = False) -> None:
        barriers = [e for e in batch if isinstance(e, _Barrier)]
        purges = [e for e in batch if isinstance(e, _Purge)]
        new = [e for e in batch if not isinstance(e, _Barrier | _Purge) and e is not _STOP]
        work = self._pending + new
        urgent = urgent or bool(barriers) or any(e is _STOP for e in batch)
        if self._pending and not urgent and time.monotonic() < self._retry_at:
            # The disk refused the last write: retry once a second, not once per batch
            # (each retry rewrites everything held back).
            self._hold(work)
        elif work:
            self._write_all(work)
        for record in new:
            if isinstance(record, AlertRecord):
                try:
                    self.on_alert(record)
                except Exception as exc:  # noqa: BLE001 - announcing must not stop writing
                    self._on_error(f"announcing an alert failed: {exc}")
        for purge in purges:
            try:
                self._purge(purge.before)
            except Exception as exc:  # noqa: BLE001 - a failed purge loses no new row
                # Left open, the failed purge's transaction would make the next write fail.
                self._rollback()
                self._on_error(f"{self.path}: purge failed: {exc}")
        for barrier in barriers:
            barrier.written = not self._pending
            barrier.done.set()

    def _write_all(self, work: list) -> None:
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

    def _write_each(self, work: list) -> None:
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
                if isinstance(entry, CheckResult):
                    with self._drop_lock:
                        self.dropped += 1
                what = "an alert" if isinstance(entry, AlertRecord) else "a check"
                bad.append(f"{what} of {getattr(entry, 'monitor', getattr(entry, 'host', '?'))}"
                           f" ({error!r})")
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
        self._aggs.clear()
        self._states.clear()

    def _keep_pending(self, work: list, exc: sqlite3.Error) -> None:
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

    def _hold(self, work: list) -> None:
        checks = [e for e in work if isinstance(e, CheckResult)]
        if len(checks) > MAX_PENDING:
            # Only checks are dropped, oldest first: alerts and site lists are kept.
            excess = len(checks) - MAX_PENDING
            self.dropped += excess
            oldest = {id(e) for e in checks[:excess]}
            work = [e for e in work if id(e) not in oldest]
        self._pending = work

    def _write(self, work: list) -> None:
        checks = [e for e in work if isinstance(e, CheckResult)]
        alerts = [e for e in work if isinstance(e, AlertRecord)]
        site_lists = [e[1] for e in work if isinstance(e, tuple) and e[0] == "sites"]
        conn = self._conn
        conn.execute("BEGIN")
        if checks:
            # Each statement is one call with the batch as a JSON array, not one call per
            # row: sqlite3 gives up the GIL at every row's step, and with busy worker
            # threads getting it back takes up to a switch interval (5 ms) each time. Per
            # row, a 2,000-row batch could take seconds to write while using milliseconds.
            conn.execute(_INSERT_CHECKS, (json.dumps(
                [(c.timestamp, c.monitor_id, None if c.available is None else int(c.available),
                  c.code, c.response_ms, c.reason, c.detail or None, c.lateness_ms)
                 for c in checks]),))
            self._preload(checks)
            dirty = self._aggregate(checks)
            conn.execute(_UPSERT_AGGS, (json.dumps(
                [(key[2], key[0], key[0] * key[1], *self._aggs[key].to_row())
                 for key in dirty]),))
            conn.execute(_UPSERT_STATES, (json.dumps(
                [(host, *self._states[host][:4]) for host in {c.monitor_id for c in checks}]),))
        if alerts:
            conn.executemany(
                "INSERT INTO website_alerts (timestamp, host, type, startDate, endDate,"
                " availability, message) VALUES (?,?,?,?,?,?,?)",
                [(a.timestamp, a.host, a.type, a.start, a.end, a.availability, a.message)
                 for a in alerts],
            )
        for sites in site_lists:
            conn.execute("UPDATE sites SET active=0")
            conn.executemany(
                "INSERT INTO sites (host, name, interval, active) VALUES (?,?,?,1)"
                " ON CONFLICT (host) DO UPDATE SET name=excluded.name,"
                " interval=excluded.interval, active=1",
                sites,
            )
        conn.execute("COMMIT")
        self._evict()

    def _preload(self, checks: list[CheckResult]) -> None:
        """Fill the caches for the minutes and sites of this batch that they lack, one
        query each: after a restart the minute in progress already has a row to continue."""
        keys = {(span, int(c.timestamp // span), c.monitor_id) for c in checks for span in SPANS}
        keys -= self._aggs.keys()
        if keys:
            for key in keys:
                self._aggs[key] = MinuteAgg()
            for host, span, start, *row in self._conn.execute(
                f"SELECT host, span, start, {_AGG_COLUMNS} FROM aggregates"
                f" WHERE (host, span, start) IN (SELECT {_items(3)} FROM json_each(?))",
                (json.dumps([(host, span, span * index) for span, index, host in keys]),)):
                self._aggs[(span, start // span, host)] = MinuteAgg.from_row(row)
        hosts = {c.monitor_id for c in checks} - self._states.keys()
        if hosts:
            # The fifth item, the newest check's start on the monotonic clock, lives in
            # memory only (and survives a rollback in _newest): after a restart the first
            # check is the present.
            for host in hosts:
                self._states[host] = [0.0, None, None, None, self._newest.get(host)]
            for host, *row in self._conn.execute(
                "SELECT host, last_check, last_ok, last_failure, down_since FROM site_state"
                " WHERE host IN (SELECT value FROM json_each(?))", (json.dumps(list(hosts)),)):
                self._states[host] = [*row, self._newest.get(host)]

    def _aggregate(self, checks: list[CheckResult]) -> set[tuple[int, int, str]]:
        dirty = set()
        for check in checks:
            for span in SPANS:
                key = (span, int(check.timestamp // span), check.monitor_id)
                self._aggs[key].add(check.response_ms, check.available, check.code,
                                    check.reason)
                dirty.add(key)
            self._update_state(check)
        return dirty

    def _update_state(self, check: CheckResult) -> None:
        state = self._states[check.monitor_id]
        ts = check.timestamp
        if check.available is None:  # unknown says nothing about the site's state
            return
        # Ordered by the monotonic clock: after the wall clock steps back, every new check
        # is "older" than the last one stored, and down_since would never clear.
        if state[4] is not None and check.mono < state[4]:
            # A slow check finishing after a newer one: it is history, not the present.
            if check.available:
                state[1] = max(state[1] or 0.0, ts)
            else:
                state[2] = max(state[2] or 0.0, ts)
            return
        state[0] = ts
        state[4] = self._newest[check.monitor_id] = check.mono
        if check.available:
            state[1] = ts
            state[3] = None
        else:
            state[2] = ts
            if state[3] is None:
                state[3] = ts

    def _evict(self) -> None:
        """Once a minute, forget the rows that ended over LATE_HORIZON ago: a check that
        late is rare, and reloads its row. Evicting by size alone, every site's previous
        10-minute block stayed in memory until up to 10 minutes into the next one."""
        now = self._clock()
        minute = int(now // 60)
        if minute == self._evicted and len(self._aggs) <= 4 * len(SPANS) * len(self._states):
            return
        self._evicted = minute
        horizon = now - LATE_HORIZON
        for key in [k for k in self._aggs if (k[1] + 1) * k[0] < horizon]:
            del self._aggs[key]

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
        # Keep each site's latest alert row: it is the alert state a restart restores.
        alerts = conn.execute(
            "DELETE FROM website_alerts WHERE timestamp < ? AND id NOT IN"
            " (SELECT max(id) FROM website_alerts GROUP BY host)", (iso_utc(before),)).rowcount
        conn.execute("COMMIT")
        self.purged = (self.purged[0] + checks, self.purged[1] + alerts)
        self._aggs = {k: v for k, v in self._aggs.items() if k[1] >= int(before // k[0])}


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


def iso_utc(epoch: float) -> str:
    """UTC time as ISO-8601 with milliseconds and Z: fixed width, so text order is time order."""
    seconds = math.floor(epoch)  # not int(): before 1970 that would leave negative millis
    millis = int(round((epoch - seconds) * 1000))
    if millis == 1000:
        seconds, millis = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_iso(text: str) -> float:
    """Inverse of iso_utc."""
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (int(frac) / 10 ** len(frac) if frac else 0.0)
