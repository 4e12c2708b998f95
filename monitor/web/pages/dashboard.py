"""The dashboard (`/`): every monitor with its state, uptime over 24 h, 7 d and 30 d, its
response time now with a sparkline of its last minutes, and its last failure with the
reason; worst first, searchable, grouped by tag, kind or state; live from the event stream.

Built for thousands of monitors: the server reads everything in one snapshot
(Reader.dashboard: a few queries for all monitors, no seek per monitor but the few each
window's edges need) and hands it to the page as one JSON island in columns (a list per
field, not an object per monitor: half the bytes, and quicker to parse). The script
(static/js/dashboard.js) draws only the rows in view, and applies the checks of the event
stream, resumed from the position of the read, once per animation frame to the rows they
change."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from monitor.core import secrets
from monitor.stats import window_start
from monitor.store.dashboard import Dashboard, Failure, Spark
from monitor.store.tiers import DAY, MINUTE
from monitor.web.api.monitors import state_of
from monitor.web.context import WebContext, current
from monitor.web.pages import page, render
from monitor.web.params import reading
from monitor.web.sse import format_id

bp = Blueprint("dashboard", __name__)

# The windows of the uptime columns: the stats' own (from the start of their first minute).
WINDOWS = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY))
# The states, worst first: the rows' order and the summary's.
STATES = ("down", "warning", "unknown", "maintenance", "paused", "up")
REASON_CHARS = 160  # of a last failure's "reason: detail"


@bp.get("/")
@page("read")
def show() -> ResponseReturnValue:
    data = snapshot(current())
    counts = dict.fromkeys(STATES, 0)
    for state in data["state"]:
        counts[STATES[state]] += 1
    return render("dashboard.html", nav="dashboard", data=island(data), counts=counts,
                  total=len(data["id"]))


def island(value: Any) -> Markup:
    """JSON for a <script type="application/json">: nothing in it can close the element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("&", "\\u0026"))


def snapshot(context: WebContext) -> dict[str, Any]:
    """Every monitor of the config as the page takes it: a list per field, in the
    config's order (the page sorts)."""
    now = context.clock()
    starts = [int(window_start(now, seconds)) for _name, seconds in WINDOWS]
    with reading(context) as reader:
        read = reader.dashboard(starts, now)
    monitors = context.config.monitors
    kinds: dict[str, int] = {}
    tags: dict[str, int] = {}
    columns: dict[str, list[Any]] = {name: [] for name in (
        "id", "name", "target", "kind", "tags", "state", "windows", "response", "spark",
        "sparkAge", "sparkCount", "failAge", "failure")}
    _fill(columns, monitors, read, now, kinds, tags)
    return {"at": now, "position": format_id(read.position),
            "windowNames": [name for name, _seconds in WINDOWS], "states": list(STATES),
            "kinds": list(kinds), "tagNames": list(tags), **columns}


def _fill(columns: dict[str, list[Any]], monitors: Any, read: Dashboard, now: float,
          kinds: dict[str, int], tags: dict[str, int]) -> None:
    summaries = {summary.id: summary for summary in read.summaries}
    rank = {state: i for i, state in enumerate(STATES)}
    minute = int(now // MINUTE) * MINUTE
    no_windows = [0] * (2 * len(WINDOWS))
    nothing = Spark("", 0, 0)
    for monitor in monitors:
        summary = summaries.get(monitor.id)
        columns["id"].append(monitor.id)
        columns["name"].append(monitor.name)
        # The target only where it is not the id (an http monitor's id is its URL).
        columns["target"].append(None if monitor.target == monitor.id else monitor.target)
        columns["kind"].append(kinds.setdefault(monitor.kind, len(kinds)))
        columns["tags"].append([tags.setdefault(tag, len(tags)) for tag in monitor.tags])
        columns["state"].append(rank[state_of(monitor, summary)])
        windows = read.windows.get(monitor.id)
        columns["windows"].append(no_windows if windows is None
                                  else [n for pair in windows for n in pair])
        response = summary.last_response if summary is not None else None
        columns["response"].append(None if response is None else round(response, 1))
        spark = read.sparks.get(monitor.id, nothing)
        columns["spark"].append(spark.values)
        columns["sparkAge"].append((minute - spark.last_minute) // MINUTE if spark.values
                                   else None)
        columns["sparkCount"].append(spark.last_count)
        failure = read.failures.get(monitor.id)
        columns["failAge"].append(None if failure is None else round(now - failure.at))
        columns["failure"].append(None if failure is None else _why(failure, monitor.secrets))


def _why(failure: Failure, hidden: tuple[str, ...]) -> str | None:
    """"reason: detail", bounded; details are stored masked, and masked again with the
    monitor's secrets of today's config (as the API's checks are)."""
    if failure.reason is None:
        return None
    detail = secrets.redact(failure.detail or "", hidden)
    text = f"{failure.reason}: {detail}" if detail else failure.reason
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"
