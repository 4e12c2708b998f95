"""The agent routes through Flask's test client, over a real config file, a real SQLite
database and a started Runtime (the monitor of `-m --web`): who may call them, the
monitors an agent is given, results stored once at the agent's location, bad bodies
named by their JSON path, and `serve`'s 503."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config, parse_config
from monitor.core.model import LOCAL
from monitor.runtime import Runtime
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext
from tests.support.db import query
from tests.support.web import READ_TOKEN, TOKENS, WRITE_TOKEN, bearer, write_config

EU = "eu-token-0123456789"
US = "us-token-0123456789"
SECRET = "s3cret-header-value"
NOW = 1_800_000_000.0


def config_doc() -> dict[str, Any]:
    return {
        "monitors": [
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "db", "id": "db",
             "locations": ["eu"], "checkInterval": 30, "notify": []},
            {"URL": "http://127.0.0.1:9/", "id": "web", "locations": ["eu", "us"],
             "quorum": 2, "headers": {"X-Key": "${AGENT_TEST_KEY}"}, "checkInterval": 30,
             "plugins": ["content"]},
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "us-only",
             "locations": ["us"], "checkInterval": 30},
        ],
        "defaultCheckInterval": 20,
        "alertAfter": 2,
        "agents": [{"name": "eu-1", "token": EU, "location": "eu"},
                   {"name": "us-1", "token": US, "location": "us"}],
        "agentTimeout": 30,
        "apiTokens": TOKENS,
    }


@dataclass
class Server:
    client: Any  # FlaskClient: its answers' .json read as documents
    context: WebContext
    runtime: Runtime
    config_path: Path
    db_path: Path


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("AGENT_TEST_KEY", SECRET)
    config_path = tmp_path / "config.json"
    db_path = tmp_path / "monitoring.db"
    write_config(config_path, config_doc())
    config = load_config(config_path)
    runtime = Runtime(config, Store(db_path), config_path=config_path)
    context = WebContext(config_path, db_path, runtime.store, config, runtime=runtime)
    app = create_app(context)
    app.testing = True
    runtime.start()
    try:
        yield Server(app.test_client(), context, runtime, config_path, db_path)
    finally:
        context.close()
        runtime.stop()


def result(ident: int, monitor: str = "db", **fields: Any) -> dict[str, Any]:
    return {"id": ident, "monitor": monitor, "timestamp": NOW + ident, "available": True,
            "code": 0, "response_ms": 1.5, "reason": None, "detail": "", "lateness_ms": 0.2,
            "warning": False, "metrics": {"connect": 1.2}, **fields}


def post(client: Any, body: Any, token: str = EU,
         route: str = "/api/v1/agent/results") -> Any:
    return client.post(route, json=body, headers=bearer(token))


def stored(db: Path) -> list[tuple]:
    return query(db, "SELECT monitor, timestamp, available, location FROM website_monitoring"
                     " ORDER BY timestamp")


# -- who may call ----------------------------------------------------------------------------

@pytest.mark.parametrize("headers, status, detail", [
    ({}, 401, 'an agent sends its token: "Authorization: Bearer TOKEN" (a token of the'
              " config's agents)"),
    (bearer(WRITE_TOKEN), 401, "an API token does not open the agent routes: an agent"
                               " sends its own token (of the config's agents)"),
    (bearer("x" * 20), 401, "the token is not one of the config's agents' (an agent route"
                            " takes no API token)"),
])
def test_only_an_agent_token_opens_the_agent_routes(server: Server, headers: dict[str, str],
                                                    status: int, detail: str) -> None:
    for method, route in (("get", "/api/v1/agent/monitors"), ("post", "/api/v1/agent/results"),
                          ("post", "/api/v1/agent/heartbeat")):
        answer = getattr(server.client, method)(route, headers=headers, json={})
        assert answer.status_code == status, route
        assert answer.mimetype == "application/problem+json"
        assert answer.json["detail"] == detail
        assert EU not in answer.get_data(as_text=True)


def test_an_agent_token_opens_nothing_else(server: Server) -> None:
    for route in ("/api/v1/monitors", "/api/v1/agents", "/api/v1/monitors/db/checks"):
        answer = server.client.get(route, headers=bearer(EU))
        assert answer.status_code == 401, route
        assert answer.json["detail"] == ("an agent's token opens only the agent routes"
                                         " (/api/v1/agent/...)")


def test_another_location_is_forbidden(server: Server) -> None:
    answer = server.client.get("/api/v1/agent/monitors?location=us", headers=bearer(EU))
    assert answer.status_code == 403
    assert answer.json["detail"] == "the agent 'eu-1' checks from 'eu', not 'us'"


def test_removing_an_agent_revokes_its_token(server: Server) -> None:
    assert server.client.get("/api/v1/agent/monitors", headers=bearer(US)).status_code == 200
    doc = config_doc()
    doc["agents"] = doc["agents"][:1]
    doc["monitors"] = doc["monitors"][:1]
    write_config(server.config_path, doc)
    answer = server.client.get("/api/v1/agent/monitors", headers=bearer(US))
    assert answer.status_code == 401
    assert server.client.get("/api/v1/agent/monitors", headers=bearer(EU)).status_code == 200


def test_serve_without_a_running_monitor_answers_503(make_web: Any) -> None:
    doc = config_doc()
    doc["monitors"][1]["headers"] = {}
    web = make_web(doc)
    for method, route in (("get", "/api/v1/agent/monitors"), ("post", "/api/v1/agent/results"),
                          ("post", "/api/v1/agent/heartbeat")):
        answer = getattr(web.client, method)(route, headers=bearer(EU), json={
            "instance": "i-1", "results": []})
        assert answer.status_code == 503, route
        assert answer.json["detail"] == ("this server (serve) runs no monitor to record"
                                         " agents' results: agents talk to `monitoringApp.py"
                                         " -m --web`")
    listed = web.client.get("/api/v1/agents", headers=bearer(READ_TOKEN)).json
    assert listed["running"] is False
    assert [a["state"] for a in listed["agents"]] == ["unknown", "unknown"]


# -- the monitors of a location ----------------------------------------------------------------

def test_an_agent_gets_its_location_s_monitors_as_a_config(server: Server) -> None:
    answer = server.client.get("/api/v1/agent/monitors?location=eu", headers=bearer(EU))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert (body["agent"], body["location"], body["poll"], body["heartbeat"]) == (
        "eu-1", "eu", 10.0, 10.0)
    config = body["config"]
    assert set(config) == {"defaultCheckInterval", "alertAfter", "monitors"}
    assert [m["id"] for m in config["monitors"]] == ["db", "web"]
    assert all("locations" not in m and "quorum" not in m and "notify" not in m
               for m in config["monitors"])
    assert config["monitors"][1]["headers"] == {"X-Key": SECRET}  # the agent checks with it
    text = answer.get_data(as_text=True)
    assert EU not in text and US not in text and WRITE_TOKEN not in text
    # The agent's loader reads it, into the server's monitors (ids, specs, plugins alike).
    mine = parse_config(json.dumps(config), "agent.json")
    server_side = {m.id: m for m in server.runtime.config.monitors}
    assert [m.id for m in mine.monitors] == ["db", "web", "web/content"]
    for monitor in mine.monitors:
        expected = replace(server_side[monitor.id], locations=(LOCAL,), quorum=None,
                           notify=None)
        assert replace(monitor, notify=None) == expected
        assert monitor.spec == expected.spec


def test_the_monitors_document_has_an_etag(server: Server) -> None:
    first = server.client.get("/api/v1/agent/monitors", headers=bearer(EU))
    etag = first.headers["ETag"]
    again = server.client.get("/api/v1/agent/monitors",
                              headers={**bearer(EU), "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    doc = config_doc()
    doc["monitors"][0]["checkInterval"] = 45
    write_config(server.config_path, doc)
    changed = server.client.get("/api/v1/agent/monitors",
                                headers={**bearer(EU), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json["config"]["monitors"][0]["checkInterval"] == 45
    # Another location's document is its own.
    us = server.client.get("/api/v1/agent/monitors", headers=bearer(US))
    assert [m["id"] for m in us.json["config"]["monitors"]] == ["web", "us-only"]
    # The heartbeat says which document is current.
    beat = post(server.client, {"instance": "i-1"}, route="/api/v1/agent/heartbeat")
    assert beat.json == {"etag": changed.headers["ETag"].strip('"'), "upto": 0}


def test_an_invalid_file_keeps_serving_the_last_good_document(server: Server) -> None:
    good = server.client.get("/api/v1/agent/monitors", headers=bearer(EU))
    server.config_path.write_text('{"monitors": [}')
    again = server.client.get("/api/v1/agent/monitors", headers=bearer(EU))
    assert again.status_code == 200 and again.headers["ETag"] == good.headers["ETag"]


# -- results ---------------------------------------------------------------------------------

def test_results_are_stored_once_at_the_agent_s_location(server: Server) -> None:
    batch = {"instance": "i-1", "results": [result(1), result(2, "web", available=False,
                                                                code=None, reason="connect",
                                                                detail="refused"),
                                            result(3, "us-only"), result(4)]}
    answer = post(server.client, batch)
    assert answer.status_code == 200
    assert answer.json == {"stored": 3, "duplicates": 0, "ignored": 1, "upto": 4}
    # On disk when answered, at the agent's location.
    assert stored(server.db_path) == [("db", NOW + 1, 1, "eu"), ("web", NOW + 2, 0, "eu"),
                                      ("db", NOW + 4, 1, "eu")]
    again = post(server.client, batch)
    assert again.json == {"stored": 0, "duplicates": 4, "ignored": 0, "upto": 4}
    # Overlapping: 3 and 4 known, 5 and 6 new.
    more = {"instance": "i-1", "results": [result(3), result(4), result(5), result(6)]}
    assert post(server.client, more).json == {"stored": 2, "duplicates": 2, "ignored": 0,
                                              "upto": 6}
    assert len(stored(server.db_path)) == 5
    assert query(server.db_path, "SELECT name, instance, upto, location FROM agents") == [
        ("eu-1", "i-1", 6, "eu")]
    # Another instance of the agent (a new database) counts from its own ids.
    assert post(server.client, {"instance": "i-2", "results": [result(1)]}).json["stored"] == 1
    beat = post(server.client, {"instance": "i-1", "version": "1.0", "outbox": 3,
                                "monitors": 2}, route="/api/v1/agent/heartbeat")
    assert beat.json["upto"] == 6


def test_the_checks_api_says_and_filters_by_location(server: Server) -> None:
    post(server.client, {"instance": "i-1", "results": [result(1, "web")]})
    post(server.client, {"instance": "u-1", "results": [result(1, "web", available=False,
                                                                code=None, reason="dns")]},
         token=US)
    checks = server.client.get("/api/v1/monitors/web/checks", headers=bearer(READ_TOKEN))
    assert [(c["location"], c["up"]) for c in checks.json["checks"]] == [("us", False),
                                                                        ("eu", True)]
    eu = server.client.get("/api/v1/monitors/web/checks?location=eu",
                           headers=bearer(READ_TOKEN))
    assert [c["location"] for c in eu.json["checks"]] == ["eu"]
    none = server.client.get("/api/v1/monitors/web/checks?location=local",
                             headers=bearer(READ_TOKEN))
    assert none.json["checks"] == []
    bad = server.client.get("/api/v1/monitors/web/checks?location=a%20b",
                            headers=bearer(READ_TOKEN))
    assert bad.status_code == 400
    assert bad.json["detail"] == "location: must be 1 to 64 letters, digits, `.`, `_` or `-`"


def test_the_agents_list_says_who_is_heard(server: Server) -> None:
    post(server.client, {"instance": "i-1", "version": "0.9", "outbox": 12, "monitors": 2},
         route="/api/v1/agent/heartbeat")
    listed = server.client.get("/api/v1/agents", headers=bearer(READ_TOKEN)).json
    assert listed["running"] is True and listed["agentTimeout"] == 30
    eu, us = listed["agents"]
    assert (eu["name"], eu["state"], eu["instance"], eu["version"], eu["outbox"],
            eu["monitors"]) == ("eu-1", "alive", "i-1", "0.9", 12, 2)
    assert eu["lastSeen"] is not None
    assert (us["name"], us["state"], us["lastSeen"]) == ("us-1", "alive", None)


BAD = [
    ([], "(root): must be a JSON object", ""),
    ({"instance": "i-1", "results": [], "x": 1},
     "x: unknown key (this takes instance, results)", "/x"),
    ({"results": []}, "instance: is required: the id of the agent's database", "/instance"),
    ({"instance": "a b", "results": []},
     "instance: must be 1 to 64 letters, digits, `.`, `_` or `-` (a uuid)", "/instance"),
    ({"instance": "i-1"}, "results: must be a list of results", "/results"),
    ({"instance": "i-1", "results": [5]}, "results[0]: must be an object", "/results/0"),
    ({"instance": "i-1", "results": [result(1), result(2, timestamp="now")]},
     "results[1].timestamp: must be a number: epoch seconds", "/results/1/timestamp"),
    ({"instance": "i-1", "results": [result(1), {**result(2), "colour": 1}]},
     "results[1].colour: unknown key", "/results/1/colour"),
    ({"instance": "i-1", "results": [{k: v for k, v in result(1).items() if k != "code"}]},
     "results[0].code: is required", "/results/0/code"),
    ({"instance": "i-1", "results": [result(2), result(2)]},
     "results[1].id: must be greater than the previous result's (2): results go in the"
     " order of their ids", "/results/1/id"),
    ({"instance": "i-1", "results": [result(0)]},
     "results[0].id: must be a whole number greater than 0", "/results/0/id"),
    ({"instance": "i-1", "results": [result(1, available="yes")]},
     "results[0].available: must be true, false or null", "/results/0/available"),
    ({"instance": "i-1", "results": [result(1, code=200.5)]},
     "results[0].code: must be a whole number or null", "/results/0/code"),
    ({"instance": "i-1", "results": [result(1, response_ms=-1)]},
     "results[0].response_ms: must be a number, 0 or more", "/results/0/response_ms"),
    ({"instance": "i-1", "results": [result(1, detail="x" * 1001)]},
     "results[0].detail: must be at most 1000 characters", "/results/0/detail"),
    ({"instance": "i-1", "results": [result(1, metrics={"connect": "fast"})]},
     "results[0].metrics.connect: must be a number", "/results/0/metrics/connect"),
    ({"instance": "i-1", "results": [result(1, monitor="")]},
     "results[0].monitor: must be a monitor's id", "/results/0/monitor"),
    ({"instance": "i-1", "results": [result(1, warning=None)]},
     "results[0].warning: must be true or false", "/results/0/warning"),
]


@pytest.mark.parametrize("body, detail, pointer", BAD)
def test_a_bad_body_names_its_json_path(server: Server, body: Any, detail: str,
                                        pointer: str) -> None:
    answer = post(server.client, body)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert (answer.json["detail"], answer.json["pointer"]) == (detail, pointer)
    assert stored(server.db_path) == []


def test_a_body_that_is_not_json_is_refused(server: Server) -> None:
    answer = server.client.post("/api/v1/agent/results", data="{", headers={
        **bearer(EU), "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json["detail"].startswith("invalid JSON at line 1, column 2")


def test_more_than_5000_results_are_too_many(server: Server) -> None:
    body = {"instance": "i-1", "results": [result(i) for i in range(1, 5002)]}
    answer = post(server.client, body)
    assert answer.status_code == 413
    assert answer.json["detail"] == "results: 5001 results; at most 5000 a request"
    full = {"instance": "i-1", "results": [result(i) for i in range(1, 5001)]}
    assert post(server.client, full).json["stored"] == 5000


def test_a_bad_heartbeat_names_its_field(server: Server) -> None:
    answer = post(server.client, {"instance": "i-1", "outbox": -1},
                  route="/api/v1/agent/heartbeat")
    assert answer.status_code == 422
    assert answer.json["detail"] == "outbox: must be a whole number, 0 or more"
