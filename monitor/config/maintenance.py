"""The `maintenance` key of a monitor (or of the config's top level): when it is expected to
be down. One window or a list of them, each one-off or recurring:

    {"from": "2026-12-01T02:00:00Z", "to": "2026-12-01T04:00:00+01:00"}
    {"every": ["sat", "sun"] | "day", "at": "02:00", "for": 3600, "timezone": "Europe/Paris"}

The time math, and what a window does on the days the clocks change, is in
monitor.core.windows.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from monitor.core import schemas
from monitor.core.fields import Fields
from monitor.core.windows import DAY_NAMES, MAX_SECONDS, OneOff, Recurring, Window

__all__ = ["HELP", "KEY", "ONE_OFF_KEYS", "RECURRING_KEYS", "SCHEMA", "WINDOW_SCHEMA", "parse"]

KEY = "maintenance"
ONE_OFF_KEYS = ("from", "to")
RECURRING_KEYS = ("every", "at", "for", "timezone")
HELP = {
    "from": ("required", "the start (included): ISO 8601 date and time with a zone (`Z` or an"
                         " offset such as `+01:00`)"),
    "to": ("required", "the end (excluded), after `from`, in the same form"),
    "every": ("required", "`\"day\"` or a list of days: `mon` `tue` `wed` `thu` `fri` `sat`"
                          " `sun` (any case, each once)"),
    "at": ("required", "the local start time, `\"HH:MM\"` from `00:00` to `23:59`"),
    "for": ("required", "how long: a duration greater than 0 and at most a week; a window may"
                        " run past midnight into the following days"),
    "timezone": ("`UTC`", "an IANA name (`Europe/Paris`, `America/New_York`) whose clock `at`"
                          " is read on"),
}
_DAY = "^(" + "|".join("".join(f"[{c.upper()}{c}]" for c in day) for day in DAY_NAMES) + ")$"
_SHAPES = {
    "from": schemas.text(),
    "to": schemas.text(),
    "every": {"anyOf": [{"type": "string", "pattern": "^[Dd][Aa][Yy]$"},
                        {"type": "array", "minItems": 1, "maxItems": 7,
                         "items": {"type": "string", "pattern": _DAY}}]},
    "at": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "for": schemas.duration(MAX_SECONDS),
    "timezone": schemas.text(),
}
# A window, one-off or recurring (their keys do not mix); the key takes one or a list.
WINDOW_SCHEMA = {"oneOf": [
    schemas.obj({k: _SHAPES[k] for k in ONE_OFF_KEYS}, HELP, ONE_OFF_KEYS),
    schemas.obj({k: _SHAPES[k] for k in RECURRING_KEYS}, HELP, RECURRING_KEYS[:3]),
]}
SCHEMA = {"anyOf": [WINDOW_SCHEMA, {"type": "array", "items": WINDOW_SCHEMA}]}
DEFAULT_ZONE = "UTC"
_DAYS = ", ".join(DAY_NAMES)
_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_FORMS = "one-off (from, to) or recurring (every, at, for, timezone)"


def parse(fields: Fields, obj: dict, path: str) -> tuple[Window, ...] | None:
    """The windows of `obj["maintenance"]`, None when absent; `path` names that key in
    messages ("websites[0].maintenance")."""
    if KEY not in obj:
        return None
    value = obj[KEY]
    if isinstance(value, dict):
        return (_window(fields, value, path),)
    if isinstance(value, list):
        return tuple(_window(fields, entry, f"{path}[{index}]")
                     for index, entry in enumerate(value))
    raise fields.fail(path, "must be a maintenance window (an object) or a list of them")


def _window(fields: Fields, entry: Any, path: str) -> Window:
    if not isinstance(entry, dict):
        raise fields.fail(path, f"must be an object: a window is {_FORMS}")
    fields.check_keys(entry, ONE_OFF_KEYS + RECURRING_KEYS, f"{path}.")
    first = next(iter(entry), None)
    if first is None:
        raise fields.fail(path, f"must not be empty: a window is {_FORMS}")
    mine, other = ((ONE_OFF_KEYS, RECURRING_KEYS) if first in ONE_OFF_KEYS
                   else (RECURRING_KEYS, ONE_OFF_KEYS))
    for key in entry:
        if key in other:
            raise fields.fail(f"{path}.{key}", f"cannot be mixed with {json.dumps(first)}:"
                                               f" a window is {_FORMS}")
    for key in mine:
        if key not in entry and key != "timezone":
            raise fields.fail(f"{path}.{key}", "is required")
    if mine is ONE_OFF_KEYS:
        start = _instant(fields, entry["from"], f"{path}.from")
        end = _instant(fields, entry["to"], f"{path}.to")
        if end <= start:
            raise fields.fail(f"{path}.to", "must be after from")
        return OneOff(start, end)
    days = _days(fields, entry["every"], f"{path}.every")
    hour, minute = _time_of_day(fields, entry["at"], f"{path}.at")
    seconds = fields.duration(entry, "for", f"{path}.for", 0.0, MAX_SECONDS)
    zone = _zone(fields, entry.get("timezone", DEFAULT_ZONE), f"{path}.timezone")
    return Recurring(days=days, hour=hour, minute=minute, seconds=seconds, zone=zone)


def _instant(fields: Fields, value: Any, path: str) -> float:
    """An ISO 8601 date and time with its zone, as UTC epoch seconds."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise fields.fail(path, "must be an ISO 8601 time with a zone (Z or +01:00),"
                                " e.g. 2026-12-01T02:00:00Z")
    try:
        return moment.astimezone(UTC).timestamp()
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise fields.fail(path, "is out of range (UTC years 1 to 9999)") from None


def _days(fields: Fields, value: Any, path: str) -> frozenset[int]:
    if isinstance(value, str) and value.lower() == "day":
        return frozenset(range(7))
    if not isinstance(value, list) or not value:
        raise fields.fail(path, f'must be "day" or a non-empty list of days ({_DAYS})')
    days: set[int] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, str):
            raise fields.fail(where, f"must be one of: {_DAYS}")
        if item.lower() not in DAY_NAMES:
            raise fields.fail(where, f"unknown day {json.dumps(item)} (days: {_DAYS})")
        day = DAY_NAMES.index(item.lower())
        if day in days:
            raise fields.fail(where, f"{json.dumps(item)} appears more than once")
        days.add(day)
    return frozenset(days)


def _time_of_day(fields: Fields, value: Any, path: str) -> tuple[int, int]:
    found = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise fields.fail(path, 'must be a time of day "HH:MM" from 00:00 to 23:59,'
                                ' e.g. "02:00"')
    return int(found[1]), int(found[2])


def _zone(fields: Fields, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise fields.fail(path, "must be an IANA time zone name such as Europe/Paris")
    if value not in _zone_names():
        by_case = {name.lower(): name for name in _zone_names()}
        hint = (f'did you mean "{by_case[value.lower()]}"?' if value.lower() in by_case
                else "an IANA name such as Europe/Paris")
        raise fields.fail(path, f"unknown time zone {json.dumps(value)} ({hint})")
    try:
        ZoneInfo(value)
    except (ValueError, OSError, KeyError):  # a damaged file in the time zone database
        raise fields.fail(path, f"time zone {json.dumps(value)} cannot be read") from None
    return value


@functools.cache
def _zone_names() -> frozenset[str]:
    """Every IANA name the time zone database here knows (6 ms, once): exactly, in any
    file system's case; not the database's other files (zone.tab, posixrules)."""
    return frozenset(available_timezones())
