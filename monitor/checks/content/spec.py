"""The `content` kind's keys: the http kind's (`URL`, `headers`, `maxBodyBytes`,
`tlsVerify`, `caFile`, `expect`, `tlsMinDaysLeft`, `tlsFailDaysLeft`) and its own:
`history`, `maxDeviation`, `failDeviation`, `ignoreTags`. The first three may be given at
the top level as every content monitor's default, named `contentHistory`,
`contentMaxDeviation`, `contentFailDeviation` (a top-level `history` would read as the
database's)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.checks import certs
from monitor.checks.http import spec as http_spec
from monitor.checks.http.spec import HttpSpec
from monitor.core import schemas
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import Monitor

OWN_KEYS = ("history", "maxDeviation", "failDeviation", "ignoreTags")
KEYS = http_spec.KEYS + OWN_KEYS
# The monitor's key -> its name at the top level.
TOP = {"history": "contentHistory", "maxDeviation": "contentMaxDeviation",
       "failDeviation": "contentFailDeviation"}
TOP_KEYS = tuple(TOP.values())
HELP = {
    **http_spec.HELP,
    "URL": ("required", "the page to fetch, as an http monitor's `URL`"),
    "history": ("20", "how many checks' values are kept and compared with (a whole number from"
                      " 2 to 1000)"),
    "maxDeviation": ("3", "a figure more than this many standard deviations from its history"
                          " is a warning (greater than 0, at most 1000)"),
    "failDeviation": ("none", "more than this many is down (greater than `maxDeviation`, at"
                              " most 1000); none: a change is never more than a warning"),
    "ignoreTags": ("none", "a tag name or a list of them not to count (`\"tr\"`, `[\"ins\","
                           " \"iframe\"]`): what changes by nature on the page"),
    "contentHistory": ("20", "`history`"),
    "contentMaxDeviation": ("3", "`maxDeviation`"),
    "contentFailDeviation": ("none", "`failDeviation`"),
}
DEFAULT_HISTORY = 20
MIN_HISTORY_LENGTH, MAX_HISTORY_LENGTH = 2, 1000
DEFAULT_MAX_DEVIATION = 3.0
# Off by default: with the floors, a deploy that adds scripts is easily 15 deviations,
# and a changed page is something to look at, not an outage. See docs/checks.md.
DEFAULT_FAIL_DEVIATION: float | None = None
MOST_DEVIATION = 1000.0
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*")
_OWN_SCHEMA = {
    "history": schemas.integer(MIN_HISTORY_LENGTH, MAX_HISTORY_LENGTH),
    "maxDeviation": schemas.positive(MOST_DEVIATION),
    "failDeviation": schemas.positive(MOST_DEVIATION),
}
SCHEMA = {
    **http_spec.SCHEMA,
    **_OWN_SCHEMA,
    "ignoreTags": {"anyOf": [{"type": "string", "pattern": f"^{_TAG.pattern}$"},
                             {"type": "array", "minItems": 1,
                              "items": {"type": "string", "pattern": f"^{_TAG.pattern}$"}}]},
    **{TOP[key]: shape for key, shape in _OWN_SCHEMA.items()},
}


@dataclass(frozen=True)
class ContentSpec:
    """`http` fetches the page (its URL and headers are secrets, as the http kind's);
    `ignore` holds tag names in lower case."""

    http: HttpSpec
    history: int = DEFAULT_HISTORY
    max_deviation: float = DEFAULT_MAX_DEVIATION
    fail_deviation: float | None = DEFAULT_FAIL_DEVIATION
    ignore: frozenset[str] = frozenset()


def _settings(fields: Fields, obj: Mapping[str, Any], prefix: str, names: Mapping[str, str],
              defaults: Mapping[str, Any]) -> tuple[int, float, float | None]:
    """history, maxDeviation and failDeviation of `obj`, under `names`; the missing ones
    from `defaults` (by top-level name), else the built-in defaults."""
    entry = dict(obj)
    key = names["history"]
    history = defaults.get(TOP["history"], DEFAULT_HISTORY)
    if key in entry:
        value = entry[key]
        if (not isinstance(value, int) or isinstance(value, bool)
                or not MIN_HISTORY_LENGTH <= value <= MAX_HISTORY_LENGTH):
            raise fields.fail(f"{prefix}{key}", "must be a whole number from"
                              f" {MIN_HISTORY_LENGTH} to {MAX_HISTORY_LENGTH}")
        history = value
    high_key, low_key = names["maxDeviation"], names["failDeviation"]
    high = fields.positive(entry, high_key, f"{prefix}{high_key}",
                           defaults.get(TOP["maxDeviation"], DEFAULT_MAX_DEVIATION),
                           MOST_DEVIATION)
    fail: float | None = defaults.get(TOP["failDeviation"], DEFAULT_FAIL_DEVIATION)
    if low_key in entry:
        fail = fields.positive(entry, low_key, f"{prefix}{low_key}", 0.0, MOST_DEVIATION)
    if fail is not None and fail <= high:
        where = low_key if low_key in entry else high_key
        raise fields.fail(f"{prefix}{where}", f"{low_key} ({fail:g}) must be greater than"
                                              f" {high_key} ({high:g})")
    return history, high, fail


def _ignore(fields: Fields, entry: Mapping[str, Any], path: str) -> frozenset[str]:
    names = fields.strings(dict(entry), "ignoreTags", path)
    for index, name in enumerate(names):
        where = path if isinstance(entry["ignoreTags"], str) else f"{path}[{index}]"
        if not _TAG.fullmatch(name):
            raise fields.fail(where, 'must be a tag name such as "script" (no < >)')
    return frozenset(name.lower() for name in names)


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    fetched = http_spec.parse(fields, entry, path, defaults)
    history, high, fail = _settings(fields, entry, f"{path}.", {k: k for k in TOP}, defaults)
    spec = ContentSpec(http=fetched.spec, history=history, max_deviation=high,
                       fail_deviation=fail,
                       ignore=_ignore(fields, entry, f"{path}.ignoreTags"))
    # Not the URL alone: that is the http monitor's id, and both may watch one page.
    return Parsed(spec=spec, target=fetched.target, secrets=fetched.secrets,
                  id=f"content:{fetched.target}")


def defaults(fields: Fields, document: Mapping[str, Any]) -> dict[str, Any]:
    """`contentHistory`, `contentMaxDeviation`, `contentFailDeviation` at the top level:
    the defaults of every content monitor, and of those `plugins` makes."""
    history, high, fail = _settings(fields, document, "", TOP, {})
    return {TOP["history"]: history, TOP["maxDeviation"]: high, TOP["failDeviation"]: fail}


# Certificate expiry that never warns nor fails: see `plugin`.
NO_EXPIRY = certs.Expiry(min_days=-math.inf, fail_days=-math.inf)


def plugin(site: Monitor, defaults: Mapping[str, Any]) -> Parsed | None:
    """The content monitor of an http site (`plugins: ["content"]`): its page, fetched as
    the site's own check fetches it (URL, headers, body limit, TLS), judged with the
    top-level defaults. Without the site's `expect` and certificate expiry: the site's own
    check reports those, and one fault should not warn or fail two monitors."""
    if not isinstance(site.spec, HttpSpec):
        return None
    spec = ContentSpec(
        http=dataclasses.replace(site.spec, expect=None, expiry=NO_EXPIRY),
        history=defaults.get(TOP["history"], DEFAULT_HISTORY),
        max_deviation=defaults.get(TOP["maxDeviation"], DEFAULT_MAX_DEVIATION),
        fail_deviation=defaults.get(TOP["failDeviation"], DEFAULT_FAIL_DEVIATION),
    )
    return Parsed(spec=spec, target=site.target, secrets=site.secrets,
                  id=f"{site.id}/content")
