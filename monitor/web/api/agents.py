"""The routes remote agents call (`monitoringApp.py agent`), under `/api/v1/agent/`: the
monitors of their location (`GET monitors`), their results (`POST results`) and their
heartbeat (`POST heartbeat`); and `GET /api/v1/agents`, how each agent is doing.

An agent authenticates with its own token (`Authorization: Bearer`, one of the config's
`agents`): it opens these three routes only, and an API token never opens them. Every
request of an agent counts as its heartbeat. Results are recorded by the running monitor
(`-m --web`), as its own checks are, at the agent's location; `serve` has none to record
them and answers 503. A batch is answered once its rows are on disk, and resending it
stores nothing twice: each row carries its id in the agent's database, and the server
keeps per (agent, instance) the highest id stored, in the same transaction as the rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.checks import registry
from monitor.config import Config, rules
from monitor.config.agents import MONITOR_KEYS as LOCATION_KEYS
from monitor.config.agents import Agent
from monitor.config.notify import MONITOR_KEYS as NOTIFY_KEYS
from monitor.core import secrets
from monitor.core.errors import ConfigError
from monitor.core.fields import MAX_VALUE, encodable, is_number
from monitor.core.model import CheckResult
from monitor.engine.remote import RemoteRefused
from monitor.runtime import Runtime
from monitor.store.api import iso_utc
from monitor.web.api.monitors import config_editor
from monitor.web.auth import require, require_agent
from monitor.web.body import json_body
from monitor.web.context import WebContext, current
from monitor.web.openapi import error
from monitor.web.params import NULLABLE_NUMBER, NULLABLE_STRING
from monitor.web.problems import Problem

bp = Blueprint("agents", __name__)

POLL = 10.0  # seconds between an agent's reads of its monitors (with If-None-Match)
HEARTBEAT = 10.0  # seconds between its heartbeats, at most a third of agentTimeout
MAX_RESULTS = 5_000  # results a post, at most
MAX_BODY = 32 * 1024 * 1024  # bytes of a post of results (5,000 with their metrics)
MAX_DETAIL = 1_000
MAX_TEXT = 200  # a reason, a metric's name, a version, a monitor id's bound is MAX_ID
MAX_ID = 2_000
MAX_METRICS = 100
MAX_ROW_ID = 2 ** 63 - 1  # an SQLite rowid
MAX_CODE = 2 ** 31
LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last instant ISO-8601 writes
INSTANCE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The top-level keys an agent's config keeps: those that shape its checks. Never the
# agents, tokens, notifications, status pages, heartbeat, retention or maintenance: the
# server's own, and the server marks the checks made in maintenance itself.
SHAPING_KEYS = ("defaultCheckInterval", "alertWindow", "alertThreshold", "plugins",
                *(key for key in rules.KEYS if key != "maintenance"))
# A monitor's keys an agent's config leaves out (the server's alone).
STRIPPED_KEYS = frozenset({*LOCATION_KEYS, *NOTIFY_KEYS, "maintenance"})
RESULT_KEYS = {"id", "monitor", "timestamp", "available", "code", "response_ms", "reason",
               "detail", "lateness_ms", "warning", "metrics"}
REQUIRED_KEYS = ("id", "monitor", "timestamp", "available", "code", "response_ms")
_KEYS_ALLOWED = frozenset(RESULT_KEYS)
_KEYS_REQUIRED = frozenset(REQUIRED_KEYS)
_RETRY = {"Retry-After": "5"}


# -- who calls -----------------------------------------------------------------------------

def _runtime(context: WebContext) -> Runtime:
    if context.runtime is None:
        raise Problem(503, "Service Unavailable", "this server (serve) runs no monitor to"
                      " record agents' results: agents talk to `monitoringApp.py -m --web`",
                      headers=_RETRY)
    return context.runtime


def _caller(location: str | None = None) -> tuple[WebContext, Runtime, Agent]:
    """The authenticated agent (require_agent), the runtime that records it, heard now; a
    403 Problem when it names a location other than its own."""
    context = current()
    agent: Agent = g.agent
    if location is not None and location != agent.location:
        raise Problem(403, "Forbidden", f"the agent {agent.name!r} checks from"
                      f" {agent.location!r}, not {location[:64]!r}", parameter="location")
    runtime = _runtime(context)
    runtime.agents.heard(agent.name, context.clock())
    return context, runtime, agent


# -- the monitors of a location --------------------------------------------------------------

@dataclass(frozen=True)
class _Served:
    etag: str
    body: bytes


_cache_lock = threading.Lock()
_EXTENSION = "monitor.agent_configs"  # app.extensions: (file etag, location) -> _Served


@bp.get("/agent/monitors")
@require_agent
def agent_monitors() -> ResponseReturnValue:
    context, _runtime_, agent = _caller(request.args.get("location"))
    served = _served(context, agent)
    if request.if_none_match.contains(served.etag):
        answer = Response(status=304)
    else:
        answer = Response(served.body, mimetype="application/json")
    answer.set_etag(served.etag)
    # Its secrets are resolved: kept by no cache on the way.
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _served(context: WebContext, agent: Agent) -> _Served:
    """The document of the agent's monitors of the config file now (the last valid one
    while the file is not), made once per version of the file."""
    try:
        snapshot = config_editor(context).read()
    except ConfigError as exc:
        raise Problem(503, "Service Unavailable", str(exc), headers=_RETRY) from None
    cache: dict[Any, _Served] = current_app.extensions.setdefault(_EXTENSION, {})
    name = agent.name
    key = (snapshot.etag, name)
    with _cache_lock:
        served = cache.get(key)
        if served is not None:
            return served
        if snapshot.config is None:  # invalid now: the last good one
            last = cache.get(("last", name))
            if last is not None:
                return last
            raise Problem(503, "Service Unavailable", f"the config file is not valid:"
                          f" {snapshot.error}", headers=_RETRY)
        body = document(snapshot.document, snapshot.config, agent,
                        heartbeat(snapshot.config.agent_timeout))
        text = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        served = _Served(hashlib.sha256(text).hexdigest()[:32], text)
        # Two versions of the file at most per agent: the current and the last good.
        for old in [k for k in cache if k[1] == name and k[0] != "last"]:
            del cache[old]
        cache[key] = cache[("last", name)] = served
        return served


def heartbeat(timeout: float) -> float:
    """How often an agent beats: often enough that two missed beats are not yet lost."""
    return max(0.5, min(HEARTBEAT, round(timeout / 3, 1)))


def document(raw: dict[str, Any], config: Config, agent: Agent,
             beat: float) -> dict[str, Any]:
    """What `agent` is given: a config.json document of the monitors checked from its
    location (each with its `id` written out, `${VAR}` resolved: the agent checks with the
    server's secrets) and the top-level keys that shape checks."""
    location = agent.location
    list_key = "monitors" if "monitors" in raw else "websites"
    entries = raw[list_key]
    monitors = []
    # The list's monitors come first in config.monitors, in the list's order.
    for entry, monitor in zip(entries, config.monitors, strict=False):
        if location not in monitor.locations:
            continue
        kept = {key: resolved(value) for key, value in entry.items()
                if key not in STRIPPED_KEYS}
        kept["id"] = monitor.id
        monitors.append(kept)
    shaping = (*SHAPING_KEYS, *registry.top_keys())
    top = {key: resolved(raw[key]) for key in shaping if key in raw}
    return {"agent": agent.name, "location": location, "poll": POLL, "heartbeat": beat,
            "config": {**top, "monitors": monitors}}


def resolved(value: Any) -> Any:
    """`value` with its `${VAR}` replaced by the server's environment, written so that the
    agent's loader reads the same text again (a literal `${` as `$${`). A text that is not
    a reference to a set variable is left as written."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        try:
            return secrets.expand(value).replace("${", "$${")
        except (secrets.MissingVariable, secrets.BadReference):
            return value
    if isinstance(value, list):
        return [resolved(item) for item in value]
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    return value


# -- results ---------------------------------------------------------------------------------

@bp.post("/agent/results")
@require_agent
def agent_results() -> ResponseReturnValue:
    context, runtime, agent = _caller()
    request.max_content_length = MAX_BODY
    body = _object(_results_body(), ("instance", "results"))
    instance = _instance(body)
    items = body.get("results")
    if not isinstance(items, list):
        raise _bad("results", "must be a list of results")
    if len(items) > MAX_RESULTS:
        raise Problem(413, "Content Too Large", f"results: {len(items)} results; at most"
                      f" {MAX_RESULTS} a request", pointer="/results")
    rows = parse_results(items)
    try:
        received = runtime.engine.record_remote(agent.name, agent.location, instance, rows)
    except RemoteRefused as exc:
        raise Problem(503, "Service Unavailable", f"nothing was stored: {exc}; send them"
                      " again later", headers=_RETRY) from None
    return jsonify({"stored": received.stored, "duplicates": received.duplicates,
                    "ignored": received.ignored, "upto": received.upto})


def _results_body() -> Any:
    """The body of a post of results: json_body's, read without its per-key Python loop
    (a fifth of a post's cost at 5,000 rows a second); anything wrong (a duplicate key
    too) is read again by json_body, whose Problem names it."""
    if request.is_json:
        try:
            return json.loads(request.get_data(cache=True), object_pairs_hook=_pairs)
        except (ValueError, RecursionError, _Duplicate):
            pass
    return json_body()


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) != len(pairs):
        raise _Duplicate
    return made


_NUMBER = (int, float)


def parse_results(items: list[Any]) -> list[tuple[int, CheckResult]]:
    """The posted results, each with its id (increasing); a 422 Problem naming the JSON
    path of the first bad field.

    One pass of plain comparisons over each result (`_fast`); a result it does not take
    is read again field by field (`_checked`), which names what is wrong."""
    rows: list[tuple[int, CheckResult]] = []
    append = rows.append
    last = 0
    for index, item in enumerate(items):
        made = _fast(item, last)
        if made is None:
            made = _checked(index, item, last)
        last = made[0]
        append(made)
    return rows


def _fast(item: Any, last: int) -> tuple[int, CheckResult] | None:
    """The result as `_checked` reads it, when every field is plainly good; else None.
    (type() is, not isinstance: a bool is an int, and JSON gives exact types.)"""
    if type(item) is not dict or not _KEYS_REQUIRED <= item.keys() <= _KEYS_ALLOWED:
        return None
    ident = item["id"]
    monitor = item["monitor"]
    timestamp = item["timestamp"]
    available = item["available"]
    code = item["code"]
    response = item["response_ms"]
    reason = item.get("reason")
    detail = item.get("detail", "")
    lateness = item.get("lateness_ms", 0.0)
    warning = item.get("warning", False)
    metrics = item.get("metrics")
    # A NaN fails every comparison, an infinity or a huge int the bounds: no isfinite.
    if not (type(ident) is int and last < ident <= MAX_ROW_ID
            and type(monitor) is str and 0 < len(monitor) <= MAX_ID
            and type(timestamp) in _NUMBER and 0 < timestamp < LATEST
            and (available is None or available is True or available is False)
            and (code is None or (type(code) is int and -MAX_CODE < code < MAX_CODE))
            and type(response) in _NUMBER and 0 <= response <= MAX_VALUE
            and type(lateness) in _NUMBER and 0 <= lateness <= MAX_VALUE
            and (warning is True or warning is False)
            and type(detail) is str and len(detail) <= MAX_DETAIL
            and (detail.isascii() or encodable(detail))
            and (reason is None or (type(reason) is str and len(reason) <= MAX_TEXT
                                    and (reason.isascii() or encodable(reason))))):
        return None
    if metrics is None:
        figures: dict[str, float] = {}
    else:
        if type(metrics) is not dict or len(metrics) > MAX_METRICS:
            return None
        for name, number in metrics.items():
            if not (0 < len(name) <= MAX_TEXT and type(number) in _NUMBER
                    and -MAX_VALUE <= number <= MAX_VALUE):
                return None
        figures = {name: float(number) for name, number in metrics.items()}
    return ident, CheckResult(monitor, float(timestamp), available, code, float(response),
                              reason or None, detail, float(lateness), metrics=figures,
                              warning=warning)


def _checked(index: int, item: Any, last: int) -> tuple[int, CheckResult]:
    """The result read field by field; a 422 Problem naming the first bad one."""
    path = f"results[{index}]"
    if not isinstance(item, dict):
        raise _bad(path, "must be an object")
    for key in item:
        if key not in RESULT_KEYS:
            raise _bad(f"{path}.{_key(key)}", "unknown key")
    for key in REQUIRED_KEYS:
        if key not in item:
            raise _bad(f"{path}.{key}", "is required")
    ident = item["id"]
    if not _whole(ident) or not 1 <= ident <= MAX_ROW_ID:
        raise _bad(f"{path}.id", "must be a whole number greater than 0")
    if ident <= last:
        raise _bad(f"{path}.id", f"must be greater than the previous result's ({last}):"
                                 " results go in the order of their ids")
    monitor = item["monitor"]
    if not isinstance(monitor, str) or not 0 < len(monitor) <= MAX_ID:
        raise _bad(f"{path}.monitor", "must be a monitor's id")
    timestamp = item["timestamp"]
    if not is_number(timestamp) or not 0 < timestamp < LATEST:
        raise _bad(f"{path}.timestamp", "must be a number: epoch seconds")
    available = item["available"]
    if available is not None and not isinstance(available, bool):
        raise _bad(f"{path}.available", "must be true, false or null")
    code = item["code"]
    if code is not None and (not _whole(code) or not -MAX_CODE < code < MAX_CODE):
        raise _bad(f"{path}.code", "must be a whole number or null")
    warning = item.get("warning", False)
    if not isinstance(warning, bool):
        raise _bad(f"{path}.warning", "must be true or false")
    return ident, CheckResult(
        monitor_id=monitor, timestamp=float(timestamp), available=available, code=code,
        response_ms=_amount(item["response_ms"], f"{path}.response_ms"),
        reason=_reason(item.get("reason"), f"{path}.reason"),
        detail=_text(item.get("detail", ""), f"{path}.detail", MAX_DETAIL),
        lateness_ms=_amount(item.get("lateness_ms", 0.0), f"{path}.lateness_ms"),
        warning=warning, metrics=_metrics(item.get("metrics"), f"{path}.metrics"))


def _amount(value: Any, path: str) -> float:
    if not is_number(value) or not 0 <= value <= MAX_VALUE:
        raise _bad(path, "must be a number, 0 or more")
    return float(value)


def _reason(value: Any, path: str) -> str | None:
    if value is None:
        return None
    return _text(value, path, MAX_TEXT) or None


def _text(value: Any, path: str, most: int) -> str:
    if not isinstance(value, str):
        raise _bad(path, "must be a string")
    if len(value) > most:
        raise _bad(path, f"must be at most {most} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, "must not hold unpaired surrogates") from None
    return value


def _metrics(value: Any, path: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(path, "must be an object of numbers")
    if len(value) > MAX_METRICS:
        raise _bad(path, f"must hold at most {MAX_METRICS} measurements")
    out = {}
    for name, number in value.items():
        if not name or len(name) > MAX_TEXT:
            raise _bad(f"{path}.{_key(name)}", f"a measurement's name must be 1 to"
                                               f" {MAX_TEXT} characters")
        if not is_number(number) or not abs(number) <= MAX_VALUE:
            raise _bad(f"{path}.{_key(name)}", "must be a number")
        out[name] = float(number)
    return out


# -- heartbeat -------------------------------------------------------------------------------

@bp.post("/agent/heartbeat")
@require_agent
def agent_heartbeat() -> ResponseReturnValue:
    context, runtime, agent = _caller()
    body = _object(json_body(), ("instance", "version", "outbox", "monitors"))
    instance = _instance(body)
    if "version" in body:
        _text(body["version"], "version", MAX_TEXT)
    for key in ("outbox", "monitors"):
        if key in body and (not _whole(body[key]) or body[key] < 0):
            raise _bad(key, "must be a whole number, 0 or more")
    runtime.agents.report(agent.name, instance=instance, version=body.get("version"),
                          outbox=body.get("outbox"), monitors=body.get("monitors"))
    served = _served(context, agent)
    return jsonify({"etag": served.etag,
                    "upto": runtime.engine.remote_upto(agent.name, instance)})


# -- the agents, for people --------------------------------------------------------------------

@bp.get("/agents")
@require("read")
def list_agents() -> ResponseReturnValue:
    """Each agent of the config: its location, when it was last heard from, whether it is
    lost, and what its last heartbeat said."""
    context = current()
    config = context.config
    runtime = context.runtime
    known = {s.name: s for s in runtime.agents.statuses()} if runtime is not None else {}
    listed = []
    for agent in config.agents:
        status = known.get(agent.name)
        heard = status.heard if status is not None else None
        listed.append({
            "name": agent.name, "location": agent.location,
            "state": ("unknown" if status is None else
                      "lost" if status.lost_since is not None else "alive"),
            "lastSeen": None if heard is None else iso_utc(heard),
            "lostSince": (None if status is None or status.lost_since is None
                          else iso_utc(status.lost_since)),
            "instance": None if status is None else status.instance,
            "version": None if status is None else status.version,
            "outbox": None if status is None else status.outbox,
            "monitors": None if status is None else status.monitors})
    return jsonify({"agents": listed, "agentTimeout": config.agent_timeout,
                    "running": runtime is not None})


# -- helpers ---------------------------------------------------------------------------------

def _object(body: Any, keys: Iterable[str]) -> dict[str, Any]:
    allowed = tuple(keys)
    if not isinstance(body, dict):
        raise _bad("(root)", "must be a JSON object", pointer="")
    for key in body:
        if key not in allowed:
            raise _bad(_key(key), f"unknown key (this takes {', '.join(allowed)})")
    return body


def _instance(body: dict[str, Any]) -> str:
    value = body.get("instance")
    if value is None:
        raise _bad("instance", "is required: the id of the agent's database")
    if not isinstance(value, str) or not INSTANCE.fullmatch(value):
        raise _bad("instance", "must be 1 to 64 letters, digits, `.`, `_` or `-` (a uuid)")
    return value


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(key: str) -> str:
    shown = key[:64]
    return shown if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", shown) else json.dumps(shown)


def _bad(path: str, message: str, pointer: str | None = None) -> Problem:
    """A 422 Problem for the field at `path` (`results[3].timestamp`), with its JSON
    pointer."""
    if pointer is None:
        pointer = "/" + "/".join(part for part in re.split(r"[.\[\]]+", path) if part)
    return Problem(422, "Unprocessable Content", f"{path}: {message}", pointer=pointer)


# -- the OpenAPI part --------------------------------------------------------------------------

_AGENT_ERRORS = {
    "401": error("No token, or not one of the config's agents' (API tokens never open the"
                 " agent routes)"),
    "403": error("A location other than the agent's"),
    "429": error("Too many wrong tokens from the client's address: wait `Retry-After`"),
    "503": error("The server runs no monitor (serve), or the database cannot take the"
                 " results now: send them again later"),
}
_RESULT = {
    "type": "object", "additionalProperties": False, "required": list(REQUIRED_KEYS),
    "properties": {
        "id": {"type": "integer", "minimum": 1,
               "description": "the row's id in the agent's database, increasing"},
        "monitor": {"type": "string", "description": "the monitor's id"},
        "timestamp": {"type": "number", "description": "when the check began, epoch s"},
        "available": {"type": ["boolean", "null"], "description": "null: unknown"},
        "code": {"type": ["integer", "null"]},
        "response_ms": {"type": "number", "minimum": 0},
        "reason": NULLABLE_STRING,
        "detail": {"type": "string", "maxLength": MAX_DETAIL},
        "lateness_ms": {"type": "number", "minimum": 0},
        "warning": {"type": "boolean"},
        "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}
_AGENT_SECURITY: list[dict[str, list[str]]] = [{"agent": []}]
OPENAPI: dict[str, Any] = {
    "paths": {
        "/agent/monitors": {"get": {
            "summary": "An agent's monitors: a config document of its location's",
            "description": (
                "The monitors whose `locations` include the agent's, as a config.json"
                " document its loader reads: each with its `id`, `${VAR}` resolved, and"
                " the top-level keys that shape checks; never agents, tokens,"
                " notifications, status pages. With an ETag: If-None-Match answers 304."
                " `poll`: seconds between reads; `heartbeat`: between heartbeats."),
            "operationId": "agentMonitors",
            "security": _AGENT_SECURITY,
            "parameters": [{"name": "location", "in": "query", "schema": {
                "type": "string"}, "description": "the agent's location (default: it)"}],
            "responses": {
                "200": {"description": "The agent's config", "content": {
                    "application/json": {"schema": {
                        "type": "object",
                        "required": ["agent", "location", "poll", "heartbeat", "config"],
                        "properties": {"agent": {"type": "string"},
                                       "location": {"type": "string"},
                                       "poll": {"type": "number"},
                                       "heartbeat": {"type": "number"},
                                       "config": {"type": "object"}}}}}},
                "304": {"description": "Unchanged since the ETag given"},
                **_AGENT_ERRORS}}},
        "/agent/results": {"post": {
            "summary": "An agent's results, recorded at its location",
            "description": (
                f"At most {MAX_RESULTS} results, ids increasing. Answered once the rows are"
                " on disk. Rows of ids already stored for the instance are duplicates"
                " (resending stores nothing twice); rows of monitors not checked from the"
                " agent's location are ignored. A bad field: 422 naming its JSON path"
                " (`results[3].timestamp: must be a number: epoch seconds`)."),
            "operationId": "agentResults",
            "security": _AGENT_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["instance", "results"],
                "additionalProperties": False,
                "properties": {"instance": {"type": "string",
                                            "description": "the agent database's uuid"},
                               "results": {"type": "array", "maxItems": MAX_RESULTS,
                                           "items": _RESULT}}}}}},
            "responses": {
                "200": {"description": "Stored", "content": {"application/json": {
                    "schema": {"type": "object",
                               "required": ["stored", "duplicates", "ignored", "upto"],
                               "properties": {key: {"type": "integer", "minimum": 0}
                                              for key in ("stored", "duplicates",
                                                          "ignored", "upto")}}}}},
                "400": error("A body that is not JSON"),
                "413": error(f"More than {MAX_RESULTS} results, or a body too large"),
                "422": error("A bad field, named by its JSON path (`pointer` too)"),
                **_AGENT_ERRORS}}},
        "/agent/heartbeat": {"post": {
            "summary": "An agent is alive: what it runs and what it has not sent",
            "operationId": "agentHeartbeat",
            "security": _AGENT_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["instance"], "additionalProperties": False,
                "properties": {"instance": {"type": "string"}, "version": {"type": "string"},
                               "outbox": {"type": "integer", "minimum": 0},
                               "monitors": {"type": "integer", "minimum": 0}}}}}},
            "responses": {
                "200": {"description": "Heard", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["etag", "upto"],
                    "properties": {"etag": {"type": "string", "description": "of its"
                                            " monitors' document now"},
                                   "upto": {"type": "integer", "minimum": 0,
                                            "description": "the highest id of the instance"
                                                           " stored; 0: none"}}}}}},
                "400": error("A body that is not JSON"),
                "413": error("A body too large"),
                "422": error("A bad field"),
                **_AGENT_ERRORS}}},
        "/agents": {"get": {
            "summary": "The agents: alive or lost, and what they last said",
            "operationId": "agents",
            "responses": {"200": {"description": "The config's agents", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["agents", "agentTimeout", "running"],
                    "properties": {
                        "agentTimeout": {"type": "number"},
                        "running": {"type": "boolean", "description": "false under serve:"
                                    " no monitor hears the agents"},
                        "agents": {"type": "array", "items": {
                            "type": "object",
                            "required": ["name", "location", "state", "lastSeen",
                                         "lostSince", "instance", "version", "outbox",
                                         "monitors"],
                            "properties": {
                                "name": {"type": "string"}, "location": {"type": "string"},
                                "state": {"enum": ["alive", "lost", "unknown"]},
                                "lastSeen": NULLABLE_STRING, "lostSince": NULLABLE_STRING,
                                "instance": NULLABLE_STRING, "version": NULLABLE_STRING,
                                "outbox": NULLABLE_NUMBER,
                                "monitors": NULLABLE_NUMBER}}}}}}}}}}},
    },
}
