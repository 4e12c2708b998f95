"""`logs [FILE|-]`: the access-log monitor. Follows a log being written (or reads stdin, or
`--replay`s a finished one as fast as it can), and prints every 10 s of log time the top
sections and clients, and the traffic (and 5xx) alerts and recoveries.

A live run hands its alerts to a runtime beside the monitor (`Runtime(beside=True)`), started
at the first alert: they are stored and notified exactly as `-m`'s (routing, outbox,
senders), to the providers of the config (`-c`, else config.json when there is one). A
replay reads history: it stores and notifies nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.errors import guarded

if TYPE_CHECKING:  # imported where used: `--help` stays cheap
    from monitor.config import Config
    from monitor.logs.window import LogWindows, Report, TrafficEvent
    from monitor.runtime import Runtime

Echo = Callable[[str], None]
DEFAULT_LOG = "/var/log/access.log"
DEFAULT_CONFIG = "config.json"
POLL = 0.25  # seconds between two reads of a followed log


@click.command("logs")
@click.argument("file", required=False, metavar="[FILE|-]")
@click.option("--replay", "replay", metavar="FILE",
              help="Read a finished log as fast as possible, print what a live run would "
                   "have printed, and exit.")
@click.option("--from-start", is_flag=True, help="Read the log from its start, not its end.")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "common", "combined", "w3c", "csv"]),
              help="The log's format; auto tells it from the first lines.")
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Sections and clients shown.")
@click.option("--threshold", type=click.FloatRange(0, None, min_open=True), default=10.0,
              show_default=True, help="Alert above this many requests per second, "
                                      "averaged over 2 minutes.")
@click.option("--max-error-rate", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Also alert when the 5xx share over 2 minutes is above this (0 to 1).")
@click.option("-db", "--database", "db_path", metavar="FILE",
              help="Database the alerts of a live run are stored in (default: "
                   "monitoring.db).")
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="Config whose notification providers (`notify`) hear of the alerts of a"
                   " live run (default: config.json, when there is one).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def logs_command(ctx: click.Context, file: str | None, replay: str | None, from_start: bool,
                 fmt: str, top: int, threshold: float, max_error_rate: float | None,
                 db_path: str | None, config_path: str | None, debug: bool) -> None:
    """Watch an access log (default /var/log/access.log; - for stdin)."""
    root = ctx.find_root().params
    if replay is not None and (file is not None or from_start):
        raise click.UsageError("--replay reads the file it names: no FILE or --from-start",
                               ctx)
    db = db_path or str(root.get("db_path") or "monitoring.db")

    def run() -> None:
        from monitor.logs.window import LogWindows

        windows = LogWindows(threshold, max_error_rate, top)
        if replay is not None:
            run_replay(replay, windows, fmt, click.echo, _err)
        else:
            config = _notify_config(config_path, _err)
            follow(file or DEFAULT_LOG, windows, fmt, from_start, db, click.echo, _err,
                   config=config)

    guarded(debug or bool(root.get("debug")), run)


def _err(text: str) -> None:
    click.echo(text, err=True)


def _notify_config(path: str | None, err: Echo) -> Config | None:
    """The config whose providers hear of the alerts: the one given (an error when it
    cannot be read), else config.json when there is one (a warning when it cannot)."""
    from monitor.config import load_config
    from monitor.core.errors import ConfigError

    if path is not None:
        return load_config(path)
    if not Path(DEFAULT_CONFIG).exists():
        return None
    try:
        return load_config(DEFAULT_CONFIG)
    except ConfigError as exc:
        err(f"Warning: {exc}; the alerts are not notified")
        return None


def _show(items: list[Report | TrafficEvent], echo: Echo) -> None:
    from monitor.logs.window import Report
    from monitor.render.logs import report_text

    for item in items:
        echo(report_text(item) if isinstance(item, Report) else item.message)


def run_replay(path: str, windows: LogWindows, fmt: str, echo: Echo, err: Echo) -> None:
    """Read the finished log at `path` and print its reports and alerts."""
    from monitor.logs.follow import MAX_LINE, oversized_text, read_file
    from monitor.logs.reader import LogReader

    reader = LogReader(windows, fmt)
    lines = read_file(path)
    for batch in lines:
        reader.feed(batch)
        _show(windows.take(), echo)
    # A log shorter than the lines the format is told from; one of no format, an error.
    reader.feed([], last=True)
    windows.flush()
    _show(windows.take(), echo)
    # What a live run says of the same lines, counted for the whole log.
    if reader.format is None and not lines.oversized:  # not one line: nothing to tell
        err(f"{path}: empty, no request in it")
    for note in reader.notes:
        err(note)
    if lines.oversized:
        err(oversized_text(lines.oversized, MAX_LINE))
    for text in reader.warnings(time.time()):  # the first are said at once
        err(text)


def follow(path: str, windows: LogWindows, fmt: str, from_start: bool, db_path: str,
           echo: Echo, err: Echo, stop: threading.Event | None = None,
           config: Config | None = None) -> None:
    """Follow the log at `path` (or stdin for "-") until stopped, printing its reports
    and alerts, storing the alerts and notifying the providers of `config` of them."""
    from monitor.cli.signals import signals
    from monitor.logs.follow import Follower, LogReadError, StreamLines, gzipped
    from monitor.logs.reader import LogReader
    from monitor.logs.window import TrafficEvent

    stop = stop or threading.Event()
    if path != "-" and gzipped(path):  # a rotated log: nothing will be appended to it
        raise LogReadError(f"{path} is compressed (gzip): a finished log; read it with"
                           " --replay")
    source: Follower | StreamLines = (StreamLines(sys.stdin.buffer) if path == "-"
                                      else Follower(path, from_start=from_start))
    monitor_id = "log:-" if path == "-" else f"log:{Path(path).absolute()}"
    alerts = _Alerts(db_path, monitor_id, path, err, config)
    reader = LogReader(windows, fmt)
    err(f"Watching {'stdin' if path == '-' else path}: a table every 10 s of log time; "
        f"alert above {windows.threshold:g} requests/s over 2 minutes. Ctrl-C stops.")
    try:
        with signals(stop):
            while True:
                lines = source.poll()
                now = time.time()
                items = reader.step(lines, now)
                ended = isinstance(source, StreamLines) and source.ended and not lines
                if ended:  # stdin is over: as a replay ends
                    reader.feed([], last=True)
                    windows.flush()
                    items += windows.take()
                _show(items, echo)
                for item in items:
                    if isinstance(item, TrafficEvent):
                        alerts.put(item)
                alerts.step()
                for text in [*source.events, *reader.notes, *reader.warnings(now)]:
                    err(text)
                source.events.clear()
                reader.notes.clear()
                # A backlog (a big file read from its start) is read on at once.
                if ended or stop.wait(0 if source.behind else POLL):
                    # What the minute's limit held back is said before the end.
                    for text in reader.warnings(time.time(), force=True):
                        err(text)
                    break
    finally:
        source.close()
        alerts.close()


class _Alerts:
    """The alerts of a live run, under the monitor id "log:<path>", handed to a runtime
    beside the monitor: stored as every monitor's are (website_alerts) with the
    notifications the config's providers are to send (the outbox), and sent. The runtime
    starts at the first alert: a quiet log makes no database."""

    def __init__(self, db_path: str, monitor_id: str, target: str, err: Echo,
                 config: Config | None = None) -> None:
        from monitor.core.model import Monitor

        self._path = db_path
        self._monitor = Monitor(id=monitor_id, kind="log", target=target)
        self._err = err
        self._config = config
        self._runtime: Runtime | None = None

    def put(self, event: TrafficEvent) -> None:
        from monitor.alerts import AlertEvent

        runtime = self._runtime or self._start()
        runtime.emit(AlertEvent(event.type, self._monitor.id, 1.0, event.time, event.start,
                                event.end, event.message,
                                previous="up" if event.type == "alert" else "down"),
                     self._monitor)

    def _start(self) -> Runtime:
        from monitor.config import Config
        from monitor.runtime import Runtime
        from monitor.store.open import open_store

        def warn(text: str) -> None:
            self._err(f"Warning: {text}")

        store = open_store(self._path, on_error=warn, rollups=False)  # beside the monitor
        runtime = self._runtime = Runtime(self._config or Config(monitors=()), store,
                                          on_problem=self._err, beside=True)
        return runtime.start()

    def step(self) -> None:
        if self._runtime is not None:
            self._runtime.step()

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()
