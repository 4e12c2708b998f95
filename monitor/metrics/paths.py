"""Series paths and the patterns that match them.

A path is dotted segments (`web.frontend.latency`): each segment 1 or more letters, digits,
`_` or `-`, the whole at most MAX_PATH characters. Paths are case-sensitive, as Graphite's.

A pattern is a path whose segments may hold `*`: within a segment, `*` matches any run of
that segment's characters (`ip*` matches `ip1` and `ip`, `*` alone any one segment), never
a dot; a segment that is exactly `**` matches one or more whole segments (`web.**` is every
series below `web`, `**.latency` every series whose last segment is `latency`). A trailing
`*` matches one segment only, as in Graphite.

Matching never backtracks: a segment's `*`s are matched by searching their literal pieces
left to right, and `**` by a walk over the segments that keeps every position reachable so
far, so a path costs at most (its segments) x (the pattern's segments) segment tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.core.errors import MonitorError

MAX_PATH = 255
MAX_WILDCARDS = 32  # `*` and `**` in one pattern: plenty for a query, a bound on the work
SEGMENT_CHARS = "letters, digits, _ and -"
_ONE = r"[A-Za-z0-9_-]"
_DEEP = rf"{_ONE}+(?:\.{_ONE}+)*"  # one or more whole segments
_PATH = re.compile(_DEEP)
PATH_REGEX = _DEEP  # a whole path, for a JSON Schema's pattern (anchored there)
# A whole pattern, the same way: segments of `**`, or of runs of characters with single `*`.
# Each run of characters ends at a `*`, a dot or the end, so nothing can be matched two
# ways: validators checking a q against the OpenAPI document never backtrack on it.
_WILD = rf"(?:\*\*|\*|\*?{_ONE}+(?:\*{_ONE}+)*\*?)"
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


# A segment of a pattern: literal ("web"), split at its `*`s (("ip", "") is `ip*`, ("", "")
# is `*`), or None for `**`.
Part = str | tuple[str, ...] | None


@dataclass(frozen=True)
class Pattern:
    """A compiled path pattern: `prefix` is the literal start every match has (for an
    index range), `exact` whether it holds no wildcard at all, `parts` its segments."""

    text: str
    parts: tuple[Part, ...] = field(repr=False)
    prefix: str
    exact: bool

    def matches(self, path: str) -> bool:
        return self.match_steps(path)[0]

    def match_steps(self, path: str) -> tuple[bool, int]:
        """Whether the pattern matches `path`, and the segment tests it tried: at most
        (the path's segments) x (the pattern's), each a search per `*` in one segment."""
        if not _PATH.fullmatch(path):
            return False, 0  # a wildcard matches only a segment's characters, never ""
        segments = path.split(".")
        parts = self.parts
        if len(segments) != len(parts):
            # Each part takes one segment at least, and exactly one but for `**`.
            if len(segments) < len(parts) or None not in parts:
                return False, 0
            return _walk(parts, segments)
        # As many segments as parts: a `**` takes exactly one, the rest pair off in order.
        steps = 0
        for part, segment in zip(parts, segments, strict=True):
            steps += 1
            if isinstance(part, str):
                if segment != part:
                    return False, steps
            elif part is not None and not _glob(part, segment):
                return False, steps
        return True, steps


def _glob(pieces: tuple[str, ...], segment: str) -> bool:
    """Whether `segment` matches a pattern's segment split at its `*`s: the first and last
    pieces at its ends, the others found in order, each as early as it occurs (an earlier
    find never leaves less room for those after it, so one pass decides)."""
    head = pieces[0]
    tail = pieces[-1]
    end = len(segment) - len(tail)
    if end < len(head) or not segment.startswith(head) or not segment.endswith(tail):
        return False
    at = len(head)
    for piece in pieces[1:-1]:
        found = segment.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _walk(parts: tuple[Part, ...], segments: list[str]) -> tuple[bool, int]:
    """A pattern with `**` against more segments than it has parts: after each part, every
    count of leading segments the parts so far can match, each tried once with the next."""
    count = len(segments)
    reach: Sequence[int] = (0,)  # ascending
    steps = 0
    for part in parts:
        if part is None:
            # One or more whole segments: every count past the smallest reached.
            reach = range(reach[0] + 1, count + 1)
        else:
            steps += len(reach)
            if isinstance(part, str):
                reach = [at + 1 for at in reach if at < count and segments[at] == part]
            else:
                reach = [at + 1 for at in reach if at < count and _glob(part, segments[at])]
        if not reach:
            return False, steps
    return reach[-1] == count, steps


def compile_pattern(text: str) -> Pattern:
    """The pattern `text` (see the module's doc), or SeriesPathError. Not bounded in length
    (a query is): one longer than any path can still match with its `*`. At most
    MAX_WILDCARDS wildcards."""
    if not text:
        raise SeriesPathError(text, 0, "empty")
    _bad_char(text, wildcards=True)
    parts: list[Part] = []
    prefix_done = False
    prefix = []
    wildcards = 0
    for offset, segment in _segments(text):
        if segment == "**":
            parts.append(None)
            wildcards = _count_wildcard(text, wildcards, offset)
        elif "**" in segment:
            raise SeriesPathError(text, offset + segment.index("**"),
                                  "** must be a whole segment (a.**.b), not part of one")
        else:
            # A segment is never empty: `*` alone matches one or more characters, and
            # `ip*` matches `ip` too.
            parts.append(tuple(segment.split("*")) if "*" in segment else segment)
            for index, char in enumerate(segment):
                if char == "*":
                    wildcards = _count_wildcard(text, wildcards, offset + index)
        if not prefix_done:
            if "*" in segment:
                prefix.append(segment[:segment.index("*")])
                prefix_done = True
            else:
                prefix.append(segment + ".")
    literal = "".join(prefix) if prefix_done else text
    return Pattern(text=text, parts=tuple(parts), prefix=literal, exact=not prefix_done)


def _count_wildcard(text: str, wildcards: int, position: int) -> int:
    if wildcards >= MAX_WILDCARDS:
        raise SeriesPathError(text, position, f"more than {MAX_WILDCARDS} wildcards (* or"
                                              " **) in one pattern")
    return wildcards + 1
