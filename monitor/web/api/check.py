"""Check now (`POST /monitors/{id}/check`): one check of a monitor, at once, with its trace,
as `check NAME` prints it (monitor.checks.once), as JSON. Nothing is recorded. The check
runs on a thread of its own, bounded by the monitor's timeout: the request waits that long
and a little more, never longer."""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from monitor.checks.once import shown, trace, verdict
from monitor.checks.watchdog import Watchdog
from monitor.core import secrets
from monitor.core.model import CheckResult, Monitor
from monitor.web import ids
from monitor.web.auth import require
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import MONITOR_ID, NULLABLE_STRING, configured
from monitor.web.problems import Problem

bp = Blueprint("check", __name__)
bp.record_once(ids.install)

# Seconds the request waits beyond the monitor's timeout: a kind's own bound on its waits
# (a name lookup, a TLS handshake) may overrun its deadline a little.
GRACE = 2.0


@bp.post("/monitors/<monitor:id>/check")
@require("write")
def post_check(id: str) -> ResponseReturnValue:  # noqa: A002 - {id}, as documented
    monitor = configured(current(), id)
    done: list[tuple[CheckResult | None, list[str]]] = []
    watchdog = Watchdog()

    def run() -> None:
        done.append(trace(monitor, watchdog))

    worker = threading.Thread(target=run, name=f"check-now {monitor.label}"[:60],
                              daemon=True)
    worker.start()
    worker.join(monitor.timeout + GRACE)
    watchdog.stop()  # a check still running is cut short
    if not done:
        raise Problem(504, "Gateway Timeout", f"the check of {monitor.label!r} did not end"
                      f" within its timeout ({monitor.timeout:g} s) and {GRACE:g} s more")
    result, lines = done[0]
    return jsonify({"monitor": monitor.id, "kind": monitor.kind,
                    "result": _result(result, monitor),
                    "trace": [shown(line, monitor) for line in lines],
                    "verdict": shown(verdict(result), monitor), "recorded": False})


def _result(result: CheckResult | None, monitor: Monitor) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"state": result.state, "up": result.available, "status": result.code,
            "responseTime": result.response_ms, "reason": result.reason,
            "detail": shown(secrets.redact(result.detail, monitor.secrets), monitor),
            "metrics": dict(result.metrics), "warning": result.warning}


# -- the OpenAPI document ------------------------------------------------------------------

OPENAPI: dict[str, Any] = {
    "paths": {
        "/monitors/{id}/check": {"post": {
            "summary": "Check a monitor now, with its trace",
            "description": (
                "One check of the monitor, now, as `check NAME` runs it: its result and the"
                " lines of its trace (secrets masked). Not recorded, and seen by no alert"
                " rule. The answer comes within the monitor's timeout and 2 s more."),
            "operationId": "checkNow",
            "parameters": [MONITOR_ID],
            "responses": {
                "200": {"description": "How the check went", "content": {
                    "application/json": {"schema": {
                        "type": "object",
                        "required": ["monitor", "kind", "result", "trace", "verdict",
                                     "recorded"],
                        "properties": {
                            "monitor": {"type": "string"},
                            "kind": {"type": "string"},
                            "result": {"oneOf": [{"type": "null"}, {
                                "type": "object",
                                "required": ["state", "up", "status", "responseTime",
                                             "reason", "detail", "metrics", "warning"],
                                "properties": {
                                    "state": {"enum": ["up", "warning", "down", "unknown"]},
                                    "up": {"type": ["boolean", "null"]},
                                    "status": {"type": ["integer", "null"]},
                                    "responseTime": {"type": "number",
                                                     "description": "milliseconds"},
                                    "reason": NULLABLE_STRING,
                                    "detail": {"type": "string"},
                                    "metrics": {"type": "object", "additionalProperties": {
                                        "type": "number"}},
                                    "warning": {"type": "boolean"}}}],
                                "description": "null: the check itself failed (the trace"
                                               " says why)"},
                            "trace": {"type": "array", "items": {"type": "string"}},
                            "verdict": {"type": "string",
                                        "description": "the line `check` ends with"},
                            "recorded": {"const": False}}}}}},
                "404": error("No monitor of the config has this id"),
                "504": error("The check did not end within its timeout"),
            }}},
    },
}
