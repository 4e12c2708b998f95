"""The notification keys of `config.json`: providers (apprise URLs), which events each
monitor sends and to which providers, how long a delivery is retried, and the heartbeat.

A provider's URL holds its credentials (a bot token in the path, a password, a user key in
the host): the whole URL and each of its parts are secrets, never in a message. A provider
is shown as its scheme and `***` (`json://***`): apprise's own privacy URLs were tried and
leave a Telegram token's first and last characters, an ntfy topic and a webhook's path in
clear. The heartbeat URL is shown with its host only (`https://hc-ping.com/***`): a dead
man's switch keys the check by a path or query that anyone could ping with.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.config import apprise_urls
from monitor.core import schemas, secrets
from monitor.core.fields import MAX_SECONDS, Fields
from monitor.core.model import DEFAULT_NOTIFY_ON

__all__ = ["EVENTS", "HELP", "MONITOR_HELP", "MONITOR_SCHEMA", "PROVIDER_HELP", "SCHEMA",
           "TEMPLATE_FIELDS", "Notify",
           "Provider", "heartbeat_secrets", "heartbeat_shown", "provider_secrets", "render"]

EVENTS = ("alert", "recovery", "warning", "reminder", "flapping")
# The named fields a provider's `title` and `body` templates may use; each is given as text.
TEMPLATE_FIELDS = ("name", "target", "id", "kind", "event", "EVENT", "state", "STATE",
                   "availability", "time", "message", "reason", "detail", "host", "key")
DEFAULT_NOTIFY_RETRY_FOR = 3600.0
MAX_NOTIFY_RETRY_FOR = 7 * 86400.0
DEFAULT_HEARTBEAT_INTERVAL = 60.0
MIN_HEARTBEAT_INTERVAL = 1.0
TOP_KEYS = ("notify", "notifyOn", "notifyRetryFor", "heartbeatUrl", "heartbeatInterval")
MONITOR_KEYS = ("notify", "notifyOn")
PROVIDER_KEYS = ("name", "url", "title", "body")
# What each key means, for people (docs/configuration.md is generated from these).
HELP = {
    "notify": ("none", "the notification providers: a list of objects with `name`, `url`,"
                       " `title`, `body`"),
    "notifyOn": ("all but `warning`", "the events every monitor sends, of " + ", ".join(EVENTS)
                 + "; `[]` for none"),
    "notifyRetryFor": ("3600 s", "how long a delivery is retried before it is marked failed"
                                 " (at most 7 days)"),
    "heartbeatUrl": ("none", "an http(s) URL the monitor calls (GET) at start and every"
                             " `heartbeatInterval` while it runs; `${VAR}` allowed"),
    "heartbeatInterval": ("60 s", "the duration between heartbeat calls (1 s to a day)"),
}
MONITOR_HELP = {
    "notify": ("every provider", "the names of the providers this monitor's events go to; `[]`"
                                 " for none"),
    "notifyOn": ("the top level's", "this monitor's own list of events, in place of the"
                                    " top-level one"),
}
PROVIDER_HELP = {
    "name": ("required", "how monitors and messages name the provider; unique"),
    "url": ("required", "an apprise URL (`mailto://`, `pover://`, `slack://`, `tgram://`,"
                        " `ntfy://`, `json://`...), checked by apprise when the config is"
                        " read; a secret, never shown; `${VAR}` allowed"),
    "title": ("the event and the label", "a template of the message's title, one line, with"
                                         " named fields in braces: " + ", ".join(
                                             "{" + f + "}" for f in TEMPLATE_FIELDS)),
    "body": ("the alert's line", "a template of the message's body, with the same fields; line"
                                 " breaks and tabs allowed"),
}

# The keys' JSON Schema fragments (monitor.config.schema joins them).
_NO_SPACES = {"type": "string", "pattern": r"^\s*\S+\s*$"}
_LINES = {"type": "string", "pattern": r"^[^\x00-\x08\x0b-\x1f\x7f]*\S[^\x00-\x08\x0b-\x1f\x7f]*$"}
PROVIDER_SCHEMA = schemas.obj({"name": schemas.text(), "url": _NO_SPACES,
                               "title": schemas.text(), "body": _LINES},
                              PROVIDER_HELP, ("name", "url"))
SCHEMA = {
    "notify": {"type": "array", "items": PROVIDER_SCHEMA},
    "notifyOn": schemas.names(EVENTS),
    "notifyRetryFor": schemas.duration(MAX_NOTIFY_RETRY_FOR),
    "heartbeatUrl": schemas.url(),
    "heartbeatInterval": schemas.duration(MAX_SECONDS, MIN_HEARTBEAT_INTERVAL),
}
MONITOR_SCHEMA = {"notify": schemas.names(), "notifyOn": schemas.names(EVENTS)}


@dataclass(frozen=True)
class Provider:
    name: str
    url: str = field(repr=False)  # the apprise URL, secret
    shown: str = ""  # masked, for messages: "json://***"
    title: str | None = None  # template, None: the default
    body: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Notify:
    """What the top-level notification keys make: every monitor's defaults and the rest."""

    providers: tuple[Provider, ...] = ()
    notify_on: frozenset[str] = DEFAULT_NOTIFY_ON
    retry_for: float = DEFAULT_NOTIFY_RETRY_FOR
    heartbeat_url: str | None = field(default=None, repr=False)
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL

    @property
    def secrets(self) -> tuple[str, ...]:
        found = [s for p in self.providers for s in p.secrets]
        if self.heartbeat_url is not None:
            found += heartbeat_secrets(self.heartbeat_url)
        return tuple(found)


def top(fields: Fields, doc: Mapping[str, Any]) -> Notify:
    """The top-level keys, validated; `notifyOn` is every monitor's default."""
    obj = dict(doc)
    return Notify(
        providers=_providers(fields, obj) if "notify" in obj else (),
        notify_on=events(fields, obj, "notifyOn", DEFAULT_NOTIFY_ON),
        retry_for=fields.duration(obj, "notifyRetryFor", "notifyRetryFor",
                                  DEFAULT_NOTIFY_RETRY_FOR, MAX_NOTIFY_RETRY_FOR),
        heartbeat_url=_heartbeat_url(fields, obj) if "heartbeatUrl" in obj else None,
        heartbeat_interval=fields.duration(obj, "heartbeatInterval", "heartbeatInterval",
                                           DEFAULT_HEARTBEAT_INTERVAL, MAX_SECONDS,
                                           MIN_HEARTBEAT_INTERVAL),
    )


def events(fields: Fields, obj: Mapping[str, Any], path: str,
           default: frozenset[str]) -> frozenset[str]:
    """`notifyOn`: a list of events, each once; [] sends none."""
    if "notifyOn" not in obj:
        return default
    value = obj["notifyOn"]
    names = ", ".join(EVENTS)
    if not isinstance(value, list):
        raise fields.fail(path, f"must be a list of events ({names})")
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, str):
            raise fields.fail(where, f"must be one of: {names}")
        if item not in EVENTS:
            raise fields.fail(where, f"unknown event {json.dumps(item)} (events: {names})")
        if item in seen:
            raise fields.fail(where, f"{json.dumps(item)} appears more than once")
        seen.add(item)
    return frozenset(seen)


def recipients(fields: Fields, obj: Mapping[str, Any], path: str,
               providers: tuple[Provider, ...]) -> tuple[str, ...] | None:
    """A monitor's `notify`: names of providers, each once; [] for none; absent (None):
    every provider."""
    if "notify" not in obj:
        return None
    value = obj["notify"]
    if not isinstance(value, list):
        raise fields.fail(path, "must be a list of provider names")
    known = [p.name for p in providers]
    names: list[str] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, str):
            raise fields.fail(where, "must be the name of a provider")
        if item not in known:
            listed = (f"providers: {', '.join(known)}" if known
                      else "no provider is configured in notify")
            raise fields.fail(where, f"unknown provider {json.dumps(item)} ({listed})")
        if item in names:
            raise fields.fail(where, f"{json.dumps(item)} appears more than once")
        names.append(item)
    return tuple(names)


def _providers(fields: Fields, obj: dict) -> tuple[Provider, ...]:
    value = obj["notify"]
    if not isinstance(value, list):
        raise fields.fail("notify", "must be a list of providers, each an object with a name"
                                    " and a url")
    seen: dict[str, int] = {}
    providers = []
    for index, entry in enumerate(value):
        provider = _provider(fields, entry, f"notify[{index}]")
        if provider.name in seen:
            raise fields.fail(f"notify[{index}].name",
                              f"duplicate of notify[{seen[provider.name]}].name")
        seen[provider.name] = index
        providers.append(provider)
    return tuple(providers)


def _provider(fields: Fields, entry: Any, path: str) -> Provider:
    if not isinstance(entry, dict):
        raise fields.fail(path, "must be an object with a name and a url")
    fields.check_keys(entry, PROVIDER_KEYS, f"{path}.")
    for key in ("name", "url"):
        if key not in entry:
            raise fields.fail(f"{path}.{key}", "is required")
    name = fields.text(entry, "name", f"{path}.name")
    url = _provider_url(fields, entry["url"], f"{path}.url")
    return Provider(
        name=name,
        url=url,
        shown=provider_shown(url),
        title=_template(fields, entry, "title", f"{path}.title", lines=False),
        body=_template(fields, entry, "body", f"{path}.body", lines=True),
        secrets=provider_secrets(url),
    )


def _provider_url(fields: Fields, value: Any, path: str) -> str:
    # No message here quotes the URL or a part of it: all of it is secret.
    if not isinstance(value, str) or not value.strip():
        raise fields.fail(path, "must be a non-empty string")
    text = fields.expand(value.strip(), path)
    _plain(fields, text, path)
    # What is wrong is said by the scheme and the names of fields, never their values.
    wrong = apprise_urls.problem(text)
    if wrong is not None:
        raise fields.fail(path, wrong)
    return text


def _plain(fields: Fields, text: str, path: str) -> None:
    if any(ch.isspace() for ch in text):
        raise fields.fail(path, "must not contain spaces")
    if not text.isprintable():
        raise fields.fail(path, "must not contain control or invisible characters")


def provider_shown(url: str) -> str:
    """A provider URL as it may be shown: its scheme only."""
    scheme = url.partition("://")[0].lower()
    return f"{scheme}://{secrets.MASK}"


def provider_secrets(url: str) -> tuple[str, ...]:
    """Every part of an apprise URL that may be a credential: the whole URL, its user
    information, host (a Pushover user key, a Telegram bot token, a Slack token), path
    segments and query values, as written and decoded, and the encoded forms an error may
    quote them in."""
    rest = url.partition("://")[2]
    rest, _, fragment = rest.partition("#")
    main, _, query = rest.partition("?")
    authority, _, path = main.partition("/")
    userinfo, at, host = authority.rpartition("@")
    name = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    # A host is a credential in many schemes (pover://USER_KEY@TOKEN), but a real host
    # name or address (json://hooks.example/..., mailto://127.0.0.1:25) is not: masking it,
    # and a port, would garble every other message that names the same host.
    named = "." in name or name == "localhost" or name.startswith("[")
    parts = [url, rest, *([] if named else [authority, host, *host.split(":")]),
             *path.split("/"), fragment]
    if at:
        parts += [userinfo, *userinfo.split(":")]
    parts += [pair.partition("=")[2] for pair in query.split("&")]
    parts += [unquote(part) for part in parts]
    return secrets.secret_set(secrets.encoded_forms(parts))


def _template(fields: Fields, obj: dict, key: str, path: str, lines: bool) -> str | None:
    """`title` (one line) or `body`: text with named fields ({name}, {event}...)."""
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise fields.fail(path, "must be a non-empty string")
    allowed = "\n\t" if lines else ""
    if not all(ch.isprintable() or ch in allowed for ch in value):
        raise fields.fail(path, "must not contain control characters other than line breaks"
                                " and tabs" if lines else "must not contain line breaks or"
                                " control characters")
    problem = _template_problem(value)
    if problem:
        raise fields.fail(path, problem)
    return value


def _template_problem(text: str, depth: int = 0) -> str | None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"is not a valid template: {exc} (write {{{{ and }}}} for a literal brace)"
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            return (f"unknown field {{{_one_line(name)}}} (fields:"
                    f" {', '.join(TEMPLATE_FIELDS)})")
        # A spec may hold fields of its own ("{name:>{width}}"): the same fields only.
        if spec and depth < 2:
            nested = _template_problem(spec, depth + 1)
            if nested:
                return nested
    if depth == 0:
        try:  # the spec and conversion: what the fields, all text, can be formatted with
            text.format_map(dict.fromkeys(TEMPLATE_FIELDS, ""))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            return f"is not a valid template: {_one_line(str(exc))}"
    return None


# A field whose value is not known when a message is rendered (the outbox key, made when
# the alert row is written) is given to `render` as DEFERRED % name, "\x00key\x00", and left
# in the text as a marker that keeps its conversion and spec ("\x00key!r:>10\x00"), for
# `fill` to format once the value is known. No template or value holds a NUL (the config
# refuses control characters): the markers cannot be confused with text.
DEFERRED = "\x00%s\x00"
_MARKER = re.compile("\x00([A-Za-z]+)(?:!([rsa]))?(?::([^\x00]*))?\x00")


def render(template: str, values: Mapping[str, str]) -> str:
    """A validated template filled in: fields not given are empty; a deferred field (its
    value DEFERRED % name) is left as a marker for `fill`. A field whose spec (made of other
    fields: "{name:{state}}") does not apply to its value is given as it is."""
    out: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = str(values.get(name, ""))
        if spec and "{" in spec:  # its own fields; a deferred one is empty there
            spec = render(spec, {k: v for k, v in values.items() if v != DEFERRED % k})
        if value == DEFERRED % name:
            out.append(f"\x00{name}" + (f"!{conversion}" if conversion else "")
                       + (f":{spec}" if spec else "") + "\x00")
        else:
            out.append(_format(value, conversion, spec or ""))
    return "".join(out)


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with the markers of deferred fields formatted with their values now known
    (those without a value left as they are)."""
    def one(match: re.Match[str]) -> str:
        name, conversion, spec = match.groups()
        if name not in values:
            return match.group(0)
        return _format(values[name], conversion, spec or "")

    return _MARKER.sub(one, text) if "\x00" in text else text


def _format(value: str, conversion: str | None, spec: str) -> str:
    """As str.format does a field; a spec that does not apply (a runtime value in it): the
    value as it is."""
    converted = (repr(value) if conversion == "r" else ascii(value) if conversion == "a"
                 else value)
    try:
        return format(converted, spec)
    except (ValueError, TypeError):
        return converted


def _one_line(text: str) -> str:
    """Text for a one-line message: control characters (a field name holding a line break)
    escaped."""
    return "".join(ch if ch.isprintable() else json.dumps(ch)[1:-1] for ch in text)


def _heartbeat_url(fields: Fields, obj: dict) -> str:
    # As a site's URL, but no message quotes the parser's complaint: all of it is secret.
    value = obj["heartbeatUrl"]
    path = "heartbeatUrl"
    if not isinstance(value, str) or not value.strip():
        raise fields.fail(path, "must be a non-empty string")
    text = fields.expand(value.strip(), path)
    _plain(fields, text, path)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise fields.fail(path, "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise fields.fail(path, "must be an http:// or https:// URL with a host")
    return text


def heartbeat_shown(url: str) -> str:
    """The heartbeat URL as it may be shown: scheme and host; the rest masked."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    hidden = (parts.path not in ("", "/") or parts.query or parts.fragment
              or "@" in parts.netloc)
    return f"{parts.scheme.lower()}://{host}/{secrets.MASK if hidden else ''}"


def heartbeat_secrets(url: str) -> tuple[str, ...]:
    """The heartbeat URL's secrets: itself, its user information, path segments and query
    values (not its host, which messages show)."""
    parts = urlsplit(url)
    found: list[str] = [url, *parts.path.split("/"), parts.fragment]
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        found += [userinfo, *userinfo.split(":")]
    found += [pair.partition("=")[2] for pair in parts.query.split("&")]
    found += [unquote(part) for part in found]
    return secrets.secret_set(secrets.encoded_forms(found))
