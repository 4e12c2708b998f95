"""The dashboard (`/`): through Flask's test client, its data (GET /api/v1/dashboard) are
the stats' figures for the same windows, each monitor's state and last failure (masked);
then in a real Chromium against the real `-m --web` monitoring loopback HTTP servers: the
rows worst first, only those in view in the document, search and grouping; a site that
starts answering 500 turns red within 2 s of its check, without a reload; the login; a
phone's width; the keyboard."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest
from playwright.sync_api import expect

from monitor.core.model import CheckResult
from monitor.stats import window_start, window_stats
from monitor.store.sqlite.queries import open_reader
from monitor.web.api.dashboard import STATES, WINDOWS
from monitor.web.pages import monitor_url
from tests.support.app import wait_for
from tests.support.browser import READ_TOKEN, Site, log_in
from tests.support.pages import PageServer
from tests.support.web import TOKENS
from tests.web.pages import test_monitor_page

SECRET = "pw-Dash81secret"
NOW = 1_796_000_000.0 + 1234.5  # a fixed "now" for the app's clock


def _read(client: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/dashboard")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.json  # type: ignore[no-any-return]


# -- through the test client ---------------------------------------------------------------

def test_the_figures_are_the_stats_and_the_states_the_api_s(make_web: Any) -> None:
    shop, api, idle = ("https://shop.example/", f"https://u:{SECRET}@api.example/x",
                       "https://idle.example/")
    web = make_web({"monitors": [
        {"URL": shop, "name": "Shop", "tags": ["web"], "checkInterval": 600},
        {"URL": api, "name": "</script><b>API</b>", "tags": ["web", "backend"],
         "checkInterval": 600},
        {"URL": idle, "paused": True},
        {"type": "tcp", "host": "db.example", "port": 5432, "tags": ["db"]}]})
    web.context.clock = lambda: NOW
    api_id = next(m.id for m in web.context.config.monitors if m.name.startswith("</"))
    web.store.set_monitors(web.context.config.monitors)
    # Ten days of a check every 10 minutes; the API down one check in 7, the last two too.
    ts = NOW - 10 * 86400
    n = 0
    while ts < NOW - 1:
        n += 1
        web.store.put_check(CheckResult(shop, ts, True, 200, 80.0 + n % 7))
        down = n % 7 == 0 or ts > NOW - 1300
        web.store.put_check(CheckResult(
            api_id, ts + 3, not down, 503 if down else 200, 120.0,
            "http_status" if down else None, f"HTTP 503 from u:{SECRET}@" if down else ""))
        ts += 600
    assert web.store.flush()
    data = _read(web.client)
    assert data["id"] == [m.id for m in web.context.config.monitors]
    assert data["name"][1] == "</script><b>API</b>"
    assert data["windowNames"] == [name for name, _s in WINDOWS]
    reader = open_reader(web.db_path)
    try:
        for w, (_name, seconds) in enumerate(WINDOWS):
            stats = window_stats(reader, window_start(NOW, seconds), NOW)
            for i, monitor_id in enumerate(data["id"]):
                checks, up = data["windows"][i][2 * w:2 * w + 2]
                one = stats.get(monitor_id)
                assert checks == (one.checks if one else 0), (monitor_id, seconds)
                if checks:
                    assert up / checks == pytest.approx(one.availability, abs=1e-12)
    finally:
        reader.close()
    assert data["windows"][0][0] > 0 and data["windows"][2] == [0] * 6
    states = [STATES[s] for s in data["state"]]
    assert states == ["up", "down", "paused", "unknown"]
    assert data["response"][:2] == [80.0 + n % 7, 120.0]
    assert data["failure"][0] is None and data["failAge"][0] is None
    assert data["failure"][1] == "http_status: HTTP 503 from u:***@"
    assert SECRET not in json.dumps(data)
    assert 0 < data["failAge"][1] < 700
    # The shop's sparkline: its checks of its last 20 intervals, each its own minute.
    values = [float(v) for v in data["spark"][0].split(",")]
    assert 18 <= len(values) <= 20 and all(80 <= v <= 86 for v in values)
    last = NOW - 10 * 86400 + 600 * (n - 1)
    assert data["sparkAge"][0] == (NOW // 60 - last // 60) and data["sparkCount"][0] == 1
    assert data["kinds"] == ["http", "tcp"]
    assert [[data["tagNames"][t] for t in tags] for tags in data["tags"]] == [
        ["web"], ["web", "backend"], [], ["db"]]
    assert data["target"][0] is None and data["target"][3] == "db.example:5432"
    # The page is a shell that asks for them: its own HTML names no monitor.
    page = web.client.get("/").get_data(as_text=True)
    assert 'rel="preload" href="/api/v1/dashboard"' in page and "<b>API" not in page
    assert 'href="/monitors/new"' in page


def test_with_tokens_the_dashboard_asks_for_a_login(make_web: Any) -> None:
    web = make_web(tokens=True)
    answer = web.client.get("/?group=tag")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/")
    page = web.client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore
    read = next(t["token"] for t in TOKENS if t["scope"] == "read")
    assert web.client.post("/login", data={"token": read, "csrf": csrf}).status_code == 302
    page = web.client.get("/").get_data(as_text=True)
    assert "/api/v1/dashboard" in page and 'href="/monitors/new"' not in page  # read scope
    assert web.client.get("/api/v1/dashboard").status_code == 200  # the session reads it


# -- in the browser --------------------------------------------------------------------------

server = test_monitor_page.server  # a loopback page server: /up answers 200, /down 500


def _until(page: Any, expression: str, timeout: float = 10.0) -> Any:
    """Poll a JavaScript expression (wait_for_function evaluates through eval, which the
    Content-Security-Policy refuses)."""
    return wait_for(lambda: page.evaluate(expression), timeout=timeout, what=expression)


def _states(site: Site, wanted: dict[str, str]) -> None:
    """Wait until each monitor's latest stored check says its state."""
    def settled() -> bool:
        with sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True) as conn:
            rows = dict(conn.execute("SELECT monitor, last_available FROM monitor_state"))
        return all(rows.get(m) == (1 if s == "up" else 0) for m, s in wanted.items())
    wait_for(settled, timeout=15, what=f"states {wanted}")


def _open(page: Any, site: Site, query: str = "") -> None:
    page.goto(f"{site.url}{query}")
    _until(page, "document.documentElement.dataset.dashboard === 'ready'")


def _listed(page: Any) -> list[str]:
    """The rows in the document, in order: "state name", or a group's header."""
    return page.evaluate("""[...document.querySelectorAll('#rows tr:not(.pad)')].map(tr =>
        tr.classList.contains('group') ? 'group ' + tr.textContent
        : tr.querySelector('.state').textContent + ' ' + tr.querySelector('a').textContent)""")


def test_rows_worst_first_in_view_only_searched_and_grouped(make_site: Any, page: Any,
                                                             server: PageServer) -> None:
    up, down = server.url("/up"), server.url("/down")
    port = server.server_address[1]
    bulk = [{"URL": server.url(f"/bulk{i}"), "name": f"bulk n{i:03}", "paused": True,
             "tags": ["bulk"]} for i in range(150)]
    site: Site = make_site({"monitors": [
        {"URL": up, "name": "shop", "checkInterval": 1, "tags": ["web"]},
        {"URL": down, "name": "api", "checkInterval": 1, "tags": ["web", "backend"]},
        {"type": "tcp", "host": "127.0.0.1", "port": port, "name": "tcp", "checkInterval": 1},
        {"URL": server.url("/old"), "name": "old", "paused": True}, *bulk]})
    _states(site, {up: "up", down: "down", f"tcp:127.0.0.1:{port}": "up"})
    _open(page, site)
    summary = page.inner_text("#summary")
    assert re.sub(r"\s+", " ", summary) == "154 monitors 1 down 151 paused 2 up"
    # Worst first, then by name; only the rows in view (and a few more) are in the page.
    listed = _listed(page)
    assert listed[:3] == ["down api", "paused bulk n000", "paused bulk n001"]
    assert 10 < len(listed) < 80
    assert page.get_attribute("#monitors", "aria-rowcount") == "155"
    assert page.get_attribute("#rows tr.mon a", "href") == monitor_url(down)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    _until(page, "document.querySelector('#rows tr:nth-last-child(2)')"
                 "?.getAttribute('aria-rowindex') === '155'")
    listed = _listed(page)
    assert listed[-3:] == ["paused old", "up shop", "up tcp"] and len(listed) < 80
    # Search: name, id, target or tag, every word.
    for words, expected in (("BULK N007", ["paused bulk n007"]), ("backend", ["down api"]),
                            ("/old", ["paused old"]), ("web sh", ["up shop"]),
                            (f"127.0.0.1:{port} tcp", ["up tcp"]), ("nothing-like-it", [])):
        page.fill("#search", words)
        wait_for(lambda wanted=expected: _listed(page) == wanted, what=f"{expected!r} found")
    expect(page.locator("#empty")).to_be_visible()
    assert "q=nothing-like-it" in page.url
    page.fill("#search", "")
    # Grouped by tag: the groups worst first, untagged last; a monitor under each tag.
    page.select_option("#group", "tag")
    page.evaluate("window.scrollTo(0, 0)")
    _until(page, "document.querySelector('#rows tr.group') !== null")
    listed = _listed(page)
    assert listed[:6] == ["group backend · 1 monitor · 1 down", "down api",
                          "group web · 2 monitors · 1 down", "down api", "up shop",
                          "group bulk · 150 monitors"]
    page.select_option("#group", "state")
    _until(page, "document.querySelector('#rows tr.group').textContent.startsWith('down')")
    assert _listed(page)[:3] == ["group down · 1 monitor · 1 down", "down api",
                                 "group paused · 151 monitors"]
    assert "group=state" in page.url
    page.reload()  # the search and grouping are in the address
    _until(page, "document.documentElement.dataset.dashboard === 'ready'")
    assert page.input_value("#group") == "state"


def test_a_site_that_fails_turns_red_within_2_s_of_its_check(make_site: Any, page: Any,
                                                             server: PageServer) -> None:
    url = server.set("/flip", "ok")
    other = server.url("/up")
    site: Site = make_site({"monitors": [
        {"URL": url, "name": "flip", "checkInterval": 0.5},
        {"URL": other, "name": "steady", "checkInterval": 0.5}]})
    _states(site, {url: "up", other: "up"})
    _open(page, site)
    _until(page, "document.getElementById('live').textContent === 'live'")
    assert _listed(page) == ["up flip", "up steady"]
    page.evaluate("""() => {
        window.redAt = null;
        const seen = () => {
            const row = [...document.querySelectorAll('#rows tr.mon')].find(
                tr => tr.querySelector('a').textContent === 'flip');
            if (window.redAt === null && row && row.classList.contains('s-down')
                && getComputedStyle(row).backgroundColor !== 'rgba(0, 0, 0, 0)') {
                window.redAt = Date.now();
            }
        };
        new MutationObserver(seen).observe(document.getElementById('rows'),
            {subtree: true, childList: true, attributes: true});
    }""")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    server.set("/flip", "broken", status=500)
    red_at = _until(page, "window.redAt", timeout=10) / 1000
    with sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True) as conn:
        checked_at = conn.execute("SELECT min(timestamp) FROM website_monitoring WHERE"
                                  " monitor = ? AND available = 0", (url,)).fetchone()[0]
    assert checked_at is not None
    assert 0 < red_at - checked_at < 2.0, f"red {red_at - checked_at:.2f} s after its check"
    assert navigations == []  # no reload
    assert _listed(page)[0] == "down flip"  # worst first, moved up
    expect(page.locator("#summary")).to_contain_text("1 down")
    assert "http_status" in page.locator("#rows tr.mon").first.inner_text()


def test_with_tokens_the_dashboard_shows_after_a_login(make_site: Any, page: Any,
                                                        server: PageServer) -> None:
    odd = server.url("/a(b)!*'~x@y%20z;q=1")  # escaped in its link as monitor_url() does
    site: Site = make_site({"monitors": [
        {"URL": server.url("/up"), "name": "shop"},
        {"URL": odd, "name": "odd", "paused": True},
        {"URL": server.url("/10"), "name": "site 10", "paused": True},
        {"URL": server.url("/9"), "name": "Site 9", "paused": True}]}, tokens=True)
    page.goto(site.url)
    assert re.search(r"/login\?next=/$", page.url)
    log_in(page, site, READ_TOKEN)
    _until(page, "document.documentElement.dataset.dashboard === 'ready'")
    assert page.url == site.url
    expect(page.locator("#rows tr.mon a").first).to_have_text("odd")
    assert page.get_attribute("#rows tr.mon a", "href") == monitor_url(odd)
    expect(page.locator("#rows tr.mon a").last).to_have_text("shop")
    # Names in their natural order, whatever their case.
    assert [row.split(" ", 1)[1] for row in _listed(page)] == ["odd", "Site 9", "site 10",
                                                                "shop"]
    assert page.locator("a[href='/monitors/new']").count() == 0
    _until(page, "document.getElementById('live').textContent === 'live'")


def test_a_phone_s_width_and_the_keyboard(make_site: Any, page: Any,
                                          server: PageServer) -> None:
    site: Site = make_site({"monitors": [
        {"URL": server.url("/up"), "name": "a shop with a rather long name indeed"},
        {"URL": server.url("/down"), "name": "api"}]})
    _states(site, {server.url("/down"): "down"})
    page.set_viewport_size({"width": 375, "height": 700})
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    _open(page, site)
    # The data asked for once: the script's fetch is the head's preload.
    assert [url for url in asked if "/api/v1/dashboard" in url] == [
        f"{site.url}api/v1/dashboard"]
    assert len([url for url in asked if "lib.js" in url]) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for row in page.locator("#rows tr.mon").all():
        for part in (".state", "a"):
            box = row.locator(part).bounding_box()
            assert box and box["width"] > 20 and box["x"] + box["width"] <= 375, part
    expect(page.locator("#rows tr.mon .state").first).to_have_text("down")
    assert page.locator("th.c-fail").is_hidden()
    # The keyboard: from the search box, Tab reaches each row's link in turn.
    page.focus("#search")
    hrefs = []
    for _ in range(8):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.closest('#rows') &&"
                             " document.activeElement.getAttribute('href')")
        if href:
            hrefs.append(href)
    assert hrefs == [monitor_url(server.url("/down")), monitor_url(server.url("/up"))]
    # Focus is shown (the theme's outline), and Enter follows the link.
    page.focus("#search")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.partition("?")[0].endswith(monitor_url(server.url("/down")))


def test_a_watched_monitor_shows_its_value_not_a_response_time(make_site: Any, page: Any,
                                                                ) -> None:
    # A metric monitor's figure is the value it judges, live; its check takes no time.
    site: Site = make_site({"monitors": [
        {"type": "metric", "series": "app.queue.depth", "name": "queue", "window": 60, "max": 1e9,
         "checkInterval": 1}]})
    push = page.request.post(f"{site.url}api/v1/metrics",
                             data=json.dumps({"app.queue.depth": 42.5}),
                             headers={"Content-Type": "application/json"})
    assert push.status in (200, 202, 204), push.text()
    wait_for(lambda: _value(site) == 42.5, timeout=15, what="the value 42.5 checked")
    _open(page, site)
    cell = page.locator("#rows tr.mon td.c-rt")
    expect(cell).to_have_text("42.5")
    assert page.locator("#rows tr.mon td.c-rt svg").count() == 0  # no response sparkline
    page.request.post(f"{site.url}api/v1/metrics", data=json.dumps({"app.queue.depth": 1e6}),
                      headers={"Content-Type": "application/json"})
    # Live: the window's sum (the default function) moves with the next checks.
    _until(page, "document.querySelector('#rows tr.mon td.c-rt').textContent"
                 " !== '42.5'")
    assert page.locator("#rows tr.mon td.c-rt").inner_text().replace(",", "").isdigit()


def _value(site: Site) -> float | None:
    with sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT last_metrics FROM monitor_state").fetchone()
    return None if row is None or row[0] is None else json.loads(row[0]).get("value")
