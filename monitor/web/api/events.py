"""GET /api/v1/events: the server-sent events of check results, state changes and alerts
(monitor.web.events), filtered by monitor and type, resumable with Last-Event-ID."""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from flask.typing import ResponseReturnValue

from monitor.store.events import Position
from monitor.store.open import open_reader
from monitor.web import openapi
from monitor.web.auth import require
from monitor.web.context import WebContext, current
from monitor.web.events import Hub, Settings, Stream
from monitor.web.params import reading
from monitor.web.problems import Problem
from monitor.web.serve import MAX_STREAMS
from monitor.web.sse import TYPES, Filter, format_id, id_block, parse_id

bp = Blueprint("events", __name__)
HUB = "events"  # the app's Hub in app.extensions; its Settings in app.config["EVENTS"]
# What a status page shows: anonymous clients (--public-read) get no check results.
PUBLIC_TYPES = frozenset({"state", "alert"})
RETRY_AFTER = 5  # seconds, when every stream is taken
_hubs_lock = threading.Lock()


def hub_of(app: Flask, context: WebContext) -> Hub:
    """The app's hub, started at the first stream."""
    with _hubs_lock:
        hub: Hub | None = app.extensions.get(HUB)
        if hub is None:
            settings = app.config.get("EVENTS") or Settings(max_streams=MAX_STREAMS)
            hub = Hub(lambda: open_reader(context.db_path), context.closing, settings)
            app.extensions[HUB] = hub.start()
        return hub


@bp.get("/events")
@require("public")
def events() -> ResponseReturnValue:
    context = current()
    anonymous = bool(context.config.api_tokens) and g.token_name is None
    wanted = _filter(context, anonymous)
    cursor, given_as = _cursor()
    hub = hub_of(current_app, context)
    if cursor is not None:
        with reading(context) as reader:
            _oldest, newest = reader.event_span()
        if cursor.check > newest.check or cursor.alert > newest.alert:
            raise Problem(404, "Not Found", f"no event has the id {format_id(cursor)}: it is"
                          f" past this server's newest, {format_id(newest)}",
                          parameter=given_as)
    if not hub.acquire():
        raise Problem(503, "Service Unavailable", f"{hub.settings.max_streams} event streams"
                      " are open, the most this server serves at once; try again later",
                      headers={"Retry-After": str(RETRY_AFTER)})
    try:
        with reading(context) as reader:
            hub.attach(reader)
            if cursor is None:
                seq, cursor = hub.now()
                opening = b""
            else:
                seq, cursor, opening = hub.resume(reader, cursor, wanted)
        stream = Stream(hub, context.reader, wanted, seq, cursor,
                        opening or id_block(cursor))
    except BaseException:
        hub.release()
        raise
    # No-cache and no proxy buffering: each event as it comes.
    return Response(stream, mimetype="text/event-stream", direct_passthrough=True,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _filter(context: WebContext, anonymous: bool) -> Filter:
    allowed = PUBLIC_TYPES if anonymous else frozenset(TYPES)
    types = allowed
    if "types" in request.args:
        named = [t.strip() for text in request.args.getlist("types")
                 for t in text.split(",") if t.strip()]
        unknown = sorted(set(named) - set(TYPES))
        if unknown or not named:
            raise Problem(400, "Bad Request", f"types: {', '.join(unknown) or 'none given'}:"
                          f" give some of {', '.join(TYPES)}, separated by commas",
                          parameter="types")
        if set(named) - allowed:
            raise Problem(403, "Forbidden", "check events need a token: anonymous clients"
                          " get state and alert events only", parameter="types")
        types = frozenset(named)
    monitors = None
    if "monitor" in request.args:
        asked = request.args.getlist("monitor")
        known = {m.id for m in context.config.monitors}
        for monitor_id in asked:
            if monitor_id not in known:
                raise Problem(404, "Not Found", f"monitor={monitor_id}: no monitor has this"
                              " id (GET /api/v1/monitors lists them)", parameter="monitor")
        monitors = frozenset(asked)
    return Filter(types, monitors)


def _cursor() -> tuple[Position | None, str]:
    """The id to resume after, and where it was given: the Last-Event-ID header (what an
    EventSource sends when it reconnects), else the lastEventId parameter (for scripts);
    None: from now."""
    given_as = "Last-Event-ID" if request.headers.get("Last-Event-ID") else "lastEventId"
    text = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if text is None:
        return None, given_as
    try:
        return parse_id(text), given_as
    except ValueError:
        raise Problem(400, "Bad Request", f"{given_as}: {text[:40]!r} is not an event id of"
                      " this server (they look like 1234.56)", parameter=given_as) from None


_EVENT = {"type": "string", "contentMediaType": "text/event-stream"}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/events": {"get": {
            "summary": "Server-sent events of check results, state changes and alerts",
            "description": (
                "A text/event-stream that lasts as long as the connection. Events: `check`"
                " (a check's result), `state` (a monitor's up, warning or down differing"
                " from its previous known check's), `alert` (alert, recovery, reminder,"
                " warning, cleared, flapping, settled), and `reset` (the events since the"
                " id asked for can no longer be sent: the stream goes on from now). Each"
                " event's id (`<check id>.<alert id>`) resumes the stream after it, sent as"
                " the Last-Event-ID header (EventSource does) or as `lastEventId`."
                " Anonymous clients (--public-read) get state and alert events only."),
            "operationId": "events",
            "parameters": [
                {"name": "monitor", "in": "query", "required": False,
                 "description": "Only this monitor's events (repeatable).",
                 "schema": {"type": "array", "items": {"type": "string"}},
                 "style": "form", "explode": True},
                {"name": "types", "in": "query", "required": False,
                 "description": "Event types, separated by commas (default: all).",
                 "schema": {"type": "string", "pattern": "^(check|state|alert)"
                                                          "(,(check|state|alert))*$"}},
                # The Last-Event-ID header, said in the description: as a parameter,
                # schemathesis sends it values its pattern refuses (and counts the 400).
                {"name": "lastEventId", "in": "query", "required": False,
                 "description": "Resume after this event id (a Last-Event-ID header"
                                " wins).",
                 "schema": {"type": "string", "pattern": "^[0-9]+[.][0-9]+$"}},
            ],
            "responses": {
                "200": {"description": "The stream", "content": {
                    "text/event-stream": {"schema": _EVENT}}},
                "400": openapi.error("An unknown type, or not an event id"),
                "404": openapi.error("No monitor has the id, or no event (past the newest)"),
                "503": openapi.error("As many streams are open as the server serves (try"
                                     " again after Retry-After seconds), or the database"
                                     " cannot be read"),
            }}},
    },
}
