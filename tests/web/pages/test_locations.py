"""The views of a monitor checked from several locations, with real processes on loopback:
the real `monitoringApp.py -m --web` and two real agents (`monitoringApp.py agent`) in
locations eu and us, checking a site of a target that answers each location as the test
says (it reads the location from the agent's User-Agent; the server's own checks, `local`,
it always answers 200). Shown: the API (`GET /api/v1/monitors/{id}`, the list) and the
monitor page's HTML give each location's state as the alert rules judge it; in a real
Chromium, the monitor page's Locations table follows the target live and its checks say
each one's location, and the dashboard at a phone's 375 px shows a chip per location; an
agent killed: its location is `lost` after agentTimeout.

The processes run for the whole module; each test waits for what it needs (the state the
API gives), never for a duration."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_agents_locations import Target
from tests.support.app import Output, start, stop, wait_for
from tests.support.browser import Site, until

TOKENS = {"eu": "agent-token-eu-views-0123456789", "us": "agent-token-us-views-0123456789"}
AGENT_TIMEOUT = 10  # seconds: the last test waits for it once (a busy agent is not lost)
LONG = 60.0  # a bound for what takes a few seconds on an idle machine


@dataclass
class Views:
    site: Site
    target: Target
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.site.url.rstrip("/") + path, timeout=10) as answer:
            return json.loads(answer.read()) if path.startswith("/api/") else (
                answer.read().decode())

    def states(self) -> dict[str, str]:
        return {s["location"]: s["state"] for s in self.get("/api/v1/monitors/site")["locations"]}

    def dump(self) -> str:
        text = "\n== server" + self.site.output.dump()
        for location, output in self.outputs.items():
            text += f"\n== agent {location}" + output.dump()
        return text

    def become(self, wanted: dict[str, str]) -> dict[str, Any]:
        """Wait until the API gives these states; the monitor's body then."""
        wait_for(lambda: self.states() == wanted, LONG, f"the locations {wanted}", self.dump)
        return self.get("/api/v1/monitors/site")  # type: ignore[no-any-return]


@contextlib.contextmanager
def serving(folder: Path, target: Target, document: dict[str, Any]) -> Iterator[Views]:
    """The server of `document` and a real agent for each location of its agents (their
    tokens TOKENS'), once every location of `site` is up; all stopped at the end."""
    site = Site(folder, document)
    running = Views(site, target)
    try:
        for agent in document["agents"]:
            location = agent["location"]
            proc = start(["agent", "--server", site.url.rstrip("/"), "--location", location,
                          "-db", str(folder / f"agent-{location}.db")], folder,
                         env={"MONITOR_AGENT_TOKEN": TOKENS[location]})
            running.agents[location], running.outputs[location] = proc, Output(proc, True)
        site_monitor, = (m for m in document["monitors"] if m["id"] == "site")
        running.become(dict.fromkeys(site_monitor["locations"], "up"))
        yield running
    finally:
        for proc in running.agents.values():
            if proc.poll() is None:
                stop(proc, signal.SIGTERM, limit=15)
        site.stop()
        target.close()


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Views]:
    target = Target()
    document = {
        "monitors": [
            {"id": "site", "name": "shop", "URL": target.url,
             "locations": ["local", "eu", "us"], "checkInterval": 1, "timeout": 1},
            {"id": "solo", "name": "solo", "URL": target.url + "solo", "checkInterval": 2}],
        "agents": [{"name": f"{loc}-1", "token": token, "location": loc}
                   for loc, token in TOKENS.items()],
        "agentTimeout": AGENT_TIMEOUT, "alertWindow": 4,
    }
    with serving(tmp_path_factory.mktemp("views"), target, document) as running:
        yield running


def test_the_api_and_the_page_give_each_location_as_the_rules_judge_it(views: Views) -> None:
    views.target.down = frozenset({"eu"})
    body = views.become({"local": "up", "eu": "down", "us": "up"})
    eu = body["locations"][1]
    assert (eu["location"], eu["status"], eu["reason"]) == ("eu", 503, "http_status")
    assert eu["availability"] < 0.8 and eu["lastCheck"] is not None
    local = body["locations"][0]
    assert (local["status"], local["reason"], local["availability"]) == (200, None, 1.0)
    # The list: each item of several locations with them; ?locations=several, those only.
    listed = views.get("/api/v1/monitors")["monitors"]
    assert [(m["id"], "locations" in m) for m in listed] == [("site", True), ("solo", False)]
    assert [m["id"] for m in views.get("/api/v1/monitors?locations=several")["monitors"]] == [
        "site"]
    # The page as the server renders it, before any script.
    html = views.get("/monitors/site")
    table = html[html.index('<table id="locations">'):]
    table = table[:table.index("</table>")]
    assert 'data-location="eu"' in table and 'state-down">down<' in table
    assert table.count('state-up">up<') == 2
    assert "<th>Location</th>" in html  # the checks' column
    assert ("Down from 1 of 3 locations, fewer than the quorum (2): a warning."
            in html), html
    assert '<table id="locations">' not in views.get("/monitors/solo")
    views.target.down = frozenset()
    views.become({"local": "up", "eu": "up", "us": "up"})


def test_the_monitor_page_follows_each_location_live_and_its_checks_name_theirs(
        views: Views, page: Any) -> None:
    page.goto(views.site.url + "monitors/site")
    rows = page.locator("#locations tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#locations tbody th")).to_have_text(["local", "eu", "us"])
    # The checks' table names each check's location, from the first page on and live.
    expect(page.locator("#checks thead th").nth(2)).to_have_text("Location")
    until(page, "[...document.querySelectorAll('#checks tbody tr td:nth-child(3)')]"
                ".map((td) => td.textContent).filter((t) => ['local', 'eu', 'us'].includes(t))"
                ".length >= 6", timeout=LONG)
    shown = page.evaluate("document.querySelectorAll('#checks tbody tr').length")
    views.target.down = frozenset({"us"})
    us = page.locator('#locations tr[data-location="us"] .state')
    expect(us).to_have_text("down", timeout=LONG * 1000)
    expect(page.locator('#locations tr[data-location="eu"] .state')).to_have_text("up")
    expect(page.locator('#locations tr[data-location="us"] td').nth(4)).to_have_text("503")
    expect(page.locator("#locations-verdict")).to_have_text(
        "Down from 1 of 3 locations, fewer than the quorum (2): a warning.")
    # The monitor's own pill is that verdict, whichever location checked last: sampled
    # every 50 ms through 4 s of checks (a dozen, us's down among them), never "down".
    expect(page.locator("#state")).to_have_text("warning", timeout=LONG * 1000)
    seen = page.evaluate("""() => new Promise((done) => {
        const states = new Set();
        const pill = document.getElementById('state');
        const timer = setInterval(() => states.add(pill.textContent), 50);
        setTimeout(() => { clearInterval(timer); done([...states]); }, 4000); })""")
    assert seen == ["warning"], seen
    # us's failed checks arrived without a reload, each once, newest first.
    until(page, "[...document.querySelectorAll('#checks tbody tr')].some((tr) =>"
                " tr.cells[2].textContent === 'us' && tr.cells[1].textContent === 'down')",
          timeout=LONG)
    times = page.evaluate("[...document.querySelectorAll('#checks tbody tr')]"
                          ".map((tr) => [Number(tr.dataset.at), tr.cells[2].textContent])")
    assert len(times) > shown
    assert len({tuple(t) for t in times}) == len(times), "a check shown twice"
    assert [t[0] for t in times] == sorted((t[0] for t in times), reverse=True)
    views.target.down = frozenset()
    expect(us).to_have_text("up", timeout=LONG * 1000)


def test_the_dashboard_at_375_px_shows_a_chip_per_location(views: Views, page: Any) -> None:
    views.target.down = frozenset({"eu"})
    views.become({"local": "up", "eu": "down", "us": "up"})
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(views.site.url)
    chips = page.locator('tr.mon:has(a[href="/monitors/site"]) .loc')
    expect(chips).to_have_count(3, timeout=LONG * 1000)
    expect(chips).to_have_text(["local up", "eu down", "us up"])  # (the state for a reader)
    classes = chips.evaluate_all("(chips) => chips.map((c) => c.className)")
    assert classes == ["loc loc-up", "loc loc-down", "loc loc-up"]
    expect(page.locator('tr.mon:has(a[href="/monitors/solo"]) .loc')).to_have_count(0)
    # Readable at a phone's width: no page wider than the screen, every chip whole in its
    # cell, and the mark of the one down (not by colour alone).
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    boxes = chips.evaluate_all("(chips) => chips.map((c) => { const r ="
                               " c.getBoundingClientRect(); const cell ="
                               " c.closest('td').getBoundingClientRect(); return [r.left,"
                               " r.right, cell.left, cell.right, r.width]; })")
    assert all(cell_left <= left and right <= cell_right and width > 10
               for left, right, cell_left, cell_right, width in boxes), boxes
    assert chips.nth(1).evaluate("(c) => getComputedStyle(c, '::before').content").startswith(
        '"↓')
    # Live: us down too, without a reload.
    views.target.down = frozenset({"eu", "us"})
    expect(chips.nth(2)).to_have_class("loc loc-down", timeout=LONG * 1000)
    views.target.down = frozenset()
    views.become({"local": "up", "eu": "up", "us": "up"})


def test_an_agent_killed_makes_its_location_lost(views: Views) -> None:
    killed = views.agents["us"]
    killed.kill()
    killed.wait(10)
    started = time.monotonic()
    body = views.become({"local": "up", "eu": "up", "us": "lost"})
    print(f"us lost {time.monotonic() - started:.1f} s after the kill (agentTimeout"
          f" {AGENT_TIMEOUT} s)")
    us = body["locations"][2]
    # Its checks count neither way; its latest one is still known.
    assert us["availability"] is None and us["lastCheck"] is not None


def test_the_dashboard_asks_for_the_locations_of_the_rows_in_view_only(make_site: Any,
                                                                       page: Any) -> None:
    # 300 monitors of two agents' locations, none running: each location unknown (no check).
    site = make_site({
        "monitors": [{"id": f"m{i:03d}", "URL": f"http://127.0.0.1:9/{i}",
                      "locations": ["eu", "us"]} for i in range(300)],
        "agents": [{"name": f"{loc}-1", "token": token, "location": loc}
                   for loc, token in TOKENS.items()]})
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if "locations=several" in request.url else None)
    page.goto(site.url)
    first = page.locator('tr.mon:has(a[href="/monitors/m000"]) .loc')
    expect(first).to_have_text(["eu unknown", "us unknown"])
    assert len(asked) == 1 and 0 < asked[0].count("&id=") < 60, asked  # the rows in view
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    last = page.locator('tr.mon:has(a[href="/monitors/m299"]) .loc')
    expect(last).to_have_count(2)
    assert len(asked) == 2 and "id=m299" in asked[1] and "id=m000" not in asked[1], asked


def test_a_monitor_of_several_locations_out_of_view_is_read_when_its_checks_come(
        make_site: Any, page: Any) -> None:
    # 80 monitors down, checked every 5 s, fill the view; zz, of two locations (its
    # own down, eu's agent not running), is a warning below them, checked every second.
    down = [{"id": f"a{i:03d}", "type": "tcp", "host": "127.0.0.1", "port": 9,
             "checkInterval": 5} for i in range(80)]
    site = make_site({
        "monitors": [*down, {"id": "zz", "type": "tcp", "host": "127.0.0.1", "port": 9,
                             "checkInterval": 1, "locations": ["local", "eu"]}],
        "agents": [{"name": "eu-1", "token": TOKENS["eu"], "location": "eu"}]})

    def states() -> dict[str, int]:
        with urllib.request.urlopen(f"{site.url}api/v1/monitors?limit=100") as answer:
            found: dict[str, int] = {}
            for item in json.load(answer)["monitors"]:
                found[item["state"]] = found.get(item["state"], 0) + 1
            return found

    wait_for(lambda: states() == {"down": 80, "warning": 1}, LONG, "the first checks")
    # Its checks come: it is asked about, in view or not (a monitor going down would
    # rise into view only so).
    with page.expect_request(lambda request: "locations=several" in request.url
                             and "id=zz" in request.url, timeout=LONG * 1000):
        page.goto(site.url)
    zz = page.locator('tr.mon:has(a[href="/monitors/zz"])')
    expect(zz).to_have_count(0)  # not drawn: out of view all along
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(zz.locator(".state")).to_have_text("warning")
