"""Series paths and the patterns that match them.

A path is dotted segments (`web.frontend.latency`): each segment 1 or more letters, digits,
`_` or `-`, the whole at most MAX_PATH characters. Paths are case-sensitive, as Graphite's.

A pattern is a path whose segments may hold `*`: within a segment, `*` matches any run of
that segment's characters (`ip*` matches `ip1` and `ip`, `*` alone any one segment), never
a dot; a segment that is exactly `**` matches one or more whole segments (`web.**` is every
series below `web`, `**.latency` every series whose last segment is `latency`). A trailing
`*` matches one segment only, as in Graphite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.core.errors import MonitorError

MAX_PATH = 255
SEGMENT_CHARS = "letters, digits, _ and -"
_ONE = r"[A-Za-z0-9_-]"
_DEEP = rf"{_ONE}+(?:\.{_ONE}+)*"  # one or more whole segments
_PATH = re.compile(_DEEP)
PATH_REGEX = _DEEP  # a whole path, for a JSON Schema's pattern (anchored there)
# A whole pattern, the same way: segments of `**`, or of runs of characters with single `*`.
_WILD = rf"(?:\*\*|\*|(?:\*?{_ONE}+)+\*?)"
PATTERN_REGEX = rf"{_WILD}(?:\.{_WILD})*"


class SeriesPathError(MonitorError):
    """A series path or pattern that is not well formed; `position` is the 0-based index
    of the offending character in `text`."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        super().__init__(f"{quoted(text)}: {problem} (at character {position + 1})")


def quoted(text: str, most: int = 80) -> str:
    """`text` in double quotes on one line, cut to `most` characters, for a message."""
    shown = text if len(text) <= most else text[:most - 3] + "..."
    return '"' + shown.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _check_length(text: str) -> None:
    if not text:
        raise SeriesPathError(text, 0, "empty")
    if len(text) > MAX_PATH:
        raise SeriesPathError(text, MAX_PATH, f"longer than {MAX_PATH} characters")


def _bad_char(text: str, wildcards: bool) -> None:
    """Raise for the first character no path (or pattern) may hold, if any."""
    allowed = "*." if wildcards else "."
    for index, char in enumerate(text):
        if not (char.isascii() and (char.isalnum() or char in "_-" or char in allowed)):
            what = "a wildcard" if char in "*?[]{}" and not wildcards else repr(char)
            made = f"{SEGMENT_CHARS} or *" if wildcards else SEGMENT_CHARS
            raise SeriesPathError(text, index, f"{what} is not allowed: segments are"
                                  f" made of {made}, joined by dots")


def _segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) of each dotted segment; SeriesPathError for an empty one."""
    found = []
    offset = 0
    for segment in text.split("."):
        if not segment:
            where = "at the start" if offset == 0 else (
                "at the end" if offset == len(text) else "between two dots")
            raise SeriesPathError(text, min(offset, len(text) - 1),
                                  f"empty segment {where}")
        found.append((offset, segment))
        offset += len(segment) + 1
    return found


def check_path(text: str) -> str:
    """`text` if it is a valid series path, else SeriesPathError naming what is wrong."""
    if len(text) <= MAX_PATH and _PATH.fullmatch(text):
        return text  # the common case; the walk below names what is wrong
    _check_length(text)
    _bad_char(text, wildcards=False)
    _segments(text)
    return text


@dataclass(frozen=True)
class Pattern:
    """A compiled path pattern: `prefix` is the literal start every match has (for an
    index range), `exact` whether it holds no wildcard at all."""

    text: str
    regex: re.Pattern[str]
    prefix: str
    exact: bool

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


def compile_pattern(text: str) -> Pattern:
    """The pattern `text` (see the module's doc), or SeriesPathError. Not bounded in length
    (a query is): one longer than any path can still match with its `*`."""
    if not text:
        raise SeriesPathError(text, 0, "empty")
    _bad_char(text, wildcards=True)
    parts = []
    prefix_done = False
    prefix = []
    for offset, segment in _segments(text):
        if segment == "**":
            parts.append(_DEEP)
        elif "**" in segment:
            raise SeriesPathError(text, offset + segment.index("**"),
                                  "** must be a whole segment (a.**.b), not part of one")
        elif "*" in segment:
            # A segment is never empty: `*` alone matches one or more characters, and
            # `ip*` matches `ip` too.
            pieces = [re.escape(piece) for piece in segment.split("*")]
            body = f"{_ONE}*".join(pieces)
            parts.append(body if segment != "*" else f"{_ONE}+")
        else:
            parts.append(re.escape(segment))
        if not prefix_done:
            if "*" in segment:
                prefix.append(segment[:segment.index("*")])
                prefix_done = True
            else:
                prefix.append(segment + ".")
    literal = "".join(prefix) if prefix_done else text
    return Pattern(text=text, regex=re.compile(r"\.".join(parts)), prefix=literal,
                   exact=not prefix_done)
