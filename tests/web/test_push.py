"""Push monitors' routes through Flask's test client, over a real config file and a real
database written by a real writer: pushes by GET and POST (query string, JSON, form, text),
/start and /fail, no bearer token needed even with apiTokens, an unknown token answered
as any unknown URL, each bad parameter a problem document with nothing stored, the list
of push monitors with a generated token shown to the write scope only."""

from __future__ import annotations

import json

import pytest

from monitor.checks.push import tokens
from monitor.core.push import MAX_MESSAGE
from monitor.web.api.push import MAX_BODY
from tests.support.db import query
from tests.support.web import READ_TOKEN, TOKENS, WRITE_TOKEN, bearer, write_config

NOW = 1_700_000_000.0
TOKEN = "backup-0123456789abcdef"
DOCUMENT = {"monitors": [
    {"type": "push", "name": "backup", "checkInterval": 86400, "grace": 3600,
     "token": TOKEN},
    {"type": "push", "name": "sync", "checkInterval": 600},
    {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "a port"}]}


@pytest.fixture()
def web(make_web):
    made = make_web(DOCUMENT, tokens=True)
    made.context.clock = lambda: NOW
    return made


def stored(web) -> list[tuple]:
    assert web.store.flush()
    return query(web.db_path, "SELECT monitor, timestamp, event, status, message, value FROM"
                              " pushes ORDER BY id")


def generated(web, monitor_id: str) -> str:
    return tokens.generated(tokens.load_key(web.db_path), monitor_id)


def test_a_push_by_get_needs_no_bearer_token(web):
    answer = web.client.get(f"/api/v1/push/{TOKEN}?status=up&msg=backup%20ok&value=12.5")
    assert answer.status_code == 200
    assert answer.get_json() == {"monitor": "push:backup", "event": "ping",
                                 "time": "2023-11-14T22:13:20.000Z"}
    assert stored(web) == [("push:backup", NOW, "ping", "up", "backup ok", 12.5)]


def test_start_fail_and_post_bodies(web):
    client = web.client
    assert client.post(f"/api/v1/push/{TOKEN}/start").status_code == 200
    assert client.post(f"/api/v1/push/{TOKEN}/fail", json={"msg": "disk full",
                                                           "value": 3}).status_code == 200
    assert client.post(f"/api/v1/push/{TOKEN}", data={"status": "down", "msg": "x"}
                       ).status_code == 200
    # Any other body is the job's output: its message, bounded.
    output = "line 1\nline 2\x07\n" + "y" * 1000
    assert client.post(f"/api/v1/push/{TOKEN}?value=-1.5e1", data=output,
                       content_type="text/plain").status_code == 200
    assert client.get(f"/api/v1/push/{TOKEN}/fail?rid=42").status_code == 200  # let through
    # `curl --data-raw "$output"` sends the output as a form: read as the message.
    assert client.post(f"/api/v1/push/{TOKEN}", data="rsync: 3 files & 2 dirs=ok",
                       content_type="application/x-www-form-urlencoded").status_code == 200
    rows = stored(web)
    assert [row[2:4] for row in rows] == [("start", None), ("fail", None), ("ping", "down"),
                                          ("ping", None), ("fail", None), ("ping", None)]
    assert rows[5][4] == "rsync: 3 files & 2 dirs=ok"
    assert rows[1][4:] == ("disk full", 3.0)
    assert rows[3][4] == ("line 1\nline 2?\n" + "y" * 1000)[:MAX_MESSAGE]
    assert rows[3][5] == -15.0


def test_a_generated_token_is_listed_to_the_write_scope_and_takes_pushes(web):
    token = generated(web, "push:sync")
    answer = web.client.get("/api/v1/push", headers=bearer(WRITE_TOKEN))
    assert answer.status_code == 200
    listed = answer.get_json()
    assert listed["tokenError"] is None
    backup, sync = listed["monitors"]
    # The config's token is the config's secret: never shown.
    assert (backup["token"], backup["generated"], backup["lastRun"]) == ("***", False, None)
    assert TOKEN not in answer.get_data(as_text=True)
    assert sync == {"id": "push:sync", "name": "sync", "token": token, "generated": True,
                    "url": f"http://localhost/api/v1/push/{token}", "checkInterval": 600.0,
                    "grace": 60.0, "lastRun": None, "running": None}
    assert web.client.get(f"/api/v1/push/{token}/start").status_code == 200
    assert web.client.get(f"/api/v1/push/{TOKEN}?msg=ok").status_code == 200
    assert stored(web) == [("push:sync", NOW, "start", None, None, None),
                           ("push:backup", NOW, "ping", None, "ok", None)]
    backup, sync = web.client.get("/api/v1/push", headers=bearer(WRITE_TOKEN)
                                  ).get_json()["monitors"]
    assert sync["running"]["event"] == "start" and sync["lastRun"] is None
    assert backup["lastRun"] == {"time": "2023-11-14T22:13:20.000Z", "event": "ping",
                                 "status": None, "message": "ok", "value": None}
    assert web.client.get("/api/v1/push", headers=bearer(READ_TOKEN)).status_code == 403
    assert web.client.get("/api/v1/push").status_code == 401


def test_a_token_changed_in_the_file_is_taken_at_once(web):
    document = json.loads(json.dumps(DOCUMENT))
    document["monitors"][0]["token"] = "another-token-0123456789"
    document["apiTokens"] = TOKENS
    write_config(web.config_path, document)
    web.context.reload()
    assert web.client.get(f"/api/v1/push/{TOKEN}").status_code == 404
    assert web.client.get("/api/v1/push/another-token-0123456789").status_code == 200


def test_an_unknown_token_is_any_unknown_url(web):
    unknown = web.client.get("/api/v1/push/not-a-token-of-anyone-here")
    nothing = web.client.get("/api/v1/no/such/route")
    assert unknown.status_code == nothing.status_code == 404
    assert unknown.get_json() == nothing.get_json()
    assert unknown.content_type == "application/problem+json"
    assert web.client.post("/api/v1/push/x" + TOKEN, json={"msg": "x"}).status_code == 404
    assert stored(web) == []


@pytest.mark.parametrize(("path", "kwargs", "status", "detail"), [
    ("", {"query_string": "status=ok"}, 422, 'status must be "up" or "down"'),
    ("/start", {"query_string": "status=up"}, 422, "status=up does not go with /start"),
    ("/fail", {"query_string": "status=up"}, 422, "status=up does not go with /fail"),
    ("", {"query_string": "value=abc"}, 422, "value must be a finite number"),
    ("", {"query_string": "value=nan"}, 422, "value must be a finite number"),
    ("", {"query_string": "value=1e999"}, 422, "value must be a finite number"),
    ("", {"json": {"value": True}}, 422, "value must be a finite number"),
    ("", {"json": {"msg": ["a"]}}, 422, "msg must be a string"),
    ("", {"json": {"mesage": "a"}}, 422, "unknown key 'mesage' in the body"),
    ("", {"json": ["up"]}, 422, "the body must be a JSON object"),
    ("", {"data": "{", "content_type": "application/json"}, 400, "invalid JSON at line 1"),
    ("", {"query_string": "msg=a&msg=b"}, 400, "msg is given 2 times in the query string"),
    ("", {"query_string": "msg=a", "json": {"msg": "b"}}, 400,
     "msg is given in both the query string and the body"),
    ("", {"data": {"msg": ["a", "b"]}}, 400, "msg is given 2 times in the form"),
    ("", {"data": "x" * (MAX_BODY + 1), "content_type": "text/plain"}, 413, ""),
])
def test_a_bad_push_is_a_problem_and_nothing_is_stored(web, path, kwargs, status, detail):
    answer = web.client.post(f"/api/v1/push/{TOKEN}{path}", **kwargs)
    assert answer.status_code == status
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["detail"].startswith(detail)
    assert stored(web) == []


def test_the_token_is_masked_in_a_message(web):
    web.client.get(f"/api/v1/push/{TOKEN}", query_string={"msg": f"curl /push/{TOKEN} ok"})
    assert stored(web)[0][4] == "curl /push/*** ok"


def test_a_writer_far_behind_refuses_with_503(web, monkeypatch):
    from monitor.store import writing as writer

    monkeypatch.setattr(writer, "MAX_QUEUED", 0)  # every queue is "too far behind"
    answer = web.client.get(f"/api/v1/push/{TOKEN}")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    monkeypatch.undo()
    assert stored(web) == []
