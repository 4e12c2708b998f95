"""The `http` kind's own keys in a `monitors` entry: `URL`, `headers`, `maxBodyBytes`,
`tlsVerify`, `caFile`, `expect` (conditions), `tlsMinDaysLeft`, `tlsFailDaysLeft`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitor.checks import certs
from monitor.checks.http.expect import SCHEMA as EXPECT_SCHEMA
from monitor.checks.http.expect import Expect
from monitor.checks.http.expect import parse as parse_expect
from monitor.core import schemas, secrets
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import Monitor

KEYS = ("URL", "maxBodyBytes", "headers", "tlsVerify", "caFile", "expect", *certs.KEYS)
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = 1024**3
HELP = {
    "URL": ("required", "the URL to GET: http or https, with a host; `${VAR}` allowed"),
    "maxBodyBytes": ("10485760", "the most of a body a check reads; more is a `too_large`"
                                 " failure (at most 1073741824, 1 GiB)"),
    "headers": ("none", "an object of request headers, e.g. `{\"Authorization\": \"Bearer"
                        " ${API_TOKEN}\"}`; secret ones are masked everywhere"),
    "tlsVerify": ("`true`", "`false` accepts any certificate (its days left are judged all"
                            " the same)"),
    "caFile": ("system CAs", "a PEM file of CA certificates to trust instead, relative to the"
                             " config file"),
    "expect": ("none", "conditions on the answer, in place of \"a status below 400\" (the"
                       " conditions are listed apart)"),
    **certs.HELP,
    "plugins": ("the top level's", "this site's own list of plugin kinds, in place of the"
                                   " top-level one; `[]` for none"),
}
SCHEMA = {
    "URL": schemas.url(),
    "maxBodyBytes": schemas.integer(1, MAX_BODY_BYTES),
    "headers": schemas.headers(),
    "tlsVerify": schemas.boolean(),
    "caFile": schemas.text(),
    "expect": EXPECT_SCHEMA,
    **certs.SCHEMA,
    "plugins": schemas.names(),  # the kinds that run on sites: the config's schema says
}


@dataclass(frozen=True)
class HttpSpec:
    """`url` is the URL the check fetches, credentials and all; it and `headers` never
    leave the check (repr=False keeps them out of reprs too)."""

    url: str = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tls_verify: bool = True
    ca_file: str | None = None
    expect: Expect | None = None
    expiry: certs.Expiry = certs.Expiry()


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    if "URL" not in entry:
        raise fields.fail(f"{path}.URL", "is required")
    before = len(fields.expanded)
    target = url(fields, entry["URL"], f"{path}.URL")
    headers = fields.headers(dict(entry), f"{path}.headers")
    # What came from the environment is secret (a bot token in a path, a key in a
    # query), except a host name or port, which a key must show to be of any use.
    parts = urlsplit(target)
    shown = {parts.hostname or "", str(parts.port)}
    from_env = [v for v in fields.expanded[before:] if v.lower() not in shown]
    masked, found = _masked(target, headers, from_env)
    body = fields.integer(dict(entry), "maxBodyBytes", f"{path}.maxBodyBytes",
                          defaults.get("maxBodyBytes", DEFAULT_MAX_BODY_BYTES), MAX_BODY_BYTES)
    spec = HttpSpec(
        url=target,
        headers=headers,
        max_body_bytes=body,
        tls_verify=fields.boolean(dict(entry), "tlsVerify", f"{path}.tlsVerify", True),
        ca_file=fields.ca_file(dict(entry), f"{path}.caFile"),
        expect=parse_expect(fields, entry, path),
        expiry=certs.parse(fields, entry, path, defaults),
    )
    # An http monitor's derived id is its masked URL, as the database keyed sites before
    # monitors had ids: history recorded before stays with the monitor.
    return Parsed(spec=spec, target=masked, secrets=found, id=masked)


def _masked(url: str, headers: tuple[tuple[str, str], ...],
            more: list[str] | None = None) -> tuple[str, tuple[str, ...]]:
    """The URL as shown and stored, and every secret to mask: the URL's credentials and
    secret query values, secret headers' values, and `more` (values from ${VAR})."""
    found = secrets.secret_set(secrets.encoded_forms(
        [*secrets.url_secrets(url), *secrets.header_secrets(headers), *(more or [])]))
    return secrets.redact(secrets.display_url(url), found), found


def defaults(fields: Fields, document: Mapping[str, Any]) -> dict[str, Any]:
    """`maxBodyBytes`, `tlsMinDaysLeft`, `tlsFailDaysLeft` at the top level: every http
    monitor's defaults."""
    return {"maxBodyBytes": fields.integer(dict(document), "maxBodyBytes", "maxBodyBytes",
                                           DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES),
            **certs.defaults(fields, document)}


def url(fields: Fields, value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fields.fail(path, "must be a non-empty string")
    before = len(fields.expanded)
    text = fields.expand(value.strip(), path)
    from_env = len(fields.expanded) > before
    # Before urlsplit: its NFKC error quotes the host unescaped, line breaks and all.
    if any(ch.isspace() for ch in text):
        raise fields.fail(path, "must not contain spaces")
    if not text.isprintable():
        raise fields.fail(path, "must not contain control or invisible characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        # The parser quotes pieces of the URL, which may be pieces of a secret.
        detail = " (after ${...} expansion)" if from_env else f": {exc}"
        raise fields.fail(path, f"is not a valid URL{detail}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise fields.fail(path, "must be an http:// or https:// URL with a host")
    return text


def http_monitor(url: str, *, name: str = "", interval: float = 2.0, timeout: float = 2.0,
                 alert_window: float = 120.0, alert_threshold: float = 0.8,
                 id: str | None = None, **spec: Any) -> Monitor:
    """An http monitor made in code (the self-test, tests, `check URL`): the URL masked as
    the config would mask it."""
    masked, found = _masked(url, spec.get("headers", ()))
    return Monitor(id=id or masked, kind="http", target=masked, name=name, interval=interval,
                   timeout=timeout, alert_window=alert_window,
                   alert_threshold=alert_threshold, spec=HttpSpec(url=url, **spec),
                   secrets=found)
