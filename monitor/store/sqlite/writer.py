"""The SQLite writer: the store-neutral writer (monitor/store/writing.py: the thread, its
queue, the batches and the stop) over the file's writing connection, WAL with
synchronous=NORMAL (one transaction per batch is what makes thousands of checks a second
cheap). What a batch writes is in batch.py (with the aggregates and states it keeps up to
date, aggregates.py and state.py); which errors hold rows, in holding.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from monitor.store.sqlite.batch import Batches
from monitor.store.sqlite.connection import close_keeping_wal, open_writer_connection
from monitor.store.sqlite.holding import SqliteFaults
from monitor.store.writing import Writer, never_raising


class Store(Writer):
    """The single writer of an SQLite file. `put_check` and `put_alert` never block the
    caller."""

    path: Path

    def __init__(self, path: str | Path, on_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, rollups: bool = True) -> None:
        self.path = Path(path)
        self._conn = open_writer_connection(self.path)
        say = never_raising(on_error)
        # Only the monitor that owns the file rolls the hours up and folds after the commit.
        batches = Batches(self._conn, clock, say, self.path, deferred=rollups)
        super().__init__(self.path, batches, SqliteFaults(), self._close, say, rollups)

    def _close(self, forced: bool) -> None:
        if forced:
            with contextlib.suppress(sqlite3.Error):  # a forced exit waits for no lock
                self._conn.execute("PRAGMA busy_timeout=0")
        close_keeping_wal(self._conn, self.path)
