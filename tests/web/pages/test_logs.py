"""The access-logs page in a real browser against the real `-m --web`: a real access log
that the test writes lines into, followed by the `log` monitor; the page's top sections,
clients and status classes equal to what the test counts from its lines, and new lines
shown without a reload; the select between logs, a phone's width, and the page with no
log monitor."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.support.access_logs import combined

# (section path, client, status) of each request of the two batches the test writes.
FIRST = ([("/api/user/1", "10.0.0.1", 200)] * 9 + [("/api/order", "10.0.0.2", 201)] * 4
         + [("/img/logo.png", "10.0.0.3", 304)] * 5 + [("/", "10.0.0.2", 404)] * 3
         + [("/login", "10.0.0.4", 500)] * 2)
SECOND = [("/img/a.png", "10.0.0.9", 200)] * 14 + [("/login", "10.0.0.9", 503)] * 3
WAIT = 45_000  # ms: a period is recorded once the log has been quiet 10 s (log time)


def write(log: Path, requests: list[tuple[str, str, int]]) -> None:
    now = time.time()
    with open(log, "a", encoding="utf-8") as file:
        for i, (path, client, status) in enumerate(requests):
            file.write(combined(now - 1 + i / 100, client, path, status) + "\n")


def table(page: Any, name: str) -> dict[str, int]:
    rows = page.locator(f"#{name} tbody tr[data-name]")
    return {row.get_attribute("data-name"): int(row.locator("td").nth(1).inner_text()
                                                 .replace(",", ""))
            for row in rows.all()}


def expected(requests: list[tuple[str, str, int]]) -> tuple[dict, dict, dict]:
    sections = Counter("/" + path.split("/")[1] for path, _, _ in requests)
    clients = Counter(client for _, client, _ in requests)
    classes = Counter(f"{status // 100}xx" for _, _, status in requests)
    return (dict(sections), dict(clients),
            {name: classes.get(name, 0) for name in ("2xx", "3xx", "4xx", "5xx")})


def shows(page: Any, requests: list[tuple[str, str, int]]) -> None:
    sections, clients, classes = expected(requests)
    expect(page.locator("#rate-chart")).to_have_attribute("data-hits", str(len(requests)),
                                                          timeout=WAIT)
    assert table(page, "sections") == sections
    assert table(page, "clients") == clients
    assert table(page, "statuses") == classes


def test_top_sections_clients_and_statuses_live(page: Any, make_site: Any,
                                                tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    (tmp_path / "quiet.log").write_text("")
    site = make_site({"websites": [
        {"type": "log", "name": "web", "path": "access.log", "maxRate": 4},
        {"type": "log", "name": "quiet", "path": "quiet.log"}]})
    page.goto(f"{site.url}logs")
    expect(page.locator("#log-title")).to_have_text("web")
    expect(page.locator("#sections tbody")).to_contain_text("No request in this window.")
    page.evaluate("window.notReloaded = true")
    write(log, FIRST)
    shows(page, FIRST)
    # Sections sorted by hits, the section of /api/user/1 being /api.
    assert page.locator("#sections tbody tr").first.get_attribute("data-name") == "/api"
    write(log, SECOND)
    shows(page, FIRST + SECOND)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#alert-line")).to_have_text("No alert open")
    # Another window, in place and in the URL; the same requests.
    page.get_by_role("link", name="1 h").click()
    expect(page).to_have_url(re.compile(r"/logs/log:[^?]*access\.log\?window=1h$"))
    expect(page.locator("#rate-chart")).to_have_attribute("data-hits",
                                                          str(len(FIRST + SECOND)))
    # The other log, picked with the select; at a phone's width.
    page.set_viewport_size({"width": 375, "height": 740})
    page.select_option("#monitor", label="quiet")
    expect(page.locator("#log-title")).to_have_text("quiet")
    expect(page).to_have_url(re.compile(r"/logs/log:[^?]*quiet\.log\?window=1h$"))
    expect(page.locator("#clients tbody")).to_contain_text("No request in this window.")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_no_log_monitor(page: Any, make_site: Any) -> None:
    site = make_site({"websites": [{"type": "push", "name": "backup", "checkInterval": 86400,
                                    "token": "t" * 20}]})
    page.goto(f"{site.url}logs")
    expect(page.get_by_role("heading", name="No access log is monitored")).to_be_visible()
    expect(page.get_by_role("link", name="Add a log monitor")).to_have_attribute(
        "href", "/monitors/new?kind=log")
    answer = page.goto(f"{site.url}logs/nothing")
    assert answer is not None and answer.status == 404
    page.console.allow("status of 404")


def test_routes_of_the_page(make_web: Any, tmp_path: Path) -> None:
    (tmp_path / "access.log").write_text("")
    web = make_web({"websites": [
        {"type": "log", "name": "web", "path": "access.log"},
        {"type": "push", "name": "backup", "checkInterval": 86400, "token": "t" * 20}]})
    log_id, push_id = (m.id for m in web.context.config.monitors)
    answer = web.client.get("/logs")
    assert answer.status_code == 200 and b'id="log-title">web<' in answer.data
    # The select's form without the script: to the log's own page, the window kept.
    answer = web.client.get(f"/logs?monitor={log_id}&window=24h")
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/logs/{log_id}?window=24h"
    assert b'aria-current="true">24 h<' in web.client.get(answer.headers["Location"]).data
    answer = web.client.get(f"/logs/{push_id}")
    assert answer.status_code == 404 and b"no access-log monitor" in answer.data
