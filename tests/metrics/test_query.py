"""The query language: terms, functions, `|all`, range and step, and errors naming the
parameter, the term and the character at fault."""

import math

import pytest

from monitor.core.errors import MonitorError
from monitor.metrics.paths import MAX_WILDCARDS
from monitor.metrics.query import (
    FUNCTIONS,
    MAX_STEPS,
    MAX_TERMS,
    QueryError,
    apply,
    parse_query,
    parse_terms,
)
from monitor.store.codec import bucket_of
from monitor.store.figures import Figures


def test_terms_with_patterns_and_functions() -> None:
    terms = parse_terms("web.*.latency|avg,cpu.*|max")
    assert [(t.pattern.text, t.function, t.merged, t.position) for t in terms] == [
        ("web.*.latency", "avg", False, 0), ("cpu.*", "max", False, 18)]
    assert terms[0].pattern.matches("web.a.latency")


def test_function_defaults_to_avg_and_all_merges() -> None:
    plain, merged = parse_terms("app.depth, web.*.latency|p99|all")
    assert (plain.function, plain.merged) == ("avg", False)
    assert (merged.function, merged.merged, merged.position) == ("p99", True, 11)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_parses(function: str) -> None:
    (term,) = parse_terms(f"a.b|{function}")
    assert term.function == function


def figures(values: list[float]) -> Figures:
    found = Figures()
    for value in values:
        found.add_row(1, value, value, value, None)
        found.hist[bucket_of(value)] = found.hist.get(bucket_of(value), 0) + 1
    return found


@pytest.mark.parametrize(("function", "expected"), [
    ("avg", 50.5), ("min", 1.0), ("max", 100.0), ("sum", 5050.0), ("count", 100.0),
    ("p50", 50.0), ("p90", 90.0), ("p99", 99.0)])
def test_every_function_applied(function: str, expected: float) -> None:
    value = apply(function, figures([float(v) for v in range(1, 101)]))
    assert value is not None
    # Percentiles from the histogram: within 2.5% (its buckets are 5% wide).
    assert math.isclose(value, expected, rel_tol=0.025)


def test_functions_of_no_values() -> None:
    empty = Figures()
    assert apply("count", empty) == 0.0
    for function in set(FUNCTIONS) - {"count"}:
        assert apply(function, empty) is None


def test_range_and_step() -> None:
    query = parse_query("a.b", "1h", "10s")
    assert (query.range, query.step) == (3600.0, 10)
    # Steps aligned on multiples of the step since the epoch, the current one included.
    assert query.steps(now=7205.0) == (360, 721)
    assert parse_query("a.b", "7d", "1h").step == 3600
    assert parse_query("a.b", "90", "30").range == 90.0


@pytest.mark.parametrize(("range_text", "step"), [
    (None, 10), ("1h", 10), ("6h", 60), ("1d", 300), ("7d", 1800), ("30d", 21600),
    ("3650d", 86400)])
def test_step_chosen_when_not_given(range_text: str | None, step: int) -> None:
    assert parse_query("a.b", range_text).step == step


@pytest.mark.parametrize(("q", "position", "problem"), [
    ("a.b|maxx", 4, 'term 1 ("a.b|maxx") at character 5: unknown function "maxx" (did you'
                    " mean max? functions: avg, min, max, sum, count, p50, p90, p99)"),
    ("a.b|avg,cpu..x|max", 12, 'term 2 ("cpu..x|max") at character 13: pattern: empty'
                               " segment between two dots"),
    ("a.b,,c", 4, 'term 2 ("") at character 5: empty term'),
    ("a.b,", 4, "term 2"),
    ("a.b|avg|any", 8, '"any" after the function: only \'all\''),
    ("a.b|avg|all|x", 11, "at most pattern|function|all"),
    ("a b|avg", 1, "pattern: ' ' is not allowed"),
    ("web.a**", 5, "** must be a whole segment"),
    ("  x.y|sum, web.*.{a}", 17, 'term 2 ("web.*.{a}") at character 18'),
])
def test_q_errors_name_term_and_character(q: str, position: int, problem: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_terms(q)
    error = caught.value
    assert isinstance(error, MonitorError)
    assert (error.parameter, error.position) == ("q", position)
    assert problem in str(error)
    assert str(error).startswith("q: ")


def test_q_missing_or_too_many_terms() -> None:
    for q in (None, "", "  "):
        with pytest.raises(QueryError, match="q: missing: one or more terms"):
            parse_terms(q)
    with pytest.raises(QueryError, match=f"at most {MAX_TERMS}"):
        parse_terms(",".join(["a"] * (MAX_TERMS + 1)))


@pytest.mark.parametrize(("range_text", "step_text", "parameter", "problem"), [
    ("soon", "10s", "range", "must be a number of seconds, or a number with s, m, h or d"),
    ("0", "10s", "range", "must be greater than 0"),
    ("-1h", "10s", "range", "must be a number of seconds"),
    ("100000d", "1d", "range", "at most 3660d"),
    ("1h", "1.5s", "step", "whole number of seconds, at least 1"),
    ("1h", "0.5", "step", "whole number of seconds"),
    ("1h", "fast", "step", "must be a number of seconds"),
    ("30d", "10s", "step", f"range 30d at step 10s is 259201 points per series, at most"
                           f" {MAX_STEPS}"),
])
def test_range_and_step_errors(range_text: str, step_text: str, parameter: str,
                               problem: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("a.b", range_text, step_text)
    assert caught.value.parameter == parameter
    assert problem in str(caught.value)


def test_too_many_wildcards_name_the_term_and_the_character() -> None:
    stars = ".".join(["*"] * (MAX_WILDCARDS + 1))
    with pytest.raises(QueryError) as caught:
        parse_terms(f"cpu.user, {stars}|max")
    # Term 2 starts at character 11; its 33rd `*` is 64 characters further.
    assert (caught.value.parameter, caught.value.position) == ("q", 10 + 2 * MAX_WILDCARDS)
    assert str(caught.value).startswith('q: term 2 ("*.*.*.')
    assert str(caught.value).endswith(
        f"at character {11 + 2 * MAX_WILDCARDS}: pattern: more than {MAX_WILDCARDS}"
        " wildcards (* or **) in one pattern")
    assert len(parse_terms(".".join(["*"] * MAX_WILDCARDS))) == 1
