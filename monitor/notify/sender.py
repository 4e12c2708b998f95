"""Delivering the outbox: one sender per provider, on a thread of its own with a reader of
its own, so that a provider that hangs or fails delays no check and no other provider.

A sender reads the provider's due rows (`Reader.pending_deliveries`), sends each, and tells
the writer how it went (`Store.put_delivery`). A failed row is tried again after a backoff
(5 s, 10 s, 20 s... at most 5 min), its last try at the latest LAST_TRY seconds before its
deadline, `retry_for` seconds after it was written; then it is marked failed with its last
error and one warning says so. The deadline is checked before each send: a row found past
it (the monitor was stopped, or it waited behind a failing one) is marked failed unsent
("expired after notifyRetryFor..."), never sent late. After a failure the sender sends
nothing until that retry comes due (the provider is down: trying the next rows would only
wait for the same timeout again), and no later row goes before an earlier one: per
provider, messages are sent in the order of their alerts, across restarts and reloads (the
reader's due rows stop at the first that waits for its retry).

Delivery is at least once: a row is marked only after its send, so a send in flight when
the process dies (or the sender is stopped) is sent again by the next run, with the same
key.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.config.notify import fill
from monitor.core.errors import StoreError
from monitor.notify.send import DEFAULT_TIMEOUT, Provider, clean, send
from monitor.store.api import DeliveryDone, OutboxRow, Reader
from monitor.store.open import AnyStore as Store
from monitor.store.open import database, open_reader

DEFAULT_RETRY_FOR = 3600.0  # notifyRetryFor
FIRST_DELAY = 5.0
MAX_DELAY = 300.0
LAST_TRY = 5.0  # seconds before its deadline that a row's last try is made at the latest
POLL = 1.0  # seconds between looks at the outbox when nobody wakes the sender
BATCH = 100  # rows read at a time

Clock = Callable[[], float]
OnError = Callable[[str], None]


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 5, 10, 20... then 300."""
    return min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, min(attempts - 1, 30)))


@dataclass(frozen=True, slots=True)
class _Mark:
    """What this sender last told the writer about a row, until the row shows it: the
    writer is asynchronous, and a row read again before its outcome is written must not
    be sent twice."""

    attempts: int  # the row's attempts once written
    retry_at: float | None  # None: sent or failed for good


DURABLE_WAIT = 2.0  # seconds a sender waits for "sent" to be committed (a full disk: longer)


class Sender:
    """Delivers one provider's outbox rows: `start()`, `wake()`, `stop()`. `clock` gives
    the epoch time of the schedule (backoff, give-up); `step()` is one pass, for a caller
    (a test) that drives the sender without its thread."""

    def __init__(self, provider: Provider, store: Store, db_path: str | Path, *,
                 retry_for: float = DEFAULT_RETRY_FOR, on_error: OnError | None = None,
                 clock: Clock = time.time, timeout: float = DEFAULT_TIMEOUT,
                 poll: float = POLL, batch: int = BATCH) -> None:
        self.provider = provider
        self.retry_for = retry_for
        self._store = store
        self._db_path = database(db_path)
        self._on_error: OnError = on_error or (lambda text: None)
        self._clock = clock
        self._timeout = timeout
        self._poll = poll
        self._batch = batch
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: Reader | None = None
        self._marks: dict[int, _Mark] = {}
        self._paused_until = 0.0  # after a failure: no send before this (clock time)
        self._failures = 0  # consecutive failed sends
        self._last_error = ""
        self._read_failing = False
        self._read_count = 0
        self._outcomes = 0
        self.sent = 0
        self.failed = 0  # attempts that failed
        self.passes = 0  # steps done, whatever they found

    @property
    def name(self) -> str:
        return self.provider.name

    # -- the thread -------------------------------------------------------------------
    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (an alert was just written)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Send nothing more (a send in flight ends by its timeouts)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop sending; wait up to `timeout` for the thread. False if it is still in a
        send: it is left to end by itself (a daemon), and its row, unmarked, is sent again
        by the next start."""
        self.request_stop()
        if self._thread is None:
            self._close_reader()
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _say(self, text: str) -> None:
        # A printer that fails (a closed stderr) must not end this provider's deliveries.
        with contextlib.suppress(Exception):
            self._on_error(text)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        broken = False
        try:
            while not self._stopping.is_set():
                self._wake.clear()  # before the read: a wake during the pass is not lost
                try:
                    progress = self.step()
                    broken = False
                except Exception as exc:  # noqa: BLE001 - a bug must not end the deliveries
                    progress = 0
                    if not broken:
                        broken = True
                        self._say(clean(f"notifications to {self.name}: unexpected"
                                             f" {type(exc).__name__}: {exc}",
                                             self.provider.secrets))
                    self._close_reader()
                # A full batch with progress: more rows may be due at once.
                if not (progress and self._read_count >= self._batch and not self._paused()):
                    self._wake.wait(self._poll)
        finally:
            self._close_reader()

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- one pass -----------------------------------------------------------------------
    def step(self) -> int:
        """Send the due rows (until a failure); the count of rows whose outcome was given
        to the writer (sent, to retry, failed)."""
        self.passes += 1
        rows = self._read()
        self._read_count = len(rows) if rows is not None else 0
        if rows is None:
            return 0
        self._forget_written(rows)
        outcomes = self._outcomes
        given_up: list[_GivenUp] = []
        for row in rows:
            if self._stopping.is_set():
                break
            attempts = self._attempts(row)
            if attempts is None:
                if self._marks[row.id].retry_at is not None:
                    break  # it waits for its retry: no later row goes before it
                continue  # sent or failed: its outcome is on its way to the database
            if self._clock() >= self.deadline(row):
                # Checked before sending: a row past its time (the monitor was stopped,
                # or the row waited behind a failing one) is given up unsent.
                self._expire(row, attempts, given_up)
                continue
            if self._paused():
                continue  # the provider failed a moment ago: nothing before its retry
            # A field on the key with a spec ("{key:>10}") is formatted now, with the key.
            known = {"key": row.key}
            error = send(self.provider, fill(row.title, known), fill(row.body, known),
                         row.key, self._timeout, row.event)
            if error is None:
                self._done(row, attempts + 1, DeliveryDone(row.id, self._clock()))
                self._failures = 0
                self.sent += 1
                continue
            self.failed += 1
            self._failures += 1
            self._last_error = error
            now = self._clock()
            # The next try comes after the backoff, and at the latest LAST_TRY seconds
            # before the deadline (one found later is expired); no time left: given up.
            retry_at = min(now + backoff(attempts + 1), self.deadline(row) - LAST_TRY)
            if retry_at <= now:
                self._done(row, attempts + 1, DeliveryDone(row.id, now, error))
                given_up.append(_GivenUp(attempts + 1, error, expired=False))
                self._paused_until = now + backoff(self._failures)
            else:
                self._done(row, attempts + 1, DeliveryDone(row.id, now, error, retry_at))
                self._paused_until = retry_at
        if given_up:
            self._warn(given_up)
        return self._outcomes - outcomes

    def deadline(self, row: OutboxRow) -> float:
        """When `row` is given up if not sent: `retry_for` seconds after it was written
        (with its alert, in one transaction: the alert's moment, unless a full disk held
        them; then the row still gets its whole time once written)."""
        return row.created + self.retry_for

    def _read(self) -> list[OutboxRow] | None:
        try:
            if self._reader is None:
                self._reader = open_reader(self._db_path)
            rows = self._reader.pending_deliveries(self.name, self._clock(), self._batch)
        except StoreError as exc:
            # The database is read again at the next look; one message per streak.
            if not self._read_failing:
                self._read_failing = True
                self._say(f"notifications to {self.name}: cannot read the outbox:"
                               f" {clean(str(exc), self.provider.secrets)}")
            self._close_reader()
            return None
        if self._read_failing:
            self._read_failing = False
            self._say(f"notifications to {self.name}: the outbox is readable again")
        return rows

    def _paused(self) -> bool:
        return self._clock() < self._paused_until

    def _attempts(self, row: OutboxRow) -> int | None:
        """The attempts made at `row` so far, or None if this sender's last outcome for it
        is not written yet and settles it (sent, failed, or not yet due again)."""
        mark = self._marks.get(row.id)
        if mark is None or row.attempts >= mark.attempts:
            return row.attempts
        if mark.retry_at is not None and self._clock() >= mark.retry_at:
            return mark.attempts  # due again although the writer lags (a full disk)
        return None

    def _forget_written(self, rows: Sequence[OutboxRow]) -> None:
        """Drop the marks of rows whose outcome the database shows. The rows read are all
        the due rows up to the last one's id (all of them when fewer than a batch): a
        marked row among those ids that was not read is sent, failed or not due, so its
        outcome is written."""
        if not self._marks:
            return
        read = {row.id: row for row in rows}
        last = rows[-1].id if len(rows) >= self._batch else None
        for row_id, mark in list(self._marks.items()):
            row = read.get(row_id)
            if row is not None:
                if row.attempts >= mark.attempts:
                    del self._marks[row_id]
            elif last is None or row_id <= last:
                del self._marks[row_id]

    def _done(self, row: OutboxRow, attempts: int, done: DeliveryDone) -> None:
        self._store.put_delivery(done)
        if done.error is None and not self._stopping.is_set():
            # Committed before the next send: a kill -9 then repeats at most the one send
            # in flight, not every send of the writer's last batch.
            # Not urgent: on a full disk, what the writer holds is retried on its own
            # schedule, not once per message sent.
            self._store.flush(DURABLE_WAIT, urgent=False)
        self._outcomes += 1
        self._marks[row.id] = _Mark(attempts, done.retry_at if done.error else None)

    def _expire(self, row: OutboxRow, attempts: int, given_up: list[_GivenUp]) -> None:
        """Give `row` up without sending it: its deadline has passed."""
        last = row.error or self._last_error
        error = (f"expired after notifyRetryFor ({self.retry_for:g} s), not sent"
                 + (f"; last error: {last}" if last else ""))
        # No attempt is counted; the mark is one more than the row shows all the same, so
        # that the row, read again before its outcome is written, is left alone.
        self._done(row, attempts + 1, DeliveryDone(row.id, self._clock(),
                                                   clean(error, self.provider.secrets),
                                                   attempted=False))
        given_up.append(_GivenUp(attempts, last, expired=True))

    def _warn(self, given_up: list[_GivenUp]) -> None:
        """One warning for the rows given up in one pass."""
        last = given_up[-1]
        if len(given_up) > 1:
            error = next((g.error for g in reversed(given_up) if g.error), "")
            self._say(f"{len(given_up)} notifications to {self.name} given up after"
                      f" notifyRetryFor ({self.retry_for:g} s), not sent"
                      + (f"; last error: {error}" if error else ""))
            return
        plural = "s" if last.attempts != 1 else ""
        if not last.expired:
            self._say(f"notification to {self.name} failed for good after {last.attempts}"
                      f" attempt{plural}: {last.error}")
            return
        tried = (f"{last.attempts} attempt{plural}; last error: {last.error}"
                 if last.attempts and last.error else "never tried")
        self._say(f"notification to {self.name} expired after notifyRetryFor"
                  f" ({self.retry_for:g} s), not sent ({tried})")


@dataclass(frozen=True, slots=True)
class _GivenUp:
    """A row given up in a pass, for its warning."""

    attempts: int  # made
    error: str  # the last one's ("" if none)
    expired: bool  # past its deadline, not sent (else: its last try failed)


class Notifier:
    """The senders of the configured providers: started, stopped, and replaced when the
    config is reloaded (`configure`); `wake()` after an alert is written."""

    def __init__(self, providers: Iterable[Provider], store: Store, db_path: str | Path,
                 retry_for: float = DEFAULT_RETRY_FOR, on_error: OnError | None = None, *,
                 clock: Clock = time.time, timeout: float = DEFAULT_TIMEOUT,
                 poll: float = POLL) -> None:
        self._store = store
        self._db_path = db_path
        self.retry_for = retry_for
        self._on_error = on_error
        self._clock = clock
        self._timeout = timeout
        self._poll = poll
        self._providers = tuple(providers)
        self._senders: dict[str, Sender] = {}
        self._lock = threading.Lock()
        self._started = False

    @property
    def senders(self) -> dict[str, Sender]:
        with self._lock:
            return dict(self._senders)

    def _sender(self, provider: Provider) -> Sender:
        return Sender(provider, self._store, self._db_path, retry_for=self.retry_for,
                      on_error=self._on_error, clock=self._clock, timeout=self._timeout,
                      poll=self._poll)

    def start(self) -> Notifier:
        with self._lock:
            self._started = True
            for provider in self._providers:
                self._senders[provider.name] = self._sender(provider).start()
        return self

    def configure(self, providers: Iterable[Provider], retry_for: float | None = None,
                  stop_timeout: float = 2.0) -> None:
        """The providers of a reloaded config: a provider whose URL is unchanged keeps its
        sender (and the row it may be sending); one removed or changed is stopped (its rows
        stay in the outbox: sent again if it comes back under that name)."""
        providers = tuple(providers)
        with self._lock:
            if retry_for is not None:
                self.retry_for = retry_for
            self._providers = providers
            if not self._started:
                return
            old = self._senders
            new: dict[str, Sender] = {}
            stopping = []
            for provider in providers:
                sender = old.pop(provider.name, None)
                if sender is not None and sender.provider.url == provider.url:
                    sender.provider = provider  # its name, masked form and secrets
                    sender.retry_for = self.retry_for
                    new[provider.name] = sender
                    continue
                if sender is not None:
                    # Asked to stop before its replacement starts; a send it has in flight
                    # may still end after (its row is then sent twice, with one key).
                    sender.request_stop()
                    stopping.append(sender)
                new[provider.name] = self._sender(provider).start()
            stopping += old.values()
            self._senders = new
        _stop_all(stopping, stop_timeout)

    def wake(self) -> None:
        for sender in self.senders.values():
            sender.wake()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop every sender, waiting `timeout` in all; False if one is still in a send."""
        with self._lock:
            senders = list(self._senders.values())
            self._senders = {}
            self._started = False
        return _stop_all(senders, timeout)


def _stop_all(senders: Sequence[Sender], timeout: float) -> bool:
    end = time.monotonic() + timeout
    for sender in senders:
        sender.request_stop()  # all at once: their sends end together
    return all([sender.stop(max(0.0, end - time.monotonic())) for sender in senders])
