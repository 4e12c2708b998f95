"""Server-sent events of check results, state changes and alerts (GET /api/v1/events).

The server may be another process than the monitor that writes, so the events come from
the database: one tailing thread per server (`Hub`) reads the rows written after the last
ids it saw every `poll` seconds (ranges of rowids), turns them into events once, and hands
the same encoded bytes to every stream, which writes all a poll brought in one write.

An event's id is the position after it, `<check id>.<alert id>`: a client that comes back
with it (`Last-Event-ID`) is sent what was written since, read again from the database
(`Hub.resume`), or, when that is too far back, a `reset` event and what follows from now.
A state change (a monitor's up, warning or down differing from its previous known check's)
is found by the tailing thread alone, which keeps each monitor's state: the changes since
it started are kept for the streams that resume. While no stream is open (for `idle`
seconds) the hub reads nothing; the next stream starts it again from the database's
present. The encoding is monitor.web.sse's.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from monitor.core import secrets
from monitor.core.errors import StoreError
from monitor.store.api import Reader
from monitor.store.events import Position, TailCheck
from monitor.web.sse import Event, Filter, events_of, id_block, reset, select, state_data

_log = logging.getLogger("monitor.web")


@dataclass(frozen=True)
class Settings:
    poll: float = 0.2  # seconds between reads of the database
    heartbeat: float = 15.0  # a comment after this long without a write
    max_streams: int = 100  # streams open at once (one server thread each)
    keep: int = 64  # polls kept for a stream that fell behind (then read back)
    replay_checks: int = 20_000  # the furthest back a stream resumes, in checks
    replay_alerts: int = 5_000  # and in alerts
    read_limit: int = 20_000  # rows of each table one poll reads
    retry_ms: int = 3000  # how long a client waits before it reconnects
    idle: float = 10.0  # seconds without a stream after which the hub stops reading


class Batch:
    """One poll's events, encoded once; a filter's share computed once per filter."""

    __slots__ = ("seq", "start", "end", "events", "data", "_shares")

    def __init__(self, seq: int, start: Position, events: list[Event]) -> None:
        self.seq = seq
        self.start = start
        self.end = events[-1].position
        self.events = events
        self.data = b"".join(e.frame for e in events)
        self._shares: dict[Filter, bytes] = {}

    def share(self, wanted: Filter, cursor: Position) -> bytes:
        if cursor.check > self.start.check or cursor.alert > self.start.alert:
            return select(self.events, wanted, cursor, self.end)  # ahead of the tail: rare
        if wanted.everything:
            return self.data
        share = self._shares.get(wanted)
        if share is None:  # two streams may both compute it: the same bytes
            share = self._shares[wanted] = select(self.events, wanted, self.start, self.end)
        return share


class Hub:
    """The tailing thread of one server and the streams it feeds."""

    def __init__(self, open_reader: Callable[[], Reader], closing: threading.Event,
                 settings: Settings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or Settings()
        self._clock = clock
        self._open_reader = open_reader
        self._closing = closing
        self._cond = threading.Condition()
        self._batches: deque[Batch] = deque(maxlen=self.settings.keep)
        self._seq = 0
        self._position = Position(0, 0)
        self._states: dict[str, str] = {}
        # The state changes since `_floor` (a check id): (check id, data), in id order.
        self._changes: deque[tuple[int, bytes]] = deque()
        self._floor = 0
        self._streams = 0
        # Whether the thread reads the database: not while no stream is open (for `idle`
        # seconds), so that a server nobody watches costs the monitor nothing.
        self._tailing = False
        self._unwatched_since = clock()
        self.closed = False
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)

    def start(self) -> Hub:
        self._thread.start()
        return self

    def attach(self, reader: Reader) -> None:
        """Before a stream: if the hub is not tailing, take the position and the monitors'
        states now (from `reader`) and tail from there (what came before is not known)."""
        with self._cond:
            if self._tailing:
                return
            self._position, self._states = reader.event_states()
            self._floor = self._position.check
            self._changes.clear()
            self._batches.clear()
            self._tailing = True

    # -- the tailing thread --------------------------------------------------------------

    def _run(self) -> None:
        with as_batch_work():
            self._tail()

    def _tail(self) -> None:
        reader: Reader | None = None
        failed = False
        while not self._closing.wait(self.settings.poll):
            if not self._watched():
                if reader is not None:
                    reader.close()
                reader = None
                continue
            try:
                reader = reader or self._open_reader()
                self.poll(reader)
                failed = False
            except Exception as exc:  # noqa: BLE001 - the streams must outlive one bad poll
                if not failed:  # said once, until a poll works again
                    _log.warning("event stream: %s; trying again", secrets.redact_known(
                        str(exc) if isinstance(exc, StoreError) else repr(exc)))
                failed = True
                if reader is not None:
                    with contextlib.suppress(Exception):
                        reader.close()
                reader = None
        if reader is not None:
            reader.close()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    @property
    def tailing(self) -> bool:
        return self._tailing

    def _watched(self) -> bool:
        """Whether to tail: a stream is open, or was within `idle` seconds."""
        with self._cond:
            if self._streams:
                self._unwatched_since = self._clock()
            elif self._tailing and self._clock() - self._unwatched_since > self.settings.idle:
                self._tailing = False
            return self._tailing

    def poll(self, reader: Reader) -> Batch | None:
        """Read what was written since the last poll; hand it to the streams."""
        start = self._position
        tail = reader.events_after(start, None, self.settings.read_limit)
        if not tail.checks and not tail.alerts:
            return None
        events = events_of(tail, start, self._change)
        with self._cond:
            self._seq += 1
            batch = Batch(self._seq, start, events)
            self._batches.append(batch)
            self._position = batch.end
            self._trim()
            self._cond.notify_all()
        return batch

    def _change(self, row: TailCheck) -> bytes | None:
        state = row.state
        if state is None:
            return None  # unknown: the monitor's state is as it was
        previous = self._states.get(row.monitor_id)
        if state == previous:
            return None
        self._states[row.monitor_id] = state
        data = state_data(row, previous)
        self._changes.append((row.id, data))
        return data

    def _trim(self) -> None:
        """Forget the changes no stream may resume from any more (too far back)."""
        horizon = self._position.check - self.settings.replay_checks
        changes = self._changes
        while changes and (changes[0][0] <= horizon
                           or len(changes) > self.settings.replay_checks):
            self._floor = max(self._floor, changes.popleft()[0])
        self._floor = max(self._floor, horizon)

    # -- the streams -----------------------------------------------------------------------

    def acquire(self) -> bool:
        """A stream's place; False when max_streams are open."""
        with self._cond:
            if self._streams >= self.settings.max_streams:
                return False
            self._streams += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._streams -= 1
            self._unwatched_since = self._clock()

    def now(self) -> tuple[int, Position]:
        """The last poll's number and the position after it."""
        with self._cond:
            return self._seq, self._position

    def wait(self, after: int, timeout: float) -> list[Batch] | None:
        """The polls after number `after`, waiting up to `timeout` seconds for one
        ([] if none came, or the hub closed); None when some are no longer kept."""
        with self._cond:
            if self._seq == after and not self.closed:
                self._cond.wait(timeout)
            if self.closed or self._seq == after:
                return []
            if after + 1 < self._batches[0].seq:
                return None
            return [b for b in self._batches if b.seq > after]

    def resume(self, reader: Reader, cursor: Position, wanted: Filter,
               ) -> tuple[int, Position, bytes]:
        """What a stream at `cursor` missed up to the last poll, from the database: (the
        poll's number, the position after it, the frames). Too far back (more than
        replay_checks or replay_alerts, purged, or state changes from before the hub
        started), a `reset` event instead."""
        with self._cond:
            seq, position, floor = self._seq, self._position, self._floor
            changes = list(self._changes) if "state" in wanted.types else []
        end = Position(max(cursor.check, position.check), max(cursor.alert, position.alert))
        if end == cursor:
            return seq, end, b""
        oldest, _newest = reader.event_span()
        reason = None
        if (position.check - cursor.check > self.settings.replay_checks
                or position.alert - cursor.alert > self.settings.replay_alerts):
            reason = (f"more than {self.settings.replay_checks} checks or"
                      f" {self.settings.replay_alerts} alerts were written since")
        elif cursor.check < position.check and cursor.check + 1 < oldest:
            reason = "the checks since were purged"
        elif "state" in wanted.types and cursor.check < floor:
            reason = ("the state changes since are not known: the server was not reading"
                      " then (no stream was open)")
        if reason is not None:
            return seq, end, reset(end, reason, cursor)
        start = Position(min(cursor.check, position.check), min(cursor.alert, position.alert))
        tail = reader.events_after(start, position, max(self.settings.replay_checks,
                                                         self.settings.replay_alerts))
        ids = [ident for ident, _data in changes]
        found = dict(changes[bisect.bisect_right(ids, start.check):])
        events = events_of(tail, cursor, lambda row: found.get(row.id))
        return seq, end, select(events, wanted, cursor, end) or id_block(end)


class Stream:
    """One client's event stream, the body of its response: what it missed, then each
    poll's share as it comes, a heartbeat comment when idle, to the end of the server.
    Closed by the server when the client goes (a write fails) or the response ends."""

    def __init__(self, hub: Hub, reader: Callable[[], AbstractContextManager[Reader]],
                 wanted: Filter, seq: int, cursor: Position, opening: bytes,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._hub = hub
        self._reader = reader
        self._wanted = wanted
        self._seq = seq
        self._cursor = cursor
        self._clock = clock
        self._body = self._run(b"retry: %d\n\n" % hub.settings.retry_ms + opening)
        self._open = True

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._body)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._body.close()
            self._hub.release()

    def _run(self, opening: bytes) -> Generator[bytes, None, None]:
        with as_batch_work():  # the server's writes of what this yields too: same thread
            yield opening
            yield from self._follow()

    def _follow(self) -> Generator[bytes, None, None]:
        hub, wanted = self._hub, self._wanted
        heartbeat = hub.settings.heartbeat
        written = self._clock()
        while not hub.closed:
            batches = hub.wait(self._seq, max(0.0, written + heartbeat - self._clock()))
            if batches is None:  # fell behind the polls kept: read back from the database
                try:
                    data = self._catch_up()
                except StoreError as exc:
                    _log.warning("event stream: %s; the stream ends", exc)
                    return  # the client comes back, and resumes
            else:
                data = b"".join(b.share(wanted, self._cursor) for b in batches)
                if batches:
                    self._seq = batches[-1].seq
                    self._cursor = _after(self._cursor, batches[-1].end)
            if hub.closed:
                return
            if data:
                yield data
                written = self._clock()
            elif self._clock() - written >= heartbeat:
                # Keeps proxies from closing an idle stream, finds a client gone, and moves
                # a filtered client's id on past the events it did not ask for.
                yield b": keep-alive\n" + id_block(self._cursor)
                written = self._clock()

    def _catch_up(self) -> bytes:
        with self._reader() as reader:
            self._seq, self._cursor, data = self._hub.resume(reader, self._cursor,
                                                             self._wanted)
        return data


@contextlib.contextmanager
def as_batch_work() -> Iterator[None]:
    """The calling thread scheduled as batch work while in the `with` (Linux's SCHED_BATCH):
    its wake-ups, five a second in each stream, do not preempt the monitor's checks on the
    same cores. Its former policy is restored after (allowed unprivileged, unlike a nice
    value brought back down)."""
    batch = getattr(os, "SCHED_BATCH", None)
    try:
        former = os.sched_getscheduler(0)
        if batch is not None:
            os.sched_setscheduler(0, batch, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: scheduled as it was
        batch = None
    try:
        yield
    finally:
        if batch is not None:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, former, os.sched_param(0))


def _after(cursor: Position, end: Position) -> Position:
    return Position(max(cursor.check, end.check), max(cursor.alert, end.alert))
