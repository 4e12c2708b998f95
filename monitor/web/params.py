"""What the history routes share: query parameters read with a 400 problem that names the
parameter, the request's database reader (a 503 when it cannot be read), the monitor a
path names (a 404 when neither the config nor the database knows it), and the OpenAPI
parts that describe them."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import request

from monitor.core.errors import StoreError
from monitor.core.fields import is_number
from monitor.core.model import Monitor
from monitor.store.api import Reader
from monitor.web.context import WebContext
from monitor.web.openapi import error
from monitor.web.problems import Problem

# An instant as a parameter: epoch seconds, or ISO-8601 (a date, or a date and time; UTC
# when no offset is given).
TIME_PATTERN = (r"^\s*(?:\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}"
                r"(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)\s*$")
# ASCII digits: float() and int() also read other scripts' ("١٢٣"), which no document says.
_EPOCH = re.compile(r"\s*\d+(?:\.\d+)?\s*", re.ASCII)
_WHOLE = re.compile(r"\s*[-+]?\d{1,30}\s*", re.ASCII)  # 30 digits: past any bound asked
LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last instant ISO-8601 can write


def instant(value: object) -> float | None:
    """Epoch seconds from a number, or a text of epoch seconds or ISO-8601 (UTC when no
    offset is given); None when it is none of them, or out of range."""
    found: float | None = None
    if is_number(value):
        found = float(value)  # type: ignore[arg-type]
    elif isinstance(value, str):
        if _EPOCH.fullmatch(value):
            found = float(value)
        else:
            with contextlib.suppress(ValueError, OverflowError):
                when = datetime.fromisoformat(value.strip())
                found = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return found if found is not None and 0 <= found <= LATEST else None


def time_arg(name: str) -> float | None:
    """The query parameter `name` as epoch seconds, None when absent."""
    text = request.args.get(name)
    if text is None:
        return None
    value = instant(text)
    if value is None:
        raise Problem(400, "Bad Request", f"{name}: {not_a_time(text)}", parameter=name)
    return value


def not_a_time(value: object) -> str:
    return (f"{str(value)[:60]!r} is not a time: give ISO-8601 (2026-05-01T12:00:00Z) or"
            " epoch seconds")


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name` as a whole number in [low, high], `default` when absent."""
    text = request.args.get(name)
    if text is None:
        return default
    value = int(text) if _WHOLE.fullmatch(text) else low - 1
    if not low <= value <= high:
        raise Problem(400, "Bad Request", f"{name}: {text[:40]!r} is not a whole number from"
                      f" {low} to {high}", parameter=name)
    return value


def choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    """The query parameter `name`, one of `choices`; `default` when absent."""
    text = request.args.get(name)
    if text is None:
        return default
    if text not in choices:
        raise Problem(400, "Bad Request", f"{name}: {text[:40]!r} is not one of "
                      + ", ".join(choices), parameter=name)
    return text


@contextlib.contextmanager
def reading(context: WebContext) -> Iterator[Reader]:
    """The request's database reader; a database that cannot be read is a 503."""
    try:
        with context.reader() as reader:
            yield reader
    except StoreError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None


def configured(context: WebContext, monitor_id: str) -> Monitor:
    """The monitor of the config with this id; a 404 problem when there is none."""
    for monitor in context.config.monitors:
        if monitor.id == monitor_id:
            return monitor
    raise Problem(404, "Not Found", f"no monitor of the config has the id {monitor_id!r}")


def known(context: WebContext, reader: Reader, monitor_id: str) -> Monitor | None:
    """The monitor of the config with this id, or None when only the database knows it (a
    monitor removed from the config keeps its history); a 404 problem when neither does."""
    for monitor in context.config.monitors:
        if monitor.id == monitor_id:
            return monitor
    if reader.knows_monitor(monitor_id):
        return None
    raise Problem(404, "Not Found", f"no monitor has the id {monitor_id!r}, in the config or"
                                    " in the database")


def finite(value: float | None) -> float | None:
    """A number JSON can carry (no NaN, no infinity)."""
    return value if value is not None and math.isfinite(value) else None


# -- the OpenAPI document ------------------------------------------------------------------

MONITOR_ID = {"name": "id", "in": "path", "required": True,
              "description": "the monitor's id (percent-encoded: an http monitor's id is its"
                             " URL)", "schema": {"type": "string", "minLength": 1}}
NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}
BAD_PARAMETER = error("A query parameter that cannot be read (`parameter` names it)")
UNREADABLE = error("The database cannot be read (or written, for a change)")


def time_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "string", "pattern": TIME_PATTERN}}
