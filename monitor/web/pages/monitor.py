"""A monitor's page (`/monitors/<id>`): its state, target, kind and tags, response and
phase times charted over 1 h to a year, availability per day, its checks and alerts, its
config entry; and, with the write scope, check now, maintenance, pause and resume. A
monitor checked from several locations has a table of them (each one's state as the alert
rules judge it, GET /api/v1/monitors/{id}'s `locations`) and its checks say each one's.

The server fills in what the monitor is (GET /api/v1/monitors/{id}'s body, its ETag and its
maintenance); the script (static/js/monitor.js) reads the history from the API and keeps
the page live from the event stream."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue

from monitor.core.timefmt import format_duration
from monitor.engine.locations import quorum_of
from monitor.maintenance import Maintenance, Period
from monitor.store.api import iso_utc
from monitor.store.summaries import MonitorSummary
from monitor.web import ids
from monitor.web.api.dashboard import watched_kind
from monitor.web.api.monitors import described
from monitor.web.context import current
from monitor.web.pages import page, render
from monitor.web.params import configured, reading

bp = Blueprint("monitor", __name__)
bp.record_once(ids.install)

# The phase times charted, in the order a request goes through them (http's; tcp and tls
# have the first ones). `total` is the response time itself, charted on its own.
PHASES = ("dns", "connect", "tls", "ttfb")
KIND_PHASES = {"http": PHASES, "tcp": ("dns", "connect"), "tls": ("dns", "connect", "tls")}


@bp.get("/monitors/<page_monitor:id>")
@page("read")
def show(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the API names it
    """A monitor's page: its charts over `?range=` 1h to 1y, availability per day, checks,
    alerts, config entry, and its actions; live."""
    context = current()
    detail, etag = described(context, id)
    monitor = configured(context, id)
    with reading(context) as reader:
        summary = next(iter(reader.monitor_summaries([id])), None)
        maintenance = Maintenance([monitor], clock=context.clock)
        maintenance.read(reader)
    windows = [w.describe() for w in monitor.rules.maintenance]
    shown = {
        **{key: detail[key] for key in ("id", "name", "kind", "target", "interval", "tags",
                                        "paused", "state", "lastCheck", "lastResponseTime",
                                        "lastReason")},
        # Of several locations the rules' verdict, not whichever location checked last.
        "etag": f'"{etag}"', "checkState": (
            detail["state"] if detail.get("locations") is not None
            and detail["state"] not in ("paused", "maintenance") else _check_state(summary)),
        "phases": _phases(summary, detail["kind"]),
        "editable": detail["config"] is not None,
        # A log, metric or push monitor: its figure is its value, not a response time.
        "watched": watched_kind(detail["kind"]),
        "lastValue": (summary.last_metrics or {}).get("value") if summary else None,
        "maintenance": {"byHand": _period(maintenance.by_hand(id)),
                        "window": _period(maintenance.window(id)), "windows": windows},
        # Of several locations: each one's state, and the rule that judges them together.
        "locations": detail.get("locations"),
        "quorum": quorum_of(monitor),
        "alertWindow": format_duration(monitor.alert_window),
    }
    config_text = (None if detail["config"] is None
                   else json.dumps(detail["config"], indent=2, ensure_ascii=False))
    return render("monitor.html", monitor=shown, config_text=config_text,
                  title=detail["name"] or detail["target"] or id)


def _check_state(summary: MonitorSummary | None) -> str:
    """What its last known check says, paused and maintenance aside (the page shows those
    over it, and this again once they end)."""
    if summary is None or summary.last_check is None and summary.down_since is None:
        return "unknown"
    if summary.down_since is not None:
        return "down"
    return "warning" if summary.warning is not None else "up"


def _phases(summary: MonitorSummary | None, kind: str) -> list[str]:
    """The phases its checks measure: those of its last check, else its kind's."""
    measured = summary.last_metrics if summary is not None else None
    if measured:
        return [name for name in PHASES if name in measured]
    return list(KIND_PHASES.get(kind, ()))


def _period(period: Period | None) -> dict[str, Any] | None:
    # As the maintenance routes answer it.
    return None if period is None else {
        "since": iso_utc(period.since),
        "until": None if period.until is None else iso_utc(period.until)}
