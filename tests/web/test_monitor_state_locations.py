"""A monitor checked from several locations is in the state its alert rules judge, in the
API (the list, its ?state= filter, the detail) and the dashboard's data: down when at least
`quorum` locations are down, warning when fewer are, whatever location its latest check came
from; a status page's monitor too. Over a real SQLite database, as under `serve` (the rules
replayed on its rows)."""

from __future__ import annotations

import re
import time
from typing import Any

from monitor.core.model import LOCAL
from monitor.store.api import AgentSeen, AlertRecord, iso_utc
from tests.support.web import READ_TOKEN, bearer
from tests.web.test_monitor_locations import EU, SITE, US, check, get

AGENTS = [{"name": "eu-1", "token": EU, "location": "eu"},
          {"name": "us-1", "token": US, "location": "us"}]


def document(quorum: int | None = None) -> dict[str, Any]:
    shop = {"URL": SITE, "id": "shop", "name": "shop", "locations": ["local", "eu", "us"],
            "checkInterval": 5, "alertWindow": 60}
    if quorum is not None:
        shop["quorum"] = quorum
    return {"monitors": [shop, {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "db",
                          "name": "db"}],
            "agents": AGENTS, "agentTimeout": 30,
            "statusPages": [{"slug": "acme", "title": "Acme",
                             "groups": [{"name": "Web", "monitors": ["shop", "db"]}]}]}


def fill(web: Any, now: float, quiet: str = "", **marks: str) -> None:
    """Ten checks of shop from each location ("." up, "x" down), eu's the latest of each
    round; db up."""
    rows = []
    for i in range(10):
        at = now - 50 + i * 5
        rows += [check("shop", at, LOCAL, marks.get(LOCAL, ".")),
                 check("shop", at + 0.1, "us", marks.get("us", ".")),
                 check("shop", at + 0.2, "eu", marks.get("eu", "."))]
        rows.append(check("db", at, LOCAL, "."))
    store = web.store
    store.set_monitors(web.context.config.monitors)
    assert store.put_checks(rows)
    for name, location in (("eu-1", "eu"), ("us-1", "us")):  # `quiet`: an hour ago
        store.put_agent_seen(AgentSeen(name, location, now - 3600 if name == quiet else now))
    assert store.flush(30)


def states(web: Any) -> dict[str, str]:
    """Each monitor's state: the list's, the detail's and the dashboard's (all the same)."""
    listed = {m["id"]: m["state"] for m in get(web, "/monitors")["monitors"]}
    for monitor_id, state in listed.items():
        assert get(web, f"/monitors/{monitor_id}")["state"] == state
    board = get(web, "/dashboard")
    assert {i: board["states"][s] for i, s in zip(board["id"], board["state"], strict=True)
            } == listed
    page = web.client.get("/status/acme.json").json
    assert {m["name"]: m["state"] for m in page["groups"][0]["monitors"]}["shop"] == (
        listed["shop"])
    # The status badge, /metrics' state and up, and the monitor page's pill: the same.
    badge = web.client.get("/badge/shop/status.svg",
                           headers=bearer(READ_TOKEN)).get_data(as_text=True)
    assert f">{listed['shop']}</text>" in badge, badge
    scraped = web.client.get("/metrics", headers=bearer(READ_TOKEN)).get_data(as_text=True)
    shown = "pending" if listed["shop"] == "unknown" else listed["shop"]
    assert f'uptime_monitor_state{{id="shop",state="{shown}"}} 1.0' in scraped, scraped
    if listed["shop"] in ("up", "warning", "down"):
        up = "0.0" if listed["shop"] == "down" else "1.0"
        assert f'uptime_monitor_up{{id="shop"}} {up}' in scraped, scraped
    return listed


def test_down_from_one_location_of_three_is_a_warning(make_web: Any) -> None:
    web = make_web(document(), tokens=True)
    fill(web, time.time(), eu="x")
    # Its latest check is eu's, down: the monitor is still only warning.
    assert states(web) == {"shop": "warning", "db": "up"}
    assert [m["id"] for m in get(web, "/monitors?state=warning")["monitors"]] == ["shop"]
    assert get(web, "/monitors?state=down")["total"] == 0


def test_down_from_a_quorum_of_locations_is_down(make_web: Any) -> None:
    web = make_web(document(), tokens=True)
    fill(web, time.time(), eu="x", us="x")
    assert states(web) == {"shop": "down", "db": "up"}
    assert [m["id"] for m in get(web, "/monitors?state=down")["monitors"]] == ["shop"]


def test_the_quorum_of_the_config_counts(make_web: Any) -> None:
    web = make_web(document(quorum=3), tokens=True)
    fill(web, time.time(), eu="x", us="x")
    assert states(web)["shop"] == "warning"


def test_up_from_every_location_is_up(make_web: Any) -> None:
    web = make_web(document(), tokens=True)
    fill(web, time.time())
    assert states(web)["shop"] == "up"


def test_a_paused_monitor_stays_paused(make_web: Any) -> None:
    paused = document()
    paused["monitors"][0]["paused"] = True
    web = make_web(paused, tokens=True)
    fill(web, time.time(), eu="x", us="x")
    assert states(web)["shop"] == "paused"


def test_the_monitor_page_s_pill_is_the_rules_verdict(make_web: Any) -> None:
    web = make_web(document())  # no tokens: the page opens without a login
    fill(web, time.time(), eu="x")
    page = web.client.get("/monitors/shop").get_data(as_text=True)
    assert re.search(r'"checkState":\s*"warning"', page), page
    assert not re.search(r'"checkState":\s*"down"', page)


def test_an_open_alert_stays_down_when_a_location_of_its_quorum_is_lost(make_web: Any) -> None:
    # eu and us down raised the alert (quorum 2 of 3); then us-1 went quiet, so us is lost
    # and counts neither way: the rules keep the alert open until enough locations are up
    # again (2 of 3), which local alone is not. The monitor is down, not a warning.
    web = make_web(document(), tokens=True)
    now = time.time()
    fill(web, now, quiet="us-1", eu="x", us="x")
    at = iso_utc(now - 30)
    web.store.put_alert(AlertRecord(at, "shop", "alert", at, None, 0.0, "shop is down"))
    assert web.store.flush(30)
    shop = get(web, "/monitors/shop")
    assert {loc["location"]: loc["state"] for loc in shop["locations"]}["us"] == "lost"
    assert states(web)["shop"] == "down"
