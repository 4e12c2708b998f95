"""The field checks every part of the config shares: numbers in bounds, booleans, strings,
`${VAR}` expansion, header lists, files, keys known, each error as
`config.json: monitors[2].checkInterval: must be a number greater than 0`, and warnings
about values accepted as written but spelled the old way."""

from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path
from typing import Any

from monitor.core import secrets
from monitor.core.errors import ConfigError
from monitor.core.timefmt import DURATION_FORMS, format_seconds, parse_duration

# Bounds of what the program can handle, so that an absurd number (1e300) is a config error
# rather than an OverflowError an hour later. Seconds: a socket timeout cannot hold 1e300,
# and an alert window is read from the database at start and kept in memory.
MAX_SECONDS = 86400.0  # checkInterval, timeout, alertWindow: a day
# More often than 100 times a second is a load test, not monitoring; and far below it,
# adding the interval to a due time no longer moves it (the scheduler would spin).
MIN_INTERVAL = 0.01
# The largest magnitude of a value the program takes (a pushed value, a series' value): far
# beyond any measurement, and far enough below the float's end (1.8e308) that the sums of
# many stay finite and the histograms' arithmetic does not overflow.
MAX_VALUE = 1e300
VALUE_RANGE = "from -1e300 to 1e300"  # MAX_VALUE as the messages say it
# A header name is an HTTP token (RFC 9110 section 5.6.2).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A host name (letters, digits, hyphens, underscores, dots) or an IPv4/IPv6 address.
_HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%A-Za-z]*")


def is_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, e.g. 1 followed by 400 zeros
        return False


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" in JSON: valid JSON, not storable text
        return False
    return True


def json_key(key: str) -> str:
    """A key as shown in a JSON path: bare if a plain name, else quoted and escaped, so that
    a key holding a newline or other control character cannot break the one-line message."""
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else json.dumps(key)



def _encodes_as_name(text: str) -> bool:
    """Whether a name made of _HOST's characters is one a lookup or SNI can send: labels of
    1 to 63 characters (no leading dot, no `a..b`), as the IDNA codec that ssl and
    getaddrinfo's callers use checks them."""
    try:
        text.encode("idna")
    except UnicodeError:
        return False
    return True


class Fields:
    """Reads and checks the values of one config file, naming the file and the JSON path
    of the offending value in every error. Values taken from the environment (`${VAR}`)
    are collected in `expanded`: they are secrets, masked in every message."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.expanded: list[str] = []  # values taken from the environment, all secrets
        # Lines about what is accepted but deprecated, as `config.json: websites[2]: ...`.
        self.warnings: list[str] = []
        # An entry's path -> the old key that says what its monitor checks (dns: `name`),
        # for the entries that use one: what an error about its id names.
        self.old_keys: dict[str, str] = {}

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(self._line(path, message))

    def deprecated(self, path: str, old: str, message: str) -> None:
        """The entry at `path` says what it checks with the old key `old`: accepted as
        before, with one warning line."""
        self.old_keys[path] = old
        self.warnings.append(self._line(path, message))

    def _line(self, path: str, message: str) -> str:
        # A message may quote a value made from the environment (a URL parser's complaint
        # about a password): such values are masked here too.
        message = secrets.redact(message, secrets.secret_set(self.expanded))
        return f"{self.source}: {path}: {message}"

    def check_keys(self, obj: dict, allowed: tuple[str, ...], prefix: str) -> None:
        for key in getattr(obj, "duplicates", ()):
            raise self.fail(f"{prefix}{json_key(key)}", "key appears more than once")
        for key in obj:
            if key not in allowed:
                lowered = {name.lower(): name for name in allowed}  # "url" -> "URL"
                hint = difflib.get_close_matches(key.lower(), lowered, n=1)
                extra = f' (did you mean "{lowered[hint[0]]}"?)' if hint else ""
                raise self.fail(f"{prefix}{json_key(key)}", f"unknown key{extra}")

    def positive(self, obj: dict, key: str, path: str, default: float, most: float,
                 least: float = 0.0) -> float:
        if key not in obj:
            return default
        value = obj[key]
        if not is_number(value) or value <= 0:
            raise self.fail(path, "must be a number greater than 0")
        if value < least:
            raise self.fail(path, f"must be at least {least:g}")
        if value > most:
            raise self.fail(path, f"must be at most {most:g}")
        return float(value)

    def duration(self, obj: dict, key: str, path: str, default: float, most: float,
                 least: float = 0.0) -> float:
        """A duration in seconds: a JSON number of seconds or a text `90s`, `5m`, `1h`,
        `7d` (as `maintenance on --for` takes), greater than 0 and within bounds."""
        if key not in obj:
            return default
        seconds = parse_duration(obj[key])
        if seconds is None or seconds <= 0:
            raise self.fail(path, f"must be a duration greater than 0: {DURATION_FORMS}")
        if seconds < least:
            raise self.fail(path, f"must be at least {format_seconds(least)}")
        if seconds > most:
            raise self.fail(path, f"must be at most {format_seconds(most)}")
        return seconds

    def interval(self, obj: dict, key: str, path: str, default: float) -> float:
        return self.duration(obj, key, path, default, MAX_SECONDS, MIN_INTERVAL)

    def fraction(self, obj: dict, key: str, path: str, default: float) -> float:
        if key not in obj:
            return default
        value = obj[key]
        if not is_number(value) or not 0 < value <= 1:
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
            where = f"{path}.{json_key(name)}"
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

    def text(self, obj: dict, key: str, path: str, default: str = "") -> str:
        """An optional non-empty, printable string, stripped."""
        if key not in obj:
            return default
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        if not value.isprintable() or not encodable(value):
            raise self.fail(path, "must not contain control characters or unpaired"
                                  " surrogates")
        return value.strip()

    def number(self, obj: dict, key: str, path: str, default: float, least: float,
               most: float) -> float:
        """A number within [least, most] (0 allowed when least is 0)."""
        if key not in obj:
            return default
        value = obj[key]
        if not is_number(value) or not least <= value <= most:
            raise self.fail(path, f"must be a number from {least:g} to {most:g}")
        return float(value)

    def regex(self, obj: dict, key: str, path: str) -> re.Pattern[str] | None:
        """An optional regular expression (Python's syntax), compiled."""
        if key not in obj:
            return None
        value = obj[key]
        if not isinstance(value, str) or not value:
            raise self.fail(path, "must be a non-empty string (a regular expression)")
        try:
            return re.compile(value)
        except re.error as exc:
            raise self.fail(path, f"is not a valid regular expression: {exc}") from None

    def strings(self, obj: dict, key: str, path: str) -> tuple[str, ...]:
        """An optional string or list of non-empty strings."""
        if key not in obj:
            return ()
        value = obj[key]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(path, "must be a string or a non-empty list of strings")
        for index, item in enumerate(items):
            where = path if isinstance(value, str) else f"{path}[{index}]"
            if not isinstance(item, str) or not item.strip():
                raise self.fail(where, "must be a non-empty string")
            if not encodable(item):
                raise self.fail(where, "must not contain unpaired surrogates")
        return tuple(items)

    def host(self, obj: dict, key: str, path: str, required: bool = True) -> str | None:
        """A host name or an IP address (IPv6 without brackets)."""
        if key not in obj:
            if required:
                raise self.fail(path, "is required")
            return None
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a host name or IP address")
        text = self.expand(value.strip(), path)
        if not _HOST.fullmatch(text) or (":" not in text and not _encodes_as_name(text)):
            raise self.fail(path, "must be a host name or IP address")
        return text

    def port(self, obj: dict, key: str, path: str, default: int | None = None) -> int:
        if key not in obj:
            if default is None:
                raise self.fail(path, "is required")
            return default
        value = obj[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
            raise self.fail(path, "must be a whole number from 1 to 65535")
        return value
