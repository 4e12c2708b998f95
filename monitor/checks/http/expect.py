"""An http monitor's `expect`: conditions on the answer beyond "a status below 400".

    "expect": {"status": [200, 204, "3xx"], "bodyContains": "Welcome",
               "bodyNotContains": "error", "bodyMatches": "v\\d+\\.\\d+",
               "json": {"status": "ok", "checks[0].healthy": true},
               "maxResponseMs": 500, "headers": {"Content-Type": "^text/html"}}

A failed condition is reason `assertion`; the detail names each failed condition and what
was found, in DETAIL_CHARS: when they do not fit, the values found are shortened (marked
"…"), never the conditions, so that every failed condition is named (many of them make a
longer detail). JSON paths are JMESPath expressions (jmespath.org),
the expected values are compared as JSON values (1 equals 1.0, but not true or "1").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions

from monitor.checks.trace import DETAIL_CHARS
from monitor.core import schemas
from monitor.core.fields import Fields, is_number, json_key
from monitor.core.secrets import is_sensitive, redact

KEYS = ("status", "bodyContains", "bodyNotContains", "bodyMatches", "json", "maxResponseMs",
        "headers")
HELP = {
    "status": ("below 400", "a code or a list of codes and classes (`[200, 204, \"3xx\"]`):"
                            " the status is one of them"),
    "bodyContains": ("none", "a string or a list of them: every one is in the body"),
    "bodyNotContains": ("none", "a string or a list of them: none of them is in the body"),
    "bodyMatches": ("none", "a regular expression (Python's) that matches somewhere in the"
                            " body"),
    "json": ("none", "an object of JMESPath expressions to values: each, evaluated on the"
                     " JSON body, equals its value, compared as JSON values (a missing path"
                     " is `null`)"),
    "maxResponseMs": ("none", "the whole check took at most this many milliseconds"),
    "headers": ("none", "an object of header names to regular expressions: each header is"
                        " present and a value of it matches"),
}
_STATUS = {"anyOf": [schemas.integer(100, 599),
                     {"type": "string", "pattern": "^[1-5][xX][xX]$"}]}
# The shapes of the conditions; `expect` itself is an object of them, at least one.
CONDITIONS = {
    "status": {"anyOf": [_STATUS, {"type": "array", "minItems": 1, "items": _STATUS}]},
    "bodyContains": schemas.strings(),
    "bodyNotContains": schemas.strings(),
    "bodyMatches": schemas.regex(),
    "json": {"type": "object", "minProperties": 1},
    "maxResponseMs": schemas.positive(86400000.0),
    "headers": {"type": "object", "minProperties": 1,
                "additionalProperties": schemas.regex()},
}
SCHEMA = schemas.obj(CONDITIONS, HELP, minProperties=1)
_CLASS = re.compile(r"[1-5]xx")
_SPACES = re.compile(r"\s+")
MAX_SHOWN = 40  # characters of a found value quoted in a detail
MIN_SHOWN = 8  # the fewest a found value keeps in a long detail, its "…" included
# The longest detail: more failed conditions than fit in DETAIL_CHARS even with the values
# found shortened make a longer one, up to this.
MAX_DETAIL = 1000

# A failed condition's text is made of parts, each with what it is: what was found is
# shortened when the detail is too long; the condition (the words, its name or path, what
# was expected) never is.
WORDS, NAME, EXPECTED, FOUND = range(4)
Part = tuple[str, int]
Failure = tuple[Part, ...]


@dataclass(frozen=True)
class Expect:
    status: tuple[int | str, ...] = ()  # codes and classes ("3xx"); empty: below 400
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    matches: re.Pattern[str] | None = None
    # (path, compiled path, expected value as canonical JSON text: a list or an object as
    # such would make the spec, and the monitor holding it, unhashable)
    json: tuple[tuple[str, Any, str], ...] = ()
    max_response_ms: float | None = None
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @property
    def needs_body(self) -> bool:
        return bool(self.contains or self.not_contains or self.matches or self.json)

    def status_ok(self, status: int) -> bool:
        if not self.status:
            return status < 400
        return any(status == want if isinstance(want, int) else status // 100 == int(want[0])
                   for want in self.status)

    def failures(self, status: int, headers: Mapping[str, list[str]], body: bytes | None,
                 charset: str | None, response_ms: float) -> list[Failure]:
        """Each failed condition, as `condition: what was found` in parts (`describe` makes
        the detail of them). `headers` by lower-case name; `body` None when it was not
        kept."""
        failed: list[Failure] = []
        if self.status and not self.status_ok(status):
            wanted = ", ".join(json.dumps(s) for s in self.status)
            failed.append(((f"status: {status} not in [", WORDS), (wanted, EXPECTED),
                           ("]", WORDS)))
        if self.max_response_ms is not None and response_ms > self.max_response_ms:
            failed.append(((f"maxResponseMs {self.max_response_ms:g}: took"
                            f" {response_ms:.0f} ms", WORDS),))
        for name, pattern in self.headers:
            values = headers.get(name.lower())
            if not values:
                failed.append((("header ", WORDS), (name, NAME), (": missing", WORDS)))
            elif not any(pattern.search(v) for v in values):
                # A session cookie or a token is not quoted: the detail is stored.
                found = ("***", WORDS) if is_sensitive(name) else (values[-1], FOUND)
                failed.append((("header ", WORDS), (name, NAME), (" ", WORDS),
                               (json.dumps(pattern.pattern), EXPECTED), (": got ", WORDS),
                               found))
        if body is None or not self.needs_body:
            return failed
        text = _decode(body, charset)
        failed += [(("bodyContains ", WORDS), (json.dumps(want), EXPECTED),
                    (": not found", WORDS)) for want in self.contains if want not in text]
        failed += [(("bodyNotContains ", WORDS), (json.dumps(bad), EXPECTED),
                    (": found", WORDS)) for bad in self.not_contains if bad in text]
        if self.matches is not None and not self.matches.search(text):
            failed.append((("bodyMatches ", WORDS), (json.dumps(self.matches.pattern),
                                                     EXPECTED), (": no match", WORDS)))
        if self.json:
            failed += self._json(text)
        return failed

    def _json(self, text: str) -> list[Failure]:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return [((f"json: the body is not JSON ({str(exc).split(':')[0]})", WORDS),)]
        failed: list[Failure] = []
        for path, compiled, expected in self.json:
            try:
                found = compiled.search(document)
            except jmespath.exceptions.JMESPathError as exc:
                failed.append((("json ", WORDS), (path, NAME), (": ", WORDS),
                               (str(exc), FOUND)))
                continue
            if not json_equal(found, json.loads(expected)):
                # As for secret headers: a value under a secret-sounding path (a token) is
                # never shown, neither found nor expected; the detail reaches providers.
                secret = is_sensitive(path)
                failed.append((("json ", WORDS), (path, NAME), (": ", WORDS),
                               ("***", WORDS) if secret else (json.dumps(found), FOUND),
                               (" != ", WORDS),
                               ("***", WORDS) if secret else (_cut(expected), EXPECTED)))
        return failed


def describe(failed: list[Failure], secrets: tuple[str, ...] = (),
             limit: int = DETAIL_CHARS, most: int = MAX_DETAIL) -> str:
    """The detail of failed conditions, each one named. Over `limit` characters, the values
    found are shortened (to MIN_SHOWN at the least); the conditions themselves never are:
    that many failed conditions make a longer detail, up to `most`, and then as many as fit
    and a count of the rest. What was found is masked (`secrets`) before it is shortened: a
    secret cut short would no longer be found to mask."""
    items = [[(_clean(_cut(redact(text, secrets))) if role == FOUND else text, role)
              for text, role in failure] for failure in failed]
    over = sum(len(text) for item in items for text, _ in item) + 2 * (len(items) - 1) - limit
    if over > 0:
        sizes = [len(text) for item in items for text, role in item if role == FOUND]
        cap = _cap(sizes, sum(sizes) - over)
        items = [[(_cut(text, cap) if role == FOUND else text, role) for text, role in item]
                 for item in items]
    texts = ["".join(text for text, _ in item) for item in items]
    detail = "; ".join(texts)
    if len(detail) <= most:
        return detail
    kept: list[str] = []
    for index, text in enumerate(texts):
        more = f"; … {len(texts) - index} more failed"
        if len("; ".join([*kept, text])) + len(more) > most:
            return "; ".join(kept) + more if kept else more[2:]
        kept.append(text)
    return detail  # not reached: the whole was over `most`


def _cap(sizes: list[int], room: int) -> int:
    """The longest a value may be for `sizes` cut to it to sum to at most `room` (at least
    MIN_SHOWN)."""
    low, high = MIN_SHOWN, max(sizes, default=MIN_SHOWN)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(size, middle) for size in sizes) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _clean(text: str) -> str:
    """What the server sent, on one line and printable (as trace.printable, without
    trimming the ends: a part sits between words)."""
    return "".join(ch if ch.isprintable() else "?" for ch in _SPACES.sub(" ", text))


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: numbers by value, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _cut(text: str, most: int = MAX_SHOWN) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def parse(fields: Fields, entry: Mapping[str, Any], path: str) -> Expect | None:
    if "expect" not in entry:
        return None
    where = f"{path}.expect"
    value = entry["expect"]
    if not isinstance(value, dict):
        raise fields.fail(where, "must be an object of conditions (" + ", ".join(KEYS) + ")")
    fields.check_keys(value, KEYS, f"{where}.")
    if not value:
        raise fields.fail(where, "must name at least one condition")
    matches = fields.regex(value, "bodyMatches", f"{where}.bodyMatches")
    most = fields.positive(value, "maxResponseMs", f"{where}.maxResponseMs", 0.0, 86400000.0)
    return Expect(
        status=_status(fields, value, f"{where}.status"),
        contains=fields.strings(value, "bodyContains", f"{where}.bodyContains"),
        not_contains=fields.strings(value, "bodyNotContains", f"{where}.bodyNotContains"),
        matches=matches,
        json=_json_paths(fields, value, f"{where}.json"),
        max_response_ms=most or None,
        headers=_headers(fields, value, f"{where}.headers"),
    )


def _status(fields: Fields, obj: dict, path: str) -> tuple[int | str, ...]:
    if "status" not in obj:
        return ()
    value = obj["status"]
    items = value if isinstance(value, list) else [value]
    message = 'must be a list of status codes (200) and classes ("2xx")'
    if not items:
        raise fields.fail(path, message)
    out: list[int | str] = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]" if isinstance(value, list) else path
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            out.append(item)
        elif isinstance(item, str) and _CLASS.fullmatch(item.lower()):
            out.append(item.lower())
        else:
            raise fields.fail(where, 'must be a status code from 100 to 599 or a class'
                                     ' ("1xx" to "5xx")')
    return tuple(out)


def _json_paths(fields: Fields, obj: dict, path: str) -> tuple[tuple[str, Any, Any], ...]:
    if "json" not in obj:
        return ()
    value = obj["json"]
    if not isinstance(value, dict) or not value:
        raise fields.fail(path, "must be an object of JMESPath expressions to expected values")
    fields.check_keys(value, tuple(value), f"{path}.")
    out = []
    for expression, expected in value.items():
        where = f"{path}.{json_key(expression)}"
        try:
            compiled = jmespath.compile(expression)
        except jmespath.exceptions.ParseError as exc:
            what = ("incomplete" if isinstance(exc, jmespath.exceptions.IncompleteExpressionError)
                    else exc.msg.replace("'", ""))
            raise fields.fail(where, f"is not a valid JMESPath expression: {what} at column"
                                     f" {exc.lex_position}") from None
        except jmespath.exceptions.JMESPathError as exc:
            raise fields.fail(where, f"is not a valid JMESPath expression: {exc}") from None
        out.append((expression, compiled, json.dumps(expected, sort_keys=True)))
    return tuple(out)


def _headers(fields: Fields, obj: dict, path: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    if "headers" not in obj:
        return ()
    value = obj["headers"]
    if not isinstance(value, dict) or not value:
        raise fields.fail(path, "must be an object of header names to regular expressions")
    fields.check_keys(value, tuple(value), f"{path}.")
    out = []
    for name in value:
        pattern = fields.regex(value, name, f"{path}.{json_key(name)}")
        assert pattern is not None
        out.append((name, pattern))
    return tuple(out)
