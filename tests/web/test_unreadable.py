"""A database that cannot be read (a file that is not SQLite) answers 503 with a problem
document naming the file on every route that reads it, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.web import WRITE_TOKEN, bearer

SITE = "http://127.0.0.1:9/"
DOCUMENT = {"monitors": [
    {"URL": SITE, "name": "site"},
    {"type": "push", "name": "backup", "checkInterval": 86400, "token": "t" * 20}]}
MONITOR = quote(SITE, safe="")


@pytest.mark.parametrize("url", [
    "/api/v1/push",
    "/api/v1/events?lastEventId=1.1",  # resumed: the newest event is read first
    "/api/v1/events",
    "/api/v1/alerts",
    "/api/v1/monitors",
    f"/api/v1/monitors/{MONITOR}",
    f"/api/v1/monitors/{MONITOR}/checks",
    f"/api/v1/monitors/{MONITOR}/stats",
    "/api/v1/maintenance",
    "/api/v1/metrics/tree",
    "/api/v1/metrics/query?q=a.b",
    "/api/v1/uptime",
])
def test_a_database_that_cannot_be_read_is_a_503(make_web: Any, tmp_path: Path,
                                                 url: str) -> None:
    web = make_web(DOCUMENT, tokens=True)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database at all" * 200)
    web.context.db_path = broken
    answer = web.client.get(url, headers=bearer(WRITE_TOKEN))
    assert (answer.status_code, answer.mimetype) == (503, "application/problem+json"), (
        answer.get_data()[:300])
    assert "broken.db" in answer.get_json()["detail"]
