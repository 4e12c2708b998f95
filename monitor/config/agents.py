"""The remote agents of `config.json` (`agents`, `agentTimeout`) and each monitor's
`locations` and `quorum`.

An agent is a `monitoringApp.py agent` process elsewhere that checks the monitors of its
location and posts the results to this monitor's web server. Its token is a secret like an
API token (`${VAR}` expanded, masked in every message, never stored or logged): it opens
only the agent routes, and removing the entry revokes it at the next reload. A monitor's
`locations` names where it is checked from: `local` (this process) and agents' locations;
`"all"` is every one of them, expanded at load (local first, then sorted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from monitor.core import schemas
from monitor.core.fields import MAX_SECONDS, Fields
from monitor.core.model import LOCAL

TOP_KEYS = ("agents", "agentTimeout")
AGENT_KEYS = ("name", "token", "location")
MONITOR_KEYS = ("locations", "quorum")
# A name a URL's query, a log line and a path hold as written.
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
NAME_RULE = "1 to 64 letters, digits, `.`, `_` or `-`"
ALL = "all"
DEFAULT_AGENT_TIMEOUT = 60.0
# Below this, an agent's heartbeat (a third of the timeout at most) would be a busy loop.
MIN_AGENT_TIMEOUT = 1.0
# The same bounds as API tokens: guessable below, a header's size above.
MIN_TOKEN = 16
MAX_TOKEN = 512

HELP = {
    "agents": ("none", "the remote agents (`monitoringApp.py agent`) that check monitors from"
                       " other locations and post the results here: a list of objects with"
                       " `name`, `token` and `location`"),
    "agentTimeout": ("60 s", "an agent not heard from for this long is lost: an alert of its"
                             " own, and its location's results no longer count (at least"
                             " 1 s, at most a day)"),
    "locations": ("`[\"local\"]`", "where the monitor is checked from: `\"all\"` (here and"
                                   " every agent's location) or a list of `local` (this"
                                   " process) and agents' locations"),
    "quorum": ("a majority", "how many of its locations must see the monitor down in the"
                             " same window for an alert (1 to the number of locations);"
                             " fewer is a warning"),
}
AGENT_HELP = {
    "name": ("required", f"the agent's name, what alerts and logs call it: {NAME_RULE};"
                         " unique"),
    "token": ("required", f"the secret the agent sends (`Authorization: Bearer TOKEN`), "
                          f"{MIN_TOKEN} to {MAX_TOKEN} printable ASCII characters; `${{VAR}}`"
                          " allowed (and advised); unique, and none of `apiTokens`"),
    "location": ("required", f"where the agent checks from, what monitors' `locations` name:"
                             f" {NAME_RULE}, not `local`; several agents may share one"),
}

_NAME_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}
AGENT_SCHEMA = schemas.obj(
    {"name": _NAME_SCHEMA,
     "token": {"type": "string", "pattern": f"^(\\S{{{MIN_TOKEN},{MAX_TOKEN}}}|.*\\$\\{{.*)$"},
     "location": {**_NAME_SCHEMA, "not": {"const": LOCAL}}},
    AGENT_HELP, AGENT_KEYS)
SCHEMA = {
    "agents": {"type": "array", "items": AGENT_SCHEMA},
    "agentTimeout": schemas.duration(MAX_SECONDS, MIN_AGENT_TIMEOUT),
    "locations": {"anyOf": [{"const": ALL},
                            {"type": "array", "minItems": 1, "uniqueItems": True,
                             "items": _NAME_SCHEMA}]},
    "quorum": schemas.integer(1),
}


@dataclass(frozen=True)
class Agent:
    name: str
    location: str
    token: str = field(repr=False)  # a secret: never in a repr


@dataclass(frozen=True)
class Agents:
    """The `agents` of a config and how long one may stay silent."""

    agents: tuple[Agent, ...] = field(default=(), repr=False)
    timeout: float = DEFAULT_AGENT_TIMEOUT

    @property
    def locations(self) -> tuple[str, ...]:
        """Every agent's location, each once, sorted."""
        return tuple(sorted({agent.location for agent in self.agents}))


def top(fields: Fields, doc: dict[str, Any], api_tokens: dict[str, str]) -> Agents:
    """The `agents` and `agentTimeout` of a config document, checked: names and tokens
    unique, no token also an API token's (`api_tokens`: token -> its entry's path)."""
    timeout = fields.duration(doc, "agentTimeout", "agentTimeout", DEFAULT_AGENT_TIMEOUT,
                              MAX_SECONDS, MIN_AGENT_TIMEOUT)
    if "agents" not in doc:
        return Agents(timeout=timeout)
    entries = doc["agents"]
    if not isinstance(entries, list):
        raise fields.fail("agents", "must be a list of objects with \"name\", \"token\" and"
                                    " \"location\"")
    agents: list[Agent] = []
    names: dict[str, str] = {}
    seen = dict(api_tokens)
    for index, entry in enumerate(entries):
        path = f"agents[{index}]"
        if not isinstance(entry, dict):
            raise fields.fail(path, "must be an object with \"name\", \"token\" and"
                                    " \"location\"")
        fields.check_keys(entry, AGENT_KEYS, f"{path}.")
        for key in AGENT_KEYS:
            if key not in entry:
                raise fields.fail(f"{path}.{key}", "is required")
        name = _name(fields, entry["name"], f"{path}.name")
        if name in names:
            raise fields.fail(f"{path}.name", f"{name!r} is already the name of {names[name]}")
        names[name] = path
        location = _name(fields, entry["location"], f"{path}.location")
        if location == LOCAL:
            raise fields.fail(f"{path}.location", f"{LOCAL!r} is this monitor's own location:"
                                                  " give the agent's another name")
        raw = entry["token"]
        if not isinstance(raw, str):
            raise fields.fail(f"{path}.token", "must be a string")
        token = fields.expand(raw, f"{path}.token")
        # ASCII: an HTTP header carries bytes, which a server decodes as latin-1.
        if not MIN_TOKEN <= len(token) <= MAX_TOKEN or not token.isascii() \
                or not token.isprintable() or any(ch.isspace() for ch in token):
            # The value is never quoted: it is the secret.
            raise fields.fail(f"{path}.token", f"must be {MIN_TOKEN} to {MAX_TOKEN} printable"
                                               " ASCII characters without spaces")
        if token in seen:
            raise fields.fail(f"{path}.token", f"is the same as {seen[token]}'s")
        seen[token] = path
        fields.expanded.append(token)  # masked in every later message, as env values are
        agents.append(Agent(name=name, location=location, token=token))
    return Agents(agents=tuple(agents), timeout=timeout)


def _name(fields: Fields, value: Any, path: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise fields.fail(path, f"must be {NAME_RULE}")
    return value


def locations(fields: Fields, entry: dict[str, Any], path: str,
              known: tuple[str, ...]) -> tuple[str, ...]:
    """A monitor's `locations`: `"all"` (LOCAL, then `known`, the agents' locations) or a
    list of LOCAL and names of `known`, each once; (LOCAL,) when absent."""
    if "locations" not in entry:
        return (LOCAL,)
    value = entry["locations"]
    where = f"{path}locations"
    if value == ALL:
        return (LOCAL, *known)
    choices = ", ".join(json.dumps(name) for name in (LOCAL, *known))
    if not isinstance(value, list) or not value:
        raise fields.fail(where, f"must be \"all\" or a non-empty list of locations"
                                 f" (known: {choices})")
    found: list[str] = []
    for index, name in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(name, str) or not name:
            raise fields.fail(at, f"must be the name of a location (known: {choices})")
        if name != LOCAL and name not in known:
            shown = json.dumps(name) if NAME.fullmatch(name) else "this name"
            declared = ("no agent declares it" if known else
                        "no agents are declared (top-level \"agents\")")
            raise fields.fail(at, f"unknown location {shown}: {declared} (known: {choices})")
        if name in found:
            raise fields.fail(at, f"{json.dumps(name)} appears more than once")
        found.append(name)
    return tuple(found)


def quorum(fields: Fields, entry: dict[str, Any], path: str,
           places: tuple[str, ...]) -> int | None:
    """A monitor's `quorum`: how many of its `places` must see it down; None (a majority)
    when absent."""
    if "quorum" not in entry:
        return None
    value = entry["quorum"]
    if not isinstance(value, int) or isinstance(value, bool) \
            or not 1 <= value <= len(places):
        count = len(places)
        said = f"a whole number from 1 to {count}" if count > 1 else "1"
        raise fields.fail(f"{path}quorum", f"must be {said} (the monitor has {count}"
                                           f" location{'s' * (count > 1)})")
    return value
