"""`-r` (report): the stats of the database a `-m` process writes, read from another
process: the live view on a terminal, else the plain tables, periodically or `--once`.

Its own module, importing the reading side only: `-r --once` on 100,000 monitors must end
within a second, and importing the monitor's engine, web server and writer (what `-m`
needs, in cli.modes) cost half of that.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path

from monitor.cli.signals import signals
from monitor.core.errors import MonitorError
from monitor.render.display import ROWS, Display
from monitor.render.report import alert_rows, messages_of, recent_messages_block, window_reports
from monitor.store.api import Reader
from monitor.store.open import database, open_reader

SHORT_EVERY = 10.0
SHORT_WINDOW = 600.0
LONG_EVERY = 60.0
LONG_WINDOW = 3600.0
RECENT_MESSAGES = 10
STOP_PRINT_GRACE = 1.0  # seconds a blocked terminal may hold up the exit, after the stop

Echo = Callable[[str], None]


class StatsPrinter:
    """The periodic stats: 10-minute table every 10 s, 1-hour table every 60 s; each lists
    every monitor up to `rows` of them (None: however many), else the summary and the
    worst."""

    def __init__(self, db: str | Path, echo: Echo, clock: Callable[[], float] = time.monotonic,
                 width: int | None = None, rows: int | None = ROWS) -> None:
        self.db = db
        self.echo = echo
        self.width = width
        self.rows = rows
        self.clock = clock
        self.next_short = clock() + SHORT_EVERY
        self.next_long = clock() + LONG_EVERY
        self.conn: Reader | None = None

    def tick(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now < self.next_short:
            return
        if self.conn is None:
            self.conn = open_reader(self.db)
        windows = [SHORT_WINDOW]
        if force or now >= self.next_long:
            windows.append(LONG_WINDOW)
            self.next_long += LONG_EVERY * max(1, int((now - self.next_long) // LONG_EVERY) + 1)
        # Both windows in one pass over the monitors when both are due.
        blocks = window_reports(self.conn, windows, width=self.width, rows=self.rows)
        blocks.append(recent_messages_block(messages_of(
            alert_rows(self.conn, limit=RECENT_MESSAGES))))
        self.echo("\n\n".join(blocks) + "\n")
        self.next_short += SHORT_EVERY * max(1, int((now - self.next_short) // SHORT_EVERY) + 1)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def run_report(db_path: str, echo: Echo, once: bool, stop: threading.Event | None = None,
               display: Display | None = None) -> bool:
    """`-r`: the stats of the database another `-m` process writes: the live view on a
    terminal, else the periodic plain tables. False when the terminal stayed blocked at
    the end (as run_monitor)."""
    display = display or Display()
    stop = stop or threading.Event()
    if display.live and not once:
        from monitor.render.live import live_view, pulse_from_database

        open_reader(db_path).close()  # "database not found" and the like, before the screen
        view = live_view(database(db_path), stop, display, pulse_from_database).start()
        with signals(stop):
            while not stop.wait(0.25):
                pass
        written = view.close(None, STOP_PRINT_GRACE)
        if view.error is not None:
            raise MonitorError(view.error)
        if view.broken:
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")
        return written
    printer = StatsPrinter(database(db_path), echo, width=display.width, rows=display.rows)
    try:
        printer.tick(force=True)
        if once:
            return True
        with signals(stop):
            while not stop.wait(0.25):
                printer.tick()
    finally:
        printer.close()
    return True
