"""Reading and validating `config.json` in one pass that also fills the defaults.

Every error names the file and the JSON path of the offending value, so that the CLI can
print it on one line: `config.json: websites[2].checkInterval: must be a number greater than 0`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor import secrets
from monitor.errors import ConfigError
from monitor.secrets import display_url

__all__ = ["Config", "Site", "display_url", "load_config", "parse_config"]

DEFAULT_CHECK_INTERVAL = 2.0
DEFAULT_ALERT_WINDOW = 120.0
DEFAULT_ALERT_THRESHOLD = 0.8
MAX_DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_WORKERS = 256
MAX_PROCESSES = 64
# Bounds of what the program can handle, so that an absurd number (1e300) is a config error
# rather than an OverflowError an hour later. Seconds: a socket timeout cannot hold 1e300,
# and an alert window is read from the database at start and kept in memory.
MAX_SECONDS = 86400.0  # checkInterval, timeout, alertWindow: a day
# More often than 100 times a second is a load test, not monitoring; and far below it,
# adding the interval to a due time no longer moves it (the scheduler would spin).
MIN_INTERVAL = 0.01
MAX_RETENTION_DAYS = 36500.0  # 100 years; the purge's cut-off must be a representable date
MAX_WORKERS = 10_000  # threads, started on demand
MAX_BODY_BYTES = 1024**3
CANARY_INTERVAL = 10.0
CANARY_TIMEOUT = 3.0

# Check kinds known to the validator; `checks.register` adds to it so that a new kind of
# check is one registration, not an edit here.
CHECK_KINDS: set[str] = {"http"}


@dataclass(frozen=True)
class Site:
    """One monitored site with every default filled in.

    `url` is the masked URL: the site's key in the database, reports and alerts. `target`
    is the URL the check fetches, credentials and all; it and `headers` never leave the
    check (repr=False keeps them out of reprs too)."""

    url: str
    name: str
    interval: float
    timeout: float
    alert_window: float
    alert_threshold: float
    kind: str = "http"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    target: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    tls_verify: bool = True
    ca_file: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.url

    @property
    def fetch_url(self) -> str:
        return self.target or self.url


@dataclass(frozen=True)
class Config:
    sites: tuple[Site, ...]
    default_check_interval: float = DEFAULT_CHECK_INTERVAL
    alert_window: float = DEFAULT_ALERT_WINDOW
    alert_threshold: float = DEFAULT_ALERT_THRESHOLD
    retention_days: float | None = None
    max_workers: int = DEFAULT_MAX_WORKERS
    processes: int | None = None  # probe processes; None: chosen from the load (probes.py)
    canary: Site | None = None
    source: str = field(default="config.json", compare=False)

    @property
    def max_alert_window(self) -> float:
        return max((s.alert_window for s in self.sites), default=self.alert_window)


class _DupDict(dict):
    """A JSON object that remembers keys written twice (json keeps the last silently)."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _DupDict:
    obj = _DupDict()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a config file; raise ConfigError naming what is wrong."""
    name = str(path)
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not an error.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"{name}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
    return parse_config(text, name)


def parse_config(text: str, source: str = "config.json") -> Config:
    try:
        document = json.loads(text, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        # json's own text ends in "... at" before the position it appends; we give it first.
        what = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise ConfigError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {what}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid JSON: nested too deeply") from None
    except ValueError:  # an integer literal longer than Python's int-digit limit (4300)
        raise ConfigError(f"{source}: invalid JSON: a number has too many digits") from None
    return _Validator(source).config(document)


def _is_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, e.g. 1 followed by 400 zeros
        return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" in JSON: valid JSON, not storable text
        return False
    return True


def _key(key: str) -> str:
    """A key as shown in a JSON path: bare if a plain name, else quoted and escaped, so that
    a key holding a newline or other control character cannot break the one-line message."""
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else json.dumps(key)


TOP_KEYS = (
    "websites",
    "defaultCheckInterval",
    "alertWindow",
    "alertThreshold",
    "retentionDays",
    "maxWorkers",
    "processes",
    "maxBodyBytes",
    "canary",
)
SITE_KEYS = (
    "URL",
    "name",
    "type",
    "checkInterval",
    "timeout",
    "alertWindow",
    "alertThreshold",
    "maxBodyBytes",
    "headers",
    "tlsVerify",
    "caFile",
)
# A header name is an HTTP token (RFC 9110 section 5.6.2).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.expanded: list[str] = []  # values taken from the environment, all secrets

    def fail(self, path: str, message: str) -> ConfigError:
        # A message may quote a value made from the environment (a URL parser's complaint
        # about a password): such values are masked here too.
        message = secrets.redact(message, secrets.secret_set(self.expanded))
        return ConfigError(f"{self.source}: {path}: {message}")

    def check_keys(self, obj: _DupDict, allowed: tuple[str, ...], prefix: str) -> None:
        for key in getattr(obj, "duplicates", ()):
            raise self.fail(f"{prefix}{_key(key)}", "key appears more than once")
        for key in obj:
            if key not in allowed:
                lowered = {name.lower(): name for name in allowed}  # "url" -> "URL"
                hint = difflib.get_close_matches(key.lower(), lowered, n=1)
                extra = f' (did you mean "{lowered[hint[0]]}"?)' if hint else ""
                raise self.fail(f"{prefix}{_key(key)}", f"unknown key{extra}")

    def positive(self, obj: dict, key: str, path: str, default: float, most: float,
                 least: float = 0.0) -> float:
        if key not in obj:
            return default
        value = obj[key]
        if not _is_number(value) or value <= 0:
            raise self.fail(path, "must be a number greater than 0")
        if value < least:
            raise self.fail(path, f"must be at least {least:g}")
        if value > most:
            raise self.fail(path, f"must be at most {most:g}")
        return float(value)

    def interval(self, obj: dict, key: str, path: str, default: float) -> float:
        return self.positive(obj, key, path, default, MAX_SECONDS, MIN_INTERVAL)

    def fraction(self, obj: dict, key: str, path: str, default: float) -> float:
        if key not in obj:
            return default
        value = obj[key]
        if not _is_number(value) or not 0 < value <= 1:
            raise self.fail(path, "must be a number greater than 0 and at most 1")
        return float(value)

    def expand(self, value: str, path: str) -> str:
        try:
            return secrets.expand(value, found=self.expanded)
        except secrets.MissingVariable as exc:
            raise self.fail(path, f"environment variable {exc.name} is not set") from None
        except secrets.BadReference as exc:
            raise self.fail(path, f"{json.dumps(exc.text)} is not a variable reference "
                                  "(write ${NAME}, or $${ for a literal ${)") from None

    def boolean(self, obj: dict, key: str, path: str, default: bool) -> bool:
        if key not in obj:
            return default
        if not isinstance(obj[key], bool):
            raise self.fail(path, "must be true or false")
        return obj[key]

    def headers(self, obj: dict, path: str) -> tuple[tuple[str, str], ...]:
        if "headers" not in obj:
            return ()
        value = obj["headers"]
        if not isinstance(value, dict):
            raise self.fail(path, "must be an object of header names to values")
        self.check_keys(value, tuple(value), f"{path}.")
        result = []
        for name, text in value.items():
            where = f"{path}.{_key(name)}"
            if not _HEADER_NAME.fullmatch(name):
                raise self.fail(where, "is not a valid header name")
            if not isinstance(text, str):
                raise self.fail(where, "must be a string")
            text = self.expand(text, where)
            if any(ch in text for ch in "\r\n\0"):
                raise self.fail(where, "must not contain line breaks or NUL")
            # Caught here rather than failing every check as if the site were down.
            if text != text.strip():
                raise self.fail(where, "must not start or end with spaces")
            try:
                text.encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail(where, "must be Latin-1 text (header values are bytes)") from None
            result.append((name, text))
        return tuple(result)

    def ca_file(self, obj: dict, path: str) -> str | None:
        if "caFile" not in obj:
            return None
        value = obj["caFile"]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be the path of a PEM file of CA certificates")
        name = self.expand(value.strip(), path)
        # Relative to the config file, as a user reading the config would expect.
        file = Path(self.source).parent / name
        if not file.is_file():
            raise self.fail(path, f"file not found: {name}")
        try:
            file.read_bytes()
        except OSError as exc:
            raise self.fail(path, f"cannot read {name}: {exc.strerror}") from None
        return str(file)

    def integer(self, obj: dict, key: str, path: str, default: int, most: int) -> int:
        if key not in obj:
            return default
        value = obj[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(path, "must be a whole number greater than 0")
        if value > most:
            raise self.fail(path, f"must be at most {most}")
        return value

    def config(self, doc: Any) -> Config:
        if not isinstance(doc, dict):
            raise self.fail("(root)", "must be a JSON object")
        self.check_keys(doc, TOP_KEYS, "")
        interval = self.interval(doc, "defaultCheckInterval", "defaultCheckInterval",
                                 DEFAULT_CHECK_INTERVAL)
        window = self.positive(doc, "alertWindow", "alertWindow", DEFAULT_ALERT_WINDOW,
                               MAX_SECONDS)
        threshold = self.fraction(doc, "alertThreshold", "alertThreshold",
                                  DEFAULT_ALERT_THRESHOLD)
        retention = self.positive(doc, "retentionDays", "retentionDays", 0.0,
                                  MAX_RETENTION_DAYS) or None
        workers = self.integer(doc, "maxWorkers", "maxWorkers", DEFAULT_MAX_WORKERS,
                               MAX_WORKERS)
        body = self.integer(doc, "maxBodyBytes", "maxBodyBytes", DEFAULT_MAX_BODY_BYTES,
                            MAX_BODY_BYTES)
        processes = doc.get("processes", "auto")
        if processes == "auto":
            processes = None
        elif (not isinstance(processes, int) or isinstance(processes, bool)
              or not 1 <= processes <= MAX_PROCESSES):
            raise self.fail("processes", "must be \"auto\" or a whole number from 1 to"
                            f" {MAX_PROCESSES}")

        if "websites" not in doc:
            raise self.fail("websites", "is required (a list of sites to monitor)")
        websites = doc["websites"]
        if not isinstance(websites, list):
            raise self.fail("websites", "must be a list of site objects")
        if not websites:
            raise self.fail("websites", "must contain at least one site")

        canary = self.canary(doc, threshold, body) if "canary" in doc else None
        seen: dict[str, int] = {}
        sites = []
        for index, entry in enumerate(websites):
            site = self.site(entry, f"websites[{index}]", interval, window, threshold, body)
            if site.url in seen:
                raise self.fail(f"websites[{index}].URL",
                                f"duplicate of websites[{seen[site.url]}].URL")
            seen[site.url] = index
            sites.append(site)
        # For text that has no site at hand (an unexpected error): see secrets.redact_known.
        secrets.remember(value for site in (*sites, *filter(None, [canary]))
                         for value in site.secrets)
        return Config(
            sites=tuple(sites),
            default_check_interval=interval,
            alert_window=window,
            alert_threshold=threshold,
            retention_days=retention,
            max_workers=workers,
            processes=processes,
            canary=canary,
            source=self.source,
        )

    def canary(self, doc: dict, threshold: float, body: int) -> Site:
        """`canary`: a URL, or a site object; checked every 10 s and on demand."""
        entry = doc["canary"]
        if isinstance(entry, str):
            self.url(entry, "canary")  # so that an error names the path as written
            entry = {"URL": entry}
        if not isinstance(entry, dict):
            raise self.fail("canary", "must be a URL or an object with a URL")
        site = self.site(entry, "canary", CANARY_INTERVAL, CANARY_INTERVAL, threshold, body)
        if "timeout" not in entry:
            site = replace(site, timeout=min(CANARY_TIMEOUT, site.interval))
        return replace(site, name=site.name or "canary")

    def site(self, entry: Any, path: str, interval: float, window: float, threshold: float,
             body: int) -> Site:
        if not isinstance(entry, dict):
            raise self.fail(path, "must be an object with a URL")
        self.check_keys(entry, SITE_KEYS, f"{path}.")
        if "URL" not in entry:
            raise self.fail(f"{path}.URL", "is required")
        before = len(self.expanded)
        target = self.url(entry["URL"], f"{path}.URL")
        headers = self.headers(entry, f"{path}.headers")
        # What came from the environment is secret (a bot token in a path, a key in a
        # query), except a host name or port, which a key must show to be of any use.
        parts = urlsplit(target)
        shown = {parts.hostname or "", str(parts.port)}
        from_env = [v for v in self.expanded[before:] if v.lower() not in shown]
        site_secrets = secrets.secret_set(secrets.encoded_forms(
            [*secrets.url_secrets(target), *secrets.header_secrets(headers), *from_env]))
        url = secrets.redact(display_url(target), site_secrets)
        name = entry.get("name", "")
        if "name" in entry and (not isinstance(name, str) or not name.strip()):
            raise self.fail(f"{path}.name", "must be a non-empty string")
        if not name.isprintable() or not _encodable(name):
            raise self.fail(f"{path}.name", "must not contain control characters or unpaired"
                                            " surrogates")
        kind = entry.get("type", "http")
        if not isinstance(kind, str) or kind not in CHECK_KINDS:
            raise self.fail(f"{path}.type", f"must be one of: {', '.join(sorted(CHECK_KINDS))}")
        site_interval = self.interval(entry, "checkInterval", f"{path}.checkInterval", interval)
        timeout = self.positive(entry, "timeout", f"{path}.timeout",
                                min(MAX_DEFAULT_TIMEOUT, site_interval), MAX_SECONDS)
        return Site(
            url=url,
            name=name.strip(),
            interval=site_interval,
            timeout=timeout,
            alert_window=self.positive(entry, "alertWindow", f"{path}.alertWindow", window,
                                       MAX_SECONDS),
            alert_threshold=self.fraction(entry, "alertThreshold", f"{path}.alertThreshold",
                                          threshold),
            kind=kind,
            max_body_bytes=self.integer(entry, "maxBodyBytes", f"{path}.maxBodyBytes", body,
                                        MAX_BODY_BYTES),
            target=target if target != url else "",
            headers=headers,
            secrets=site_secrets,
            tls_verify=self.boolean(entry, "tlsVerify", f"{path}.tlsVerify", True),
            ca_file=self.ca_file(entry, f"{path}.caFile"),
        )

    def url(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        before = len(self.expanded)
        url = self.expand(value.strip(), path)
        from_env = len(self.expanded) > before
        # Before urlsplit: its NFKC error quotes the host unescaped, line breaks and all.
        if any(ch.isspace() for ch in url):
            raise self.fail(path, "must not contain spaces")
        if not url.isprintable():
            raise self.fail(path, "must not contain control or invisible characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            # The parser quotes pieces of the URL, which may be pieces of a secret.
            detail = " (after ${...} expansion)" if from_env else f": {exc}"
            raise self.fail(path, f"is not a valid URL{detail}") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise self.fail(path, "must be an http:// or https:// URL with a host")
        return url
