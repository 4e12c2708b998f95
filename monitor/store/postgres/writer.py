"""The PostgreSQL writer: the store-neutral writer (monitor/store/writing.py: the thread,
its queue, the batches, the counts, the backpressure and the stop, as SQLite's) over a
connection to a database named by its URL. What a batch writes is in batch.py; which errors
hold rows (the server away, restarting, its disk full), in holding.py: they are held in
memory and retried once a second, the connection opened again."""

from __future__ import annotations

import time
from collections.abc import Callable

from monitor.store.postgres.batch import Batches
from monitor.store.postgres.connection import open_writer_connection, reconnect, shown
from monitor.store.postgres.holding import PostgresFaults
from monitor.store.writing import Writer, never_raising


class Store(Writer):
    """The single writer, on a PostgreSQL database named by its URL. `put_check` and
    `put_alert` never block the caller."""

    path: str

    def __init__(self, url: str, on_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, rollups: bool = True,
                 shared: bool = False) -> None:
        self.url = url
        # What messages name: the URL with its password masked, never the password.
        self.path = shown(url)
        say = never_raising(on_error)
        # `shared`: one of several monitors on this database (each checking the monitors
        # it holds the lease of). Each batch's aggregates are then written in its own
        # transaction: nothing is left in meta's `unfolded` (one key for the database, that
        # the writers would overwrite) for a start to fold, and a writer killed loses no
        # count. Only the holder of the database's lease rolls up (`rolls`, switched).
        batches = Batches(open_writer_connection(url), lambda: reconnect(url), clock, say,
                          self.path, deferred=rollups and not shared)
        super().__init__(self.path, batches, PostgresFaults(url),
                         lambda forced: batches.close(), say, rollups)
