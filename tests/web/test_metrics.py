"""The metrics tree's routes through Flask's test client, over a real config file and a real
database written by a real writer: pushes as JSON and as Graphite lines, each bad value a
problem document naming its line or JSON pointer with nothing stored, queries with
wildcards, functions and `|all`, the tree, and the scopes."""

from __future__ import annotations

import json
import math

import pytest

from monitor.metrics.paths import MAX_WILDCARDS
from monitor.web.api import metrics as metrics_api
from monitor.web.api.metrics import MAX_BODY, MAX_SERIES, MAX_VALUES
from tests.support.db import query
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

NOW = 1_700_006_400.0  # a day's start: a step of any tier starts here


@pytest.fixture()
def web(make_web):
    made = make_web()
    made.context.clock = lambda: NOW
    return made


def push(web, body, content_type="application/json", headers=None):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return web.client.post("/api/v1/metrics", data=data, content_type=content_type,
                           headers=headers or {})


def stored(web) -> list[tuple]:
    assert web.store.flush()
    return sorted(query(web.db_path, "SELECT s.path, p.timestamp, p.value FROM series_points"
                                     " p JOIN series s ON s.id = p.series"))


def ask(web, q: str, range_: str = "1h", step: str = "10s", headers=None):
    return web.client.get("/api/v1/metrics/query",
                          query_string={"q": q, "range": range_, "step": step},
                          headers=headers or {})


def test_json_values_now_and_with_timestamps(web):
    answer = push(web, {"web.frontend.latency": 12.5,
                        "app.queue.depth": [[NOW - 20, 3], [NOW - 10, 4.5]]})
    assert answer.status_code == 202
    assert answer.get_json() == {"accepted": 3}
    assert stored(web) == [("app.queue.depth", NOW - 20, 3.0), ("app.queue.depth", NOW - 10, 4.5),
                           ("web.frontend.latency", NOW, 12.5)]


def test_graphite_lines(web):
    lines = (f"web.a.latency 12 {NOW - 30:.0f}\r\n\n  cpu.user 40.5\n"
             f"web.a.latency -1.5e1 -1\nweb.b.latency .5 {NOW - 5}\n")
    answer = push(web, lines, "text/plain; charset=utf-8")
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json() == {"accepted": 4}
    assert stored(web) == [("cpu.user", NOW, 40.5), ("web.a.latency", NOW - 30, 12.0),
                           ("web.a.latency", NOW, -15.0), ("web.b.latency", NOW - 5, 0.5)]


@pytest.mark.parametrize(("body", "where", "detail"), [
    ("a.b 1\nweb..x 2\n", {"line": 2}, 'series path "web..x": empty segment between two'
                                       " dots (at character 5)"),
    ("a.b 1\n\na.b nan\n", {"line": 3}, 'the value "nan" is not a number'),
    ("a.b 1_000", {"line": 1}, 'the value "1_000" is not a number'),
    ("a.b 1 2 3", {"line": 1}, '"a.b 1 2 3": expected `path value [timestamp]`, found 4'),
    ("a.b", {"line": 1}, "found 1 fields"),
    (f"a.b 1 {(NOW + 3600) * 1000:.0f}", {"line": 1}, "more than 600 s ahead of the"
                                                      " server's clock (seconds, not"),
    ("a.b 1 12345", {"line": 1}, "the timestamp 12345 is before 2000-01-01"),
    ("a.b 1e999", {"line": 1}, 'the value "1e999" is out of range'),
    ("a b 1", {"line": 1}, 'the value "b" is not a number'),
])
def test_a_bad_line_is_named_and_nothing_is_stored(web, body, where, detail):
    answer = push(web, body, "text/plain")
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert problem["errors"][0] == {**where, "detail": problem["errors"][0]["detail"]}
    assert detail in problem["errors"][0]["detail"]
    assert problem["detail"].startswith(f"line {where['line']}: ")
    assert problem["detail"].endswith("nothing was stored")
    assert stored(web) == []


@pytest.mark.parametrize(("body", "pointer", "detail"), [
    ({"a.b": 1, "a/b": 2}, "/a~1b", "series path \"a/b\": '/' is not allowed"),
    ({"a.b": "12"}, "/a.b", "must be a number, or a list of [timestamp, value] pairs"),
    ({"a.b": True}, "/a.b", "must be a number"),
    ({"a.b": [[NOW, 1], [NOW]]}, "/a.b/1", "must be [timestamp, value], two numbers"),
    ({"a.b": [[NOW + 3600, 1]]}, "/a.b/0", "ahead of the server's clock"),
    ({"a.b": [NOW, 1]}, "/a.b/0", "must be [timestamp, value]"),
    (["a.b", 1], "", "the body must be a JSON object of series paths"),
])
def test_a_bad_json_value_is_pointed_at_and_nothing_is_stored(web, body, pointer, detail):
    answer = push(web, body)
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["errors"][0]["pointer"] == pointer
    assert detail in problem["errors"][0]["detail"]
    assert stored(web) == []


def test_every_bad_value_is_listed_up_to_a_bound(web):
    answer = push(web, "\n".join(f"bad..{i} 1" for i in range(50)), "text/plain")
    problem = answer.get_json()
    assert len(problem["errors"]) == 20
    assert "(and 19 more)" in problem["detail"]


def test_nan_from_json_is_refused(web):
    answer = push(web, '{"a.b": NaN}')
    assert answer.status_code == 422
    assert stored(web) == []


@pytest.mark.parametrize(("body", "content_type", "status", "detail"), [
    ("{", "application/json", 400, "invalid JSON at line 1, column 2"),
    ("a.b=1", "application/x-www-form-urlencoded", 400, "send JSON"),
    (b"a.b \xff", "text/plain", 400, "not UTF-8"),
    ("{}", "application/json", 422, "no values"),
    ("\n\n", "text/plain", 422, "no values"),
])
def test_bodies_that_cannot_be_read(web, body, content_type, status, detail):
    answer = push(web, body, content_type)
    assert answer.status_code == status
    assert detail in answer.get_json()["detail"]
    assert stored(web) == []


def test_too_large_or_too_many(web):
    answer = push(web, "a.b 1\n" * (MAX_BODY // 6 + 1), "text/plain")
    assert answer.status_code == 413
    answer = push(web, "a.b 1\n" * (MAX_VALUES + 1), "text/plain")
    assert answer.status_code == 413
    assert f"more than {MAX_VALUES} values" in answer.get_json()["detail"]
    assert stored(web) == []
    # Larger than the API's usual bound of 1 MiB, within this route's.
    many = "".join(f"s.n{i % 100} {i}\n" for i in range(MAX_VALUES))
    assert len(many) > 1024 * 1024
    assert push(web, many, "text/plain").get_json() == {"accepted": MAX_VALUES}


def test_scopes(make_web):
    web = make_web(tokens=True)
    web.context.clock = lambda: NOW
    assert push(web, {"a.b": 1}).status_code == 401
    answer = push(web, {"a.b": 1}, headers=bearer(READ_TOKEN))
    assert answer.status_code == 403
    assert stored(web) == []
    assert push(web, {"a.b": 1}, headers=bearer(WRITE_TOKEN)).status_code == 202
    assert ask(web, "a.b").status_code == 401
    assert ask(web, "a.b", headers=bearer(READ_TOKEN)).status_code == 200
    assert web.client.get("/api/v1/metrics/tree", headers=bearer(READ_TOKEN)).status_code == 200
    assert web.client.get("/api/v1/metrics/tree").status_code == 401


def fill(web) -> None:
    points = {}
    for frontend, base in (("a", 10.0), ("b", 100.0)):
        points[f"web.{frontend}.latency"] = [[NOW - 25 + i, base + i] for i in range(20)]
    points["web.a.errors"] = [[NOW - 5, 1]]
    points["cpu.user"] = [[NOW - 3595, 50], [NOW - 1, 70]]
    assert push(web, points).status_code == 202
    assert web.store.flush()


def test_query_per_series_and_all(web):
    fill(web)
    answer = ask(web, "web.*.latency|max,web.*.latency|p50|all,cpu.user", step="10s")
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["step"], body["from"], body["until"]) == (10, NOW - 3600, NOW + 10)
    series = body["series"]
    assert [(s["term"], s["path"], s["function"], s["merged"]) for s in series] == [
        ("web.*.latency|max", "web.a.latency", "max", False),
        ("web.*.latency|max", "web.b.latency", "max", False),
        ("web.*.latency|p50|all", "web.*.latency", "p50", True),
        ("cpu.user", "cpu.user", "avg", False)]
    # Steps of 10 s: a's values 10..14 at NOW-25..NOW-21, 15..24, then 25..29.
    assert series[0]["points"] == [[NOW - 30, 14.0], [NOW - 20, 24.0], [NOW - 10, 29.0]]
    assert series[1]["points"] == [[NOW - 30, 104.0], [NOW - 20, 114.0], [NOW - 10, 119.0]]
    # Both frontends' values of a step together: 10 of each; the median is a's highest
    # (within the histogram's 2.5%).
    (t, median) = series[2]["points"][1]
    assert t == NOW - 20 and math.isclose(median, 24.0, rel_tol=0.025)
    assert series[3]["points"] == [[NOW - 3600, 50.0], [NOW - 10, 70.0]]


@pytest.mark.parametrize(("function", "expected"), [
    ("avg", 19.5), ("min", 10.0), ("max", 29.0), ("sum", 390.0), ("count", 20.0),
    ("p50", 19.0), ("p90", 27.0), ("p99", 29.0)])
def test_query_functions(web, function, expected):
    """One step of a minute: a's 20 values, 10 to 29."""
    fill(web)
    answer = ask(web, f"web.a.latency|{function}", range_="1m", step="60")
    (point,) = answer.get_json()["series"][0]["points"]
    assert point[0] == NOW - 60 and math.isclose(point[1], expected, rel_tol=0.025)


def test_a_query_matching_nothing(web):
    fill(web)
    assert ask(web, "nothing.*").get_json()["series"] == []
    merged = ask(web, "nothing.*|sum|all").get_json()["series"]
    assert merged == [{"term": "nothing.*|sum|all", "path": "nothing.*", "function": "sum",
                       "merged": True, "points": []}]


@pytest.mark.parametrize(("params", "parameter", "position", "detail"), [
    ({"q": "web.*|maxx"}, "q", 6, 'q: term 1 ("web.*|maxx") at character 7: unknown function'),
    ({"q": "a,b..c"}, "q", 4, 'term 2 ("b..c") at character 5: pattern: empty segment'),
    ({}, "q", None, "q: missing"),
    ({"q": "a", "range": "forever"}, "range", None, "range: must be a number of seconds"),
    ({"q": "a", "range": "30d", "step": "1"}, "step", None, "points per series, at most"),
])
def test_query_errors(web, params, parameter, position, detail):
    answer = web.client.get("/api/v1/metrics/query", query_string=params)
    assert answer.status_code == 400
    problem = answer.get_json()
    assert problem["parameter"] == parameter
    assert problem.get("position") == position
    assert detail in problem["detail"]


def test_a_query_of_too_many_series(web):
    assert push(web, {f"many.s{i}": 1 for i in range(MAX_SERIES + 1)}).status_code == 202
    assert web.store.flush()
    answer = ask(web, "a.b,many.*")
    assert answer.status_code == 400
    problem = answer.get_json()
    assert (problem["parameter"], problem["position"]) == ("q", 4)
    assert f'term 2 ("many.*") matches more than {MAX_SERIES} series' in problem["detail"]
    assert ask(web, "many.s1*").status_code == 200


def test_the_tree(web):
    fill(web)
    root = web.client.get("/api/v1/metrics/tree").get_json()
    assert root == {"prefix": "", "truncated": False, "children": [
        {"name": "cpu", "path": "cpu", "series": 1, "leaf": False},
        {"name": "web", "path": "web", "series": 3, "leaf": False}]}
    below = web.client.get("/api/v1/metrics/tree?prefix=web.a").get_json()["children"]
    assert below == [{"name": "errors", "path": "web.a.errors", "series": 1, "leaf": True},
                     {"name": "latency", "path": "web.a.latency", "series": 1, "leaf": True}]
    # A series with nothing below it: no children; a path with nothing at all: 404.
    assert web.client.get("/api/v1/metrics/tree?prefix=cpu.user").get_json()["children"] == []
    missing = web.client.get("/api/v1/metrics/tree?prefix=web.c")
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == "no series is web.c or below it"
    bad = web.client.get("/api/v1/metrics/tree?prefix=web.*")
    assert bad.status_code == 400
    assert bad.get_json()["parameter"] == "prefix"


def test_values_the_writer_cannot_take_are_503_and_not_stored(web):
    web.store.close()  # a store that writes no more (as after a stop)
    answer = push(web, {"a.b": 1})
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert "nothing was stored" in answer.get_json()["detail"]
    assert query(web.db_path, "SELECT count(*) FROM series_points") == [(0,)]


def test_a_query_reading_too_many_raw_values(web, monkeypatch):
    fill(web)  # 43 values
    monkeypatch.setattr(metrics_api, "MAX_RAW_VALUES", 40)  # the bound, lowered
    answer = ask(web, "web.**", step="10s")
    assert answer.status_code == 400
    problem = answer.get_json()
    assert problem["parameter"] == "step"
    assert "would read 41 raw values" in problem["detail"]
    # A step of whole minutes reads the rollups (and the raw values of the last minutes).
    assert ask(web, "web.**", step="1m").status_code == 200
    assert ask(web, "web.a.*", step="10s").status_code == 200


def test_deep_wildcards_answer_and_too_many_are_400(web):
    """Ten `**` over series of 40 segments: a backtracking matcher took 42 s per series
    (the bound on the clock is in tests/metrics/test_paths.py); here the query answers."""
    deep = ".".join(["a"] * 40)
    assert push(web, {deep: 1, deep + ".zz": 2}).status_code == 202
    assert web.store.flush()
    answer = ask(web, "**.**.**.**.**.**.**.**.**.**.zz|max", range_="1m", step="60")
    assert answer.status_code == 200
    assert [s["path"] for s in answer.get_json()["series"]] == [deep + ".zz"]
    stars = ".".join(["*"] * (MAX_WILDCARDS + 1))
    answer = ask(web, f"a.b,{stars}")
    assert answer.status_code == 400
    problem = answer.get_json()
    assert (problem["parameter"], problem["position"]) == ("q", 4 + 2 * MAX_WILDCARDS)
    assert (f"at character {5 + 2 * MAX_WILDCARDS}: pattern: more than {MAX_WILDCARDS}"
            " wildcards (* or **) in one pattern") in problem["detail"]
