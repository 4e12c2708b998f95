"""The long-running modes: `-m` (monitor), `-r` (report from the database), `-a` (history).

Signal handlers only set events; the main thread does the work between waits, so Ctrl-C
and SIGTERM stop the monitor within two seconds with everything pending committed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .alerts import AlertEvent
from .config import Config, load_config
from .engine import Engine
from .errors import ConfigError, StoreError
from .report import alert_rows, messages_of, recent_messages_block, window_report
from .store import Store, open_reader

SHORT_EVERY = 10.0
SHORT_WINDOW = 600.0
LONG_EVERY = 60.0
LONG_WINDOW = 3600.0
RECENT_MESSAGES = 10

Echo = Callable[[str], None]


@contextlib.contextmanager
def signals(stop: threading.Event, reload: threading.Event | None = None) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop`, SIGHUP sets `reload`; previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread (tests)
        return
    wanted = {signal.SIGINT: stop, signal.SIGTERM: stop}
    if reload is not None:
        wanted[signal.SIGHUP] = reload
    previous = {sig: signal.signal(sig, lambda *_a, e=event: e.set())
                for sig, event in wanted.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _file_stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


class _Printer:
    """The periodic stats: 10-minute table every 10 s, 1-hour table every 60 s."""

    def __init__(self, db: Path, echo: Echo, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.echo = echo
        self.clock = clock
        self.next_short = clock() + SHORT_EVERY
        self.next_long = clock() + LONG_EVERY
        self.conn = None

    def tick(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now < self.next_short:
            return
        if self.conn is None:
            self.conn = open_reader(self.db)
        blocks = [window_report(self.conn, SHORT_WINDOW)]
        if force or now >= self.next_long:
            blocks.append(window_report(self.conn, LONG_WINDOW))
            self.next_long += LONG_EVERY * max(1, int((now - self.next_long) // LONG_EVERY) + 1)
        blocks.append(recent_messages_block(messages_of(
            alert_rows(self.conn, limit=RECENT_MESSAGES))))
        self.echo("\n\n".join(blocks) + "\n")
        self.next_short += SHORT_EVERY * max(1, int((now - self.next_short) // SHORT_EVERY) + 1)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


SWITCH_INTERVAL = 0.001


def run_monitor(config_path: str, db_path: str, silent: bool, echo: Echo, err: Echo,
                stop: threading.Event | None = None) -> None:
    """Monitor until stopped. Raises ConfigError / StoreError before anything starts."""
    config_file = Path(config_path)
    config = load_config(config_file)
    # The one writer thread gives up the GIL at every database call and must win it back
    # from up to maxWorkers busy threads; at the default 5 ms interval a batch could wait
    # seconds (kill -9 then lost that much). 1 ms: no loss of throughput measured.
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop = stop or threading.Event()
    reload = threading.Event()
    store = Store(db_path, on_error=lambda message: err(f"Warning: {message}"))
    engine = Engine(config, store, on_error=lambda message: err(f"Warning: {message}"),
                    on_status=None if silent else echo)
    if not silent:
        engine.hooks.append(lambda event: echo(_event_line(event)))
    printer = None if silent else _Printer(Path(db_path), echo)
    stamp = _file_stamp(config_file)
    # The handlers are in place from before the start until after the stop, so that a
    # signal at any moment ends in engine.stop() with everything committed.
    with signals(stop, reload):
        try:
            engine.start()
            if not silent:
                canary = f"; canary {config.canary.url}" if config.canary else ""
                echo(f"Monitoring {len(config.sites)} site(s) from {config_file} into "
                     f"{db_path}{canary}; stats every 10 s (past 10 min) and every 60 s "
                     "(past hour). Ctrl-C stops.")
            while not stop.wait(0.25):
                current = _file_stamp(config_file)
                if reload.is_set() or (current is not None and current != stamp):
                    reload.clear()
                    stamp = current
                    config = _reload(engine, config, config_file,
                                     echo if not silent else None, err)
                engine.maybe_purge()
                if printer is not None:
                    try:
                        printer.tick()
                    except (StoreError, sqlite3.Error) as exc:
                        # Printing is a view: a failed read must not stop the monitoring.
                        err(f"Warning: cannot read the stats: {exc}")
        finally:
            engine.stop()
            if printer is not None:
                printer.close()
    if not silent:
        echo(f"Stopped; {engine.checks_done} checks recorded in {db_path}.")


def _reload(engine: Engine, old: Config, path: Path, echo: Echo | None, err: Echo) -> Config:
    try:
        new = load_config(path)
    except ConfigError as exc:
        err(f"Error: {exc} (still running the previous configuration)")
        return old
    if new != old:
        engine.reload(new)
        if echo is not None:
            echo(f"Reloaded {path}: {len(new.sites)} site(s).")
    return new


def _event_line(event: AlertEvent) -> str:
    prefix = "ALERT" if event.type == "alert" else "RECOVERY"
    return f"{prefix}: {event.message}"


def run_report(db_path: str, echo: Echo, once: bool,
               stop: threading.Event | None = None) -> None:
    """`-r`: print the periodic stats of the database another `-m` process writes."""
    printer = _Printer(Path(db_path), echo)
    stop = stop or threading.Event()
    try:
        printer.tick(force=True)
        if once:
            return
        with signals(stop):
            while not stop.wait(0.25):
                printer.tick()
    finally:
        printer.close()


def follow_alerts(db_path: str, echo: Echo, follow: bool,
                  stop: threading.Event | None = None, poll: float = 0.5) -> None:
    """`-a`: every alert and recovery, oldest first, then new ones as they are written."""
    conn = open_reader(db_path)
    stop = stop or threading.Event()
    try:
        rows = alert_rows(conn)
        if not rows:
            echo("No alerts recorded yet.")
        for _id, message in rows:
            echo(message)
        last = rows[-1][0] if rows else 0
        if not follow:
            return
        with signals(stop):
            while not stop.wait(poll):
                for row_id, message in alert_rows(conn, after_id=last):
                    echo(message)
                    last = row_id
    finally:
        conn.close()


def purge(db_path: str, days: float) -> tuple[int, int]:
    """Delete checks and alerts older than `days`; returns (checks, alerts) deleted."""
    if not os.path.exists(db_path):
        open_reader(db_path)  # raises the "database not found" StoreError
    errors: list[str] = []
    store = Store(db_path, on_error=errors.append)
    try:
        store.purge(time.time() - days * 86400)
    finally:
        store.close()
    if errors:
        raise StoreError(errors[0])
    return store.purged
