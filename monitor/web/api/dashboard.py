"""`GET /dashboard`: every monitor of the config as the dashboard shows it, in one answer:
its state, its checks and checks up over 24 h, 7 d and 30 d (the stats' figures for those
windows), its response time now and per minute lately, its last failure, and the event
stream's position at the read (resume there: nothing is missed, nothing is older).

One read of the store for all monitors (Reader.dashboard), and columns (a list per field,
not an object per monitor): 5,000 monitors are about 800 KB, 130 KB compressed."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from monitor.checks import registry
from monitor.config import Config
from monitor.core import secrets
from monitor.engine.locations import LocationState, alerting, several
from monitor.stats import window_start
from monitor.store.dashboard import Dashboard, Failure, Spark
from monitor.store.tiers import DAY, MINUTE
from monitor.web.api.monitors import located, state_of
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.params import NULLABLE_NUMBER, NULLABLE_STRING, UNREADABLE, reading
from monitor.web.sse import format_id

bp = Blueprint("dashboard_data", __name__)

# The windows of the uptime columns: the stats' own (from the start of their first minute).
WINDOWS = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY))
# The states, worst first: the dashboard's order and its summary's.
STATES = ("down", "warning", "unknown", "maintenance", "paused", "up")
REASON_CHARS = 160  # of a last failure's "reason: detail"
COLUMNS = ("id", "name", "target", "kind", "tags", "state", "windows", "response", "value",
           "spark", "sparkAge", "sparkCount", "failAge", "failure")


@bp.get("/dashboard")
@require("read")
def get_dashboard() -> ResponseReturnValue:
    context = current()
    now = context.clock()
    starts = [int(window_start(now, seconds)) for _name, seconds in WINDOWS]
    with reading(context) as reader:
        read = reader.dashboard(starts, now)
        # A monitor checked from several locations is in the state the rules judge.
        states = located(context, reader, [m for m in context.config.monitors if several(m)])
        open_ = alerting(reader, states)
    return (jsonify(snapshot(context.config, read, now, states, open_)), 200,
            {"Cache-Control": "no-store"})


def watched_kind(kind: str) -> bool:
    """A kind whose results a watch makes (a log's rate, a metric's value, a push): its
    value is what it measures, its "response time" nothing."""
    try:
        return registry.get(kind).watch is not None
    except (KeyError, registry.PluginError):
        return False


def snapshot(config: Config, read: Dashboard, now: float,
             located: dict[str, list[LocationState]] | None = None,
             alerting: Collection[str] = ()) -> dict[str, Any]:
    """Every monitor of the config, in its order (the page sorts), a list per field;
    `located`: the locations' states of those checked from several; `alerting`: those of
    them whose alert is open."""
    kinds: dict[str, int] = {}
    tags: dict[str, int] = {}
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    summaries = {summary.id: summary for summary in read.summaries}
    rank = {state: i for i, state in enumerate(STATES)}
    minute = int(now // MINUTE) * MINUTE
    no_windows = [0] * (2 * len(WINDOWS))
    nothing = Spark("", 0, 0)
    watched: dict[str, bool] = {}  # by kind: its results are watched, not timed checks
    for monitor in config.monitors:
        summary = summaries.get(monitor.id)
        columns["id"].append(monitor.id)
        columns["name"].append(monitor.name)
        # The target only where it is not the id (an http monitor's id is its URL).
        columns["target"].append(None if monitor.target == monitor.id else monitor.target)
        columns["kind"].append(kinds.setdefault(monitor.kind, len(kinds)))
        columns["tags"].append([tags.setdefault(tag, len(tags)) for tag in monitor.tags])
        columns["state"].append(rank[state_of(monitor, summary, (located or {}).get(monitor.id),
                                              monitor.id in alerting)])
        windows = read.windows.get(monitor.id)
        columns["windows"].append(no_windows if windows is None
                                  else [n for pair in windows for n in pair])
        response = summary.last_response if summary is not None else None
        columns["response"].append(None if response is None else round(response, 1))
        if monitor.kind not in watched:
            watched[monitor.kind] = watched_kind(monitor.kind)
        metrics = summary.last_metrics if summary is not None else None
        value = metrics.get("value") if watched[monitor.kind] and metrics else None
        columns["value"].append(None if value is None else float(value))
        spark = read.sparks.get(monitor.id, nothing)
        columns["spark"].append(spark.values)
        columns["sparkAge"].append((minute - spark.last_minute) // MINUTE if spark.values
                                   else None)
        columns["sparkCount"].append(spark.last_count)
        failure = read.failures.get(monitor.id)
        columns["failAge"].append(None if failure is None else round(now - failure.at))
        columns["failure"].append(None if failure is None else _why(failure, monitor.secrets))
    return {"at": now, "position": format_id(read.position),
            "windowNames": [name for name, _seconds in WINDOWS], "states": list(STATES),
            "kinds": list(kinds), "watchedKinds": [kind for kind in kinds if watched[kind]],
            "tagNames": list(tags), **columns}


def _why(failure: Failure, hidden: tuple[str, ...]) -> str | None:
    """"reason: detail", bounded; details are stored masked, and masked again with the
    monitor's secrets of today's config (as the API's checks are)."""
    if failure.reason is None:
        return None
    detail = secrets.redact(failure.detail or "", hidden)
    text = f"{failure.reason}: {detail}" if detail else failure.reason
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


# -- the OpenAPI document ------------------------------------------------------------------

def _column(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description}


_INDEX = {"type": "integer", "minimum": 0}
_NULLABLE_COUNT = {"type": ["integer", "null"], "minimum": 0}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_DASHBOARD = {
    "type": "object",
    "required": ["at", "position", "windowNames", "states", "kinds", "watchedKinds",
                 "tagNames", *COLUMNS],
    "properties": {
        "at": {"type": "number", "description": "when it was read, epoch seconds"},
        "position": {"type": "string", "description": "the event stream's id at the read:"
                     " GET /events?lastEventId= it sends what came after"},
        "windowNames": {**_STRINGS, "description": "the windows of `windows`: 24h, 7d, 30d"},
        "states": {**_STRINGS, "description": "the states `state` counts in, worst first"},
        "kinds": {**_STRINGS, "description": "the kinds `kind` counts in"},
        "watchedKinds": {**_STRINGS, "description": "the kinds whose figure is their `value`"
                         " (a watch's results: log, metric, push), not a response time"},
        "tagNames": {**_STRINGS, "description": "the tags `tags` count in"},
        "id": _column({"type": "string"}, "each monitor's id, in the config's order"),
        "name": _column({"type": "string"}, "its name ('' when it has none)"),
        "target": _column(NULLABLE_STRING, "its target, masked; null: the same as its id"),
        "kind": _column(_INDEX, "its kind, in `kinds`"),
        "tags": _column({"type": "array", "items": _INDEX}, "its tags, in `tagNames`"),
        "state": _column(_INDEX, "its state now, in `states` (as GET /monitors says it)"),
        "windows": _column({"type": "array", "items": _INDEX, "minItems": 6, "maxItems": 6},
                           "its checks and checks up of each window (unknown checks are"
                           " not counted): the stats' figures for the same windows"),
        "response": _column(NULLABLE_NUMBER, "its latest response time, ms"),
        "value": _column(NULLABLE_NUMBER, "a watched kind's latest value (a log's requests"
                         " per second, a metric monitor's value, a push's value); null"
                         " for a timed check, whose figure is its response time"),
        "spark": _column({"type": "string"}, "its average response time (ms, two digits)"
                         " of each of its last minutes with checks, up to 20 intervals"
                         " back, oldest first, comma-separated; empty: no timed check"),
        "sparkAge": _column(_NULLABLE_COUNT, "minutes from the last of them to now"),
        "sparkCount": _column(_INDEX, "timed checks in the last of them"),
        "failAge": _column(_NULLABLE_COUNT, "seconds since its latest failed check"),
        "failure": _column(NULLABLE_STRING, "that check's reason and detail (secrets"
                           " masked); null once its raw check is purged"),
    },
}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/dashboard": {"get": {
            "summary": "Every monitor as the dashboard shows it, in columns",
            "operationId": "getDashboard",
            "responses": {
                "200": {"description": "The monitors, a list per field",
                        "content": {"application/json": {"schema": _DASHBOARD}}},
                "503": UNREADABLE,
            }}},
    },
}
