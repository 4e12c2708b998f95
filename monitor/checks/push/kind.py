"""The `push` kind: a job calls its URL; when nothing arrives in time, it is down.

    {"type": "push", "name": "nightly backup", "token": "${BACKUP_PUSH}",
     "checkInterval": 86400, "grace": 3600}

The job calls `/api/v1/push/TOKEN` (GET or POST; `status=up|down`, `msg`, `value`) when
it ends, `/start` when it begins and `/fail` when it fails, as with Healthchecks and
Uptime Kuma. Not checked on a schedule: the engine reads what the web server received
(watch.py judges it), and the alert rules judge its results as every scheduled monitor's.
`check NAME` prints its push URL and what it last received."""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import Any

from monitor.checks.push import tokens
from monitor.checks.push.watch import REASONS, Judge, PushSpec, open_watch
from monitor.checks.trace import verdict_lines
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import MIN_INTERVAL, Fields
from monitor.core.kind import Kind, Parsed
from monitor.core.model import CheckResult, Monitor
from monitor.core.timefmt import format_duration, format_seconds, format_time

KEYS = ("token", "grace")
URL_PATH = "/api/v1/push/"
# A push monitor's results come once a minute when nothing is pushed (watch.py): what its
# alert rules, stats and a restart's read-back count on, whatever its checkInterval.
RESULT_INTERVAL = 60.0
MIN_GRACE = 60.0
# A job may run weekly or monthly: its checkInterval (how often it pushes) and its grace go
# up to a year, where a checked monitor's interval stops at a day.
MAX_PERIOD = 366 * 86400.0
MIN_PERIOD = 1.0
HELP = {
    "token": ("generated", "the secret of its push URL, " + tokens.TOKEN_RULE + "; `${VAR}`"
                           " advised; without it one is made for the monitor's id (stable,"
                           " shown by `check NAME`)"),
    "grace": ("a tenth of `checkInterval`, at least 1 minute", "how late a push may come"
              " before the monitor is down; also how long a run begun with `/start` may"
              " take (at most a year, as a push monitor's `checkInterval`)"),
}
SCHEMA = {"token": {"type": "string", "pattern": f"^({tokens.TOKEN.pattern}|.*\\$\\{{.*)$"},
          "grace": schemas.duration(MAX_PERIOD, MIN_INTERVAL)}

# The tokens of the push monitors of each config being read, to refuse one given twice.
_seen: weakref.WeakKeyDictionary[Fields, dict[str, str]] = weakref.WeakKeyDictionary()


def _parse(fields: Fields, entry: Mapping[str, Any], path: str,
           defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    if "checkInterval" not in obj:
        raise fields.fail(f"{path}.checkInterval", "is required for a push monitor: how often"
                                                   " its job pushes (86400 for a nightly"
                                                   " job)")
    period = fields.duration(obj, "checkInterval", f"{path}.checkInterval", 0.0, MAX_PERIOD,
                             MIN_PERIOD)
    grace = fields.duration(obj, "grace", f"{path}.grace", max(MIN_GRACE, period / 10),
                            MAX_PERIOD)
    name = fields.text(obj, "name", f"{path}.name")
    ident = fields.text(obj, "id", f"{path}.id")
    if not name and not ident:
        # Its token is a secret: it cannot name the monitor as a URL names an http one.
        raise fields.fail(path, "a push monitor needs a \"name\" or an \"id\"")
    token = _token(fields, obj, path) if "token" in obj else None
    spec = PushSpec(token=token, period=period, grace=grace)
    target = name or ident
    return Parsed(spec=spec, target=target, secrets=(token,) if token else (),
                  id=f"push:{target}", interval=RESULT_INTERVAL)


def _token(fields: Fields, obj: dict[str, Any], path: str) -> str:
    raw = obj["token"]
    if not isinstance(raw, str):
        raise fields.fail(f"{path}.token", "must be a string")
    token = fields.expand(raw, f"{path}.token")
    if not tokens.valid(token):
        raise fields.fail(f"{path}.token", f"must be {tokens.TOKEN_RULE}")  # never quoted
    seen = _seen.setdefault(fields, {})
    if token in seen:
        raise fields.fail(f"{path}.token", f"is the same as {seen[token]}.token: two push"
                                           " monitors cannot share a token")
    seen[token] = path
    fields.expanded.append(token)  # masked in every later message, as env values are
    return token


def push_path(token: str) -> str:
    return URL_PATH + token


def _check(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return _debug(monitor)[0]


def _debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
    """`check NAME`: its push URL (the generated token shown; one from the config is not,
    the config has it), what it expects, what it last received, and its verdict now."""
    spec: PushSpec = monitor.spec
    now, mono = time.time(), time.monotonic()
    lines = []
    if spec.token is not None:
        lines.append(f"push URL: {push_path(spec.token)} (the token of the config)")
    elif spec.shown is not None:
        lines.append(f"push URL: {push_path(spec.shown)} (a token generated for this"
                     " monitor's id)")
    else:
        lines.append("push URL: its token is generated beside the database, which cannot"
                     " be read here")
    lines.append(f"expects: a push every {format_seconds(spec.period)}, at most"
                 f" {format_seconds(spec.grace)} late; /start, then a push within"
                 f" {format_seconds(spec.grace)}")
    if spec.seen is None:
        result = CheckResult(monitor.id, now, None, None, 0.0, "new",
                             "no database to read its pushes from", mono=mono)
        return result, lines + verdict_lines(result)
    judge = Judge(monitor, spec.seen, now)  # never pushed: new, not yet late
    for what, push in (("last run ended", judge.done), ("running since", judge.start)):
        if push is not None:
            said = f": {push.message!r}" if push.message else ""
            value = f", value {push.value:g}" if push.value is not None else ""
            lines.append(f"{what}: {format_time(push.timestamp)}"
                         f" ({format_duration(now - push.timestamp)} ago),"
                         f" {push.event} {push.status or ''}".rstrip() + f"{value}{said}")
    available, reason, text = judge.verdict(now)
    result = CheckResult(monitor.id, now, available, None, 0.0, reason, text, mono=mono)
    return result, lines + verdict_lines(result)


KIND = Kind(name="push", keys=KEYS, parse=_parse, reasons=REASONS, run=_check,
            network=False, watch=open_watch, judged=True, debug=_debug, help=HELP,
            schema=SCHEMA)
