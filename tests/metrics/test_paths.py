"""Series paths and patterns: what is allowed, what each wildcard matches, and errors that
name the character at fault."""

import pytest

from monitor.core.errors import MonitorError
from monitor.metrics.paths import MAX_PATH, SeriesPathError, check_path, compile_pattern


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
