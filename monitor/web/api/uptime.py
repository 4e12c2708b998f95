"""Long history, read from the rollups and never from raw checks: each monitor's uptime
per UTC day (`GET /uptime`: the status page's 90-day bars, a dashboard's 30-day figure) and
one monitor's trend by bucket (`GET /monitors/{id}/trend`: a year of response times by
day). Uptime counts checks as the terminal's stats do (unknown checks are not checks)."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.core.timefmt import parse_duration
from monitor.stats import trend
from monitor.store.api import iso_utc
from monitor.store.summaries import TrendBucket, UptimeDays
from monitor.web import ids
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import (
    BAD_PARAMETER,
    MONITOR_ID,
    NULLABLE_NUMBER,
    UNREADABLE,
    finite,
    int_arg,
    known,
    reading,
    time_arg,
    time_parameter,
)
from monitor.web.problems import Problem

bp = Blueprint("uptime", __name__)
bp.record_once(ids.install)

DEFAULT_DAYS = 90
MAX_DAYS = 3660  # ten years of day rows
DEFAULT_RANGE = 86400.0
MAX_BUCKETS = 10_000
# A trend of `range` seconds with no step given gets about this many buckets.
AUTO_BUCKETS = 300
# Days × monitors read at once (a public route: its memory is bounded): 400 days of 5,000
# monitors; with each day's figures, 100 days of them. And monitors named at once.
MAX_CELLS = 2_000_000
MAX_DAILY_CELLS = 500_000
MAX_NAMED = 1000
STEPS = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)


@bp.get("/uptime")
@require("public")
def get_uptime() -> ResponseReturnValue:
    days = int_arg("days", DEFAULT_DAYS, 1, MAX_DAYS)
    daily = _flag("daily")
    wanted = request.args.getlist("monitor") or None
    context = current()
    if wanted is not None and len(wanted) > MAX_NAMED:
        raise Problem(400, "Bad Request", f"monitor: at most {MAX_NAMED} monitors at once",
                      parameter="monitor")
    count = len(wanted) if wanted is not None else len(context.config.monitors)
    most = MAX_DAILY_CELLS if daily else MAX_CELLS
    if days * count > most:
        raise Problem(400, "Bad Request", f"days: {days} days of {count} monitors are"
                      f" {days * count} figures, more than {most} at once: ask for fewer"
                      " days, or name the monitors", parameter="days")
    now = context.clock()
    configured = {monitor.id for monitor in context.config.monitors}
    with reading(context) as reader:
        for monitor_id in set(wanted or ()) - configured:
            known(context, reader, monitor_id)
        if daily:
            found = reader.uptime_by_day(wanted, days, now)
            totals = {monitor_id: (sum(d.checks), sum(d.up)) for monitor_id, d in found.items()}
        else:  # the sums alone: no list of days is made
            found, totals = {}, reader.uptime_totals(wanted, days, now)
    order = wanted or list(totals)
    items = [_uptime(monitor_id, totals.get(monitor_id, (0, 0)), found.get(monitor_id), daily)
             for monitor_id in order]
    first = int(now // 86400 - days + 1) * 86400
    return jsonify({"days": days, "from": iso_utc(first), "until": iso_utc(now),
                    "monitors": items})


def _uptime(monitor_id: str, total: tuple[int, int], days: UptimeDays | None,
            daily: bool) -> dict[str, Any]:
    checks, up = total
    item: dict[str, Any] = {"id": monitor_id, "checks": checks, "up": up,
                            "availability": up / checks if checks else None}
    if daily:  # columns, one value a day from `from`'s: compact for thousands of bars
        item["daily"] = {"checks": [] if days is None else days.checks,
                         "up": [] if days is None else days.up}
    return item


def _flag(name: str) -> bool:
    text = request.args.get(name, "false")
    if text not in ("true", "false", "1", "0"):
        raise Problem(400, "Bad Request", f"{name}: {text[:40]!r} is not true or false",
                      parameter=name)
    return text in ("true", "1")


@bp.get("/monitors/<monitor:id>/trend")
@require("read")
def get_trend(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the document says
    monitor_id = id
    context = current()
    now = context.clock()
    until = time_arg("until")
    until = now if until is None else until
    since = time_arg("since")
    since = until - DEFAULT_RANGE if since is None else since
    if until <= since:
        raise Problem(400, "Bad Request", "until: must be after since", parameter="until")
    step = _step(until - since)
    metric = request.args.get("metric")
    if metric is not None and not (0 < len(metric) <= 64 and metric.isprintable()):
        raise Problem(400, "Bad Request", "metric: must be a metric's name (dns, connect,"
                                          " tls, ttfb, total...)", parameter="metric")
    with reading(context) as reader:
        known(context, reader, monitor_id)
        buckets = trend(reader, monitor_id, since, until, step, metric)
    return jsonify({"monitor": monitor_id, "metric": metric, "step": _size(step),
                    "from": iso_utc(since), "until": iso_utc(until),
                    "buckets": _columns(buckets)})


def _step(span: float) -> float:
    text = request.args.get("step")
    if text is None:
        return next((step for step in STEPS if span / step <= AUTO_BUCKETS), STEPS[-1])
    step = parse_duration(text)
    if step is None or not math.isfinite(step) or not 0 < step <= MAX_DAYS * 86400:
        raise Problem(400, "Bad Request", f"step: {text[:40]!r} is not a duration (60s, 5m,"
                                          f" 1h, 1d) of at most {MAX_DAYS} days",
                      parameter="step")
    if span / _size(step) > MAX_BUCKETS:
        raise Problem(400, "Bad Request", f"step: {text[:40]} makes more than {MAX_BUCKETS}"
                                          " buckets of this range: give a longer step",
                      parameter="step")
    return step


def _size(step: float) -> int:
    # As stats.trend rounds it: whole minutes.
    return max(60, -(-int(step + 0.999999) // 60) * 60)


def _columns(buckets: list[TrendBucket]) -> dict[str, list[Any]]:
    """The buckets as columns, each a list: what a chart draws from (uPlot takes them)."""
    return {
        "start": [bucket.start for bucket in buckets],
        "checks": [bucket.checks for bucket in buckets],
        "up": [bucket.up for bucket in buckets],
        "values": [bucket.values for bucket in buckets],
        "avg": [finite(bucket.avg) for bucket in buckets],
        "min": [finite(bucket.min) for bucket in buckets],
        "max": [finite(bucket.max) for bucket in buckets],
        "p50": [finite(bucket.p50) for bucket in buckets],
        "p90": [finite(bucket.p90) for bucket in buckets],
        "p99": [finite(bucket.p99) for bucket in buckets],
    }


# -- the OpenAPI document ------------------------------------------------------------------

_NUMBERS = {"type": "array", "items": NULLABLE_NUMBER}
_COUNTS = {"type": "array", "items": {"type": "integer", "minimum": 0}}
_DAYS = {
    "type": "object", "required": ["checks", "up"],
    "description": "with daily=true: each day's checks and checks up, oldest first, the"
                   " first day being `from`'s (a day without checks: 0)",
    "properties": {"checks": _COUNTS, "up": _COUNTS},
}
_UPTIME = {
    "type": "object", "required": ["id", "checks", "up", "availability"],
    "properties": {
        "id": {"type": "string"},
        "checks": {"type": "integer", "minimum": 0,
                   "description": "known checks (unknown ones are not counted)"},
        "up": {"type": "integer", "minimum": 0},
        "availability": {**NULLABLE_NUMBER, "description": "up / checks; null: no checks"},
        "daily": _DAYS,
    },
}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/uptime": {"get": {
            "summary": "Each monitor's uptime over the last days, and per day",
            "operationId": "getUptime",
            "parameters": [
                {"name": "days", "in": "query", "description": "UTC days, today included",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS,
                            "default": DEFAULT_DAYS}},
                {"name": "monitor", "in": "query", "description": "a monitor's id (again"
                 " for more); none: every monitor",
                 "schema": {"type": "array", "items": {"type": "string"},
                            "maxItems": MAX_NAMED},
                 "style": "form", "explode": True},
                {"name": "daily", "in": "query", "description": "each day's figures too",
                 "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}},
            ],
            "responses": {
                "200": {"description": "Uptime by monitor", "content": {"application/json": {
                    "schema": {"type": "object",
                               "required": ["days", "from", "until", "monitors"],
                               "properties": {"days": {"type": "integer"},
                                              "from": {"type": "string"},
                                              "until": {"type": "string"},
                                              "monitors": {"type": "array",
                                                           "items": _UPTIME}}}}}},
                "400": BAD_PARAMETER,
                "404": error("No monitor has an id asked for"),
                "503": UNREADABLE,
            }}},
        "/monitors/{id}/trend": {"get": {
            "summary": "A monitor's response times (or a metric's) and uptime by bucket",
            "operationId": "getTrend",
            "parameters": [
                MONITOR_ID,
                time_parameter("since", "the first bucket holds it (default: a day before"
                                        " until)"),
                time_parameter("until", "the last bucket holds it (default: now)"),
                {"name": "step", "in": "query", "description": "a bucket's length (60s, 5m,"
                 " 1h, 1d; whole minutes); default: about 300 buckets",
                 "schema": {"type": "string"}},
                {"name": "metric", "in": "query", "description": "a measurement of the"
                 " kind's (http: dns, connect, tls, ttfb, total) instead of the response"
                 " time", "schema": {"type": "string", "minLength": 1, "maxLength": 64}},
            ],
            "responses": {
                "200": {"description": "The buckets as columns (start: epoch seconds)",
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "required": ["monitor", "metric", "step", "from", "until",
                                         "buckets"],
                            "properties": {
                                "monitor": {"type": "string"},
                                "metric": {"type": ["string", "null"]},
                                "step": {"type": "integer", "minimum": 60},
                                "from": {"type": "string"}, "until": {"type": "string"},
                                "buckets": {
                                    "type": "object",
                                    "required": ["start", "checks", "up", "values", "avg",
                                                 "min", "max", "p50", "p90", "p99"],
                                    "properties": {
                                        "start": _COUNTS, "checks": _COUNTS, "up": _COUNTS,
                                        "values": _COUNTS, "avg": _NUMBERS, "min": _NUMBERS,
                                        "max": _NUMBERS, "p50": _NUMBERS, "p90": _NUMBERS,
                                        "p99": _NUMBERS}}}}}}},
                "400": BAD_PARAMETER,
                "404": error("No monitor has the id, in the config or in the database"),
                "503": UNREADABLE,
            }}},
    },
}
