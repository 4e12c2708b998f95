"""Access-log line formats: Common, Combined, W3C extended and the CSV variant, fast.

Each parser turns one line (bytes, no newline) into a `Hit`, `None` for a malformed line,
or `SKIP` for a line that is no request (blank, a W3C directive, the CSV header). It never
raises on bad input.

Speed is the point (a replay reads millions of lines), so each format has a fast path for
the common shape of a line: one `split`, a few more on the short parts, and dict look-ups
that both convert and validate (time strings, sections, statuses). Whatever the fast path
cannot take for certain (a cache miss, an escaped quote, an unusual method...) goes to a
slow path that decides alone, with the same rules; the fast path only ever accepts lines
the slow path accepts, with the same result (the tests check this on generated lines).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Final, NamedTuple, Protocol

from monitor.core.errors import MonitorError

FORMATS: tuple[str, ...] = ("common", "combined", "w3c", "csv")



class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()
"""A line that is no request: blank, a W3C directive, the CSV header."""

# Caches are cleared when they grow past this: memory stays flat on any log.
CACHE_MAX: Final = 10_000


class Hit(NamedTuple):
    time: float  # UTC epoch seconds of the request
    client: str  # remote host / c-ip
    section: str  # the path up to its second "/"
    status: int
    size: int  # bytes sent; "-" is 0


class LogFormatError(MonitorError):
    """An unknown format name, or a log whose format cannot be told."""


class LogFormat(Protocol):
    name: str

    def parse(self, line: bytes) -> Hit | None | object:
        """A Hit, None (malformed) or SKIP."""
        ...


_new = tuple.__new__  # builds a Hit without the Python-level __new__ (a third of the cost)

STATUS: Final = {str(code).encode(): code for code in range(100, 600)}
_METHODS: Final = frozenset(b"GET HEAD POST PUT DELETE OPTIONS PATCH CONNECT TRACE".split())
_PROTOCOLS: Final = frozenset(b"HTTP/1.0 HTTP/1.1 HTTP/2.0 HTTP/2 HTTP/3 HTTP/3.0".split())
_METHOD = re.compile(rb"[A-Z][A-Z_-]*")
_PROTOCOL = re.compile(rb"HTTP/[0-9](?:\.[0-9])?")
_MONTHS: Final = {name: number for number, name in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
     b"Dec"), 1)}
_CLF_TIME = re.compile(rb"(\d\d)/([A-Z][a-z][a-z])/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_W3C_DATE = re.compile(rb"(\d{4})-(\d\d)-(\d\d)")
_W3C_TIME = re.compile(rb"(\d\d):(\d\d):(\d\d)(\.\d{1,6})?")
_EPOCH = re.compile(rb"\d{1,12}(?:\.\d{1,9})?")
_QUOTED_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)  # the rest of a quoted string, escapes kept
_URL = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")  # scheme and authority
_CSV_LINE = re.compile(rb'"([^"]*)","[^"]*","[^"]*",(\d[\d.]*),"([^"]*)",(\d+),(\d+|-)\r?')


def _remember(cache: dict, key: object, value: object) -> None:
    if len(cache) >= CACHE_MAX:
        cache.clear()  # rarer than a miss: logs repeat their seconds, sections, clients
    cache[key] = value


def section(target: str | bytes) -> str | None:
    """The section of a request target: "/api/user/1" -> "/api", "/" -> "/", a full URL ->
    its path's section, "*" or "" -> "/"; None when the target is no path nor URL."""
    raw = target.encode("utf-8", "surrogatepass") if isinstance(target, str) else target
    found = _section(raw)
    return found[1] if found else None


def _section(target: bytes) -> tuple[bytes | None, str] | None:
    """(the cache key that always gives this section or None, the section); None: no path."""
    if target[:1] == b"/":
        end = target.find(b"/", 1)
        key = target[:end] if end > 0 else target
        # The query and fragment start after the path: cutting the candidate is enough.
        if b"?" in key or b"#" in key:
            # Seldom seen twice ("/?p=123"): not worth a place in a cache.
            path = key.split(b"?", 1)[0].split(b"#", 1)[0]
            return None, path.decode("utf-8", "replace")
        return key, key.decode("utf-8", "replace")
    if target in (b"", b"*"):
        return None, "/"
    url = _URL.match(target)
    if url is None:
        return None
    rest = target[url.end():]
    if rest[:1] != b"/":
        return None, "/"
    found = _section(rest)
    return (None, found[1]) if found else None


def _cached_section(target: bytes, sections: dict[bytes, str]) -> str | None:
    found = _section(target)
    if found is None:
        return None
    if found[0] is not None:
        _remember(sections, found[0], found[1])
    return found[1]


def _request(req: bytes, sections: dict[bytes, str]) -> str | None:
    """The section of a request line "METHOD TARGET PROTOCOL"; None when it is no request."""
    parts = req.split(b" ")
    if len(parts) != 3:
        return None
    method, target, protocol = parts
    if _METHOD.fullmatch(method) is None or _PROTOCOL.fullmatch(protocol) is None:
        return None
    return _cached_section(target, sections)


def _size(raw: bytes) -> int | None:
    if raw.isdigit():
        return int(raw)
    return 0 if raw == b"-" else None


def _clf_time(raw: bytes) -> float | None:
    """'10/Oct/2000:13:55:36 -0700' as UTC epoch seconds; None if it is no such time."""
    match = _CLF_TIME.fullmatch(raw)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, tzh, tzm = match.groups()
    number = _MONTHS.get(month)
    if number is None or int(tzm) > 59:
        return None
    offset = timedelta(hours=int(tzh), minutes=int(tzm))
    try:
        when = datetime(int(year), number, int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone(-offset if sign == b"-" else offset))
    except ValueError:  # 31/Feb, hour 25, an offset of a day or more...
        return None
    return when.timestamp()


def _w3c_time(date: bytes, time: bytes) -> float | None:
    day, clock = _W3C_DATE.fullmatch(date), _W3C_TIME.fullmatch(time)
    if day is None or clock is None:
        return None
    try:
        when = datetime(int(day[1]), int(day[2]), int(day[3]), int(clock[1]), int(clock[2]),
                        int(clock[3]), tzinfo=UTC)
    except ValueError:
        return None
    return when.timestamp() + (float(clock[4]) if clock[4] else 0.0)


def _blank_or_none(line: bytes) -> object:
    return SKIP if not line.strip() else None


# -- Common and Combined ---------------------------------------------------------------------


def _split_clf(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(head, request, tail) of a CLF line: the request is the first quoted string, whose
    backslash escapes (Apache writes \\" for a quote) do not end it."""
    first = line.find(b'"')
    if first < 0:
        return None
    end = _QUOTED_END.match(line, first + 1)
    if end is None:
        return None
    return line[:first], line[first + 1:end.end() - 1], line[end.end():]


def _clf_head(head: bytes, times: dict[bytes, float]) -> tuple[float, bytes] | None:
    """(time, client) of 'host ident authuser [time] '."""
    bracket = head.rfind(b"[")
    if bracket < 1 or not head.endswith(b"] ") or head[bracket - 1] != 32:  # a space
        return None
    # host, ident and authuser are separated by single spaces (authuser may hold some).
    before = head[:bracket - 1].split(b" ", 2)
    if len(before) < 3 or not before[0]:
        return None
    key = head[bracket:]
    when = times.get(key)
    if when is None:
        when = _clf_time(head[bracket + 1:-2])
        if when is None:
            return None
        _remember(times, key, when)
    return when, before[0]


_Parse = Callable[[bytes], Hit | None | object]


def _make_clf(combined: bool, times: dict[bytes, float],
              sections: dict[bytes, str]) -> tuple[_Parse, _Parse]:
    """(the parser, its slow path alone: the tests compare them). The caches: `times` maps
    "[10/Oct/2000:13:55:36 -0700] " to epoch seconds, `sections` "/api" (a target up to
    its second "/") to "/api"."""

    def slow(line: bytes) -> Hit | None | object:
        parts = _split_clf(line)
        if parts is None:
            return _blank_or_none(line)
        head, req, tail = parts
        if combined:
            # Status and size, then at least two quoted fields (referer, user agent).
            mid, quote, rest = tail.partition(b'"')
            if not quote or rest.count(b'"') < 3:
                return None
        else:
            mid = tail
        fields = mid.split()
        found = _clf_head(head, times)
        if found is None or len(fields) != 2:
            return None
        status, size = STATUS.get(fields[0]), _size(fields[1])
        name = _request(req, sections)
        if status is None or size is None or name is None:
            return None
        return _new(Hit, (found[0], found[1].decode("utf-8", "replace"), name, status, size))

    if combined:
        def parse(line: bytes, times: dict = times, sections: dict = sections,
                  status_of: dict = STATUS, methods: frozenset = _METHODS,
                  protocols: frozenset = _PROTOCOLS, new: Callable = _new,
                  hit: type = Hit) -> Hit | None | object:
            try:
                head, req, mid, rest = line.split(b'"', 3)
                client, ident, user, stamp = head.split(b" ", 3)
                method, target, protocol = req.split(b" ")
                code, sent = mid.split()
                when = times[stamp]
                status = status_of[code]
            except (ValueError, KeyError):
                return slow(line)
            end = target.find(b"/", 1)
            name = sections.get(target[:end] if end > 0 else target)
            if name is None:  # a new section, a query on "/", a full URL, no target at all
                name = _cached_section(target, sections)
                if name is None:
                    return None
            if (method not in methods or protocol not in protocols or not client
                    or rest.count(b'"') < 3):
                return slow(line)
            if sent.isdigit():
                size = int(sent)
            elif sent == b"-":
                size = 0
            else:
                return None
            return new(hit, (when, client.decode("utf-8", "replace"), name, status, size))
    else:
        def parse(line: bytes, times: dict = times, sections: dict = sections,
                  status_of: dict = STATUS, methods: frozenset = _METHODS,
                  protocols: frozenset = _PROTOCOLS, new: Callable = _new,
                  hit: type = Hit) -> Hit | None | object:
            try:
                head, req, mid = line.split(b'"')
                client, ident, user, stamp = head.split(b" ", 3)
                method, target, protocol = req.split(b" ")
                code, sent = mid.split()
                when = times[stamp]
                status = status_of[code]
            except (ValueError, KeyError):
                return slow(line)
            end = target.find(b"/", 1)
            name = sections.get(target[:end] if end > 0 else target)
            if name is None:  # a new section, a query on "/", a full URL, no target at all
                name = _cached_section(target, sections)
                if name is None:
                    return None
            if method not in methods or protocol not in protocols or not client:
                return slow(line)
            if sent.isdigit():
                size = int(sent)
            elif sent == b"-":
                size = 0
            else:
                return None
            return new(hit, (when, client.decode("utf-8", "replace"), name, status, size))

    return parse, slow


class CommonFormat:
    """127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"""

    name = "common"

    def __init__(self) -> None:
        self._times: dict[bytes, float] = {}
        self._sections: dict[bytes, str] = {}
        self.parse, self._slow = _make_clf(False, self._times, self._sections)


class CombinedFormat:
    """The Common format, then "referer" "user-agent" (and any further fields)."""

    name = "combined"

    def __init__(self) -> None:
        self._times: dict[bytes, float] = {}
        self._sections: dict[bytes, str] = {}
        self.parse, self._slow = _make_clf(True, self._times, self._sections)


# -- W3C extended ----------------------------------------------------------------------------

_W3C_REQUIRED: Final = ("date", "time", "c-ip", "cs-uri-stem", "sc-status")


class W3CFormat:
    """IIS logs: '#Fields: date time c-ip ...' names the space-separated fields of the lines
    that follow, in any order; a later #Fields replaces it. Times are UTC."""

    name = "w3c"

    def __init__(self) -> None:
        self.fields: tuple[str, ...] | None = None  # of the last valid #Fields directive
        self._times: dict[tuple[bytes, bytes], float] = {}
        self._sections: dict[bytes, str] = {}
        self._count = -1  # fields per line; -1: no valid #Fields yet, every line malformed
        self._pick: Callable[[list[bytes]], tuple[bytes, ...]] = itemgetter(0, 0, 0, 0, 0)
        self._bytes = -1  # the index of sc-bytes, -1 if absent

    def _directive(self, line: bytes) -> object:
        if line[:8].lower() == b"#fields:":
            names = tuple(line[8:].decode("utf-8", "replace").lower().split())
            if all(name in names for name in _W3C_REQUIRED):
                self.fields = names
                self._count = len(names)
                self._pick = itemgetter(*(names.index(name) for name in _W3C_REQUIRED))
                self._bytes = names.index("sc-bytes") if "sc-bytes" in names else -1
            else:  # lines under a #Fields we cannot use are malformed until a good one
                self.fields, self._count = None, -1
        return SKIP

    def _slow(self, line: bytes, fields: list[bytes]) -> Hit | None | object:
        if line[:1] == b"#":
            return self._directive(line)
        if not fields:
            return SKIP
        if len(fields) != self._count:
            return None
        date, time, client, stem, code = self._pick(fields)
        when = _w3c_time(date, time)
        status = STATUS.get(code)
        size = _size(fields[self._bytes]) if self._bytes >= 0 else 0
        found = _section(stem)
        if when is None or status is None or size is None or found is None:
            return None
        _remember(self._times, (date, time), when)
        if found[0] is not None:
            _remember(self._sections, found[0], found[1])
        return _new(Hit, (when, client.decode("utf-8", "replace"), found[1], status, size))

    def parse(self, line: bytes) -> Hit | None | object:
        fields = line.split()
        if len(fields) != self._count or line[:1] == b"#":
            return self._slow(line, fields)
        date, time, client, stem, code = self._pick(fields)
        try:
            when = self._times[date, time]
            end = stem.find(b"/", 1)
            name = self._sections[stem[:end] if end > 0 else stem]
            status = STATUS[code]
        except KeyError:
            return self._slow(line, fields)
        if self._bytes < 0:
            size = 0
        else:
            sent = fields[self._bytes]
            if sent.isdigit():
                size = int(sent)
            elif sent == b"-":
                size = 0
            else:
                return None
        return _new(Hit, (when, client.decode("utf-8", "replace"), name, status, size))


# -- CSV -------------------------------------------------------------------------------------

_CSV_HEADER: Final = ("remotehost", "rfc931", "authuser", "date", "request", "status", "bytes")


class CsvFormat:
    """"remotehost","rfc931","authuser","date","request","status","bytes" (the header, SKIP),
    then "10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234 (epoch
    seconds). Fully quoted text fields without inner quotes take a regex; anything else
    (unquoted, doubled quotes) the csv module."""

    name = "csv"

    def __init__(self) -> None:
        self._times: dict[bytes, float] = {}
        self._sections: dict[bytes, str] = {}
        self._match = _CSV_LINE.fullmatch

    def _hit(self, client: bytes, date: bytes, req: bytes, code: bytes,
             sent: bytes) -> Hit | None:
        when = self._times.get(date)
        if when is None:
            if _EPOCH.fullmatch(date) is None:
                return None
            when = float(date)
            _remember(self._times, date, when)
        status, size = STATUS.get(code), _size(sent)
        name = _request(req, self._sections)
        if status is None or size is None or name is None:
            return None
        return _new(Hit, (when, client.decode("utf-8", "replace"), name, status, size))

    def _slow(self, line: bytes) -> Hit | None | object:
        if not line.strip():
            return SKIP
        text = line.decode("utf-8", "surrogateescape")  # back to the same bytes below
        try:
            rows = list(csv.reader([text.rstrip("\r")]))
        except csv.Error:  # a NUL byte, a newline inside...
            return None
        if len(rows) != 1:
            return None
        row = rows[0]
        if [cell.strip().lower() for cell in row] == list(_CSV_HEADER):
            return SKIP
        if len(row) != 7:
            return None
        raw = [cell.encode("utf-8", "surrogateescape") for cell in row]
        return self._hit(raw[0], raw[3], raw[4], raw[5], raw[6])

    def parse(self, line: bytes) -> Hit | None | object:
        match = self._match(line)
        if match is None:
            return self._slow(line)
        client, date, req, code, sent = match.groups()
        try:
            when = self._times[date]
            method, target, protocol = req.split(b" ")
            end = target.find(b"/", 1)
            name = self._sections[target[:end] if end > 0 else target]
            status = STATUS[code]
        except (KeyError, ValueError):
            return self._hit(client, date, req, code, sent)
        if method not in _METHODS or protocol not in _PROTOCOLS:
            return self._hit(client, date, req, code, sent)
        size = 0 if sent == b"-" else int(sent)
        return _new(Hit, (when, client.decode("utf-8", "replace"), name, status, size))


# -- Choosing one ----------------------------------------------------------------------------

_CLASSES: Final[dict[str, Callable[[], LogFormat]]] = {
    "common": CommonFormat, "combined": CombinedFormat, "w3c": W3CFormat, "csv": CsvFormat}


def make(name: str) -> LogFormat:
    """A new parser of the format `name` (one of FORMATS)."""
    cls = _CLASSES.get(name)
    if cls is None:
        raise LogFormatError(f"unknown log format {name!r}: the formats are "
                             f"{', '.join(FORMATS)}")
    return cls()


def detect(lines: Sequence[bytes]) -> LogFormat:
    """A new parser of the format that most of `lines` (the log's first) parse as; a W3C
    parser has been fed their directives. LogFormatError when no format fits."""
    hits: dict[str, int] = {}
    for name in FORMATS:
        parser = make(name)
        hits[name] = sum(isinstance(parser.parse(line), Hit) for line in lines)
    best = max(FORMATS, key=lambda name: hits[name])  # ties: the first in FORMATS
    directives = [line for line in lines if line[:1] == b"#"]
    if hits[best] == 0:
        if any(line[:8].lower() == b"#fields:" for line in directives):
            best = "w3c"
        elif any(CsvFormat().parse(line) is SKIP and line.strip() for line in lines):
            best = "csv"
        else:
            raise LogFormatError(_undetected(lines))
    chosen = make(best)
    if best == "w3c":
        for line in directives:
            chosen.parse(line)
    return chosen


def _undetected(lines: Sequence[bytes]) -> str:
    count = f"{len(lines)} line{'' if len(lines) == 1 else 's'}"
    prefix = f"cannot tell the format of the log from its first {count}: "
    sample = next((line.strip() for line in lines if line.strip()), None)
    if sample is None:
        return prefix + "there is no request in them"
    text = sample[:80].decode("utf-8", "replace")
    return (prefix + f"none is a {', '.join(FORMATS[:-1])} or {FORMATS[-1]} request; "
            f"the first reads {text!r}")
