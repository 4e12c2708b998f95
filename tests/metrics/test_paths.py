"""Series paths and patterns: what is allowed, what each wildcard matches, and errors that
name the character at fault."""

import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.core.errors import MonitorError
from monitor.metrics.paths import (
    MAX_PATH,
    MAX_WILDCARDS,
    PATTERN_REGEX,
    SeriesPathError,
    check_path,
    compile_pattern,
)
from monitor.metrics.query import Q_REGEX


@pytest.mark.parametrize("path", ["web", "web.frontend.latency", "a-b_c.D9", "x" * MAX_PATH,
                                  "1.2.3"])
def test_valid_paths(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(("path", "position", "problem"), [
    ("", 0, "empty"),
    ("web..latency", 4, "empty segment between two dots"),
    (".web", 0, "empty segment at the start"),
    ("web.", 3, "empty segment at the end"),
    ("web.front end", 9, "' ' is not allowed: segments are made of letters, digits, _ and -"),
    ("web.*", 4, "a wildcard is not allowed"),
    ("caf\u00e9", 3, "'\u00e9' is not allowed"),
    ("x" * (MAX_PATH + 1), MAX_PATH, f"longer than {MAX_PATH} characters"),
])
def test_invalid_paths_name_the_character(path: str, position: int, problem: str) -> None:
    with pytest.raises(SeriesPathError) as caught:
        check_path(path)
    assert isinstance(caught.value, MonitorError)
    assert caught.value.position == position
    assert problem in caught.value.problem
    assert f"(at character {position + 1})" in str(caught.value)


@pytest.mark.parametrize(("pattern", "matched", "unmatched"), [
    ("web.frontend.latency", ["web.frontend.latency"], ["web.frontend", "web.frontend.latency.x"]),
    # `*` alone: exactly one segment, never a dot, never an empty segment.
    ("web.*.latency", ["web.a.latency", "web.b-2.latency"], ["web.latency", "web.a.b.latency"]),
    ("cpu.*", ["cpu.user", "cpu.system"], ["cpu", "cpu.user.max"]),
    # Within a segment: any run of that segment's characters, none too.
    ("ip*", ["ip", "ip1", "ipv6"], ["i", "ip1.x", "xip"]),
    ("*lat*", ["latency", "p_lat", "lat"], ["la", "a.lat"]),
    ("a*c", ["ac", "abc"], ["ab", "a.c"]),
    # `**`: one or more whole segments.
    ("web.**", ["web.a", "web.a.b.c"], ["web", "webx.a"]),
    ("**.latency", ["a.latency", "a.b.latency"], ["latency", "a.latency.x"]),
    ("a.**.z", ["a.b.z", "a.b.c.z"], ["a.z"]),
    ("**", ["a", "a.b.c"], []),
])
def test_wildcards(pattern: str, matched: list[str], unmatched: list[str]) -> None:
    compiled = compile_pattern(pattern)
    for path in matched:
        assert compiled.matches(path), path
    for path in unmatched:
        assert not compiled.matches(path), path


@pytest.mark.parametrize(("pattern", "prefix", "exact"), [
    ("web.frontend.latency", "web.frontend.latency", True),
    ("web.*.latency", "web.", False),
    ("web.fr*.latency", "web.fr", False),
    ("ip*", "ip", False),
    ("**.latency", "", False),
])
def test_literal_prefix(pattern: str, prefix: str, exact: bool) -> None:
    compiled = compile_pattern(pattern)
    assert (compiled.prefix, compiled.exact) == (prefix, exact)


@pytest.mark.parametrize(("pattern", "position", "problem"), [
    ("a**b", 1, "** must be a whole segment"),
    ("web.?", 4, "'?' is not allowed"),
    ("web.{a,b}", 4, "'{' is not allowed"),
    ("web..*", 4, "empty segment"),
])
def test_invalid_patterns(pattern: str, position: int, problem: str) -> None:
    with pytest.raises(SeriesPathError) as caught:
        compile_pattern(pattern)
    assert caught.value.position == position
    assert problem in caught.value.problem


# -- matching without backtracking ---------------------------------------------------------

DEEP40 = ".".join(["a"] * 40)


@pytest.mark.parametrize(("pattern", "path", "matched"), [
    # Ten `**` then a literal missing from the path: a backtracking regex tries every way
    # of cutting 40 segments in ten (42 s); here each part tries each segment once.
    ("**.**.**.**.**.**.**.**.**.**.zz", DEEP40, False),
    ("**.**.**.**.**.**.**.**.**.**.zz", DEEP40 + ".zz", True),
    ("**.a.**.a.**.a.**.a.**.b", DEEP40, False),
    (".".join(["**"] * 32), DEEP40, True),
    (".".join(["*"] * 20 + ["**"] * 12), DEEP40, True),
    # Within a segment: `*` runs a backtracking regex tries at every cut of 255 characters.
    ("*a*a*a*a*a*a*b", "a" * MAX_PATH, False),
    ("*a*a*a*a*a*a*a", "a" * MAX_PATH, True),
    ("**.*a*a*a*a*a*a*b", ".".join(["a" * 30] * 8), False),
])
def test_pathological_patterns_take_few_segment_tests(pattern: str, path: str,
                                                      matched: bool) -> None:
    compiled = compile_pattern(pattern)
    found, steps = compiled.match_steps(path)
    assert found is matched
    assert compiled.matches(path) is matched
    # At most each part against each segment once; `**` itself tests none.
    segment_parts = sum(part is not None for part in compiled.parts)
    assert steps <= segment_parts * path.count(".") + segment_parts


def test_a_literal_after_many_deep_wildcards_is_tried_once_per_segment() -> None:
    """The bound is not slack: `**` x 10 then `zz` over 40 segments tries `zz` where the
    ten can leave it, after 10 to 40 segments (31 places, the last past the end), and
    nothing else."""
    assert compile_pattern("**.**.**.**.**.**.**.**.**.**.zz").match_steps(DEEP40) == (
        False, 31)


def test_the_number_of_wildcards_is_bounded() -> None:
    assert compile_pattern(".".join(["*"] * MAX_WILDCARDS)).matches(DEEP40[:63])
    stars = ".".join(["*"] * (MAX_WILDCARDS + 1))
    with pytest.raises(SeriesPathError) as caught:
        compile_pattern(stars)
    assert caught.value.position == 2 * MAX_WILDCARDS
    assert caught.value.problem == (f"more than {MAX_WILDCARDS} wildcards (* or **) in one"
                                    " pattern")
    # `**` counts one, as does each `*` of a segment.
    mixed = ".".join(["**"] * (MAX_WILDCARDS - 1)) + ".a*b*c"
    with pytest.raises(SeriesPathError) as caught:
        compile_pattern(mixed)
    assert caught.value.position == mixed.rindex("*")
    compile_pattern(".".join(["**"] * (MAX_WILDCARDS - 1)) + ".a*b")


def _old_regex(text: str) -> re.Pattern[str]:
    """The matcher before issue 23's fix: the pattern as one regular expression (right,
    but backtracking), the reference the new one must agree with."""
    one = r"[A-Za-z0-9_-]"
    parts = []
    for segment in text.split("."):
        if segment == "**":
            parts.append(rf"{one}+(?:\.{one}+)*")
        elif segment == "*":
            parts.append(f"{one}+")
        else:
            parts.append(f"{one}*".join(re.escape(piece) for piece in segment.split("*")))
    return re.compile(r"\.".join(parts))


_LITERAL = st.text("ab", min_size=1, max_size=3)
_WILD_SEGMENT = st.one_of(
    _LITERAL, st.just("*"), st.just("**"),
    st.lists(st.text("ab", max_size=2), min_size=2, max_size=4).map("*".join).filter(
        lambda segment: "**" not in segment))
_PATTERNS = st.lists(_WILD_SEGMENT, min_size=1, max_size=5).map(".".join)
_FILL = st.text("ab", max_size=3)
_SEGMENT = st.text("ab-", min_size=1, max_size=4)
_PATHS = st.one_of(
    st.lists(_SEGMENT, min_size=1, max_size=7).map(".".join),
    st.text("ab.*! ", max_size=10))  # not paths at all: dots at the ends, bad characters


@st.composite
def _near(draw: st.DrawFn, pattern: str) -> str:
    """A path made from `pattern`, its wildcards filled in, that mostly matches it."""
    segments = []
    for segment in pattern.split("."):
        if segment == "**":
            segments.extend(draw(st.lists(_SEGMENT, min_size=0, max_size=3)))
        else:
            segments.append("".join(
                piece + (draw(_FILL) if index < segment.count("*") else "")
                for index, piece in enumerate(segment.split("*"))))
    return ".".join(segments)


@settings(max_examples=3000, deadline=None)
@given(st.data(), _PATTERNS)
@example(None, "*aa*aa*").via("overlapping pieces")
def test_the_matcher_agrees_with_the_regular_expression_it_replaces(
        data: st.DataObject | None, pattern: str) -> None:
    compiled = compile_pattern(pattern)
    reference = _old_regex(pattern)
    paths = ["aaa", "aaaa", "a.aa.aaa"] if data is None else (
        data.draw(st.lists(_PATHS, max_size=4)) + data.draw(st.lists(_near(pattern),
                                                                       min_size=1, max_size=4)))
    for path in paths:
        assert compiled.matches(path) == (reference.fullmatch(path) is not None), path
        if compiled.matches(path):
            assert path.startswith(compiled.prefix)


_OLD_WILD = r"(?:\*\*|\*|(?:\*?[A-Za-z0-9_-]+)+\*?)"


@settings(max_examples=1000, deadline=None)
@given(st.text("ab*.", max_size=12))
def test_the_schema_pattern_is_the_same_language_as_before_and_compile_pattern(
        text: str) -> None:
    accepted = re.fullmatch(PATTERN_REGEX, text) is not None
    assert accepted == (re.fullmatch(rf"{_OLD_WILD}(?:\.{_OLD_WILD})*", text) is not None)
    try:
        compile_pattern(text)
    except SeriesPathError:
        assert not accepted
    else:
        assert accepted


def test_pathological_inputs_take_milliseconds_on_the_clock() -> None:
    """On the real clock (tests/serial.py): the reviewer's pattern took 42 s, a segment of
    `*a` runs minutes, and the OpenAPI document's pattern for q seconds at 24 characters
    for any validator that backtracks, as Python's re does."""
    started = time.perf_counter()
    assert not compile_pattern("**.**.**.**.**.**.**.**.**.**.zz").matches(DEEP40)
    assert not compile_pattern("*a*a*a*a*a*a*b").matches("a" * MAX_PATH)
    assert re.fullmatch(PATTERN_REGEX, "a" * 60 + "!") is None
    assert re.fullmatch(Q_REGEX, "a" * 60 + "!") is None
    assert re.fullmatch(Q_REGEX, "a*" * 30 + "|max,b" + "a*" * 30 + "!") is None
    assert time.perf_counter() - started < 0.5
