"""The dashboard's pill of a monitor checked from several locations is the alert rules'
verdict on them, not its latest check's: with the real `monitoringApp.py -m --web` and a real
agent in eu checking a target that answers eu 503 and the server's own checks (`local`) 200,
the monitor is down from one of its two locations: a warning (the quorum is both), and its
pill stays "warning" in a real Chromium while the checks of both locations come, each
second; the counts by state say so. eu up again: the pill follows, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_agents_locations import Target
from tests.web.pages.test_locations import LONG, TOKENS, Views, serving

WATCHED = 5000  # ms the pill is watched at least, while the checks come
CHECKS = 12  # and checks of the page at least: several of each location


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Views]:
    folder: Path = tmp_path_factory.mktemp("state")
    target = Target()
    document = {
        "monitors": [
            {"id": "site", "name": "shop", "URL": target.url, "locations": ["local", "eu"],
             "checkInterval": 1, "timeout": 1},
            {"id": "solo", "name": "solo", "URL": target.url + "solo", "checkInterval": 1}],
        "agents": [{"name": "eu-1", "token": TOKENS["eu"], "location": "eu"}],
        "alertWindow": 4,
    }
    with serving(folder, target, document) as running:
        yield running


def test_down_from_one_of_two_locations_the_pill_says_warning_and_stays(
        views: Views, page: Any) -> None:
    views.target.down = frozenset({"eu"})
    body = views.become({"local": "up", "eu": "down"})
    assert body["state"] == "warning"
    page.goto(views.site.url)
    pill = page.locator('tr.mon:has(a[href="/monitors/site"]) .state .word')
    expect(pill).to_have_text("warning", timeout=LONG * 1000)
    expect(page.locator('tr.mon:has(a[href="/monitors/solo"]) .state .word')).to_have_text(
        "up")
    # Every state the pill and the summary take while the checks of both locations come.
    # Watched for WATCHED ms and until CHECKS checks came (bounded by LONG): no duration
    # is asserted, only what the pill said meanwhile.
    seen = page.evaluate("""([ms, wanted, bound]) => new Promise((done) => {
      const pills = new Set(), counts = new Set();
      const before = window.dashboardStats.checks, started = Date.now();
      const timer = setInterval(() => {
        pills.add(document.querySelector('tr.mon:has(a[href="/monitors/site"]) .state .word')
          ?.textContent);
        counts.add([...document.querySelectorAll('#summary .state')]
          .map((p) => `${p.dataset.state}=${p.querySelector('.count').textContent}`).join());
        const checks = window.dashboardStats.checks - before, spent = Date.now() - started;
        if ((spent >= ms && checks >= wanted) || spent >= bound) {
          clearInterval(timer);
          done({ pills: [...pills], counts: [...counts], checks });
        }
      }, 25);
    })""", [WATCHED, CHECKS, LONG * 1000])
    assert seen["checks"] >= CHECKS, seen  # the checks of both locations came meanwhile
    assert seen["pills"] == ["warning"], seen
    assert seen["counts"] == ["warning=1,up=1"], seen
    # eu up again: the pill follows the locations' reads, no reload.
    views.target.down = frozenset()
    views.become({"local": "up", "eu": "up"})
    expect(pill).to_have_text("up", timeout=LONG * 1000)
    expect(page.locator("#summary .state")).to_have_text(["2 up"])
