"""`logs [FILE|-]`: the access-log monitor. Follows a log being written (or reads stdin, or
`--replay`s a finished one as fast as it can), and prints every 10 s of log time the top
sections and clients, and the traffic (and 5xx) alerts and recoveries, which a live run
also stores in the database.
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
    from monitor.logs.window import LogWindows, Report, TrafficEvent
    from monitor.store import Store

Echo = Callable[[str], None]
DEFAULT_LOG = "/var/log/access.log"
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
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def logs_command(ctx: click.Context, file: str | None, replay: str | None, from_start: bool,
                 fmt: str, top: int, threshold: float, max_error_rate: float | None,
                 db_path: str | None, debug: bool) -> None:
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
            follow(file or DEFAULT_LOG, windows, fmt, from_start, db, click.echo, _err)

    guarded(debug or bool(root.get("debug")), run)


def _err(text: str) -> None:
    click.echo(text, err=True)


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
           echo: Echo, err: Echo, stop: threading.Event | None = None) -> None:
    """Follow the log at `path` (or stdin for "-") until stopped, printing its reports
    and alerts and storing the alerts."""
    from monitor.cli.modes import signals
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
    store = _Alerts(db_path, monitor_id, err)
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
                        store.put(item)
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
        store.close()


class _Alerts:
    """The alerts of a live run, stored as the monitor's are (website_alerts), under the
    monitor id "log:<path>"; the database is opened at the first alert."""

    def __init__(self, db_path: str, monitor_id: str, err: Echo) -> None:
        self._path = db_path
        self._id = monitor_id
        self._err = err
        self._store: Store | None = None

    def put(self, event: TrafficEvent) -> None:
        from monitor.store import AlertRecord, Store, iso_utc

        if self._store is None:
            self._store = Store(self._path,
                                on_error=lambda text: self._err(f"Warning: {text}")).start()
        end = event.end
        self._store.put_alert(AlertRecord(
            timestamp=iso_utc(event.time), monitor=self._id, type=event.type,
            start=iso_utc(event.start), end=iso_utc(end) if end is not None else None,
            availability=1.0, message=event.message))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
