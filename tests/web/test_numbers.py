"""Numbers the API reads from JSON bodies and query strings, at their edges: an integer too
large for a float (400 digits), a text that reads as infinity, NaN, digits of other scripts
that Python's int() and float() take (`١٢٣`, `１２`) and deeply nested JSON in a cursor.
Each is a 4xx problem document naming what is wrong, with nothing stored or changed, never
a 500."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.db import query
from tests.support.web import WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"
TOKEN = "backup-0123456789abcdef"
SITE = "http://127.0.0.1:9/"
DOCUMENT = {"monitors": [
    {"URL": SITE, "name": "site"},
    {"type": "push", "name": "backup", "checkInterval": 86400, "token": TOKEN}]}
HUGE = 10 ** 400  # JSON's integers have no bound; a float's end near 1.8e308
ARABIC = "١٢٣"  # 123 in Arabic-Indic digits: int() and float() read it
FULLWIDTH = "１２"  # 12 in fullwidth digits
CHECKS = f"/api/v1/monitors/{quote(SITE, safe='')}/checks"
MAINTENANCE = f"/api/v1/monitors/{quote(SITE, safe='')}/maintenance"


@pytest.fixture()
def web(make_web: Any) -> Any:
    return make_web(DOCUMENT, tokens=True)


def _nested_cursor() -> str:
    # A cursor's JSON nested far deeper than the parser recurses.
    return base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "detail"), [
    # push values: JSON numbers and texts
    ("POST", f"/api/v1/push/{TOKEN}", {"json": {"value": HUGE}}, 422,
     "value must be a finite number"),
    ("POST", f"/api/v1/push/{TOKEN}", {"json": {"value": -HUGE}}, 422,
     "value must be a finite number"),
    ("POST", f"/api/v1/push/{TOKEN}", {"json": {"value": ARABIC}}, 422,
     "value must be a finite number"),
    ("GET", f"/api/v1/push/{TOKEN}", {"query_string": {"value": ARABIC}}, 422,
     "value must be a finite number"),
    ("GET", f"/api/v1/push/{TOKEN}", {"query_string": {"value": FULLWIDTH}}, 422,
     "value must be a finite number"),
    # metric values: Graphite's lines and JSON
    ("POST", "/api/v1/metrics", {"data": f"a.b {ARABIC}\n", "content_type": "text/plain"},
     422, r'line 1: the value "\u0661\u0662\u0663" is not a number'),  # quoted: escaped
    ("POST", "/api/v1/metrics", {"data": "a.b 1 ١٧٠٠٠٠٠٠٠٠\n", "content_type": "text/plain"},
     422, r'line 1: the timestamp "\u0661\u0667\u0660'),
    ("POST", "/api/v1/metrics", {"json": {"a.b": HUGE}}, 422, "at /a.b: must be a number"),
    # whole numbers of a query string
    ("GET", "/api/v1/alerts", {"query_string": {"limit": ARABIC}}, 400,
     f"limit: '{ARABIC}' is not a whole number"),
    ("GET", "/api/v1/alerts", {"query_string": {"after": "9" * 5000}}, 400,
     "after: '9999"),
    ("GET", "/api/v1/monitors", {"query_string": {"offset": FULLWIDTH}}, 400,
     f"offset: '{FULLWIDTH}' is not a whole number"),
    ("GET", CHECKS, {"query_string": {"limit": ARABIC}}, 400,
     f"limit: '{ARABIC}' is not a whole number"),
    ("GET", "/api/v1/uptime", {"query_string": {"days": ARABIC}}, 400,
     f"days: '{ARABIC}' is not a whole number"),
    # times and durations
    ("GET", CHECKS, {"query_string": {"since": ARABIC}}, 400, f"since: '{ARABIC}' is not a time"),
    ("GET", CHECKS, {"query_string": {"until": "1e999"}}, 400, "until: '1e999' is not a time"),
    ("GET", "/api/v1/metrics/query", {"query_string": {"q": "a.b", "range": f"{ARABIC}s"}},
     400, "range: must be a number of seconds"),
    ("GET", "/api/v1/metrics/query", {"query_string": {"q": "a.b", "range": "9" * 400}},
     400, "range: must be a number of seconds"),
    ("POST", MAINTENANCE, {"json": {"for": f"{ARABIC}m"}}, 422, f"for: '{ARABIC}m' is not a"
                                                                " duration"),
    ("POST", MAINTENANCE, {"json": {"for": HUGE}}, 422, "for: 1000"),
    ("POST", MAINTENANCE, {"json": {"until": HUGE}}, 422, "until: '1000"),
    # a cursor is JSON inside: nested past the parser's depth
    ("GET", "/api/v1/monitors", {"query_string": {"cursor": _nested_cursor()}}, 400,
     "cursor: not a cursor this API gave"),
])
def test_an_out_of_range_or_foreign_number_is_a_problem_and_nothing_changes(
        web: Any, method: str, url: str, kwargs: dict[str, Any], status: int,
        detail: str) -> None:
    config = web.config_path.read_bytes()
    answer = web.client.open(url, method=method, headers=bearer(WRITE_TOKEN), **kwargs)
    assert (answer.status_code, answer.content_type) == (status, PROBLEM), answer.get_data()
    assert answer.get_json()["detail"].startswith(detail)
    assert web.store.flush()
    for table in ("pushes", "series_points", "maintenance"):
        assert query(web.db_path, f"SELECT count(*) FROM {table}") == [(0,)]
    assert web.config_path.read_bytes() == config
