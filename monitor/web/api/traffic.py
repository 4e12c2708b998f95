"""An access log's traffic over a window (`GET /monitors/{id}/traffic`, a `log` monitor):
its requests by status class, its top sections and clients, its rate by step beside the
alert's threshold, and the alerts open. What the access-logs page shows.

Read from the metrics of the monitor's 10-second results (monitor.logs.breakdown): the
minute to day rows for the window's start, the raw results for its last minutes, since
the writer adds a minute's metric values to their rows once a minute."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from monitor.core.model import Monitor
from monitor.logs import breakdown
from monitor.logs.window import PERIOD, WINDOW, rule_of
from monitor.store.api import Reader, iso_utc
from monitor.store.history import END_OF_TIME, StoredCheck
from monitor.store.tiers import cover
from monitor.web import ids
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import (
    BAD_PARAMETER,
    MONITOR_ID,
    NULLABLE_NUMBER,
    UNREADABLE,
    choice_arg,
    configured,
    int_arg,
    reading,
)
from monitor.web.problems import Problem

bp = Blueprint("traffic", __name__)
bp.record_once(ids.install)

# Window -> (seconds, the rate's step): a step a whole number of the rows read for it.
WINDOWS = {"10m": (600, PERIOD), "1h": (3600, 60), "24h": (86400, 600)}
DEFAULT_WINDOW = "10m"
DEFAULT_TOP, MAX_TOP = 10, 100
# The last seconds read from the raw results: the writer sums a minute's metric values into
# their rows once a minute, so the rows may lack the last minute or two.
RAW_TAIL = 300
RAW_PAGE = 1000
MAX_RAW = 20_000  # raw results read at most (a day at one every 10 s is 8,640)
ALERT_ROWS = 50  # the latest alert rows looked at for the open ones


def log_monitor(monitor_id: str) -> Monitor:
    """The configured `log` monitor of this id, or a 404."""
    monitor = configured(current(), monitor_id)
    if monitor.kind != "log":
        raise Problem(404, "Not Found", f"{monitor_id!r} is a monitor of kind"
                      f" {monitor.kind!r}, not an access log (kind log)")
    return monitor


@bp.get("/monitors/<monitor:id>/traffic")
@require("read")
def get_traffic(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the document says
    monitor = log_monitor(id)
    window = choice_arg("window", tuple(WINDOWS), DEFAULT_WINDOW)
    assert window is not None
    top = int_arg("top", DEFAULT_TOP, 1, MAX_TOP)
    context = current()
    with reading(context) as reader:
        return jsonify(traffic(reader, monitor, window, context.clock(), top))


def traffic(reader: Reader, monitor: Monitor, window: str, now: float,
            top: int = DEFAULT_TOP) -> dict[str, Any]:
    """The figures of the route's answer."""
    seconds, step = WINDOWS[window]
    since = int(now - seconds) // step * step
    # Steps under a minute are the raw periods' own: the window is read raw.
    border = since if step < 60 else max(since, int(now - RAW_TAIL) // 60 * 60)
    ranges = cover(since, border, reader.rolled_until(), reader.blocks_since(),
                   coarsest=step) if border > since else []
    stored = reader.metric_sums(monitor.id, ranges, step, "value")
    totals = {name: total for name, (_count, total) in stored.totals.items()}
    steps = {start: list(pair) for start, pair in stored.steps.items()}
    raw = _raw(reader, monitor.id, border)
    for check in raw:
        for name, value in check.metrics.items():
            totals[name] = totals.get(name, 0.0) + value
        if "value" in check.metrics:
            pair = steps.setdefault(int(check.timestamp) // step * step, [0, 0.0])
            pair[0] += 1
            pair[1] += check.metrics["value"]
    found = breakdown.split(totals, top)
    hits = round(totals.get("hits", 0.0))
    spec = monitor.spec
    return {
        "monitor": monitor.id, "name": monitor.name, "path": spec.path, "window": window,
        "from": iso_utc(since), "until": iso_utc(now), "step": step,
        "maxRate": spec.max_rate, "maxErrorRate": spec.max_error_rate,
        "hits": hits, "bytes": round(totals.get("bytes", 0.0)),
        "rate": hits / max(now - since, 1.0),
        "recent": _recent(raw, border),
        "latest": _latest(reader, monitor.id),
        "statuses": found.statuses,
        "sections": [{"name": name, "hits": count} for name, count in found.sections],
        "clients": [{"name": name, "hits": count} for name, count in found.clients],
        "rates": {"at": sorted(steps),
                  "rate": [steps[at][1] / steps[at][0] for at in sorted(steps)]},
        **_alerts(reader, monitor.id),
    }


def _raw(reader: Reader, monitor_id: str, since: float) -> list[StoredCheck]:
    """The monitor's results from `since` on, oldest first (pages of the checks' route)."""
    found: list[StoredCheck] = []
    until = END_OF_TIME
    while len(found) < MAX_RAW:
        page = reader.checks_page(monitor_id, since, until, RAW_PAGE)
        found += [check for check in page.checks if check.available is not None]
        if page.next_until is None:
            break
        until = page.next_until
    return found[::-1]


def _recent(raw: list[StoredCheck], border: float) -> float | None:
    """Requests per second over the 2 minutes of log time before the newest period's end:
    the traffic rule's figure. None when those 2 minutes are not all in `raw`."""
    if not raw:
        return 0.0
    end = raw[-1].timestamp + PERIOD
    if end - WINDOW < border:
        return None
    return sum(c.metrics.get("hits", 0.0) for c in raw if c.timestamp >= end - WINDOW) / WINDOW


def _latest(reader: Reader, monitor_id: str) -> dict[str, Any] | None:
    """The newest 10-second period recorded: its start, requests per second and requests."""
    found = reader.monitor_summaries([monitor_id])
    at = found[0].last_check if found else None
    metrics = found[0].last_metrics if found else None
    if at is None or not metrics:
        return None
    return {"at": iso_utc(at), "rate": metrics.get("value", 0.0),
            "hits": round(metrics.get("hits", 0.0))}


def _alerts(reader: Reader, monitor_id: str) -> dict[str, Any]:
    """The rules alerting now (traffic, errors), since when and the alert's message; and
    the latest alert or recovery."""
    opened: dict[str, dict[str, Any]] = {}
    last = None
    for kind, start, message in reader.latest_alerts(monitor_id, ALERT_ROWS):
        rule = rule_of(message)
        if rule is None or kind not in ("alert", "recovery"):
            continue
        last = {"type": kind, "rule": rule, "message": message}
        if kind == "alert":
            opened[rule] = {"rule": rule, "since": start, "message": message}
        else:
            opened.pop(rule, None)
    return {"alerts": list(opened.values()), "lastAlert": last}


# -- the OpenAPI document ------------------------------------------------------------------

_NAMED = {"type": "array", "items": {
    "type": "object", "required": ["name", "hits"],
    "properties": {"name": {"type": "string"}, "hits": {"type": "integer", "minimum": 0}}}}
_NUMBERS = {"type": "array", "items": {"type": "number"}}
_RULES = ("traffic", "errors")

OPENAPI: dict[str, Any] = {
    "paths": {
        "/monitors/{id}/traffic": {"get": {
            "summary": "An access log's traffic over a window",
            "description": (
                "A `log` monitor's requests over the window: by status class, its top"
                " sections and clients, its rate per step (the mean of its 10-second"
                " periods' requests per second) beside the alert's threshold (`maxRate`),"
                " and the alerts open. Summed from each 10-second period's figures, which"
                " keep the period's top 10 sections and clients: a name's hits are exact"
                " while it stays in every period's top 10, a lower bound otherwise."),
            "operationId": "monitorTraffic",
            "parameters": [
                MONITOR_ID,
                {"name": "window", "in": "query", "description": "how far back from now",
                 "schema": {"enum": list(WINDOWS), "default": DEFAULT_WINDOW}},
                {"name": "top", "in": "query", "description": "sections and clients given",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP,
                            "default": DEFAULT_TOP}}],
            "responses": {
                "200": {"description": "The log's traffic", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Traffic"}}}},
                "400": BAD_PARAMETER,
                "404": error("No monitor of the config has this id, or it is not a log"),
                "503": UNREADABLE}}},
    },
    "components": {"schemas": {
        "Traffic": {
            "type": "object",
            "required": ["monitor", "name", "path", "window", "from", "until", "step",
                         "maxRate", "maxErrorRate", "hits", "bytes", "rate", "recent",
                         "latest", "statuses", "sections", "clients", "rates", "alerts",
                         "lastAlert"],
            "properties": {
                "monitor": {"type": "string"},
                "name": {"type": "string"},
                "path": {"type": "string", "description": "the log file"},
                "window": {"enum": list(WINDOWS)},
                "from": {"type": "string", "description": "the window's start (on a step),"
                                                          " ISO-8601 UTC"},
                "until": {"type": "string", "description": "now"},
                "step": {"type": "integer", "description": "seconds per point of `rates`"},
                "maxRate": {"type": "number",
                            "description": "the traffic alert's threshold, requests per"
                                           " second over 2 minutes"},
                "maxErrorRate": {**NULLABLE_NUMBER, "description": "the 5xx alert's share"},
                "hits": {"type": "integer", "minimum": 0,
                         "description": "requests in the window"},
                "bytes": {"type": "integer", "minimum": 0},
                "rate": {"type": "number", "description": "hits per second of the window"},
                "recent": {**NULLABLE_NUMBER,
                           "description": "requests per second over the 2 minutes of log"
                                          " time before the newest period's end (what the"
                                          " alert compares with maxRate)"},
                "latest": {"type": ["object", "null"], "required": ["at", "rate", "hits"],
                           "properties": {"at": {"type": "string"},
                                          "rate": {"type": "number"},
                                          "hits": {"type": "integer"}},
                           "description": "the newest 10-second period recorded"},
                "statuses": {"type": "object", "additionalProperties": {
                    "type": "integer", "minimum": 0},
                    "description": "requests by status class: 1xx to 5xx, other"},
                "sections": {**_NAMED, "description": "most hits first"},
                "clients": {**_NAMED, "description": "most hits first"},
                "rates": {"type": "object", "required": ["at", "rate"],
                          "properties": {"at": _NUMBERS, "rate": _NUMBERS},
                          "description": "columns: each step's start (epoch seconds) and"
                                         " requests per second"},
                "alerts": {"type": "array", "items": {
                    "type": "object", "required": ["rule", "since", "message"],
                    "properties": {"rule": {"enum": list(_RULES)},
                                   "since": {"type": "string"},
                                   "message": {"type": "string"}}},
                    "description": "the rules alerting now"},
                "lastAlert": {"type": ["object", "null"],
                              "required": ["type", "rule", "message"],
                              "properties": {"type": {"enum": ["alert", "recovery"]},
                                             "rule": {"enum": list(_RULES)},
                                             "message": {"type": "string"}},
                              "description": "the latest alert or recovery"},
            }},
    }},
}
