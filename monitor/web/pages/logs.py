"""The access-logs page (`/logs`, `/logs/<id>`): a `log` monitor's top sections, top clients
and status classes over 10 minutes, an hour or a day, and its traffic rate beside the
alert's threshold, kept live: the script (static/js/logs.js) reads the figures again
(GET /api/v1/monitors/{id}/traffic) at each of the log's 10-second results, which the event
stream announces, and every half minute as the window slides.

`/logs` shows the config's first log monitor (a select picks another); with none, it says
how to add one."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, redirect, request
from flask.typing import ResponseReturnValue

from monitor.core.model import Monitor
from monitor.web import ids
from monitor.web.api.traffic import DEFAULT_WINDOW, WINDOWS, traffic
from monitor.web.context import current
from monitor.web.pages import page, render
from monitor.web.params import reading
from monitor.web.problems import Problem

bp = Blueprint("logs", __name__)
bp.record_once(ids.install)

LABELS = {"10m": "10 min", "1h": "1 h", "24h": "24 h"}
POLL_SECONDS = 30  # the window slides even when the log is quiet


def _logs() -> list[Monitor]:
    return [monitor for monitor in current().config.monitors if monitor.kind == "log"]


def logs_url(monitor_id: str, window: str = DEFAULT_WINDOW) -> str:
    path = f"/logs/{quote(monitor_id, safe='/:@')}"
    return path if window == DEFAULT_WINDOW else f"{path}?window={window}"


@bp.get("/logs")
@page("read")
def index() -> ResponseReturnValue:
    """The first log monitor's traffic (or how to add one)."""
    asked = request.args.get("monitor")
    if asked is not None:  # the select's form, sent without the script
        return redirect(logs_url(asked, _window()))
    monitors = _logs()
    if not monitors:
        return render("logs.html", nav="logs", chosen=None)
    return _show(monitors[0], monitors)


@bp.get("/logs/<monitor:id>")
@page("read")
def show(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as the API names it
    """A log monitor's traffic over `?window=` 10m, 1h or 24h: rate and its alert, status
    classes, top sections and clients; live."""
    monitors = _logs()
    chosen = next((monitor for monitor in monitors if monitor.id == id), None)
    if chosen is None:
        raise Problem(404, "Not Found", f"no access-log monitor (kind log) of the config has"
                      f" the id {id!r}")
    return _show(chosen, monitors)


def _window() -> str:
    asked = request.args.get("window", DEFAULT_WINDOW)
    return asked if asked in WINDOWS else DEFAULT_WINDOW


def _show(chosen: Monitor, monitors: list[Monitor]) -> ResponseReturnValue:
    window = _window()
    context = current()
    with reading(context) as reader:
        figures = traffic(reader, chosen, window, context.clock())
    choices = [{"id": m.id, "label": m.name or m.spec.path, "url": logs_url(m.id, window)}
               for m in monitors]
    windows = [{"key": key, "label": LABELS[key], "url": logs_url(chosen.id, key)}
               for key in WINDOWS]
    return render("logs.html", nav="logs", chosen=chosen, choices=choices, window=window,
                  windows=windows, figures=figures,
                  data={"monitor": chosen.id, "window": window, "traffic": figures,
                        "poll": POLL_SECONDS, "urls": {w["key"]: w["url"] for w in windows}})
