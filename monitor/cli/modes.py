"""The long-running modes: `-m` (monitor), `-r` (report from the database), `-a` (history).

Signal handlers only set events; the main thread does the work between waits, so Ctrl-C
and SIGTERM stop the monitor within two seconds with everything pending committed. `-m`
prints through a thread of its own, so that a stdout nobody reads blocks only the printing.
"""

from __future__ import annotations

import errno
import io
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from monitor.alerts import AlertEvent
from monitor.cli.report import StatsPrinter
from monitor.cli.serve import WebOptions, WebServer
from monitor.cli.signals import signals
from monitor.config import Config, load_config
from monitor.core.errors import MonitorError, StoreError
from monitor.render.display import Display
from monitor.render.live import LiveView, Pulse, PulseSource, live_view, p99, runtime_locations
from monitor.render.report import alert_rows, delivery_line
from monitor.runtime import Runtime
from monitor.store.api import Reader
from monitor.store.open import database, is_postgres, open_reader, open_store, shown

Echo = Callable[[str], None]


class _Output:
    """`-m`'s printing, on a thread of its own: when stdout blocks (`-m | less` left
    unscrolled), only this thread waits; the monitoring, a stop and a reload go on.

    Lines (alerts, recoveries, status) are printed in order, up to MAX_LINES waiting (then
    counted and dropped: they are in the database); of the periodic tables only the latest
    waiting one is worth printing. A closed stdout (`-m | head -1`) calls `on_broken`."""

    MAX_LINES = 10_000

    def __init__(self, echo: Echo, err: Echo, on_broken: Callable[[], None]) -> None:
        self._echo = echo
        self._err = err
        self._on_broken = on_broken
        self._cond = threading.Condition()
        self._queue: deque[tuple[bool, str]] = deque()  # (is a table, text)
        self._lines = 0
        self._dropped = 0
        self._closed = False
        self.broken = False
        self._thread = threading.Thread(target=self._run, name="output", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        with self._cond:
            if self._lines >= self.MAX_LINES:
                self._dropped += 1
                return
            self._note_dropped()  # where the gap is
            self._push(text)

    def table(self, text: str) -> None:
        with self._cond:
            waiting = [item for item in self._queue if item[0]]
            for item in waiting:  # at most one: replaced by the newer table
                self._queue.remove(item)
            self._queue.append((True, text))
            self._cond.notify()

    def close(self, final: str | None, grace: float) -> bool:
        """Print `final` last and end; False when stdout stayed blocked for `grace` s."""
        with self._cond:
            self._note_dropped()
            if final is not None:
                self._push(final)
            self._closed = True
            self._cond.notify()
        self._thread.join(grace)
        return not self._thread.is_alive()

    def _next(self) -> str | None:
        with self._cond:
            while not (self._queue or self._dropped or self._closed):
                self._cond.wait()
            if self._queue:
                is_table, text = self._queue.popleft()
                if not is_table:
                    self._lines -= 1
                return text
            if self._dropped:
                self._dropped, count = 0, self._dropped
                return _dropped_line(count)
            return None

    def _push(self, text: str) -> None:
        self._lines += 1
        self._queue.append((False, text))
        self._cond.notify()

    def _note_dropped(self) -> None:
        """Queue the line saying how many lines were dropped, if any (lock held)."""
        if self._dropped:
            self._dropped, count = 0, self._dropped
            self._push(_dropped_line(count))

    def _run(self) -> None:
        while (text := self._next()) is not None:
            try:
                self._echo(text)
            except BrokenPipeError:
                self.broken = True
                self._on_broken()
                return
            except OSError as exc:
                # Printing is a view: a terminal gone wrong must not stop the monitoring.
                self._err(f"Warning: cannot print any more: {exc}")
                return


def _dropped_line(count: int) -> str:
    return f"({count} line(s) not printed while the output was not read; -a shows the alerts)"


SWITCH_INTERVAL = 0.001
STOP_PRINT_GRACE = 1.0  # seconds a blocked stdout may hold up the exit, after the stop
HELD_LINES = 50


def engine_pulse(runtime: Runtime) -> PulseSource:
    """The live view's header from the running monitor itself: checks per second since
    the last frame, the p99 lateness of the latest checks, the writer's lag, and what it
    sheds while overloaded."""
    engine = runtime.engine
    last = [time.monotonic(), engine.checks_done]

    def pulse(_reader: Reader, _now: float) -> Pulse:
        now, done = time.monotonic(), engine.checks_done
        rate = (done - last[1]) / (now - last[0]) if now > last[0] else None
        last[:] = [now, done]
        return Pulse(rate, p99(list(engine.recent_lateness)), engine.store.lag(),
                     overload=runtime.overload.status)

    return pulse


def run_monitor(config_path: str, db_path: str, silent: bool, echo: Echo, err: Echo,
                stop: threading.Event | None = None, display: Display | None = None,
                web: WebOptions | None = None) -> bool:
    """Monitor until stopped. Raises ConfigError / StoreError before anything starts, and
    BrokenPipeError after a clean stop when stdout was closed. Returns False when stdout
    stayed blocked after the stop (the last lines were not printed)."""
    config_file = Path(config_path)
    config = load_config(config_file)
    # The address is checked before anything starts; the server starts with the runtime.
    server = None if web is None else WebServer(web, config_file, db_path, config, warn=err)
    if is_postgres(db_path):
        # Several monitors share a PostgreSQL database: each checks the monitors whose
        # lease it holds (store/postgres/leases.py), no file to own.
        return _monitor(config_file, config, db_path, silent, echo, err, stop, display,
                        server)
    from monitor.store.sqlite.owner import DatabaseOwner

    owner = DatabaseOwner(db_path)  # a second -m on this database stops here
    if not owner.held:
        err(f"Warning: cannot lock {owner.path} (a full disk, or a file system without"
            " locks): a second monitor on this database would not be refused")
    try:
        return _monitor(config_file, config, db_path, silent, echo, err, stop, display,
                        server)
    finally:
        owner.release()


def _monitor(config_file: Path, config: Config, db_path: str, silent: bool, echo: Echo,
             err: Echo, stop: threading.Event | None, display: Display | None,
             server: WebServer | None = None) -> bool:
    display = display or Display()
    # The one writer thread gives up the GIL at every database call and must win it back
    # from up to maxWorkers busy threads; at the default 5 ms interval a batch could wait
    # seconds (kill -9 then lost that much). 1 ms costs no measurable throughput.
    sys.setswitchinterval(SWITCH_INTERVAL)
    stop = stop or threading.Event()
    force = threading.Event()  # a second signal: stop without waiting for the writes
    live = display.live and not silent
    # Problems shown in the live view, printed again after it ends: the latest ones.
    held: deque[str] = deque(maxlen=HELD_LINES)

    def problem(text: str) -> None:
        if view is not None:
            view.line(text)
            held.append(text)
        else:
            err(text)

    view: LiveView | None = None
    store = open_store(db_path, on_error=lambda message: problem(f"Warning: {message}"))
    # The main loop never writes to stdout itself: everything goes through `output`, the
    # plain printer or the live view (made once the engine runs: it reads what that writes).
    output: _Output | LiveView | None = (
        None if silent or live else _Output(echo, err, on_broken=stop.set))
    say: Echo | None = None if silent else (lambda text: output.line(text) if output else None)
    runtime = Runtime(config, store, config_path=config_file, on_line=say,
                      on_problem=problem)
    if output is not None:  # the live view shows alerts from the database
        runtime.add_alert_hook(lambda event: say(_event_line(event)))  # type: ignore[misc]
    printer = None if not isinstance(output, _Output) else StatsPrinter(
        database(db_path), output.table, width=display.width, rows=display.rows)
    final = None
    try:
        # The handlers are in place from before the start until after the stop, so that a
        # signal at any moment ends in the runtime's stop with everything committed.
        with signals(stop, runtime.request_reload, force):
            try:
                runtime.start()
                url = server.start(store, runtime) if server is not None else None
                if live:
                    output = view = live_view(database(db_path), stop, display,
                                              engine_pulse(runtime),
                                              runtime_locations(runtime)).start()
                if say is not None:
                    canary = f"; canary {config.canary.target}" if config.canary else ""
                    say(f"Monitoring {len(config.monitors)} monitor(s) from {config_file} into "
                        f"{shown(db_path)}{canary}" + (". q or Ctrl-C stops." if live else
                                                "; stats every 10 s (past 10 min) and every"
                                                " 60 s (past hour). Ctrl-C stops."))
                    if url is not None:
                        say(f"Serving {url} (API at {url}api/v1/).")
                runtime.step()
                while not stop.wait(0.25):
                    if runtime.fatal is not None:
                        break  # a damaged database: nothing more can be recorded
                    runtime.step()
                    if printer is not None:
                        try:
                            printer.tick()
                        except StoreError as exc:
                            # Printing is a view: a failed read must not stop the monitoring.
                            err(f"Warning: cannot read the stats: {exc}")
            finally:
                if server is not None:
                    server.stop()  # first: nothing more is sent to the store it writes with
                # On stderr, also after the live view: it has given the screen back by now.
                runtime.stop(force=force, progress=err)
                if printer is not None:
                    printer.close()
        final = _stopped_line(runtime, db_path)
    finally:
        # Everything is committed and closed by now; the printing gets a short grace.
        written = output.close(final, STOP_PRINT_GRACE) if output is not None else True
        if written:  # else stderr may be the same blocked terminal
            for text in held:
                err(text)
    if view is not None and view.error is not None:
        raise MonitorError(f"{view.error}; monitoring stopped")
    if runtime.fatal is not None:
        raise StoreError(f"{runtime.fatal}; monitoring stopped")
    if output is not None and output.broken:
        raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")
    return written


def _stopped_line(runtime: Runtime, db_path: str) -> str:
    """The last line of `-m`, after the stop: how many checks it wrote to the database."""
    return f"Stopped; {runtime.checks_recorded} checks recorded in {shown(db_path)}."


def _event_line(event: AlertEvent) -> str:
    return f"{event.type.upper()}: {event.message}"


def reader_gone(stream: TextIO) -> bool:
    """True when nobody reads `stream` any more (`-a | head -1` after head exits): the
    pipe's write end then polls as an error. A file or a terminal never does."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP)
                   for _fd, events in poller.poll(0))
    except (OSError, ValueError, io.UnsupportedOperation):  # no real stream (tests)
        return False


def follow_alerts(db_path: str, echo: Echo, follow: bool,
                  stop: threading.Event | None = None, poll: float = 0.5,
                  gone: Callable[[], bool] = lambda: False) -> None:
    """`-a`: every alert and recovery, oldest first, each with where its notifications
    stand; then new ones as they are written, and each delivery once it is settled.
    Following, it ends with BrokenPipeError as soon as `gone()` says the reader left,
    even while no alert comes to be printed."""
    conn = open_reader(db_path)
    stop = stop or threading.Event()
    unsettled: dict[int, str] = {}  # alert id -> its delivery line, while some pend

    def show(rows: list[tuple[int, str]]) -> None:
        states = conn.deliveries([row_id for row_id, _ in rows])
        for row_id, message in rows:
            echo(message)
            if row_id in states:
                line = delivery_line(states[row_id])
                echo(f"  {line}")
                if any(s.state == "pending" for s in states[row_id]):
                    unsettled[row_id] = line

    try:
        rows = alert_rows(conn)
        if not rows:
            echo("No alerts recorded yet.")
        show(rows)
        last = rows[-1][0] if rows else 0
        if not follow:
            return
        with signals(stop):
            while not stop.wait(poll):
                if gone():
                    raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")
                rows = alert_rows(conn, after_id=last)
                show(rows)
                last = rows[-1][0] if rows else last
                for row_id, states in conn.deliveries(list(unsettled)).items():
                    line = delivery_line(states)
                    if line != unsettled[row_id]:
                        echo(f"  alert #{row_id}: {line}")
                        unsettled[row_id] = line
                    if not any(s.state == "pending" for s in states):
                        del unsettled[row_id]
    finally:
        conn.close()


def purge(db_path: str, days: float) -> tuple[int, int]:
    """Delete checks and alerts older than `days`; returns (checks, alerts) deleted."""
    # Only a monitoring database: the writer would add its tables to any other file.
    # open_reader raises "database not found", "cannot read the database" or "not a
    # monitoring database", and changes nothing.
    open_reader(db_path).close()
    errors: list[str] = []
    store = open_store(db_path, on_error=errors.append, rollups=False)  # beside the monitor
    try:
        store.purge(time.time() - days * 86400)
    finally:
        store.close()
    if errors:
        raise StoreError(errors[0])
    return store.purged
