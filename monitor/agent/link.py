"""The agent's link to its server, on one thread (`agent-link`): poll the monitors, beat,
and post the checks of the outbox in id order, each at its cadence; while the server is
away, try again with a growing delay and keep every check waiting in the local database.

`step(now)` does what is due at monotonic time `now` and returns when to call it next:
tests drive it with the times they choose, the thread with the real clock. Its lines (the
server lost, the server back) go to `say`, one each per absence.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from monitor import __version__
from monitor.agent.client import Ack, Assignment, Client, Refused, RowRefused, ServerAway
from monitor.core.errors import StoreError
from monitor.core.timefmt import format_duration
from monitor.store.sqlite.outbox_rows import OutboxCheck, OutboxReader

BATCH = 1_000  # checks a request, at most (the server takes up to 5,000)
# The protocol's bounds on a result's texts and measurements (the server refuses more).
MAX_DETAIL = 1_000
MAX_TEXT = 200
MAX_METRICS = 100
SEND_EVERY = 1.0  # seconds between two looks at the outbox when it had nothing to send
FIRST_RETRY = 1.0
MAX_RETRY = 30.0
JOIN_TIMEOUT = 0.5  # seconds stop() waits for a request in flight


class Backoff:
    """The delays between attempts while the server is away: 1, 2, 4 ... 30 s."""

    def __init__(self, first: float = FIRST_RETRY, most: float = MAX_RETRY) -> None:
        self.first = first
        self.most = most
        self._next = first

    def delay(self) -> float:
        """The delay before the next attempt; each call doubles the one after."""
        delay, self._next = self._next, min(self.most, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Link:
    """The agent's exchanges with its server. Not thread-safe but for `request_poll`,
    `take_assignment` and `stop`, which the main thread calls."""

    def __init__(self, client: Client, outbox: OutboxReader, instance: str, *,
                 say: Callable[[str], None], running: Callable[[], int],
                 where: str = "the local database") -> None:
        self.client = client
        self.outbox = outbox
        self.instance = instance
        self._say = say
        self._running = running
        self._where = where
        # The server's highest id of this instance, as last heard; sending waits for a
        # heartbeat's word on it (`synced`) at the start and after each absence.
        self.upto = 0
        self.synced = False
        self.etag: str | None = None
        self.poll_every = 10.0
        self.beat_every = 10.0
        self.batch = BATCH
        self.fatal: Refused | None = None
        self.sent = 0  # checks the server acknowledged (stored or already had) this run
        self.lost_since: float | None = None  # monotonic, while the server is away
        self._retry_at = 0.0
        self._next_poll = 0.0
        self._next_beat = 0.0
        self._next_send = 0.0
        self._backoff = Backoff()
        self._poll_now = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._assignment: Assignment | None = None
        self._warned_behind = False
        self._reading: str | None = None  # the local database's read error, once said
        self.answered = False  # the server has answered this run
        self._skipped: set[int] = set()  # ids of checks the server refused, above upto
        self._thread: threading.Thread | None = None

    # -- for the main thread ----------------------------------------------------------
    def request_poll(self) -> None:
        """Fetch the monitors at once (SIGHUP), even while waiting to retry. Only sets
        flags: safe in a signal handler."""
        self._poll_now.set()
        self._wake.set()

    def take_assignment(self) -> Assignment | None:
        """The monitors fetched since the last call, if they changed."""
        with self._lock:
            taken, self._assignment = self._assignment, None
        return taken

    def start(self) -> Link:
        self._thread = threading.Thread(target=self._run, name="agent-link", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = JOIN_TIMEOUT) -> bool:
        """Stop the thread, waiting `wait` s at most for the request in flight; False when
        it still runs (it ends alone, a daemon, and its answer is dropped: the rows go
        again at the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(wait)
        return not self._thread.is_alive()

    def flush(self, within: float, clock: Callable[[], float] = time.monotonic) -> None:
        """After the stop, with the thread ended: send what waits, for `within` seconds at
        most, unless the server is away (the rows stay for the next start)."""
        end = clock() + within
        while self.lost_since is None and self.synced and self.fatal is None:
            left = end - clock()
            if left <= 0.05:
                return
            try:
                if not self._send_batch(timeout=left):
                    return
            except (ServerAway, Refused):
                return

    # -- the step -----------------------------------------------------------------------
    def step(self, now: float) -> float:
        """Do what is due at `now`: poll, beat, send; the time to call again."""
        polling = self._poll_now.is_set()
        if now < self._retry_at and not polling:
            return self._retry_at
        try:
            if polling or now >= self._next_poll:
                self._poll_now.clear()
                self._poll(now)
            if not self.synced or now >= self._next_beat:
                self._beat(now)
            if self.lost_since is not None:
                after = format_duration(now - self.lost_since)
                waiting = self.waiting()
                self._say(f"The server {self.client.server} answers after {after}"
                          if not self.answered and not waiting else
                          f"The server {self.client.server} is back after {after}; sending"
                          f" the {waiting} check(s) that waited")
                self.lost_since = None
            self.answered = True
            if now >= self._next_send:
                full = self._send_batch()
                self._next_send = now if full else now + SEND_EVERY
        except StoreError as exc:
            # The local database cannot be read now (a disk error): the checks stay in it.
            if self._reading != str(exc):
                self._say(f"Warning: {exc}; sending waits")
            self._reading = str(exc)
            self._retry_at = now + SEND_EVERY
            return self._retry_at
        except ServerAway as exc:
            if self.lost_since is None:
                self.lost_since = now
                waiting = self.waiting()
                if not self.answered:  # what waits is not known before it answers
                    self._say(f"Warning: cannot reach the server {self.client.server}: {exc};"
                              " retrying until it answers (checking starts then)")
                else:
                    self._say(f"Warning: lost the server {self.client.server}: {exc};"
                              f" checking goes on, the checks wait in {self._where}"
                              + (f" ({waiting} so far)" if waiting else "") + ", retrying")
            self.synced = False  # known again from the next heartbeat
            self._retry_at = now + self._backoff.delay()
            return self._retry_at
        self._reading = None
        self._backoff.reset()
        self._retry_at = 0.0
        return min(self._next_poll, self._next_beat, self._next_send)

    # -- inside -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    wake = self.step(time.monotonic())
                except Refused as exc:
                    self.fatal = exc
                    return
                self._wake.wait(max(0.0, wake - time.monotonic()))
                self._wake.clear()
        finally:
            self._wake.set()

    def _poll(self, now: float) -> None:
        assignment = self.client.monitors(self.etag)
        self._next_poll = now + self.poll_every
        if assignment is None:
            return
        if assignment.location != self.client.location:
            raise Refused(f"{self.client.server} answered for location"
                          f" {assignment.location!r}, not {self.client.location!r}")
        self.etag = assignment.etag
        self.poll_every = assignment.poll
        self.beat_every = assignment.heartbeat
        self._next_poll = now + self.poll_every
        self._next_beat = min(self._next_beat, now + self.beat_every)
        with self._lock:
            self._assignment = assignment

    def _beat(self, now: float) -> None:
        etag, server_upto = self.client.heartbeat(
            self.instance, __version__, self.waiting(), self._running())
        self._next_beat = now + self.beat_every
        newest = self.outbox.newest_id()
        if server_upto > newest and not self._warned_behind:
            self._warned_behind = True
            self._say(f"Warning: the server holds checks up to #{server_upto} of this"
                      f" database (instance {self.instance}), which ends at #{newest}:"
                      " restored from an older copy? New checks up to that number would be"
                      " taken for ones already sent; start on a new database (-db) instead")
        self.upto = server_upto
        self.synced = True
        if etag is not None and etag != self.etag:
            self._poll(now)  # the monitors changed since the last poll: now, not later

    def _send_batch(self, timeout: float | None = None) -> bool:
        """Post the next batch, if any; True when it was full (more may wait)."""
        if not self.synced:
            return False
        read = self.outbox.checks_after_id(self.upto, self.batch + len(self._skipped))
        rows = [row for row in read if row.id not in self._skipped][:self.batch]
        if not rows:
            return False
        try:
            ack: Ack = self.client.results(self.instance, [encode(row) for row in rows],
                                           timeout=timeout)
        except RowRefused as exc:
            # Sent again, it would be refused again, and hold up every check after it.
            row = rows[min(exc.index, len(rows) - 1)]
            self._skipped.add(row.id)
            self._say(f"Error: the server refused check #{row.id} of monitor"
                      f" {row.monitor_id}: {exc}; it is skipped")
            return True
        except ServerAway as exc:
            if "answered 413" in str(exc) and self.batch > 1:
                self.batch = max(1, self.batch // 2)  # a proxy's smaller limit: fit it
                return True
            raise
        self.sent += ack.stored + ack.duplicates + ack.ignored
        self.upto = ack.upto
        self._skipped = {ident for ident in self._skipped if ident > self.upto}
        return len(rows) == self.batch

    def waiting(self) -> int:
        """The checks not acknowledged by the server (as last heard)."""
        try:
            return self.outbox.count_after_id(self.upto)
        except StoreError:  # a count for a message or a heartbeat must not stop the link
            return 0


def encode(row: OutboxCheck) -> dict[str, Any]:
    """A stored check as the protocol's `results[]` item, within the protocol's bounds (a
    long detail cut, measurements that are not finite numbers left out)."""
    metrics: dict[str, float] = {}
    if row.metrics:
        try:
            stored = json.loads(row.metrics)
        except ValueError:
            stored = {}
        if isinstance(stored, dict):
            metrics = {str(name): float(value) for name, value in stored.items()
                       if 0 < len(str(name)) <= MAX_TEXT and isinstance(value, int | float)
                       and not isinstance(value, bool) and math.isfinite(value)}
            metrics = dict(list(metrics.items())[:MAX_METRICS])
    detail = row.detail if len(row.detail) <= MAX_DETAIL else row.detail[:MAX_DETAIL - 1] + "…"
    reason = None if row.reason is None else row.reason[:MAX_TEXT]
    return {"id": row.id, "monitor": row.monitor_id, "timestamp": row.timestamp,
            "available": row.available, "code": row.code,
            "response_ms": max(0.0, row.response_ms), "reason": reason, "detail": detail,
            "lateness_ms": max(0.0, row.lateness_ms or 0.0), "warning": row.warning,
            "metrics": metrics}
