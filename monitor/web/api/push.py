"""Push monitors' URLs: a job calls `/push/TOKEN` when it ends (GET or POST; `status`,
`msg`, `value` in the query string, a form, or a JSON object; a text body is the message),
`/push/TOKEN/start` when it begins and `/push/TOKEN/fail` when it fails, as with
Healthchecks. The token in the path is the credential (no bearer token is asked): it is
found by its hash, so that the time taken says nothing of how close a wrong one came, and
an unknown one gets the same 404 as any URL that does not exist. The push is queued to the
store's writer and answered at once; the engine reads it from the database.
`GET /push` lists the push monitors with their URLs (a generated token shown)."""

from __future__ import annotations

import hmac
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from monitor.checks.push import tokens
from monitor.config import Config
from monitor.core import secrets
from monitor.core.fields import MAX_VALUE, VALUE_RANGE, is_number
from monitor.core.model import Monitor
from monitor.core.push import MAX_MESSAGE, STATUSES, Latest, Push
from monitor.store.api import RecordPush, iso_utc
from monitor.web.auth import require
from monitor.web.body import json_body
from monitor.web.context import WebContext, current
from monitor.web.openapi import error
from monitor.web.params import UNREADABLE, reading
from monitor.web.problems import Problem

bp = Blueprint("push", __name__)
_log = logging.getLogger("monitor.web")

KIND = "push"
MAX_BODY = 64 * 1024  # bytes of a push's body: a job's output, of which MAX_MESSAGE is kept
PARAMETERS = ("status", "msg", "value")
# A number as a query string writes it (not Python's float(): no "nan", "inf", "1_0", nor
# digits of other scripts, "١٢٣").
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
_EXTENSION = "monitor.push"  # app.extensions: the token index of the config in use
F = TypeVar("F", bound=Callable[..., object])
_VALUE = {"type": "number", "minimum": -MAX_VALUE, "maximum": MAX_VALUE}  # (OpenAPI)


def by_token(route: F) -> F:
    """A route whose credential is the push token in its path: no bearer token asked, with
    or without apiTokens (a cron job's curl carries only its URL)."""
    route.scope = "token"  # type: ignore[attr-defined]  # what tests of the routes read
    return route


# -- the tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    monitor: Monitor
    token: str
    generated: bool


class _Index:
    """The push monitors of one config by the hash of their token; generated tokens from
    the key beside the database (read once per config)."""

    def __init__(self, config: Config, context: WebContext) -> None:
        self.config = config
        self.entries: list[_Entry] = []
        self.key_error: str | None = None
        key: bytes | None = None
        for monitor in config.monitors:
            if monitor.kind != KIND:
                continue
            token = monitor.spec.token
            if token is None:
                if key is None and self.key_error is None:
                    try:
                        key = tokens.load_key(context.db_path)
                    except tokens.PushKeyError as exc:
                        self.key_error = str(exc)
                        _log.error("push monitors with generated tokens get no pushes: %s",
                                   exc)
                if key is None:
                    continue
                self.entries.append(_Entry(monitor, tokens.generated(key, monitor.id), True))
            else:
                self.entries.append(_Entry(monitor, token, False))
        self.by_hash = {tokens.fingerprint(e.token): e for e in self.entries}


_index_lock = threading.Lock()


def _index(context: WebContext) -> _Index:
    config = context.config
    index: _Index | None = current_app.extensions.get(_EXTENSION)
    if index is None or index.config is not config:
        with _index_lock:
            index = current_app.extensions.get(_EXTENSION)
            if index is None or index.config is not config:
                index = _Index(config, context)
                current_app.extensions[_EXTENSION] = index
    return index


def _find(context: WebContext, token: str) -> _Entry:
    given = tokens.fingerprint(token)
    entry = _index(context).by_hash.get(given)
    if entry is None or not hmac.compare_digest(tokens.fingerprint(entry.token), given):
        raise NotFound()  # as any URL that does not exist: it says nothing of monitors
    return entry


# -- the pushes ------------------------------------------------------------------------------

@bp.route("/push/<token>", methods=["GET", "POST"])
@by_token
def ping(token: str) -> ResponseReturnValue:
    return _receive(token, "ping")


@bp.route("/push/<token>/start", methods=["GET", "POST"])
@by_token
def start(token: str) -> ResponseReturnValue:
    return _receive(token, "start")


@bp.route("/push/<token>/fail", methods=["GET", "POST"])
@by_token
def fail(token: str) -> ResponseReturnValue:
    return _receive(token, "fail")


def _receive(token: str, event: str) -> ResponseReturnValue:
    context = current()
    now = context.clock()
    entry = _find(context, token)  # before the body is read: a stranger's is not
    request.max_content_length = MAX_BODY
    given = _parameters()
    status = _status(given.get("status"), event)
    value = _value(given.get("value"))
    message = _message(given.get("msg"), entry)
    if not context.store.put_push(RecordPush(entry.monitor.id, now, event, status, message,
                                             value)):
        raise Problem(503, "Service Unavailable", "the database writer is too far behind;"
                      " nothing was stored: push again later", headers={"Retry-After": "5"})
    return jsonify({"monitor": entry.monitor.id, "event": event, "time": iso_utc(now)})


def _parameters() -> dict[str, Any]:
    """`status`, `msg` and `value` from the query string (other names are let through:
    cache busters) and the body: a JSON object or a form of those keys only, or text, the
    message. Each may be given once."""
    given: dict[str, Any] = {}
    for key in PARAMETERS:
        values = request.args.getlist(key)
        if len(values) > 1:
            raise Problem(400, "Bad Request", f"{key} is given {len(values)} times in the"
                                              " query string", parameter=key)
        if values:
            given[key] = values[0]
    body = _body()
    if isinstance(body, str):
        body = {"msg": body} if body else {}
    for key, value in body.items():
        if key not in PARAMETERS:
            raise Problem(422, "Unprocessable Content", f"unknown key {key!r} in the body"
                          " (a push takes status, msg and value)", parameter=key)
        if key in given:
            raise Problem(400, "Bad Request", f"{key} is given in both the query string and"
                                              " the body", parameter=key)
        given[key] = value
    return given


def _body() -> dict[str, Any] | str:
    if request.method != "POST":
        return {}
    if request.is_json:
        body = json_body()
        if not isinstance(body, dict):
            raise Problem(422, "Unprocessable Content", "the body must be a JSON object"
                          " with status, msg and value (each optional)", pointer="")
        return body
    raw = request.get_data(cache=True)  # first: the form is then parsed from it
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = list(request.form.lists())
        # A form of the push's fields; any other (`curl --data-raw "$output"` sends the
        # job's output as a form) is the output, as Healthchecks reads it.
        if fields and all(key in PARAMETERS for key, _ in fields):
            form: dict[str, Any] = {}
            for key, values in fields:
                if len(values) > 1:
                    raise Problem(400, "Bad Request", f"{key} is given {len(values)} times"
                                                      " in the form", parameter=key)
                form[key] = values[0]
            return form
    # Any other body is the job's output, as Healthchecks keeps it: the message.
    return raw.decode("utf-8", "replace")


def _status(value: Any, event: str) -> str | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise Problem(422, "Unprocessable Content", "status must be \"up\" or \"down\"",
                      parameter="status")
    if event == "start" or (event == "fail" and value == "up"):
        raise Problem(422, "Unprocessable Content", f"status={value} does not go with"
                      f" /{event}: /start and /fail say what happened themselves",
                      parameter="status")
    return str(value)


def _value(value: Any) -> float | None:
    if value is None:
        return None
    number = math.nan
    # is_number: not an int too large for a float (float() raises OverflowError).
    if is_number(value) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        number = float(value)
    if not abs(number) <= MAX_VALUE:  # (NaN too) the store's bound: its sums stay finite
        raise Problem(422, "Unprocessable Content", "value must be a finite number"
                      f" {VALUE_RANGE}", parameter="value")
    return number


def _message(value: Any, entry: _Entry) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Problem(422, "Unprocessable Content", "msg must be a string", parameter="msg")
    # The job's own text, bounded; its token (a job may echo its URL) and the config's
    # secrets masked; control characters but line breaks and tabs made harmless.
    text = secrets.redact_known(secrets.redact(value[:MAX_MESSAGE * 2],
                                               (entry.token, *entry.monitor.secrets)))
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text
                   )[:MAX_MESSAGE]


# -- the list --------------------------------------------------------------------------------

@bp.get("/push")
@require("write")
def push_monitors() -> ResponseReturnValue:
    context = current()
    index = _index(context)
    monitors = [m for m in index.config.monitors if m.kind == KIND]
    found = {e.monitor.id: e for e in index.entries}
    with reading(context) as reader:
        latest = reader.latest_pushes([m.id for m in monitors])
    root = request.url_root.rstrip("/")
    listed = []
    for monitor in monitors:
        entry = found.get(monitor.id)
        # A token of the config is the config's secret: not shown; a generated one is
        # shown here only (to the write scope), for the job's URL.
        shown = None if entry is None else entry.token if entry.generated else secrets.MASK
        seen = latest.get(monitor.id, Latest())
        listed.append({
            "id": monitor.id, "name": monitor.name,
            "token": shown, "generated": monitor.spec.token is None,
            "url": None if shown is None else f"{root}/api/v1/push/{shown}",
            "checkInterval": monitor.spec.period, "grace": monitor.spec.grace,
            "lastRun": _seen(seen.done),
            "running": _seen(seen.start) if _running(seen) else None,
        })
    return jsonify({"monitors": listed, "tokenError": index.key_error})


def _running(seen: Latest) -> bool:
    return seen.start is not None and (seen.done is None or seen.start.id > seen.done.id)


def _seen(push: Push | None) -> dict[str, Any] | None:
    if push is None:
        return None
    return {"time": iso_utc(push.timestamp), "event": push.event, "status": push.status,
            "message": push.message, "value": push.value}


# -- the OpenAPI part --------------------------------------------------------------------------

def _push_operation(event: str, method: str) -> dict[str, Any]:
    what = {"ping": "A job's run ended (well, unless status=down)", "start": "A job's run"
            " began: its end (a push or /fail) measures its duration", "fail": "A job's run"
            " failed: the monitor is down at once"}[event]
    statuses = {"ping": ["up", "down"], "start": [], "fail": ["down"]}[event]
    parameters: list[dict[str, Any]] = [
        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "the push monitor's token (its credential)"}]
    # A POST's are described in its body (the query string takes them too, each given
    # once in all).
    if method == "get":
        if statuses:
            parameters.append({"name": "status", "in": "query", "schema": {"enum": statuses}})
        parameters += [
            {"name": "msg", "in": "query", "schema": {"type": "string"},
             "description": f"the job's message (at most {MAX_MESSAGE} characters kept)"},
            {"name": "value", "in": "query", "schema": _VALUE,
             "description": "a number the job measured, kept as the result's `value`"
                            f" ({VALUE_RANGE})"}]
    operation: dict[str, Any] = {
        "summary": what,
        "operationId": f"push_{event}_{method}",
        "security": [{}],
        "parameters": parameters,
        "responses": {
            "200": {"description": "Received: queued to be stored", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Pushed"}}}},
            "400": error("A parameter given twice, or a body that is not JSON"),
            "404": error("No push monitor has this token"),
            "413": error(f"A body larger than {MAX_BODY} bytes"),
            "422": error("A status, value or message that cannot be taken; nothing stored"),
            "503": error("The database writer is too far behind; nothing stored"),
        },
    }
    if method == "post":
        status: dict[str, Any] = {"enum": statuses} if statuses else {"not": {}}
        body = {"type": "object", "additionalProperties": False, "properties": {
            "status": status, "msg": {"type": "string"}, "value": _VALUE}}
        operation["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": body},
            "application/x-www-form-urlencoded": {"schema": body},
            "text/plain": {"schema": {"type": "string"},
                           "description": "the job's output: its message"}}}
    return operation


_SEEN = {"anyOf": [{"type": "null"}, {
    "type": "object", "required": ["time", "event", "status", "message", "value"],
    "properties": {"time": {"type": "string", "format": "date-time"},
                   "event": {"enum": ["ping", "start", "fail"]},
                   "status": {"enum": ["up", "down", None]},
                   "message": {"type": "string"},
                   "value": {"type": ["number", "null"]}}}]}

OPENAPI: dict[str, Any] = {
    "paths": {
        **{path: {"get": _push_operation(event, "get"), "post": _push_operation(event, "post")}
           for path, event in (("/push/{token}", "ping"), ("/push/{token}/start", "start"),
                               ("/push/{token}/fail", "fail"))},
        "/push": {"get": {
            "summary": "The push monitors, their URLs and what they last received",
            "operationId": "push_monitors",
            "responses": {"200": {"description": "The push monitors", "content": {
                "application/json": {"schema": {
                    "$ref": "#/components/schemas/PushMonitors"}}}},
                "503": UNREADABLE}}},
    },
    "components": {"schemas": {
        "Pushed": {"type": "object", "required": ["monitor", "event", "time"],
                   "properties": {"monitor": {"type": "string"},
                                  "event": {"enum": ["ping", "start", "fail"]},
                                  "time": {"type": "string", "format": "date-time"}}},
        "PushMonitors": {
            "type": "object", "required": ["monitors", "tokenError"],
            "properties": {
                "tokenError": {"type": ["string", "null"],
                               "description": "why generated tokens cannot be made, if so"},
                "monitors": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "name", "token", "generated", "url", "checkInterval",
                                 "grace", "lastRun", "running"],
                    "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"},
                        "token": {"type": ["string", "null"],
                                  "description": "a generated token; \"***\" for one of"
                                                 " the config's"},
                        "generated": {"type": "boolean"},
                        "url": {"type": ["string", "null"]},
                        "checkInterval": {"type": "number"}, "grace": {"type": "number"},
                        "lastRun": _SEEN, "running": _SEEN}}}}},
    }},
}
