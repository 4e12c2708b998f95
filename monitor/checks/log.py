"""The `log` kind: an access log watched inside `-m`, beside the other monitors.

    {"type": "log", "path": "/var/log/nginx/access.log", "maxRate": 10}

Not checked on a schedule: it follows the file as it is written (rotations included) and
raises the traffic alert (`maxRate` requests per second over 2 minutes of log time) and,
with `maxErrorRate`, the 5xx alert, in the original wording, stored and notified as every
monitor's alerts are. Every 10 s of log time it records a result: up, with the period's
requests per second as its value (`value`), its requests (`hits`), bytes and 5xx share,
and its status classes, top sections and clients (monitor.logs.breakdown).
`check NAME` reads the end of the file and says what it found.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.errors import MonitorError
from monitor.core.fields import Fields
from monitor.core.kind import Kind, Parsed, Watch, WatchEvent, WatchState
from monitor.core.model import CheckResult, Monitor
from monitor.logs import breakdown
from monitor.logs.follow import Follower, Note, w3c_fields
from monitor.logs.formats import FORMATS, SKIP, LogFormatError, detect, make
from monitor.logs.reader import LogReader
from monitor.logs.window import LogWindows, Report, TrafficEvent, rule_of

KEYS = ("path", "maxRate", "maxErrorRate", "format", "fromStart")
HELP = {
    "path": ("required", "the access log to watch, relative to the config file"),
    "maxRate": ("10", "the traffic alert: requests per second, averaged over 2 minutes of log"
                      " time"),
    "maxErrorRate": ("none", "also alert when the share of 5xx answers over 2 minutes is above"
                             " this (0 to 1)"),
    "format": ("`\"auto\"`", "`common`, `combined`, `w3c`, `csv`; `auto` tells it from the"
                             " first lines"),
    "fromStart": ("`false`", "read the log from its start the first time (a restart reads on"
                             " from its end)"),
}
SCHEMA = {"path": schemas.text(), "maxRate": schemas.positive(1e9),
          "maxErrorRate": schemas.number(0.0, 1.0), "format": {"enum": ["auto", *FORMATS]},
          "fromStart": schemas.boolean()}
REASONS = ("missing", "unreadable", "format")
TAIL_BYTES = 64 * 1024  # what `check NAME` reads of the end of the log
BACKLOG_POLLS = 3  # more reads of a log that is behind, in one poll of the watch


class LogSpec:
    __slots__ = ("path", "max_rate", "max_error_rate", "format", "from_start")

    def __init__(self, path: str, max_rate: float, max_error_rate: float | None, fmt: str,
                 from_start: bool) -> None:
        self.path = path
        self.max_rate = max_rate
        self.max_error_rate = max_error_rate
        self.format = fmt
        self.from_start = from_start

    def __eq__(self, other: object) -> bool:  # a reload keeps a watch whose spec is equal
        return isinstance(other, LogSpec) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))


def _parse(fields: Fields, entry: Mapping[str, Any], path: str,
           defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    if "path" not in obj:
        raise fields.fail(f"{path}.path", "is required (the access log to watch)")
    written = fields.text(obj, "path", f"{path}.path")
    # Relative to the config file, as a reader of the config would expect; the id keeps the
    # path as written, so that it is the same however the config file is named (`-c
    # t/config.json` from one folder, `-c config.json` from another, `serve` beside).
    file = written if os.path.isabs(written) else str(Path(fields.source).parent / written)
    fmt = obj.get("format", "auto")
    if fmt not in ("auto", *FORMATS):
        raise fields.fail(f"{path}.format", f"must be one of: auto, {', '.join(FORMATS)}")
    max_error_rate = None
    if "maxErrorRate" in obj:
        max_error_rate = fields.number(obj, "maxErrorRate", f"{path}.maxErrorRate", 0.0, 0.0,
                                       1.0)
    spec = LogSpec(file, fields.positive(obj, "maxRate", f"{path}.maxRate", 10.0, 1e9),
                   max_error_rate, fmt, fields.boolean(obj, "fromStart", f"{path}.fromStart",
                                                       False))
    return Parsed(spec=spec, target=file, id=f"log:{written}")


class LogWatch:
    """One log followed into its windows. The alerts open when it starts (raised before a
    restart or a reload) are not raised again while their rule holds; `fromStart` reads
    the log from its start only the first time it is watched."""

    def __init__(self, monitor: Monitor, state: WatchState | None = None) -> None:
        state = state or WatchState()
        spec: LogSpec = monitor.spec
        self._monitor = monitor
        self._follower = Follower(spec.path,
                                  from_start=spec.from_start and not state.resumed)
        self._windows = LogWindows(spec.max_rate, spec.max_error_rate)
        opened: dict[str, float] = {}
        for kind, start, message in state.alerts:
            rule = rule_of(message)
            if rule is not None and kind == "alert":
                opened[rule] = start
            elif rule is not None and kind == "recovery":
                opened.pop(rule, None)
        for rule, start in opened.items():
            self._windows.reopen(rule, start)
        self._reader = LogReader(self._windows, spec.format)
        self._failed: str | None = None  # the format error said, once
        self.notes: list[str] = []  # information, not warnings (the format told)

    def poll(self, wall: float, quiet: bool = False,
             ) -> tuple[list[CheckResult], list[WatchEvent], list[str]]:
        self._windows.quiet = quiet
        results: list[CheckResult] = []
        events: list[WatchEvent] = []
        lines = self._follower.poll()
        for _ in range(BACKLOG_POLLS):  # a backlog is read on, a few budgets a poll
            if not self._follower.behind:
                break
            lines += self._follower.poll()
        warnings: list[str] = []
        for text in self._follower.events:
            (self.notes if isinstance(text, Note) else warnings).append(text)
        self._follower.events.clear()
        try:
            items = self._reader.step(lines, wall)
        except LogFormatError as exc:
            if str(exc) != self._failed:
                warnings.append(str(exc))
            self._failed = str(exc)
            return results, events, warnings
        for item in items:
            if isinstance(item, TrafficEvent):
                events.append(WatchEvent(item.type, item.time, item.start, item.end,
                                         item.message, item.rule))
            else:
                results.append(self._result(item))
        warnings += self._reader.warnings(wall)
        self.notes += self._reader.notes
        self._reader.notes.clear()
        return results, events, warnings

    def _result(self, report: Report) -> CheckResult:
        errors = report.statuses.get("5xx", 0)
        return CheckResult(
            self._monitor.id, float(report.start), True, None, 0.0,
            mono=time.monotonic(),
            metrics={"value": report.rate, "hits": float(report.hits),
                     "bytes": float(report.bytes),
                     "errors": errors / report.hits if report.hits else 0.0,
                     **breakdown.metrics(report.statuses, report.sections,
                                         report.clients)})

    def close(self) -> None:
        self._follower.close()


def _watch(monitor: Monitor, state: WatchState) -> Watch:
    return LogWatch(monitor, state)


def _check(monitor: Monitor, deadline: Deadline) -> CheckResult:
    """Once (`check NAME`): the file is there, readable, and its last lines parse."""
    spec: LogSpec = monitor.spec
    started, mono = time.time(), time.monotonic()

    def result(reason: str | None, detail: str) -> CheckResult:
        return CheckResult(monitor.id, started, reason is None, None,
                           (time.monotonic() - mono) * 1000, reason, detail, mono=mono)

    try:
        with open(spec.path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_BYTES))
            lines = file.read(TAIL_BYTES).split(b"\n")
            # A W3C log's lines are read with its latest #Fields line, above the end.
            header = w3c_fields(file.fileno(), size - TAIL_BYTES) if size > TAIL_BYTES else None
    except FileNotFoundError:
        return result("missing", f"{spec.path}: no such file")
    except OSError as exc:
        return result("unreadable", f"{spec.path}: {exc.strerror}")
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first may be cut
    lines = [line for line in lines if line.strip()]
    count = len(lines)
    if header is not None and lines:
        lines.insert(0, header)  # read first, not counted
    if not lines:
        return result(None, f"{spec.path}: empty ({size} bytes)")
    try:
        parser = detect(lines) if spec.format == "auto" else make(spec.format)
    except MonitorError as exc:
        return result("format", str(exc)[:200])
    parsed = [parser.parse(line) for line in lines]
    good = sum(1 for hit in parsed if hit is not None and hit is not SKIP)
    bad = sum(1 for hit in parsed if hit is None)
    return result(None if good else "format",
                  f"{spec.path}: {size} bytes, format {parser.name}; of its last"
                  f" {count} lines {good} parse, {bad} malformed")


KIND = Kind(name="log", keys=KEYS, parse=_parse, reasons=REASONS, run=_check,
              network=False, watch=_watch, help=HELP, schema=SCHEMA)
