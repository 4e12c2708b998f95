"""The writer of both stores: one thread owns the connection that writes; everything else
hands it typed commands (monitor.store.api) through a queue, and it commits them in
batches, one transaction each: one transaction per batch is what makes thousands of checks a
second cheap. The queue, the batches and when they are written, the counts, the
backpressure, the flush rules and the stop are this module's, the same for SQLite and
PostgreSQL; each store gives it its database's parts (sqlite/writer.py, postgres/writer.py):
what a batch writes (its Batches: batch.py), which errors hold rows (holding.py), and how
the connection closes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, Self

from monitor.core.errors import StoreError
from monitor.core.model import CheckResult, Monitor
from monitor.store.api import (
    Ack,
    AgentMark,
    AgentSeen,
    AlertRecord,
    CheckBatch,
    Command,
    DeliveryDone,
    Flush,
    MonitorRow,
    Purge,
    RecordPush,
    RecordSeries,
    Rows,
    SetMaintenance,
    SetMonitors,
    Stop,
)
from monitor.store.holding import RETRY_DELAY, Faults, Holding
from monitor.store.steps import Steps
from monitor.store.work import Work, is_data, sort

BATCH_MAX = 2000
BATCH_WAIT = 0.1  # seconds a batch may wait for more rows before it is committed
MAX_QUEUED = 500_000  # rows waiting for a writer that cannot keep up (a starved CPU)
MAX_SERIES_QUEUED = 500_000  # values of metric series waiting: more are refused
SERIES_PER_ROW = 25  # pushed values that count as one row of a batch
PROGRESS_EVERY = 1.0  # seconds between the stop's "writing N left" lines
ABANDON_WAIT = 2.0  # seconds a forced stop waits for the batch in hand
STALL_ROWS = 100  # a queue this deep ...
STALL_SECONDS = 0.25  # ... with no batch finished for this long: the writer is starved
YIELD_AT_MOST = 0.5  # seconds a check's worker may wait for the writer to catch up


def monitor_rows(monitors: Iterable[Monitor | MonitorRow]) -> tuple[MonitorRow, ...]:
    """Monitors as the store keeps them."""
    return tuple(MonitorRow(m.id, m.kind, m.target, m.name, m.interval)
                 if isinstance(m, Monitor) else m for m in monitors)


class Batches(Protocol):
    """What a database writes for the writer, on its thread (each store's batch.py)."""

    def write(self, commands: list[Command]) -> Work:
        """`commands` in one transaction; raises what the database raised, the transaction
        left open (rolled back by `rollback`)."""

    def write_folds(self, force: bool) -> None:
        """The aggregates and states the checks changed, when due or `force`d."""

    def write_metrics(self, force: bool, stopping: bool = False) -> None: ...

    def write_series(self, force: bool) -> None: ...

    def drop_metrics(self) -> None: ...

    def drop_series(self) -> None: ...

    def roll_up(self) -> None:
        """The hours that have ended rolled up, when a pass is due."""

    def rollback(self) -> None: ...

    def purge(self, before: float, tiers: dict[int, float | None]) -> tuple[int, int]:
        """Rows older than their cutoff deleted: the checks and alerts deleted."""


def never_raising(say: Callable[[str], None] | None) -> Callable[[str], None]:
    """Saying what happened must never stop the writing (a stderr nobody reads raises)."""
    def quietly(message: str) -> None:
        with contextlib.suppress(Exception):
            if say is not None:
                say(message)
    return quietly


class Writer:
    """The single writer, over a database's parts: `batches` writes them, `faults` tells
    its errors apart, `close_database(forced)` closes its connection (`forced`: a forced
    stop, which must wait for no lock), `path` names it in messages (masked). `put_check`
    and `put_alert` never block the caller. `rolls`: this writer rolls the hours up (see
    rollups.py): only the monitor that owns the database does, never a writer beside it
    (`serve`, `logs`, maintenance, purge); switched with a shared database's lease."""

    def __init__(self, path: object, batches: Batches, faults: Faults,
                 close_database: Callable[[bool], None], say: Callable[[str], None],
                 rolls: bool) -> None:
        self.rolls = rolls
        self._close_database = close_database
        self._closed = False  # set by close(): late deliveries and flushes are ignored
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._on_error = say
        self._where = path
        self._batch = batches
        self._steps = Steps(path, say, batches.rollback)
        # Rows the database refused: held, retried, the bad ones dropped.
        self._held = Holding(path, self._write, batches.rollback, self._discard, say, faults)
        # Called on the writer thread with each new alert once its batch has been written,
        # or kept in memory because the disk refuses it: alerting goes on on a full disk.
        self.on_alert: Callable[[AlertRecord], None] = lambda record: None
        self._progress = time.monotonic()  # when the writer last finished a batch
        self._behind = False
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.purged = Rows()  # deleted by purges so far
        self.unwritten = Rows()  # still unwritten when the store closed
        # Checks and alerts queued, committed, and dropped after queueing (a row the
        # database can never take, rows held beyond MAX_PENDING): what is left to write at
        # a stop is the difference, and the last line counts only committed rows. One lock
        # for every count (`dropped` too): they are changed from several threads.
        self._count_lock = threading.Lock()
        self._queued = _Counts()
        self._written = _Counts()
        self._discarded = _Counts()
        self._abandon = False  # set by a forced stop: the writer ends after its batch
        self._series_queued = 0  # values of metric series in the queue

    @property
    def fatal(self) -> StoreError | None:
        """Set when the database turns out damaged: retrying cannot help, the owner must
        stop."""
        return self._held.fatal

    # -- API for any thread ---------------------------------------------------------
    def start(self) -> Self:
        self._progress = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        return self

    def put_check(self, result: CheckResult) -> None:
        self.put_checks([result])

    def put_checks(self, results: list[CheckResult], mark: AgentMark | None = None) -> bool:
        """Checks to write, in order: one queue item for them all. With an agent's `mark`,
        the rows and the mark are written in one transaction (a rows-only duplicate of what
        the mark says is stored is skipped: see AgentMark). False, nothing queued, when the
        writer is MAX_QUEUED checks behind (an agent's batch is then refused: resent)."""
        if mark is not None and mark.ids and (
                len(mark.ids) != len(results) or max(mark.ids) > mark.upto
                or any(a >= b for a, b in zip(mark.ids, mark.ids[1:], strict=False))):
            raise ValueError(f"agent {mark.name}: the ids of a batch must be increasing,"
                             " one per row, none above its upto")
        with self._count_lock:
            waiting = self._left().checks
            if waiting >= MAX_QUEUED:
                # Memory stays bounded when the writer falls behind for long; alerts are
                # never dropped, and the count of dropped checks is reported.
                self.dropped += len(results)
                if not self._behind:
                    self._behind = True
                    self._on_error(f"{self._where}: the writer is {waiting} checks behind;"
                                   " dropping new checks until it catches up")
                return False
            self._queued.checks += len(results)
        self._queue.put(CheckBatch(results, mark))
        if (self._thread is not None and self._queue.qsize() > STALL_ROWS
                and time.monotonic() - self._progress > STALL_SECONDS):
            self._yield_to_writer()
        return True

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
        if self._held.rows and self._held.failing_since is not None:
            return now - self._held.failing_since
        return now - self._progress if self._queue.qsize() else 0.0

    @property
    def refusing(self) -> bool:
        """The database refuses to write (a full disk, a lock): rows are held."""
        return self._held.failing_since is not None

    def put_alert(self, record: AlertRecord) -> None:
        with self._count_lock:
            self._queued.alerts += 1
        self._queue.put(record)

    @property
    def written(self) -> Rows:
        """Rows committed so far."""
        with self._count_lock:
            return Rows(self._written.checks, self._written.alerts)

    def left(self) -> Rows:
        """Rows queued but not yet written (nor dropped)."""
        with self._count_lock:
            return self._left()

    def _left(self) -> Rows:
        """`left`, for a caller that holds the count lock."""
        queued, written, discarded = self._queued, self._written, self._discarded
        return Rows(queued.checks - written.checks - discarded.checks,
                    queued.alerts - written.alerts - discarded.alerts)

    def put_delivery(self, done: DeliveryDone) -> None:
        """How an attempt at sending an outbox row went (from a provider's sender). After
        `close`, ignored: the row, not marked, is sent again by the next start."""
        if not self._closed:
            self._queue.put(done)

    def put_agent_seen(self, seen: AgentSeen) -> None:
        """An agent heard by this process (throttled by the caller); never blocks."""
        self._queue.put(seen)

    def put_ack(self, ack: Ack) -> None:
        """Acknowledge an alert (from the web server); never blocks."""
        self._queue.put(ack)

    def put_push(self, push: RecordPush) -> bool:
        """A push to a push monitor (from the web server); never blocks. False, and nothing
        queued, when the writer is MAX_QUEUED commands behind."""
        if self._queue.qsize() >= MAX_QUEUED:
            return False
        self._queue.put(push)
        return True

    def put_series(self, command: RecordSeries) -> bool:
        """Values pushed to metric series (from the web server); never blocks. False, and
        nothing queued, when they could not be written soon: the store closed, the disk
        refusing (held rows are kept in memory: a client sends again instead), or
        MAX_SERIES_QUEUED values waiting already."""
        with self._count_lock:
            if (self._closed or self._held.failing_since is not None
                    or self._series_queued + len(command.points) > MAX_SERIES_QUEUED):
                return False
            self._series_queued += len(command.points)
        self._queue.put(command)
        return True

    def set_maintenance(self, command: SetMaintenance) -> None:
        """Put a monitor in maintenance or take it out (`maintenance on|off NAME`)."""
        self._queue.put(command)

    def purge(self, before: float, tiers: dict[int, float | None] | None = None) -> None:
        """Delete checks and alerts older than `before`, aggregates too (each span's older
        than its cutoff in `tiers`, if given; None: kept)."""
        self._queue.put(Purge(before, tuple((tiers or {}).items())))

    def flush(self, timeout: float = 5.0, urgent: bool = True) -> bool:
        """Wait until everything queued so far has been written; False if some of it is
        only held in memory (the disk refuses it) or the wait timed out. Not `urgent`: rows
        a refusing disk holds are not retried before their time, and the aggregates of
        the rows are written at their own cadence, not now."""
        if self._closed:
            return False  # a sender's send that ended after the stop
        if self._thread is None:
            self._drain_sync()
            return not self._held.rows
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
                        progress(f"Stopping: {what} {self._where}, {now - start:.0f} s so far"
                                 " (Ctrl-C again to stop without waiting)")
            self._thread = None
        else:
            self._drain_sync()
        if self._held.rows:
            held = sort(self._held.rows)
            checks, alerts = len(held.checks), len(held.alerts)
            self.unwritten = Rows(checks, alerts)
            self._held.rows = []
            self._on_error(f"{self._where}: {checks} checks and {alerts} alerts could not be"
                           f" written before stopping ({self._held.last_error}); they are lost")
        self._close_database(False)

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
            self._on_error(f"{self._where}: stopped while writing: {checks} checks and"
                           f" {alerts} alerts not written")
            return
        self._thread = None
        self._on_error(f"{self._where}: stopped before writing everything: {checks} checks"
                       f" and {alerts} alerts not written")
        self._held.rows = []
        self._close_database(True)

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
                item = self._queue.get(timeout=RETRY_DELAY if self._held.rows else 1.0)
            except queue.Empty:
                item = None
            batch = [] if item is None else [item]
            size = _rows(item)
            deadline = time.monotonic() + BATCH_WAIT
            # Someone waits on a flush (a sender making "sent" durable before its next
            # send): write now rather than wait for more rows.
            while size < BATCH_MAX and not isinstance(item, Flush | Stop):
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(item)
                size += _rows(item)
            stop = any(isinstance(entry, Stop) for entry in batch)
            try:
                self._process(batch)
            except Exception as exc:  # noqa: BLE001 - the one writer must never die
                # _process guards each of its steps; this is the last resort for a bug in
                # it. Nothing is counted as dropped: what it wrote is written, and what it
                # held is still held.
                self._batch.rollback()
                for entry in batch:
                    if isinstance(entry, Flush):
                        entry.done.set()
                self._on_error(f"{self._where}: writer error: {exc!r}")  # never raises
            self._progress = time.monotonic()
            if self._behind and self.left().checks < MAX_QUEUED // 2:
                with self._count_lock:
                    self._behind = False
                    self._on_error(f"{self._where}: the writer has caught up; {self.dropped}"
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
        control = sort(e for e in batch if not is_data(e))
        new = [e for e in batch if is_data(e)]
        taken = sum(len(e.points) for e in new if isinstance(e, RecordSeries))
        if taken:
            with self._count_lock:
                self._series_queued -= taken
        work = self._held.rows + new
        urgent = urgent or any(f.urgent for f in control.flushes) or control.stop
        if not urgent and self._held.waiting():
            # The disk refused the last write: retry once a second, not once per batch
            # (each retry rewrites everything held back).
            self._held.hold(work)
        elif work:
            self._held.write_all(work)
        if self.fatal is None:  # each step guarded: the alerts and flushes below must happen
            writes, steps = self._batch, self._steps
            # What an urgent flush waits for includes the aggregates of the checks it
            # follows; a non-urgent one (an agent's batch, a sender's mark) only their
            # commit, the aggregates following within FOLD_EVERY: forced at every post, the
            # folds cost four times the rows (bench.agents). (A writer folding in the
            # batch's own transaction, as one of several on a database, has none left.)
            steps.run("writing the aggregates", lambda: writes.write_folds(urgent))
            stopping = control.stop
            steps.run("summing the check metrics",
                      lambda: writes.write_metrics(urgent, stopping), writes.drop_metrics)
            steps.run("summing the metric series", lambda: writes.write_series(urgent),
                      writes.drop_series)
            if self.rolls and not self._held.rows:  # (not while the disk refuses checks)
                steps.run("rolling up the hours", writes.roll_up)
        for record in sort(new).alerts:
            try:
                self.on_alert(record)
            except Exception as exc:  # noqa: BLE001 - announcing must not stop writing
                self._on_error(f"announcing an alert failed: {exc}")
        for purge in control.purges:
            try:
                checks, alerts = self._batch.purge(purge.before, dict(purge.tiers))
                self.purged = Rows(self.purged.checks + checks, self.purged.alerts + alerts)
            except Exception as exc:  # noqa: BLE001 - a failed purge loses no new row
                # Left open, the failed purge's transaction would make the next write fail.
                self._batch.rollback()
                if not self._held.damaged_by(exc):
                    self._on_error(f"{self._where}: purge failed: {exc}")
        for barrier in control.flushes:
            barrier.written[0] = not self._held.rows
            barrier.done.set()

    def _write(self, commands: list[Command]) -> None:
        """One transaction (Holding decides what to do when it fails)."""
        work = self._batch.write(commands)
        with self._count_lock:
            # Rows an agent resent are stored already: written as far as the count goes.
            self._written.checks += len(work.checks) + work.skipped
            self._written.alerts += len(work.alerts)

    def _discard(self, checks: int, alerts: int) -> None:
        """Rows dropped for good after they were queued: never to be written."""
        with self._count_lock:
            self.dropped += checks
            self._discarded.checks += checks
            self._discarded.alerts += alerts


@dataclass(slots=True)
class _Counts:
    """Rows counted as they go (queued, committed, dropped), under the store's lock."""

    checks: int = 0
    alerts: int = 0


def _rows(item: Command | None) -> int:
    """Rows a command writes, as BATCH_MAX counts them: SERIES_PER_ROW pushed values count
    as one, so that a batch of them stays a transaction of well under a second (each
    transaction rewrites an index page per series: a batch much smaller costs more)."""
    if item is None:
        return 0
    if isinstance(item, CheckBatch):
        return len(item)
    return -(-len(item.points) // SERIES_PER_ROW) if isinstance(item, RecordSeries) else 1
