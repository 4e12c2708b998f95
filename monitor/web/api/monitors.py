"""The monitors of the config file: list (filtered by kind, tag, state, locations and ids;
paged), get, create, replace, patch (JSON merge patch), delete, pause and resume; and the
config's JSON Schema (`GET /schema.json`). A monitor checked from several locations has
each one's state too (`locations`: as the alert rules judge each, monitor.engine.locations).

Every change goes through the config editor (monitor.config.edit): validated by the loader
with config.json's own messages, written to the file atomically with a backup, then
applied live (the runtime of `-m --web` reloads at its next step; beside `serve`, the `-m`
sees the file change). config.json stays the single source of truth.

ETags are the file's (a strong hash of its bytes): every answer carries the ETag of the
file it reflects, and every change needs `If-Match` (412 when the file changed since, 428
without; `If-Match: *` takes the file as it is now). Secrets are masked in every answer; a
masked value sent back unchanged keeps the stored secret (monitor.config.masked)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.http import parse_etags

from monitor.checks import registry
from monitor.config import Config
from monitor.config.edit import (
    Clash,
    ConfigEditor,
    Derived,
    EditError,
    Invalid,
    NotFound,
    Result,
    Snapshot,
    Stale,
)
from monitor.config.schema import config_schema
from monitor.core.errors import ConfigError
from monitor.core.model import Monitor
from monitor.engine.locations import STATES as LOCATION_STATES
from monitor.engine.locations import (
    LocationState,
    alerting,
    location_states,
    monitor_state,
    several,
)
from monitor.store.api import Reader, iso_utc
from monitor.store.summaries import MonitorSummary
from monitor.web import ids
from monitor.web.api import PREFIX
from monitor.web.auth import require
from monitor.web.body import json_body
from monitor.web.context import WebContext, current
from monitor.web.openapi import error
from monitor.web.params import (
    BAD_PARAMETER,
    MONITOR_ID,
    NULLABLE_NUMBER,
    NULLABLE_STRING,
    UNREADABLE,
    choice_arg,
    int_arg,
    reading,
)
from monitor.web.problems import Problem

bp = Blueprint("monitors", __name__)
bp.record_once(ids.install)
_log = logging.getLogger("monitor.web")

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000
STATES = ("up", "down", "warning", "unknown", "paused", "maintenance")
SEVERAL = "several"  # ?locations=several: the monitors checked from more than one location
MAX_IDS = 500  # ?id= repeated: the dashboard asks for the monitors of several in its view
_EDITOR = "monitor.editor"  # app.extensions: the editor of the config file
_STATUS = {NotFound: 404, Stale: 412, Clash: 409, Derived: 409, Invalid: 422}


# -- reading ----------------------------------------------------------------------------------

def config_editor(context: WebContext) -> ConfigEditor:
    """The app's editor of the config file (it keeps the file's parse while unchanged)."""
    editor: ConfigEditor | None = current_app.extensions.get(_EDITOR)
    if editor is None or editor.path != context.config_path:
        editor = current_app.extensions[_EDITOR] = ConfigEditor(context.config_path)
    return editor


def _snapshot(context: WebContext) -> Snapshot:
    try:
        return config_editor(context).read()
    except ConfigError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None


def _config(context: WebContext, snap: Snapshot) -> Config:
    """The file's config, or while the file is not a valid one, the last good one."""
    return snap.config if snap.config is not None else context.config


def state_of(monitor: Monitor, summary: MonitorSummary | None,
             located: list[LocationState] | None = None, alerting: bool = False) -> str:
    """Paused (by its config), else as the database has it: unknown before its first
    check, in maintenance, down, warning, up; of a monitor checked from several locations
    (`located`, their states; `alerting`: its alert is open), the alert rules' verdict on
    them (monitor_state)."""
    if monitor.paused:
        own = "paused"
    elif summary is None or summary.last_check is None and summary.down_since is None:
        own = "unknown"
    elif summary.maintenance is not None:
        own = "maintenance"
    elif summary.down_since is not None:
        own = "down"
    else:
        own = "warning" if summary.warning is not None else "up"
    return monitor_state(monitor, located, own, alerting)


def _item(monitor: Monitor, summary: MonitorSummary | None,
          located: list[LocationState] | None = None, alerting: bool = False,
          ) -> dict[str, Any]:
    last = summary.last_check if summary is not None else None
    item = {"id": monitor.id, "name": monitor.name, "kind": monitor.kind,
            "target": monitor.target, "interval": monitor.interval,
            "tags": list(monitor.tags), "paused": monitor.paused,
            "state": state_of(monitor, summary, located, alerting),
            "lastCheck": None if last is None else iso_utc(last),
            "lastResponseTime": summary.last_response if summary is not None else None,
            "lastReason": summary.last_reason if summary is not None else None,
            "parent": monitor.parent_id or None}
    if located is not None:  # checked from several locations: each one's state
        item["locations"] = [_location(state) for state in located]
    return item


def _location(state: LocationState) -> dict[str, Any]:
    return {"location": state.location, "state": state.state,
            "availability": state.availability, "since": iso_utc(state.since),
            "lastCheck": None if state.last_check is None else iso_utc(state.last_check),
            "status": state.status, "responseTime": state.response_ms, "reason": state.reason}


def located(context: WebContext, reader: Reader, monitors: list[Monitor],
            ) -> dict[str, list[LocationState]]:
    """Each location's state of those of `monitors` checked from several: from the running
    monitor's alert rules under `-m --web`, else replayed from the database."""
    runtime = context.runtime
    config = context.config
    return location_states(
        monitors, reader, context.clock(),
        evaluator=None if runtime is None else runtime.engine.alerts,
        lost=None if runtime is None else runtime.agents.lost_locations,
        agents=config.agents, agent_timeout=config.agent_timeout)


def _summaries(context: WebContext, monitor_ids: list[str] | None = None,
               ) -> dict[str, MonitorSummary]:
    with reading(context) as reader:
        return {summary.id: summary for summary in reader.monitor_summaries(monitor_ids)}


def _detail(context: WebContext, snap: Snapshot, monitor: Monitor) -> dict[str, Any]:
    """A monitor as GET /monitors/{id} shows it: its item and its config entry, masked
    (None for a monitor a site's plugins make, or while the file is not a valid config)."""
    with reading(context) as reader:
        summary = next(iter(reader.monitor_summaries([monitor.id])), None)
        located_ = located(context, reader, [monitor])
        open_ = alerting(reader, located_)
    entry = None
    if not monitor.parent_id:
        with contextlib.suppress(EditError):  # the file, invalid now, has no entry to show
            entry = snap.shown(monitor.id)
    return {**_item(monitor, summary, located_.get(monitor.id), monitor.id in open_),
            "config": entry}


def described(context: WebContext, monitor_id: str) -> tuple[dict[str, Any], str]:
    """GET /monitors/{id}'s body and ETag, for a page that shows the monitor (a 404
    problem when the config has no such monitor)."""
    snap = _snapshot(context)
    return _detail(context, snap, _known(context, snap, monitor_id)), snap.etag


def _tagged(body: Any, snap: Snapshot, status: int = 200,
            headers: dict[str, str] | None = None) -> ResponseReturnValue:
    """An answer with the ETag of the file it reflects; no body: 204."""
    tagged = {"ETag": f'"{snap.etag}"', **(headers or {})}
    if body is None:
        return "", 204, tagged
    return jsonify(body), status, tagged


# -- routes -------------------------------------------------------------------------------

@bp.get("/schema.json")
@require("public")
def schema_json() -> ResponseReturnValue:
    # What a status page may show: the shape of a config, nothing of this one.
    return jsonify(config_schema())


@bp.get("/monitors")
@require("read")
def list_monitors() -> ResponseReturnValue:
    context = current()
    kind = choice_arg("kind", tuple(registry.names()))
    tag = request.args.get("tag")
    state = choice_arg("state", STATES)
    only_several = choice_arg("locations", (SEVERAL,)) is not None
    only_ids = request.args.getlist("id")
    if len(only_ids) > MAX_IDS:
        raise Problem(400, "Bad Request", f"id: at most {MAX_IDS} ids, not {len(only_ids)}",
                      parameter="id")
    wanted = set(only_ids)
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    if "cursor" in request.args and "offset" in request.args:
        raise Problem(400, "Bad Request", "offset: give a cursor or an offset, not both",
                      parameter="offset")
    snap = _snapshot(context)
    chosen = [m for m in _config(context, snap).monitors
              if (kind is None or m.kind == kind) and (tag is None or tag in m.tags)
              and (not only_several or several(m)) and (not wanted or m.id in wanted)]
    # Of a few monitors, theirs only; of many, every monitor's state in one read.
    summaries = _summaries(context, [m.id for m in chosen] if only_several or wanted
                           else None)
    rows = [(m, summaries.get(m.id)) for m in chosen]
    states: dict[str, list[LocationState]] = {}
    open_: set[str] = set()
    if state is not None:
        # The state of a monitor of several locations is the rules' verdict on them: theirs
        # are read for every one chosen, not only the page's.
        with reading(context) as reader:
            states = located(context, reader, [m for m, _ in rows])
            open_ = alerting(reader, states)
        rows = [(m, s) for m, s in rows
                if state_of(m, s, states.get(m.id), m.id in open_) == state]
    start = (_after(request.args["cursor"], [m.id for m, _ in rows])
             if "cursor" in request.args else int_arg("offset", 0, 0, MAX_OFFSET))
    page = rows[start:start + limit]  # only the page's items are made
    more = start + len(page) < len(rows)
    if state is None:
        with reading(context) as reader:
            states = located(context, reader, [m for m, _ in page])
            open_ = alerting(reader, states)
    return _tagged({"monitors": [_item(m, s, states.get(m.id), m.id in open_)
                                 for m, s in page],
                    "total": len(rows),
                    "nextCursor": _cursor(start + len(page) - 1, page[-1][0].id) if more
                    else None}, snap)


@bp.get("/monitors/<monitor:id>")
@require("read")
def get_monitor(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as documented
    context = current()
    snap = _snapshot(context)
    monitor = _known(context, snap, id)
    return _tagged(_detail(context, snap, monitor), snap)


@bp.post("/monitors")
@require("write")
def create_monitor() -> ResponseReturnValue:
    body = _entry()
    result = _change(lambda editor, match: editor.add(body, match), "added")
    location = f"{PREFIX}/monitors/{quote(result.monitor_id, safe='')}"
    return _answer(result, 201, {"Location": location})


@bp.put("/monitors/<monitor:id>")
@require("write")
def replace_monitor(id: str) -> ResponseReturnValue:  # noqa: A002
    body = _entry()
    return _answer(_change(lambda editor, match: editor.replace(id, body, match), "replaced"))


@bp.patch("/monitors/<monitor:id>")
@require("write")
def patch_monitor(id: str) -> ResponseReturnValue:  # noqa: A002
    body = _entry()
    return _answer(_change(lambda editor, match: editor.patch(id, body, match), "patched"))


@bp.delete("/monitors/<monitor:id>")
@require("write")
def delete_monitor(id: str) -> ResponseReturnValue:  # noqa: A002
    result = _change(lambda editor, match: editor.delete(id, match), "deleted")
    return _tagged(None, result.snapshot)


@bp.post("/monitors/<monitor:id>/pause")
@require("write")
def pause_monitor(id: str) -> ResponseReturnValue:  # noqa: A002
    return _answer(_change(lambda editor, match: editor.pause(id, match), "paused"))


@bp.post("/monitors/<monitor:id>/resume")
@require("write")
def resume_monitor(id: str) -> ResponseReturnValue:  # noqa: A002
    return _answer(_change(lambda editor, match: editor.resume(id, match), "resumed"))


# -- inside -------------------------------------------------------------------------------

def _entry() -> dict[str, Any]:
    """The request's body: a JSON object (a monitor's entry, or a merge patch of one),
    checked before If-Match, as a request's own checks come before its preconditions."""
    body = json_body()
    if not isinstance(body, dict):
        raise Problem(422, "Unprocessable Content", "the body must be a JSON object: a"
                      " monitor's entry as config.json writes it", pointer="")
    return body


def _known(context: WebContext, snap: Snapshot, monitor_id: str) -> Monitor:
    for monitor in _config(context, snap).monitors:
        if monitor.id == monitor_id:
            return monitor
    raise Problem(404, "Not Found", f"no monitor of the config has the id {monitor_id!r}")


def _change(edit: Callable[[ConfigEditor, str | None], Result], what: str) -> Result:
    """Run an edit with the request's If-Match; its errors as problems; the change applied
    live once written."""
    context = current()
    editor = config_editor(context)
    try:
        result = edit(editor, _if_match(editor))
    except EditError as exc:
        raise _problem(exc, editor) from None
    except ConfigError as exc:  # the file cannot be read
        raise Problem(503, "Service Unavailable", str(exc)) from None
    if result.changed:
        context.reload(result.snapshot.config, result.snapshot.etag)
        _log.info("config: monitor %r %s (token %s)", result.monitor_id, what,
                  g.get("token_name") or "-")
    return result


def _if_match(editor: ConfigEditor) -> str | None:
    """The ETag the edit is made against: None for `*` (the file as it is); 428 without."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise Problem(428, "Precondition Required", "a change needs If-Match: the ETag of"
                      " the config it was made from (any GET answers it), or * for the"
                      " file as it is now")
    tags = parse_etags(header)
    if tags.star_tag:
        return None
    strong = list(tags.as_set(include_weak=False))
    try:
        current_tag = editor.read().etag
    except ConfigError:
        return strong[0] if strong else ""
    # One of a list may be the current: the check is made again inside the editor's lock.
    return current_tag if current_tag in strong else (strong[0] if strong else "")


def _problem(exc: EditError, editor: ConfigEditor) -> Problem:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 503)
    titles = {404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
              422: "Unprocessable Content", 503: "Service Unavailable"}
    extensions: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, Invalid):
        if exc.entry_pointer is not None:
            extensions["pointer"] = exc.entry_pointer
        if exc.path is not None:
            extensions["configPath"] = exc.path
    if isinstance(exc, Stale):
        with contextlib.suppress(ConfigError):  # the answer says what it can
            headers["ETag"] = f'"{editor.read().etag}"'
    return Problem(status, titles[status], str(exc), headers=headers, **extensions)


def _answer(result: Result, status: int = 200,
            headers: dict[str, str] | None = None) -> ResponseReturnValue:
    context = current()
    snap = result.snapshot
    monitor = _known(context, snap, result.monitor_id)
    return _tagged(_detail(context, snap, monitor), snap, status, headers)


def _cursor(position: int, monitor_id: str) -> str:
    raw = json.dumps([position, monitor_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str, ids: list[str]) -> int:
    """Where the page after `cursor` starts: after its monitor, wherever the list has it
    now; at its position when it is gone."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position, monitor_id = json.loads(raw)
        if not isinstance(position, int) or not isinstance(monitor_id, str):
            raise ValueError
    except (ValueError, binascii.Error, TypeError, RecursionError):  # nested: "[[[[..."
        raise Problem(400, "Bad Request", "cursor: not a cursor this API gave (nextCursor)",
                      parameter="cursor") from None
    for index, listed in enumerate(ids):
        if listed == monitor_id:
            return index + 1
    return max(0, min(position + 1, len(ids)))


# -- the OpenAPI document -----------------------------------------------------------------

_ETAG = {"ETag": {"description": "the config file's ETag (a strong hash of its bytes)",
                  "schema": {"type": "string"}}}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
             "description": "the ETag of the config the change was made from, or * for the"
                            " file as it is now (428 without, 412 when it changed since)",
             "schema": {"type": "string"}}
_MONITOR = {"application/json": {"schema": {"$ref": "#/components/schemas/Monitor"}}}
_ENTRY = {"required": True, "description": "a monitor's entry as config.json writes it (its"
                                           " JSON Schema: /api/v1/schema.json)",
          "content": {"application/json": {"schema": {"type": "object"}}}}
_PATCH = {"required": True, "description": "a JSON merge patch (RFC 7396) of the entry:"
                                           " null removes a key",
          "content": {"application/merge-patch+json": {"schema": {"type": "object"}},
                      "application/json": {"schema": {"type": "object"}}}}
_NOT_FOUND = error("No monitor of the config has this id")
_WRITE_ERRORS = {
    "400": error("The body is not JSON"),
    "404": _NOT_FOUND,
    "409": error("The id is another monitor's, or the monitor is made by a site's plugins"),
    "412": error("The config file changed since the ETag given, or by hand during the edit"
                 " (the answer has the current)"),
    "413": error("The body is too large"),
    "422": error("Not a valid config: the loader's message; `pointer` names the field in the"
                 " entry, `configPath` the path in the file"),
    "428": error("No If-Match"),
    "503": error("The config file or the database cannot be read or written"),
}


def _write(summary: str, operation: str, body: dict[str, Any] | None = None,
           ok: str = "200", path_id: bool = True) -> dict[str, Any]:
    answers: dict[str, Any] = {ok: {"description": "The monitor as now configured",
                                    "headers": _ETAG, "content": _MONITOR}}
    if ok == "204":
        answers = {"204": {"description": "Deleted", "headers": _ETAG}}
    if ok == "201":
        answers[ok]["headers"] = {**_ETAG, "Location": {"schema": {"type": "string"}}}
    errors = dict(_WRITE_ERRORS)
    if body is None:
        errors.pop("400")
        errors.pop("413")
    if not path_id:
        errors.pop("404")
    out: dict[str, Any] = {"summary": summary, "operationId": operation,
                           "parameters": [*([MONITOR_ID] if path_id else []), _IF_MATCH],
                           "responses": {**answers, **errors}}
    if body is not None:
        out["requestBody"] = body
    return out


_ITEM_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
    "target": {"type": "string", "description": "what it checks, its secrets masked"},
    "interval": {"type": "number", "description": "seconds between checks"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "paused": {"type": "boolean"},
    "state": {"enum": list(STATES)},
    "lastCheck": {**NULLABLE_STRING, "description": "the last check's time (ISO-8601 UTC)"},
    "lastResponseTime": {**NULLABLE_NUMBER, "description": "milliseconds"},
    "lastReason": NULLABLE_STRING,
    "parent": {**NULLABLE_STRING, "description": "the site whose plugins make it"},
}
# Only of a monitor checked from several locations: not in `required`.
_LOCATIONS = {
    "locations": {
        "type": "array", "items": {"$ref": "#/components/schemas/MonitorLocation"},
        "description": "only of a monitor checked from several locations: each one's state as"
                       " the alert rules judge it, in its config's order"}}
_LOCATION_PROPERTIES: dict[str, Any] = {
    "location": {"type": "string", "description": "`local` (this monitor) or an agent's"},
    "state": {"enum": list(LOCATION_STATES), "description": "down: the alert rules' verdict"
              " on its checks alone (the monitor alerts when `quorum` locations are down);"
              " warning: up, its latest check warns; lost: every agent of it lost, its"
              " checks count neither way; unknown: no check of it in the alert window"},
    "availability": {**NULLABLE_NUMBER, "description": "0 to 1: its known checks up in the"
                     " alert window, as the rules count them; null without any"},
    "since": {"type": "string", "description": "what `availability` counts from (ISO-8601"
              " UTC): the alert window's start, or later when the window held more rows"
              " than a read of the database walks"},
    "lastCheck": {**NULLABLE_STRING, "description": "its latest check's time (ISO-8601 UTC);"
                  " null when none is known (none since the monitor started, or in the"
                  " window read from the database)"},
    "status": {"type": ["integer", "null"], "description": "that check's code (HTTP status)"},
    "responseTime": {**NULLABLE_NUMBER, "description": "that check's, milliseconds"},
    "reason": {**NULLABLE_STRING, "description": "why that check failed or warned"},
}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/schema.json": {"get": {
            "summary": "The JSON Schema of config.json",
            "operationId": "configSchema",
            "responses": {"200": {"description": "A JSON Schema, draft 2020-12", "content": {
                "application/json": {"schema": {"type": "object"}}}}}}},
        "/monitors": {
            "get": {
                "summary": "The monitors, filtered and paged, with their state",
                "operationId": "listMonitors",
                "parameters": [
                    {"name": "kind", "in": "query", "schema": {"type": "string"}},
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    {"name": "state", "in": "query", "schema": {"enum": list(STATES)}},
                    {"name": "locations", "in": "query", "description": "several: only the"
                     " monitors checked from more than one location",
                     "schema": {"enum": [SEVERAL]}},
                    {"name": "id", "in": "query", "description": "only the monitors of these"
                     f" ids (the parameter repeated, at most {MAX_IDS})", "style": "form",
                     "explode": True, "schema": {"type": "array", "items": {"type": "string"},
                                                 "maxItems": MAX_IDS}},
                    {"name": "limit", "in": "query", "schema": {
                        "type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT}},
                    {"name": "cursor", "in": "query", "description": "nextCursor of the"
                     " page before", "schema": {"type": "string"}},
                    {"name": "offset", "in": "query", "description": "instead of a cursor",
                     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
                ],
                "responses": {
                    "200": {"description": "A page of monitors", "headers": _ETAG,
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/MonitorList"}}}},
                    "400": BAD_PARAMETER, "503": UNREADABLE}},
            "post": _write("Add a monitor to the config", "createMonitor", _ENTRY, "201",
                           path_id=False),
        },
        "/monitors/{id}": {
            "get": {
                "summary": "A monitor, its state and its config entry (secrets masked)",
                "operationId": "getMonitor",
                "parameters": [MONITOR_ID],
                "responses": {"200": {"description": "The monitor", "headers": _ETAG,
                                      "content": _MONITOR},
                              "404": _NOT_FOUND, "503": UNREADABLE}},
            "put": _write("Replace a monitor's entry", "replaceMonitor", _ENTRY),
            "patch": _write("Change a monitor's entry by a JSON merge patch", "patchMonitor",
                            _PATCH),
            "delete": _write("Remove a monitor from the config", "deleteMonitor", ok="204"),
        },
        "/monitors/{id}/pause": {"post": _write("Pause a monitor: kept, not checked",
                                                "pauseMonitor")},
        "/monitors/{id}/resume": {"post": _write("Check a paused monitor again",
                                                 "resumeMonitor")},
    },
    "components": {"schemas": {
        "MonitorItem": {"type": "object", "required": list(_ITEM_PROPERTIES),
                        "properties": {**_ITEM_PROPERTIES, **_LOCATIONS}},
        "MonitorLocation": {"type": "object", "required": list(_LOCATION_PROPERTIES),
                            "properties": _LOCATION_PROPERTIES},
        "Monitor": {"type": "object", "required": [*_ITEM_PROPERTIES, "config"],
                    "properties": {**_ITEM_PROPERTIES, **_LOCATIONS, "config": {
                        "type": ["object", "null"],
                        "description": "its entry in config.json, secrets masked; null for"
                                       " one a site's plugins make"}}},
        "MonitorList": {"type": "object", "required": ["monitors", "total", "nextCursor"],
                        "properties": {
                            "monitors": {"type": "array", "items": {
                                "$ref": "#/components/schemas/MonitorItem"}},
                            "total": {"type": "integer", "minimum": 0},
                            "nextCursor": NULLABLE_STRING}},
    }},
}
