"""Values beyond what the store takes (magnitudes above 1e300, near the float's end at
1.8e308), through Flask's test client over a real config file and database: a push's value
and a series' value are each a 422 problem naming the value and the range, nothing stored;
1e300 itself is taken. A query whose sum overflows carries no Infinity into its JSON."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.support.db import query

NOW = 1_700_006_400.0  # a day's start: a step of any tier starts here
TOKEN = "backup-0123456789abcdef"
DOCUMENT = {"monitors": [{"type": "push", "name": "backup", "checkInterval": 86400,
                          "token": TOKEN}]}
RANGE = "from -1e300 to 1e300"


@pytest.fixture()
def web(make_web: Any) -> Any:
    made = make_web(DOCUMENT)
    made.context.clock = lambda: NOW
    return made


def pushes(web: Any) -> list[tuple]:
    assert web.store.flush()
    return query(web.db_path, "SELECT event, value FROM pushes ORDER BY id")


def points(web: Any) -> list[tuple]:
    assert web.store.flush()
    return query(web.db_path, "SELECT s.path, p.value FROM series_points p JOIN series s"
                              " ON s.id = p.series ORDER BY p.rowid")


@pytest.mark.parametrize("kwargs", [
    {"query_string": "value=1e308"},
    {"query_string": "value=-2e300"},
    {"json": {"value": 1e308}},
    {"json": {"value": -1.7976931348623157e308}},
])
def test_a_push_value_beyond_the_range_is_a_422(web: Any, kwargs: dict) -> None:
    answer = web.client.post(f"/api/v1/push/{TOKEN}", **kwargs)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert problem["detail"] == f"value must be a finite number {RANGE}"
    assert problem["parameter"] == "value"
    assert pushes(web) == []


def test_a_push_value_at_the_range_s_end_is_taken(web: Any) -> None:
    for value in ("1e300", "-1e300"):
        assert web.client.get(f"/api/v1/push/{TOKEN}?value={value}").status_code == 200
    assert pushes(web) == [("ping", 1e300), ("ping", -1e300)]


@pytest.mark.parametrize(("body", "content_type", "where", "detail"), [
    ("a.b 1\na.b 1e308\n", "text/plain", {"line": 2},
     f'the value "1e308" is out of range (values are taken {RANGE})'),
    ("a.b -1e999\n", "text/plain", {"line": 1},
     f'the value "-1e999" is out of range (values are taken {RANGE})'),
    (json.dumps({"a.b": 1, "a.c": 1e308}), "application/json", {"pointer": "/a.c"},
     f"the value 1e+308 is out of range (values are taken {RANGE})"),
    (json.dumps({"a.b": [[NOW - 5, 1], [NOW, -1.5e300]]}), "application/json",
     {"pointer": "/a.b/1"}, f"the value -1.5e+300 is out of range (values are taken {RANGE})"),
])
def test_a_series_value_beyond_the_range_is_a_422(web: Any, body: str, content_type: str,
                                                  where: dict, detail: str) -> None:
    answer = web.client.post("/api/v1/metrics", data=body, content_type=content_type)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert problem["errors"] == [{**where, "detail": detail}]
    assert problem["detail"].endswith("nothing was stored")
    assert points(web) == []


def test_series_values_at_the_range_s_end_are_taken(web: Any) -> None:
    answer = web.client.post("/api/v1/metrics", data="a.b 1e300\na.b -1e300\n",
                             content_type="text/plain")
    assert answer.status_code == 202
    assert points(web) == [("a.b", 1e300), ("a.b", -1e300)]


def _strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_query_whose_sum_overflows_carries_no_infinity(web: Any) -> None:
    assert web.client.post("/api/v1/metrics", json={"a.x": [[NOW - 300, 1e300]]}
                           ).status_code == 202
    assert web.store.flush()
    # Two minute rows whose sums add beyond the float's end, as ~1.8e8 values of 1e300
    # would leave them (written here: a test cannot push that many).
    conn = sqlite3.connect(web.db_path)
    try:
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO series_aggs (series, span, start, count, sum, min,"
                " max, hist) SELECT id, 60, ?, 1, 1.5e308, 1e300, 1e300, '' FROM series",
                [(NOW - 600,), (NOW - 540,)])
    finally:
        conn.close()
    answers = {}
    for function in ("sum", "avg", "max"):
        answer = web.client.get("/api/v1/metrics/query", query_string={
            "q": f"a.x|{function}", "range": "15m", "step": "2m"})
        assert answer.status_code == 200
        answers[function] = {t: v for t, v in _strict(answer.get_data(as_text=True))
                             ["series"][0]["points"]}
    step = NOW - 600  # the two rows' step: no number for the sum nor the average
    assert step not in answers["sum"] and step not in answers["avg"]
    assert answers["max"][step] == 1e300
    assert answers["sum"][NOW - 360] == 1e300  # the value pushed, in its own step
