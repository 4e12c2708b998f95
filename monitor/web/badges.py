"""Badges: a monitor's state, uptime and response time as small SVG images, for a README or
a wiki page (`![shop](https://status.example/badge/shop/status.svg)`). Public, as a status
page is; drawn by anybadge, which escapes the text it is given."""

from __future__ import annotations

from typing import Any

import anybadge
from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from monitor.core.model import Monitor
from monitor.engine.locations import alerting
from monitor.store.summaries import MonitorSummary
from monitor.web import ids
from monitor.web.api.monitors import located, state_of
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.params import int_arg, reading

bp = Blueprint("badges", __name__)
bp.record_once(ids.install)

SVG = "image/svg+xml"
# Badges are fetched through caches (GitHub's camo): a short life keeps them near now.
MAX_AGE = 30
COLORS = {"up": "#4c1", "warning": "#dfb317", "down": "#e05d44", "maintenance": "#007ec6",
          "paused": "#9f9f9f", "unknown": "#9f9f9f"}
GREY = "#9f9f9f"
# Uptime at or above each level, its colour (shields.io's scale).
UPTIME_COLORS = ((0.999, "#4c1"), (0.99, "#97ca00"), (0.95, "#dfb317"), (0.9, "#fe7d37"))
MAX_LABEL = 40


@bp.get("/badge/<monitor:id>/status.svg")
@require("public")
def status(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the URL says
    """A badge of the monitor's state: up, warning, down, maintenance, paused, unknown."""
    found = _monitor(id)
    if found is None:
        return _unknown()
    monitor, summary = found
    context = current()
    with reading(context) as reader:  # of several locations: the rules' verdict
        states = located(context, reader, [monitor])
        open_ = alerting(reader, states)
    state = state_of(monitor, summary, states.get(monitor.id), monitor.id in open_)
    return _svg(_label("status"), state, COLORS[state])


@bp.get("/badge/<monitor:id>/uptime.svg")
@require("public")
def uptime(id: str) -> ResponseReturnValue:  # noqa: A002
    """A badge of the monitor's uptime over the last `days` UTC days (30 by default)."""
    days = int_arg("days", 30, 1, 365)
    found = _monitor(id)
    if found is None:
        return _unknown()
    monitor, _summary = found
    context = current()
    with reading(context) as reader:
        checks, up = reader.uptime_totals([monitor.id], days, context.clock()).get(
            monitor.id, (0, 0))
    label = _label(f"uptime {days}d")
    if not checks:
        return _svg(label, "no data", GREY)
    share = up / checks
    color = next((c for level, c in UPTIME_COLORS if share >= level), "#e05d44")
    return _svg(label, _percent(share), color)


@bp.get("/badge/<monitor:id>/response.svg")
@require("public")
def response(id: str) -> ResponseReturnValue:  # noqa: A002
    """A badge of the monitor's latest response time."""
    found = _monitor(id)
    if found is None:
        return _unknown()
    monitor, summary = found
    label = _label("response")
    if summary is None or summary.last_response is None:
        return _svg(label, "no data", GREY)
    return _svg(label, f"{summary.last_response:.0f} ms", "#007ec6")


def _monitor(monitor_id: str) -> tuple[Monitor, MonitorSummary | None] | None:
    """The config's monitor of this id and what the database knows of it; None if the
    config has none (a badge of a monitor removed says so, it does not show old news)."""
    context = current()
    monitor = next((m for m in context.config.monitors if m.id == monitor_id), None)
    if monitor is None:
        return None
    with reading(context) as reader:
        summary = next(iter(reader.monitor_summaries([monitor_id])), None)
    return monitor, summary


def _label(default: str) -> str:
    """`?label=` if given (cut to MAX_LABEL), else the default: a badge never shows a target
    (it may hold secrets masked, and a README is public)."""
    given = request.args.get("label")
    return default if given is None else given[:MAX_LABEL]


def _percent(share: float) -> str:
    # Never 100% while a check failed: 99.996% is shown as 99.99%.
    text = f"{share * 100:.2f}"
    if share < 1 and text == "100.00":
        text = "99.99"
    return text.rstrip("0").rstrip(".") + "%"


def _svg(label: str, value: str, color: str, status: int = 200) -> Response:
    badge: Any = anybadge.Badge(label=label, value=value, default_color=color)
    answer = Response(badge.badge_svg_text, status=status, mimetype=SVG)
    answer.headers["Cache-Control"] = f"max-age={MAX_AGE}"
    return answer


def _unknown() -> Response:
    return _svg("monitor", "not found", GREY, status=404)
