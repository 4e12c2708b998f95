"""A monitor's history: its raw checks a page at a time (`GET /monitors/{id}/checks`) and
its stats over a window (`GET /monitors/{id}/stats`), the same figures the terminal prints
for that window, computed by the same code (monitor.stats)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.config.agents import NAME as LOCATION
from monitor.config.agents import NAME_RULE as LOCATION_RULE
from monitor.core import secrets
from monitor.core.model import Monitor
from monitor.stats import MonitorStats, window_start, window_stats
from monitor.store.api import iso_utc
from monitor.store.history import END_OF_TIME, SCAN_ROWS, StoredCheck
from monitor.web import ids
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import (
    BAD_PARAMETER,
    MONITOR_ID,
    NULLABLE_NUMBER,
    NULLABLE_STRING,
    UNREADABLE,
    choice_arg,
    finite,
    int_arg,
    known,
    reading,
    time_arg,
    time_parameter,
)
from monitor.web.problems import Problem

bp = Blueprint("history", __name__)
bp.record_once(ids.install)

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# The windows of the stats, as the terminal's are: from the start of the minute they begin
# in, to now.
WINDOWS = {"10m": 600, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400,
           "90d": 90 * 86400, "365d": 365 * 86400}
DEFAULT_WINDOW = "24h"


@bp.get("/monitors/<monitor:id>/checks")
@require("read")
def get_checks(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the document says
    monitor_id = id
    since = time_arg("since")
    until = time_arg("until")
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    location = _location_arg()
    low = 0.0 if since is None else since
    high = END_OF_TIME if until is None else until
    if high <= low:
        raise Problem(400, "Bad Request", "until: must be after since", parameter="until")
    context = current()
    with reading(context) as reader:
        monitor = known(context, reader, monitor_id)
        page = reader.checks_page(monitor_id, low, high, limit, location)
    return jsonify({"monitor": monitor_id,
                    "checks": [_check(check, monitor) for check in page.checks],
                    "nextUntil": page.next_until})


def _location_arg() -> str | None:
    """`location`: "local" or an agent's location (of now or once: its checks stay)."""
    value = request.args.get("location")
    if value is None:
        return None
    if not LOCATION.fullmatch(value):
        raise Problem(400, "Bad Request", f"location: must be {LOCATION_RULE}",
                      parameter="location")
    return value


def _check(check: StoredCheck, monitor: Monitor | None) -> dict[str, Any]:
    # Details are stored masked; masked again with the monitor's secrets of today's config.
    hidden = monitor.secrets if monitor is not None else ()
    return {"id": check.id, "time": iso_utc(check.timestamp), "timestamp": check.timestamp,
            "up": check.available, "status": check.status, "responseTime": check.response_ms,
            "reason": check.reason,
            "detail": None if check.detail is None else secrets.redact(check.detail, hidden),
            "lateness": check.lateness_ms, "metrics": dict(check.metrics),
            "warning": check.warning, "location": check.location}


@bp.get("/monitors/<monitor:id>/stats")
@require("read")
def get_stats(id: str) -> ResponseReturnValue:  # noqa: A002
    monitor_id = id
    window = choice_arg("window", tuple(WINDOWS), DEFAULT_WINDOW)
    assert window is not None
    context = current()
    now = context.clock()
    start = window_start(now, WINDOWS[window])
    with reading(context) as reader:
        known(context, reader, monitor_id)
        stats = window_stats(reader, start, now, [monitor_id], narrow=True)[monitor_id]
    return jsonify(figures(stats, window, start, now))


def figures(stats: MonitorStats, window: str, start: float, end: float) -> dict[str, Any]:
    """A monitor's stats as the API shows them (the terminal's columns, unrounded)."""
    return {
        "monitor": stats.monitor_id, "window": window, "from": iso_utc(start),
        "until": iso_utc(end), "checks": stats.checks, "availability": stats.availability,
        "responseTime": {"min": stats.rt_min, "avg": stats.rt_avg, "max": stats.rt_max,
                         "p50": finite(stats.p50), "p90": finite(stats.p90),
                         "p99": finite(stats.p99)},
        "statuses": stats.statuses, "reasons": stats.reasons, "warnings": stats.warnings,
        "skipped": stats.skipped,
        "phases": {name: {"p50": finite(p50), "p90": finite(p90)}
                   for name, (p50, p90) in stats.phases.items()},
        "downSince": None if stats.down_for is None else iso_utc(end - stats.down_for),
        "downFor": stats.down_for,
        "lastFailure": (None if stats.since_failure is None
                        else iso_utc(end - stats.since_failure)),
        "sinceFailure": stats.since_failure,
    }


# -- the OpenAPI document ------------------------------------------------------------------

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_CHECK = {
    "type": "object",
    "required": ["id", "time", "timestamp", "up", "status", "responseTime", "reason",
                 "detail", "lateness", "metrics", "warning", "location"],
    "properties": {
        "id": {"type": "integer"},
        "time": {"type": "string", "description": "when it began, ISO-8601 UTC"},
        "timestamp": {"type": "number", "description": "the same, epoch seconds"},
        "up": {"type": ["boolean", "null"],
               "description": "null: unknown (the monitor was offline, or in maintenance)"},
        "status": {"type": ["integer", "null"],
                   "description": "the answer's code: HTTP status, DNS rcode..."},
        "responseTime": {"type": "number", "description": "milliseconds"},
        "reason": {**NULLABLE_STRING, "description": "why it failed or warned"},
        "detail": NULLABLE_STRING,
        "lateness": {**NULLABLE_NUMBER, "description": "milliseconds after its schedule"},
        "metrics": {"type": "object", "additionalProperties": {"type": "number"},
                    "description": "the kind's measurements (http: dns, connect, tls, ttfb,"
                                   " total, in ms)"},
        "warning": {"type": "boolean",
                    "description": "up, but warning (reason and detail say why)"},
        "location": {"type": "string",
                     "description": "where it ran: `local` (this monitor) or the location"
                                    " of the agent that ran it"},
    },
}
_STATS = {
    "type": "object",
    "required": ["monitor", "window", "from", "until", "checks", "availability",
                 "responseTime", "statuses", "reasons", "warnings", "skipped", "phases",
                 "downSince", "downFor", "lastFailure", "sinceFailure"],
    "properties": {
        "monitor": {"type": "string"},
        "window": {"enum": list(WINDOWS)},
        "from": {"type": "string", "description": "the window's start (the start of the"
                                                  " minute it begins in), ISO-8601 UTC"},
        "until": {"type": "string", "description": "its end: now"},
        "checks": {"type": "integer", "minimum": 0,
                   "description": "checks with a verdict (unknown ones are not counted)"},
        "availability": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                         "description": "up / checks; null without checks"},
        "responseTime": {
            "type": "object", "required": ["min", "avg", "max", "p50", "p90", "p99"],
            "properties": {key: NULLABLE_NUMBER for key in
                           ("min", "avg", "max", "p50", "p90", "p99")},
            "description": "milliseconds, of the checks that got an answer with a code;"
                           " percentiles within 2.5%"},
        "statuses": {**_COUNTS, "description": "checks by answer code"},
        "reasons": {**_COUNTS, "description": "failed checks by reason"},
        "warnings": {**_COUNTS, "description": "checks up but warning, by reason"},
        "skipped": {"type": "integer", "minimum": 0,
                    "description": "slots skipped while a check ran long (in checks)"},
        "phases": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["p50", "p90"],
            "properties": {"p50": NULLABLE_NUMBER, "p90": NULLABLE_NUMBER}},
            "description": "the kind's measurements (http phases), ms"},
        "downSince": {**NULLABLE_STRING, "description": "down now: since when"},
        "downFor": {**NULLABLE_NUMBER, "description": "down now: for how many seconds"},
        "lastFailure": {**NULLABLE_STRING, "description": "the last failed check's time"},
        "sinceFailure": {**NULLABLE_NUMBER, "description": "seconds since then"},
    },
}
_NOT_FOUND = error("Neither the config nor the database knows the monitor")

OPENAPI: dict[str, Any] = {
    "paths": {
        "/monitors/{id}/checks": {"get": {
            "summary": "A monitor's checks, newest first",
            "description": (
                "The checks as stored (every check is), newest first, with since <= time"
                f" < until. At most `limit` a page; a page also stops after walking about"
                f" {SCAN_ROWS} stored checks of all monitors (the table is indexed by time"
                " only), so it may hold fewer: `nextUntil`, when not null, is the `until` of"
                " the next (older) page. Times are epoch seconds or ISO-8601 (UTC unless"
                " an offset is given)."),
            "operationId": "monitorChecks",
            "parameters": [
                MONITOR_ID,
                time_parameter("since", "the oldest time, inclusive (default: the first)"),
                time_parameter("until", "the newest time, exclusive (default: none)"),
                {"name": "limit", "in": "query", "description": "checks a page, at most",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT}},
                {"name": "location", "in": "query", "description": "only the checks run"
                 " from this location (`local`, or an agent's); default: all",
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}],
            "responses": {
                "200": {"description": "A page of checks", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["monitor", "checks",
                                                              "nextUntil"],
                               "properties": {
                                   "monitor": {"type": "string"},
                                   "checks": {"type": "array", "items": {
                                       "$ref": "#/components/schemas/Check"}},
                                   "nextUntil": {**NULLABLE_NUMBER, "description":
                                                 "the next page's until; null: no more"}}}}}},
                "400": BAD_PARAMETER, "404": _NOT_FOUND, "503": UNREADABLE}}},
        "/monitors/{id}/stats": {"get": {
            "summary": "A monitor's stats over a window",
            "description": (
                "The figures the terminal prints for the same window, by the same code:"
                " from the start of the minute the window begins in, to now. Read from the"
                " rollups (minutes, 10-minute blocks, hours, days), never from every raw"
                " check."),
            "operationId": "monitorStats",
            "parameters": [
                MONITOR_ID,
                {"name": "window", "in": "query", "schema": {
                    "enum": list(WINDOWS), "default": DEFAULT_WINDOW}}],
            "responses": {
                "200": {"description": "The stats", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MonitorStats"}}}},
                "400": BAD_PARAMETER, "404": _NOT_FOUND, "503": UNREADABLE}}},
    },
    "components": {"schemas": {"Check": _CHECK, "MonitorStats": _STATS}},
}
