"""The results of a post read in one pass (`_fast`) are exactly what the field-by-field
reading (`_checked`) makes of them, and whatever the one pass does not take, the other
refuses with a Problem naming the field."""

import math

import pytest

from monitor.web.api.agents import MAX_DETAIL, MAX_METRICS, MAX_TEXT, _checked, _fast
from monitor.web.problems import Problem
from tests.web.test_agent_api import EU, bearer, server, stored  # noqa: F401, F811 (a fixture)

GOOD = {"id": 7, "monitor": "eu-1", "timestamp": 1.7e9, "available": True, "code": 200,
        "response_ms": 12.5, "reason": None, "detail": "", "lateness_ms": 1.5,
        "warning": False, "metrics": {"connect": 1.25, "total": 12}}

VALID = [
    GOOD,
    {k: v for k, v in GOOD.items() if k in ("id", "monitor", "timestamp", "available",
                                             "code", "response_ms")},
    {**GOOD, "available": None, "code": None, "reason": "dns", "detail": "no such host"},
    {**GOOD, "available": False, "reason": "", "detail": "é ü 漢", "warning": True},
    {**GOOD, "timestamp": 1_700_000_000, "response_ms": 0, "lateness_ms": 0, "metrics": {}},
    {**GOOD, "metrics": None, "code": -1, "detail": "x" * MAX_DETAIL},
    {**GOOD, "metrics": {f"m{i}": -i for i in range(MAX_METRICS)}},
    {**GOOD, "reason": "r" * MAX_TEXT},
]

INVALID = [
    [1, 2], None, {**GOOD, "extra": 1}, {k: v for k, v in GOOD.items() if k != "code"},
    {**GOOD, "id": True}, {**GOOD, "id": 0}, {**GOOD, "id": 7.0}, {**GOOD, "id": 2 ** 63},
    {**GOOD, "id": 3},  # not above the previous one
    {**GOOD, "monitor": ""}, {**GOOD, "monitor": 5}, {**GOOD, "monitor": "m" * 2001},
    {**GOOD, "timestamp": math.nan}, {**GOOD, "timestamp": math.inf}, {**GOOD, "timestamp": 0},
    {**GOOD, "timestamp": True}, {**GOOD, "timestamp": "1.7e9"}, {**GOOD, "timestamp": 10 ** 400},
    {**GOOD, "available": 1}, {**GOOD, "available": "true"},
    {**GOOD, "code": 200.0}, {**GOOD, "code": False}, {**GOOD, "code": 2 ** 31},
    {**GOOD, "response_ms": -1}, {**GOOD, "response_ms": math.nan},
    {**GOOD, "response_ms": 1e301}, {**GOOD, "response_ms": None},
    {**GOOD, "lateness_ms": math.inf}, {**GOOD, "lateness_ms": True},
    {**GOOD, "warning": 0}, {**GOOD, "warning": None},
    {**GOOD, "detail": None}, {**GOOD, "detail": "x" * (MAX_DETAIL + 1)},
    {**GOOD, "detail": "bad \ud800 text"}, {**GOOD, "reason": "\udfff"},
    {**GOOD, "reason": 3}, {**GOOD, "reason": "r" * (MAX_TEXT + 1)},
    {**GOOD, "metrics": []}, {**GOOD, "metrics": {"": 1.0}}, {**GOOD, "metrics": {"a": "1"}},
    {**GOOD, "metrics": {"a": math.nan}}, {**GOOD, "metrics": {"a": True}},
    {**GOOD, "metrics": {"a": -1e301}}, {**GOOD, "metrics": {"n" * (MAX_TEXT + 1): 1}},
    {**GOOD, "metrics": {f"m{i}": 1 for i in range(MAX_METRICS + 1)}},
]


@pytest.mark.parametrize("item", VALID)
def test_a_good_result_reads_the_same_either_way(item):
    fast = _fast(item, 6)
    assert fast is not None
    assert fast == _checked(0, item, 6)
    assert [type(v) for v in (fast[1].timestamp, fast[1].response_ms, fast[1].lateness_ms,
                              *fast[1].metrics.values())] == [float] * (3 + len(fast[1].metrics))


@pytest.mark.parametrize("item", INVALID)
def test_what_the_one_pass_leaves_the_field_by_field_reading_refuses(item):
    assert _fast(item, 6) is None
    with pytest.raises(Problem) as caught:
        _checked(4, item, 6)
    assert caught.value.status == 422
    assert str(caught.value.detail).startswith("results[4]")


def test_a_body_with_a_key_twice_or_not_sent_as_json_is_refused_as_before(server):  # noqa: F811
    twice = '{"instance": "i-1", "results": [], "results": []}'
    answer = server.client.post("/api/v1/agent/results", data=twice, headers={
        **bearer(EU), "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json["detail"] == 'invalid JSON: the key "results" appears more than once'
    answer = server.client.post("/api/v1/agent/results", data='{"instance": "i-1"}',
                                headers={**bearer(EU), "Content-Type": "text/plain"})
    assert answer.status_code == 400
    assert "application/json" in answer.json["detail"]
    assert stored(server.db_path) == []
