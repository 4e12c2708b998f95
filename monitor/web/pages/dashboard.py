"""The dashboard (`/`): every monitor with its state, uptime over 24 h, 7 d and 30 d, its
response time now with a sparkline of its last minutes, and its last failure with the
reason; worst first, searchable, grouped by tag, kind or state; live from the event stream.

Built for thousands of monitors: the page is a small shell that asks at once (a preload in
its head, before its scripts have loaded) for GET /api/v1/dashboard, one read of the store
for all monitors in columns; its script (static/js/dashboard.js) draws only the rows in
view, and applies the checks of the event stream, resumed from the position of that read,
once per animation frame to the rows they change. A monitor checked from several locations
shows a chip per location: the page names those monitors, and the script asks for the
states of those in view (GET /api/v1/monitors?locations=several&id=...). Such a monitor's
own state (its pill, the counts by state) is the alert rules' verdict on its locations
(monitor.engine.locations.monitor_state), in the page's data and in those reads; a check,
from one location, does not set it."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from monitor.engine.locations import several
from monitor.web.context import current
from monitor.web.pages import page, render

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@page("read")
def show() -> ResponseReturnValue:
    """Every monitor, worst first: state, uptime over 24 h, 7 d, 30 d, response time with a
    sparkline, last failure; search, grouping; live from the event stream."""
    located = [m.id for m in current().config.monitors if several(m)]
    return render("dashboard.html", nav="dashboard", located=located)
