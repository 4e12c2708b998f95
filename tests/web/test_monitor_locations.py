"""A monitor checked from several locations in the API (`GET /api/v1/monitors/{id}` and the
list's items): each location's state, availability in the alert window, latest check and
reason, as the alert rules judge them. Here without a running monitor (as under `serve`):
replayed from the real SQLite database's rows, the lost locations from `agent_seen`. Then
the two operations fuzzed by schemathesis from the OpenAPI document over such a monitor:
every answer as documented. (The running monitor's own evaluator, under `-m --web` with real
agents: tests/web/pages/test_locations.py.)"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from monitor.config import load_config
from monitor.core.model import LOCAL, CheckResult
from monitor.store.api import AgentSeen, iso_utc
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext
from tests.support.web import READ_TOKEN, TOKENS, bearer, write_config

EU, US = "agent-token-eu-0123456789", "agent-token-us-0123456789"
SITE = "http://127.0.0.1:9/"


def document() -> dict[str, Any]:
    return {
        "monitors": [
            {"URL": SITE, "id": "shop", "name": "shop", "locations": ["local", "eu", "us"],
             "checkInterval": 5, "alertWindow": 60},
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "db"},
            {"URL": SITE + "api", "id": "api", "locations": ["eu", "us"], "alertWindow": 60},
        ],
        "agents": [{"name": "eu-1", "token": EU, "location": "eu"},
                   {"name": "us-1", "token": US, "location": "us"}],
        "agentTimeout": 30,
        "apiTokens": TOKENS,
    }


def check(monitor: str, at: float, location: str, mark: str) -> CheckResult:
    """"." up, "x" down (HTTP 503), "w" up but warning."""
    up = mark != "x"
    return CheckResult(monitor, at, up, 200 if up else 503, 40.0 if up else 12.0,
                       {"x": "http_status", "w": "tls_expiry"}.get(mark),
                       "expires in 5 days" if mark == "w" else "", warning=mark == "w",
                       location=location)


def fill(store: Store, now: float, seen: dict[str, float] | None = None) -> None:
    """Ten checks of shop from each location, the last 5 s before `now`; the agents heard
    as `seen` says (default: just now)."""
    rows = []
    for i in range(10):
        at = now - 50 + i * 5
        rows += [check("shop", at, LOCAL, "."), check("shop", at + 0.1, "eu", "x"),
                 check("shop", at + 0.2, "us", "w" if i == 9 else ".")]
    assert store.put_checks(rows)
    for name, location in (("eu-1", "eu"), ("us-1", "us")):
        store.put_agent_seen(AgentSeen(name, location, (seen or {}).get(name, now)))
    assert store.flush(30)


def get(web: Any, path: str) -> Any:
    answer = web.client.get(f"/api/v1{path}", headers=bearer(READ_TOKEN))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def test_a_monitor_s_locations_as_the_rules_judge_each_one(make_web: Any) -> None:
    web = make_web(document())
    now = time.time()
    fill(web.store, now)
    shop = get(web, "/monitors/shop")
    assert [(s["location"], s["state"], s["availability"], s["status"], s["reason"])
            for s in shop["locations"]] == [
        ("local", "up", 1.0, 200, None),
        ("eu", "down", 0.0, 503, "http_status"),
        ("us", "warning", 1.0, 200, "tls_expiry")]
    eu = shop["locations"][1]
    assert eu["lastCheck"] == iso_utc(now - 5 + 0.1) and eu["responseTime"] == 12.0
    since = time.mktime(time.strptime(eu["since"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert now - 60 - 1 <= since <= now - 60 + 5  # the alert window's start, as read
    # One location: not split. Checked from two, none stored yet: each unknown.
    assert "locations" not in get(web, "/monitors/db")
    assert [s["state"] for s in get(web, "/monitors/api")["locations"]] == [
        "unknown", "unknown"]


def test_a_location_whose_agents_are_not_heard_for_agent_timeout_is_lost(
        make_web: Any) -> None:
    web = make_web(document())
    now = time.time()
    fill(web.store, now, seen={"us-1": now - 31})
    states = {s["location"]: s for s in get(web, "/monitors/shop")["locations"]}
    assert states["us"]["state"] == "lost" and states["us"]["availability"] is None
    assert states["eu"]["state"] == "down"  # heard: counted


def test_the_list_gives_each_item_its_locations_and_filters_those_of_several(
        make_web: Any) -> None:
    web = make_web(document())
    web.store.set_monitors(web.context.config.monitors)  # as the running monitor lists them
    fill(web.store, time.time())
    listed = get(web, "/monitors")["monitors"]
    assert [(m["id"], "locations" in m) for m in listed] == [
        ("shop", True), ("db", False), ("api", True)]
    several = get(web, "/monitors?locations=several")
    assert [m["id"] for m in several["monitors"]] == ["shop", "api"] and several["total"] == 2
    assert [s["state"] for s in several["monitors"][0]["locations"]] == [
        "up", "down", "warning"]
    assert several["monitors"][0]["lastCheck"] is not None  # its summary read too
    # Those of given ids (the dashboard's rows in view), each read for itself alone.
    chosen = get(web, "/monitors?locations=several&id=api&id=db&id=nope")
    assert [m["id"] for m in chosen["monitors"]] == ["api"]
    assert [m["id"] for m in get(web, "/monitors?id=db&id=shop")["monitors"]] == ["shop", "db"]
    many = "&".join(f"id=m{i}" for i in range(501))
    over = web.client.get(f"/api/v1/monitors?{many}", headers=bearer(READ_TOKEN))
    assert over.status_code == 400 and over.json["parameter"] == "id"
    assert over.json["detail"] == "id: at most 500 ids, not 501"
    bad = web.client.get("/api/v1/monitors?locations=all", headers=bearer(READ_TOKEN))
    assert bad.status_code == 400 and bad.json["parameter"] == "locations"
    assert "not one of several" in bad.json["detail"]


# -- fuzzed from the document -------------------------------------------------------------

class _Served:
    """The app over a config of monitors of several locations and their stored checks,
    made when the module is collected (schemathesis makes the tests from the document)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fuzz-locations-"))
        config_path, db_path = self.folder / "config.json", self.folder / "monitoring.db"
        write_config(config_path, document())
        self.store = Store(db_path)
        self.context = WebContext(config_path, db_path, self.store, load_config(config_path))
        self.app = create_app(self.context)

    def close(self) -> None:
        self.context.close()
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


SERVED = _Served()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", SERVED.app).include(
    operation_id=["getMonitor", "listMonitors"])


@pytest.fixture(scope="module", autouse=True)
def _store() -> Iterator[None]:
    SERVED.store.start()
    fill(SERVED.store, time.time())
    yield
    SERVED.close()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_monitors_of_several_locations_are_answered_as_documented(case: Any) -> None:
    if case.operation.path == "/monitors/{id}" and case.path_parameters.get("id") != "db":
        case.path_parameters["id"] = "shop"  # the generated ids would be 404s mostly
    case.call_and_validate(headers={**bearer(READ_TOKEN), "Accept-Encoding": "identity"},
                           excluded_checks=[positive_data_acceptance])
