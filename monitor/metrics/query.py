"""The query language of /api/v1/metrics/query: `q=web.*.latency|avg,cpu.*|max`,
`range=1h`, `step=10s`.

`q` is terms separated by commas; a term is a path pattern (monitor.metrics.paths), then
optionally `|function` (avg when left out), then optionally `|all`. A term gives one result
series per matching path, the function applied to that series' values of each step; with
`|all`, one result series for all the matches together, the function applied to every
matching series' values of each step at once (`web.*.latency|p99|all`: the 99th percentile
of every frontend's latencies, not an average of their percentiles).

`range` is how far back from now (a duration as the config writes them: `90s`, `5m`,
`1h`, `7d`), `step` the width of each point (whole seconds); steps are aligned on
multiples of `step` since the epoch, so a point's time is the start of its step.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Protocol

from monitor.core.errors import MonitorError
from monitor.core.timefmt import DURATION_FORMS, format_seconds, parse_duration
from monitor.metrics.paths import (
    PATTERN_REGEX,
    Pattern,
    SeriesPathError,
    compile_pattern,
    quoted,
)

FUNCTIONS = ("avg", "min", "max", "sum", "count", "p50", "p90", "p99")
DEFAULT_FUNCTION = "avg"
ALL = "all"
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0}
MAX_TERMS = 20
MAX_Q = 4096  # characters
DEFAULT_RANGE = 3600.0
MAX_RANGE = 3660 * 86400.0  # ten years: days are kept by default
MAX_STEPS = 11_000  # points per result series, as Prometheus bounds a range query
# The steps chosen when none is asked: the smallest giving at most AUTO_STEPS points.
AUTO_STEPS = 500
NICE_STEPS = (10, 60, 300, 600, 1800, 3600, 21600, 86400)
# What q may be, as a regular expression (for the OpenAPI document): terms of a pattern, a
# function and `all`, spaces around each part allowed. Lengths are not in it.
_TERM = (f" *{PATTERN_REGEX} *(?:\\| *(?:{'|'.join(FUNCTIONS)}) *(?:\\| *{ALL} *)?)?")
Q_REGEX = f"^{_TERM}(?:,{_TERM}){{0,{MAX_TERMS - 1}}}$"


class QueryError(MonitorError):
    """A query parameter that cannot be read: `parameter` ("q", "range", "step") and,
    for q, `position`, the 0-based index in it where the problem is."""

    def __init__(self, parameter: str, problem: str, position: int | None = None) -> None:
        self.parameter = parameter
        self.problem = problem
        self.position = position
        super().__init__(f"{parameter}: {problem}")


class Figures(Protocol):
    """What a function is applied to: the values of one step of one series (or of all
    the matches of an `|all` term), summed."""

    @property
    def count(self) -> int: ...

    @property
    def total(self) -> float: ...

    @property
    def low(self) -> float | None: ...

    @property
    def high(self) -> float | None: ...

    def percentile(self, p: float) -> float | None: ...


def apply(function: str, figures: Figures) -> float | None:
    """The value of `function` over `figures`; None when there is no value (count: 0)."""
    if function == "count":
        return float(figures.count)
    if not figures.count:
        return None
    if function == "avg":
        return figures.total / figures.count
    if function == "sum":
        return figures.total
    if function == "min":
        return figures.low
    if function == "max":
        return figures.high
    return figures.percentile(PERCENTILES[function])


@dataclass(frozen=True)
class Term:
    """One term of `q` as written (`text`, starting at `position` in q)."""

    text: str
    position: int
    pattern: Pattern
    function: str = DEFAULT_FUNCTION
    merged: bool = False  # `|all`


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]
    range: float  # seconds back from now
    step: int  # seconds per point

    def steps(self, now: float) -> tuple[int, int]:
        """The steps from the one holding `now - range` to the one holding `now`, as
        indexes (a step's start is index * step): (first, last + 1)."""
        first = math.floor((now - self.range) / self.step)
        return first, math.floor(now / self.step) + 1


def parse_query(q: str | None, range_text: str | None = None,
                step_text: str | None = None) -> Query:
    """The query of the parameters as given (None: not given), or QueryError."""
    terms = parse_terms(q)
    span = _duration("range", range_text, DEFAULT_RANGE, MAX_RANGE)
    if step_text is None:
        step = next((s for s in NICE_STEPS if span / s <= AUTO_STEPS), NICE_STEPS[-1])
    else:
        seconds = _duration("step", step_text, None, MAX_RANGE)
        if seconds < 1 or seconds != int(seconds):
            raise QueryError("step", f"must be a whole number of seconds, at least 1;"
                                     f" got {step_text!r}")
        step = int(seconds)
    count = math.ceil(span / step) + 1
    if count > MAX_STEPS:
        raise QueryError("step", f"range {format_seconds(span)} at step {format_seconds(step)}"
                                 f" is {count} points per series, at most {MAX_STEPS}: ask"
                                 " for a larger step or a shorter range")
    return Query(terms, span, step)


def _duration(name: str, text: str | None, default: float | None, most: float) -> float:
    if text is None and default is not None:
        return default
    seconds = parse_duration(text)
    if seconds is None:
        raise QueryError(name, f"must be {DURATION_FORMS}; got {text!r}")
    if not 0 < seconds <= most:
        raise QueryError(name, f"must be greater than 0 and at most {format_seconds(most)};"
                               f" got {text!r}")
    return seconds


def parse_terms(q: str | None) -> tuple[Term, ...]:
    """The terms of `q`, or QueryError naming the term and the character at fault."""
    if q is None or not q.strip(" "):
        raise QueryError("q", "missing: one or more terms `pattern|function`, separated by"
                              f" commas (functions: {', '.join(FUNCTIONS)})")
    if len(q) > MAX_Q:
        raise QueryError("q", f"longer than {MAX_Q} characters", MAX_Q)
    terms = []
    offset = 0
    pieces = q.split(",")
    if len(pieces) > MAX_TERMS:
        raise QueryError("q", f"{len(pieces)} terms, at most {MAX_TERMS}")
    for number, piece in enumerate(pieces, 1):
        start = offset + len(piece) - len(piece.lstrip(" "))
        terms.append(_term(q, number, piece.strip(" "), start))
        offset += len(piece) + 1
    return tuple(terms)


def _term(q: str, number: int, text: str, start: int) -> Term:
    def fail(problem: str, at: int) -> QueryError:
        return QueryError("q", f"term {number} ({quoted(text, 60)}) at character {at + 1}:"
                               f" {problem}", at)

    if not text:
        raise fail("empty term (two commas, or a comma at an end)", start)
    parts = text.split("|")
    if len(parts) > 3:
        at = start + len("|".join(parts[:3]))
        raise fail("at most pattern|function|all", at)
    pattern_text = parts[0].strip(" ")
    try:
        pattern = compile_pattern(pattern_text)
    except SeriesPathError as exc:
        at = start + len(parts[0]) - len(parts[0].lstrip(" ")) + exc.position
        raise fail(f"pattern: {exc.problem}", at) from None
    function = DEFAULT_FUNCTION
    merged = False
    at = start + len(parts[0]) + 1
    if len(parts) >= 2:
        function = parts[1].strip(" ")
        if function not in FUNCTIONS:
            close = difflib.get_close_matches(function.lower(), FUNCTIONS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise fail(f"unknown function {quoted(function, 60)} ({hint}functions:"
                       f" {', '.join(FUNCTIONS)})", at)
    if len(parts) == 3:
        at += len(parts[1]) + 1
        if parts[2].strip(" ") != ALL:
            raise fail(f"{quoted(parts[2].strip(' '), 60)} after the function: only {ALL!r}"
                       " (one series of all the matches)", at)
        merged = True
    return Term(text=text, position=start, pattern=pattern, function=function,
                merged=merged)

