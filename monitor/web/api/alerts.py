"""Alerts: the rows of `website_alerts` with where their notifications stand
(`GET /alerts`), and acknowledging an open alert (`POST /alerts/{id}/ack`), after which the
running monitor reminds no more of it (it polls the acknowledgements, as it polls the
maintenance set: monitor.engine.acks)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.alerts import EVENT_OF
from monitor.store.api import Ack, DeliveryState, Reader, iso_utc
from monitor.store.history import AlertEntry
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import (
    BAD_PARAMETER,
    NULLABLE_STRING,
    UNREADABLE,
    choice_arg,
    int_arg,
    known,
    reading,
)
from monitor.web.problems import Problem

bp = Blueprint("alerts", __name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ID = 2 ** 63 - 1  # SQLite's largest row id
TYPES = tuple(EVENT_OF)
ACK_WAIT = 5.0  # seconds an acknowledgement may wait for the writer


@bp.get("/alerts")
@require("read")
def get_alerts() -> ResponseReturnValue:
    kind = choice_arg("type", TYPES)
    after = int_arg("after", 0, 0, MAX_ID)
    before = int_arg("before", MAX_ID, 1, MAX_ID)
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    monitor_id = request.args.get("monitor")
    context = current()
    with reading(context) as reader:
        if monitor_id is not None:
            try:
                known(context, reader, monitor_id)
            except Problem as problem:
                raise Problem(400, "Bad Request", f"monitor: {problem.detail}",
                              parameter="monitor") from None
        entries = reader.alert_entries(monitor_id, kind, after, before, limit + 1)
        more = len(entries) > limit
        # After an id: the rows just after it are kept, the newest left for the next page.
        entries = entries[1:] if more and after else entries[:limit]
        deliveries = reader.deliveries([entry.id for entry in entries])
    return jsonify({"alerts": [alert_json(entry, deliveries.get(entry.id, []))
                               for entry in entries], "more": more})


def alert_json(entry: AlertEntry, deliveries: list[DeliveryState]) -> dict[str, Any]:
    ack = entry.ack
    return {"id": entry.id, "time": entry.timestamp, "monitor": entry.monitor_id,
            "type": entry.type, "start": entry.start, "end": entry.end,
            "availability": entry.availability, "message": entry.message,
            "open": entry.open,
            "acknowledged": None if ack is None else {"by": ack.by, "at": iso_utc(ack.at)},
            "deliveries": [{"provider": d.provider, "state": d.state, "attempts": d.attempts,
                            "error": d.error} for d in deliveries]}


@bp.post("/alerts/<int:id>/ack")
@require("write")
def post_ack(id: int) -> ResponseReturnValue:  # noqa: A002 - {id}, as the document says
    alert_id = id
    context = current()
    with reading(context) as reader:
        entry = _entry(reader, alert_id)
        if entry.ack is None:
            if entry.type != "alert":
                raise Problem(409, "Conflict", f"row {alert_id} is a {entry.type}, not an"
                              " alert: acknowledge the alert row it is about")
            if not entry.open:
                raise Problem(409, "Conflict", f"alert {alert_id} is over (its monitor"
                              " recovered): there is nothing to acknowledge")
            by = g.get("token_name") or "local"
            context.store.put_ack(Ack(alert_id, entry.monitor_id, context.clock(), by))
            if not context.store.flush(ACK_WAIT):
                raise Problem(503, "Service Unavailable", "the acknowledgement could not be"
                              " written now (the database refuses it, or its writer is"
                              " behind): try again", headers={"Retry-After": "5"})
            entry = _entry(reader, alert_id)
        deliveries = reader.deliveries([alert_id]).get(alert_id, [])
    return jsonify(alert_json(entry, deliveries))


def _entry(reader: Reader, alert_id: int) -> AlertEntry:
    entry = reader.alert_entry(alert_id) if alert_id <= MAX_ID else None
    if entry is None:
        raise Problem(404, "Not Found", f"no alert row has the id {alert_id}")
    return entry


# -- the OpenAPI document ------------------------------------------------------------------

_ALERT = {
    "type": "object",
    "required": ["id", "time", "monitor", "type", "start", "end", "availability", "message",
                 "open", "acknowledged", "deliveries"],
    "properties": {
        "id": {"type": "integer"},
        "time": {"type": "string", "description": "when it was raised, ISO-8601 UTC"},
        "monitor": {"type": "string", "description": "the monitor's id"},
        "type": {"enum": list(TYPES)},
        "start": {"type": "string", "description": "when what it is about began"},
        "end": {**NULLABLE_STRING,
                "description": "when that ended (recovery, cleared, settled)"},
        "availability": {"type": "number"},
        "message": {"type": "string"},
        "open": {"type": ["boolean", "null"],
                 "description": "an alert row: whether it is still open (null for the"
                                " other types)"},
        "acknowledged": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["by", "at"],
            "properties": {"by": {"type": "string", "description": "the API token's name,"
                                                                   " or \"local\""},
                           "at": {"type": "string"}}}]},
        "deliveries": {"type": "array", "items": {
            "type": "object", "required": ["provider", "state", "attempts", "error"],
            "properties": {"provider": {"type": "string"},
                           "state": {"enum": ["sent", "pending", "failed"]},
                           "attempts": {"type": "integer", "minimum": 0},
                           "error": {**NULLABLE_STRING,
                                     "description": "the last attempt's error"}}},
                       "description": "its notifications, by provider"},
    },
}
_ID = {"type": "integer", "minimum": 0, "maximum": MAX_ID}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/alerts": {"get": {
            "summary": "Alert rows with their notifications, newest first",
            "description": (
                "Alerts, recoveries, reminders, warnings and the others, newest first."
                " Page back with `before` (the last id of a page); poll for new rows with"
                " `after` (the first id seen): the rows just after it come first, `more`"
                " says that newer ones are left."),
            "operationId": "alerts",
            "parameters": [
                {"name": "monitor", "in": "query", "schema": {"type": "string"},
                 "description": "a monitor's id"},
                {"name": "type", "in": "query", "schema": {"enum": list(TYPES)}},
                {"name": "after", "in": "query", "schema": _ID,
                 "description": "rows with a greater id"},
                {"name": "before", "in": "query", "schema": {**_ID, "minimum": 1},
                 "description": "rows with a smaller id"},
                {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT}}],
            "responses": {
                "200": {"description": "A page of alert rows", "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["alerts", "more"],
                        "properties": {
                            "alerts": {"type": "array", "items": {
                                "$ref": "#/components/schemas/Alert"}},
                            "more": {"type": "boolean",
                                     "description": "more rows this way"}}}}}},
                "400": BAD_PARAMETER, "503": UNREADABLE}}},
        "/alerts/{id}/ack": {"post": {
            "summary": "Acknowledge an open alert: no more reminders of it",
            "description": (
                "Stored with who acknowledged it (the token's name, or \"local\" without"
                " tokens); the running monitor reads it within a second and sends no more"
                " reminders of that alert (its recovery is sent as ever). Acknowledging"
                " again answers the first acknowledgement."),
            "operationId": "ackAlert",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "description": "the id of the alert's `alert` row",
                            "schema": _ID}],
            "responses": {
                "200": {"description": "The alert, acknowledged", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Alert"}}}},
                "404": error("No alert row has this id"),
                "409": error("The row is not an alert (a reminder, a recovery...), or the"
                             " alert is over"),
                "503": UNREADABLE}}},
    },
    "components": {"schemas": {"Alert": _ALERT}},
}
