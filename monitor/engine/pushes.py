"""The engine's feed of pushes: what the web server received for push monitors (maybe in
another process, `serve`), read from the database and handed to each push monitor's watch.

One read every READ_EVERY seconds serves every push monitor: the pushes after the last id
read, by the primary key, so that a read with nothing new costs one index seek however
many push monitors there are. A push is thus judged within READ_EVERY (plus the writer's
batch) of its receipt; a late job within about as long of its deadline."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from monitor.checks.push import tokens
from monitor.core.errors import StoreError
from monitor.core.model import Monitor
from monitor.core.push import Latest, Push
from monitor.store.api import Reader
from monitor.store.open import open_reader

READ_EVERY = 2.0  # seconds between two reads of the pushes table
READ_ROWS = 5000  # pushes of one read
MAX_READS = 10  # reads of one refresh when behind; the rest at the next poll
PENDING = 1000  # pushes kept per monitor between two takes: the newest


class PushReader:
    """A PushFeed (monitor.core.push) on a database reader of its own, opened at first
    use. Its methods may be called from any thread, one at a time."""

    def __init__(self, open_reader: Callable[[], Reader]) -> None:
        self._open_reader = open_reader
        self._reader: Reader | None = None
        self._cursor = 0  # the id of the last push read
        self._started = False
        self._read_at = float("-inf")  # wall time of the last read that caught up
        self._pending: dict[str, deque[Push]] = {}  # by monitor id: those watched
        self._lock = threading.Lock()

    def open(self, monitor_id: str) -> Latest:
        with self._lock:
            reader = self._reader_now()
            self._pending.setdefault(monitor_id, deque(maxlen=PENDING))
            return reader.latest_pushes([monitor_id], self._cursor).get(monitor_id, Latest())

    def take(self, monitor_id: str, wall: float) -> tuple[list[Push], float]:
        with self._lock:
            # A clock stepped back reads anew too: its next read would be seconds away.
            if not self._read_at <= wall < self._read_at + READ_EVERY:
                self._refresh(wall)
            pending = self._pending.get(monitor_id)
            if not pending:
                return [], self._read_at
            taken = list(pending)
            pending.clear()
            return taken, self._read_at

    def close(self, monitor_id: str) -> None:
        with self._lock:
            self._pending.pop(monitor_id, None)

    def shutdown(self) -> None:
        """Close the reader (the engine stops)."""
        with self._lock:
            reader, self._reader = self._reader, None
            self._pending.clear()
        if reader is not None:
            reader.close()

    def _reader_now(self) -> Reader:
        if self._reader is None:
            self._reader = self._open_reader()
            if not self._started:  # what came before the first look is each one's Latest
                self._cursor = self._reader.last_push_id()
                self._started = True
        return self._reader

    def _refresh(self, wall: float) -> None:
        try:
            reader = self._reader_now()
            for _ in range(MAX_READS):
                pushes = reader.pushes_after(self._cursor, limit=READ_ROWS)
                for push in pushes:
                    pending = self._pending.get(push.monitor_id)
                    if pending is not None:
                        pending.append(push)
                if pushes:
                    self._cursor = pushes[-1].id
                if len(pushes) < READ_ROWS:
                    self._read_at = wall  # complete up to now: lateness can be judged
                    return
        except StoreError:
            # A reader that failed may hold a broken connection: the next read opens anew.
            broken, self._reader = self._reader, None
            if broken is not None:
                broken.close()
            raise


def ready(monitor: Monitor, db_path: str | Path) -> Monitor:
    """A push monitor as a check of it now shows it (`check NAME`, the API's check now):
    with its generated token (from the key beside the database, made if need be) and what
    the database holds of its pushes; any other monitor as it is."""
    if monitor.kind != "push":
        return monitor
    shown = None
    if monitor.spec.token is None:
        with contextlib.suppress(tokens.PushKeyError):  # the trace says it cannot be told
            shown = tokens.generated(tokens.load_key(db_path), monitor.id)
    seen = None
    if Path(db_path).exists():
        with contextlib.suppress(StoreError):  # the trace says there is no database to read
            reader = open_reader(db_path)
            try:
                seen = reader.latest_pushes([monitor.id]).get(monitor.id, Latest())
            finally:
                reader.close()
    return dataclasses.replace(monitor, spec=dataclasses.replace(monitor.spec, seen=seen,
                                                                 shown=shown))
