"""Maintenance through the API: put a monitor in maintenance (`POST
/monitors/{id}/maintenance`, for a while, until a time, or until taken out), take it out
(`DELETE`), and list the monitors in maintenance or with windows (`GET /maintenance`):
through the service the `maintenance` command uses (monitor.maintenance), with its rules
(a site's plugged monitors go with it; it begins half a second later, so that the running
monitor, which reads the set four times a second, marks every check) and its words."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.core.errors import StoreError
from monitor.maintenance import MAX_FOR, START_DELAY, Change, Maintenance, Period, duration_of
from monitor.store.api import iso_utc
from monitor.web import ids
from monitor.web.auth import require
from monitor.web.body import json_body
from monitor.web.context import WebContext, current
from monitor.web.openapi import error
from monitor.web.params import (
    MONITOR_ID,
    NULLABLE_STRING,
    UNREADABLE,
    configured,
    instant,
    not_a_time,
    reading,
)
from monitor.web.problems import Problem

bp = Blueprint("maintenance", __name__)
bp.record_once(ids.install)


@bp.get("/maintenance")
@require("read")
def get_maintenance() -> ResponseReturnValue:
    context = current()
    maintenance = Maintenance(context.config.monitors, clock=context.clock)
    with reading(context) as reader:
        maintenance.read(reader)
    return jsonify({"monitors": [
        {"monitor": status.monitor.id, "label": status.monitor.label,
         "byHand": _period(status.by_hand), "window": _period(status.window),
         "windows": list(status.windows), "message": status.line}
        for status in maintenance.statuses()]})


@bp.post("/monitors/<monitor:id>/maintenance")
@require("write")
def post_maintenance(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as documented
    context = current()
    monitor = configured(context, id)
    duration = _duration(_body(), context.clock())
    return _switch(context, Maintenance(context.config.monitors, clock=context.clock),
                   monitor, True, duration)


@bp.delete("/monitors/<monitor:id>/maintenance")
@require("write")
def delete_maintenance(id: str) -> ResponseReturnValue:  # noqa: A002
    context = current()
    monitor = configured(context, id)
    return _switch(context, Maintenance(context.config.monitors, clock=context.clock),
                   monitor, False, None)


def _switch(context: WebContext, maintenance: Maintenance, monitor: Any, on: bool,
            duration: float | None) -> ResponseReturnValue:
    try:
        changes = maintenance.switch(context.store, [monitor], on, duration)
    except StoreError as exc:
        raise Problem(503, "Service Unavailable", str(exc),
                      headers={"Retry-After": "5"}) from None
    return jsonify({"changes": [_change(change) for change in changes]})


def _body() -> dict[str, Any]:
    """The request's JSON object; none at all is an empty one (until taken out)."""
    if not request.get_data(cache=True) and not request.is_json:
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise Problem(422, "Unprocessable Content", "the body must be a JSON object:"
                      " {\"for\": \"2h\"}, {\"until\": \"2026-05-01T12:00:00Z\"} or {}",
                      pointer="")
    unknown = sorted(set(body) - {"for", "until"})
    if unknown:
        raise Problem(422, "Unprocessable Content", f"unknown key {unknown[0]!r}: give"
                      " \"for\" or \"until\" (or neither: until taken out)",
                      pointer="/" + unknown[0].replace("~", "~0").replace("/", "~1"))
    if len(body) > 1:
        raise Problem(422, "Unprocessable Content", "give \"for\" or \"until\", not both",
                      pointer="/until")
    return body


def _duration(body: dict[str, Any], now: float) -> float | None:
    """Seconds from its start (START_DELAY from now), None: until taken out."""
    if "for" in body:
        try:
            return duration_of(body["for"])
        except ValueError as exc:
            raise Problem(422, "Unprocessable Content", f"for: {exc}", pointer="/for") from None
    if "until" in body:
        until = instant(body["until"])
        if until is None:
            raise Problem(422, "Unprocessable Content", f"until: {not_a_time(body['until'])}",
                          pointer="/until")
        duration = until - (now + START_DELAY)
        if duration <= 0:
            raise Problem(422, "Unprocessable Content", f"until: {iso_utc(until)} is not"
                          " in the future", pointer="/until")
        if duration > MAX_FOR:
            raise Problem(422, "Unprocessable Content", f"until: {iso_utc(until)} is more"
                          " than a year away", pointer="/until")
        return duration
    return None


def _period(period: Period | None) -> dict[str, Any] | None:
    if period is None:
        return None
    return {"since": iso_utc(period.since),
            "until": None if period.until is None else iso_utc(period.until)}


def _change(change: Change) -> dict[str, Any]:
    return {"monitor": change.monitor_id, "label": change.label,
            "maintenance": _period(change.period), "window": _period(change.window),
            "message": change.line}


# -- the OpenAPI document ------------------------------------------------------------------

_PERIOD = {"oneOf": [{"type": "null"}, {
    "type": "object", "required": ["since", "until"],
    "properties": {"since": {"type": "string"},
                   "until": {**NULLABLE_STRING, "description": "null: until taken out"}}}]}
_CHANGES = {"200": {"description": "What changed: the monitor, and those its plugins made",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["changes"],
                        "properties": {"changes": {"type": "array", "items": {
                            "type": "object",
                            "required": ["monitor", "label", "maintenance", "window",
                                         "message"],
                            "properties": {
                                "monitor": {"type": "string"},
                                "label": {"type": "string"},
                                "maintenance": {**_PERIOD, "description": "set now (null:"
                                                " taken out)"},
                                "window": {**_PERIOD, "description": "taken out: the config"
                                           " window it is still in"},
                                "message": {"type": "string", "description":
                                            "as `maintenance on|off` says it"}}}}}}}}},
            "404": error("No monitor of the config has this id"),
            "503": UNREADABLE}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/maintenance": {"get": {
            "summary": "The monitors in maintenance now, or with maintenance windows",
            "operationId": "maintenance",
            "responses": {
                "200": {"description": "As `maintenance list` shows them", "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["monitors"],
                        "properties": {"monitors": {"type": "array", "items": {
                            "type": "object",
                            "required": ["monitor", "label", "byHand", "window", "windows",
                                         "message"],
                            "properties": {
                                "monitor": {"type": "string"},
                                "label": {"type": "string"},
                                "byHand": {**_PERIOD, "description": "set by the command"
                                           " or the API"},
                                "window": {**_PERIOD, "description": "the config window it"
                                           " is in now"},
                                "windows": {"type": "array", "items": {"type": "string"}},
                                "message": {"type": "string"}}}}}}}}},
                "503": UNREADABLE}}},
        "/monitors/{id}/maintenance": {
            "post": {
                "summary": "Put a monitor in maintenance",
                "description": (
                    "Checks are recorded (as unknown), no alert is raised, and they count in"
                    " no availability; it begins half a second after the call. A site's"
                    " plugged monitors go with it. `{\"for\": \"2h\"}` (seconds, or a number"
                    " with s, m, h or d, up to a year), `{\"until\": TIME}` (ISO-8601 or"
                    " epoch seconds), or no body: until taken out."),
                "operationId": "putInMaintenance",
                "parameters": [MONITOR_ID],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": {"type": "object", "maxProperties": 1,
                               "additionalProperties": False,
                               "properties": {
                                   "for": {"type": ["string", "number"]},
                                   "until": {"type": ["string", "number"]}}}}}},
                "responses": {
                    **_CHANGES,
                    "400": error("A body that is not JSON"),
                    "413": error("A body larger than the server takes (1 MiB)"),
                    "422": error("A bad `for` or `until` (`pointer` names it)")}},
            "delete": {
                "summary": "Take a monitor out of maintenance (not its config windows)",
                "operationId": "takeOutOfMaintenance",
                "parameters": [MONITOR_ID],
                "responses": _CHANGES},
        },
    },
}
