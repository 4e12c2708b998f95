"""A monitor's page (`/monitors/<id>`) in a real Chromium against the real `-m --web`
monitoring loopback HTTP servers: its charts hold every stored check, its ranges change the
data, live checks arrive without a reload, and its actions (check now, pause, resume,
maintenance, acknowledge) act through the API; then what a login may see. A few cases
through Flask's test client first (404, masked secrets)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import expect

from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from monitor.web.pages import monitor_url
from tests.support.app import wait_for
from tests.support.browser import READ_TOKEN, Site, log_in, until
from tests.support.pages import PageServer

FAST = 0.3  # seconds between checks: a few dozen stored within a test


@pytest.fixture()
def server() -> Iterator[PageServer]:
    with PageServer() as pages:
        pages.set("/up", "ok")
        pages.set("/down", "broken", status=500)
        yield pages


def _checks(site: Site, monitor_id: str, until: float | None = None) -> int:
    with sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True) as conn:
        query = "SELECT count(*) FROM website_monitoring WHERE monitor = ?"
        args: tuple[Any, ...] = (monitor_id,)
        if until is not None:
            query += " AND timestamp <= ?"
            args += (until,)
        return int(conn.execute(query, args).fetchone()[0])


def _open(page: Any, site: Site, monitor_id: str, query: str = "") -> None:
    page.goto(site.url.rstrip("/") + monitor_url(monitor_id) + query)
    until(page, "window.monitorCharts?.response !== undefined")


def _drawn(page: Any, range_: str) -> None:
    expect(page.locator("#chart-response")).to_have_attribute("data-drawn", range_)


# -- through the test client ---------------------------------------------------------------

def test_an_unknown_monitor_is_a_404_page(make_web: Any) -> None:
    answer = make_web().client.get("/monitors/no-such-monitor")
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "no monitor of the config has the id" in answer.get_data(as_text=True)


def test_the_page_masks_the_monitors_secrets(make_web: Any) -> None:
    url = "http://user:s3cret-pass@127.0.0.1:9/"
    web = make_web({"monitors": [{"id": "shop", "URL": url}]})
    answer = web.client.get("/monitors/shop")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "s3cret-pass" not in text and "***" in text


def test_a_plugged_monitor_shows_no_entry_and_no_edit_link(make_web: Any) -> None:
    web = make_web({"monitors": [{"id": "site", "URL": "https://127.0.0.1:9/",
                                  "plugins": ["tls"]}]})
    ids = [m.id for m in web.context.config.monitors]
    plugged = next(i for i in ids if i != "site")
    text = web.client.get(monitor_url(plugged)).get_data(as_text=True)
    assert "Made by its site" in text and "/edit" not in text


# -- in the browser ------------------------------------------------------------------------

def test_charts_hold_every_stored_check_and_update_live(make_site: Any, page: Any,
                                                        server: PageServer) -> None:
    url = server.url("/up")  # the id of an http monitor is its URL: slashes and a colon
    site: Site = make_site({"monitors": [{"URL": url, "checkInterval": FAST}]})
    wait_for(lambda: _checks(site, url) >= 5, what="5 checks stored")
    _open(page, site, url, "?range=1h")
    _drawn(page, "1h")
    expect(page.locator("h1")).to_have_text(url)
    expect(page.locator("#state")).to_have_text("up")
    # Every check stored up to the chart's last point is a point of it: what uPlot holds.
    # (Its last points may have come live already: events give times to the ms.)
    xs = page.evaluate("window.monitorCharts.response.data[0]")
    assert len(xs) >= 5 and xs == sorted(xs)
    assert len(xs) == _checks(site, url, until=xs[-1] + 0.001)
    phases = page.evaluate("window.monitorCharts.plots.phases.data.length")
    assert phases == 1 + 3  # time, then dns, connect, ttfb (no tls over http)
    # Live: new checks come from the event stream, onto the chart and into the table.
    rows = page.locator("#checks tbody tr").count()
    until(page, f"window.monitorCharts.response.data[0].length >= {len(xs) + 3}")
    assert page.locator("#checks tbody tr").count() > rows
    xs = page.evaluate("window.monitorCharts.response.data[0]")
    assert len(xs) == _checks(site, url, until=xs[-1] + 0.001)  # events: times to the ms
    # Another range: the trend's buckets, a point a bucket (7 days by the hour).
    page.click("[data-range='7d']")
    _drawn(page, "7d")
    assert page.get_attribute("[data-range='7d']", "aria-pressed") == "true"
    assert "range=7d" in page.url
    trend = page.evaluate("window.monitorCharts.response.data")
    assert len(trend) == 5 and 7 * 24 <= len(trend[0]) <= 7 * 24 + 1
    assert trend[0][1] - trend[0][0] == 3600
    assert sum(v is not None for v in trend[1]) >= 1  # this hour's bucket
    # Dragged across: both charts zoom in, with finer buckets read for the window; a
    # double-click comes back to the range.
    box = page.locator("#chart-response .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + 20, steps=5)
    page.mouse.up()
    _drawn(page, "zoom")
    low, high, step = page.evaluate("[window.monitorCharts.response.scales.x.min,"
                                    " window.monitorCharts.response.scales.x.max,"
                                    " window.monitorCharts.data.step]")
    assert high - low < 7 * 86400 * 0.25 and step < 3600
    assert page.evaluate("window.monitorCharts.plots.phases.scales.x.max") == high
    page.dblclick("#chart-response .u-over")
    _drawn(page, "7d")
    assert page.evaluate("window.monitorCharts.data.step") == 3600
    # The availability strip, the checks' table, the config entry.
    assert page.locator("#strip span").count() == 90
    assert page.locator("#checks tbody tr").first.locator(".state").inner_text() == "up"
    assert f'"URL": "{url}"' in page.inner_text("#config")


def _row_times(page: Any) -> list[int]:
    """The checks table's times, top to bottom, in milliseconds (each row's title)."""
    return page.evaluate("[...document.querySelectorAll('#checks tbody tr td:first-child')]"
                         ".map((cell) => Date.parse(cell.title))")


def test_live_checks_that_come_before_the_table_s_first_read_are_shown_once(
        make_site: Any, page: Any, server: PageServer) -> None:
    url = server.url("/up")
    site: Site = make_site({"monitors": [{"URL": url, "checkInterval": FAST}]})
    wait_for(lambda: _checks(site, url) >= 3, what="3 checks stored")
    # The table's first read (not the chart's: it asks `since`) held until live checks
    # have come.
    held: list[Any] = []
    released = False

    def hold(route: Any) -> None:
        if released or "since=" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/monitors/**/checks*", hold)
    _open(page, site, url, "?range=1h")
    _drawn(page, "1h")
    wait_for(lambda: page.evaluate("1") and held, what="the table's read")
    points = page.evaluate("window.monitorCharts.response.data[0].length")
    until(page, f"window.monitorCharts.response.data[0].length >= {points + 3}")
    released = True
    for route in held:
        route.continue_()
    stored = _checks(site, url)
    until(page, f"document.querySelectorAll('#checks tbody tr').length >= {stored + 2}")
    times = _row_times(page)
    # Newest first, each check once (a live one's time is rounded to the ms).
    assert all(newer - older > 1 for newer, older in pairwise(times)), times


def test_the_page_fits_a_phone(make_site: Any, page: Any, server: PageServer) -> None:
    url = server.url("/up")
    site: Site = make_site({"monitors": [{"URL": url, "checkInterval": FAST}]})
    page.set_viewport_size({"width": 375, "height": 800})
    _open(page, site, url)
    _drawn(page, "24h")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    width = page.evaluate("window.monitorCharts.response.width")
    assert 250 <= width <= 375
    page.set_viewport_size({"width": 1000, "height": 800})
    until(page, "window.monitorCharts.response.width > 600")  # resized with it
    # Drawn again in the theme's colours when the system's preference changes.
    line = "window.monitorCharts.response.series[1].stroke(window.monitorCharts.response, 1)"
    light = page.evaluate(line)
    page.emulate_media(color_scheme="dark")
    until(page, f"{line} !== {light!r}")
    assert page.evaluate(line) == page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--chart-1').trim()")


def test_an_unknown_monitor_in_the_browser(make_site: Any, page: Any,
                                           server: PageServer) -> None:
    site: Site = make_site({"monitors": [{"URL": server.url("/up")}]})
    page.console.allow("status of 404")
    answer = page.goto(f"{site.url}monitors/http://127.0.0.1:1/nothing")
    assert answer.status == 404
    assert "no monitor of the config has the id" in page.inner_text("main")


def test_check_now_pause_resume_and_maintenance(make_site: Any, page: Any,
                                                server: PageServer) -> None:
    url = server.url("/up")
    site: Site = make_site({"monitors": [{"id": "home", "URL": url, "checkInterval": 1}]})
    _open(page, site, "home")
    page.click("#check-now")
    expect(page.locator("#check-result")).to_be_visible()
    assert "200" in page.inner_text("#check-trace")
    assert page.inner_text("#check-verdict").strip()
    page.click("#pause")
    expect(page.locator("#state")).to_have_text("paused")
    expect(page.locator("#pause")).to_have_text("Resume")
    assert site.document()["monitors"][0]["paused"] is True
    assert '"paused": true' in page.inner_text("#config")
    page.click("#pause")
    expect(page.locator("#state")).not_to_have_text("paused")
    expect(page.locator("#pause")).to_have_text("Pause")
    assert "paused" not in site.document()["monitors"][0]
    page.select_option("#maintenance-for", "1h")
    page.click("#maintenance-on")
    expect(page.locator("#state")).to_have_text("maintenance")
    expect(page.locator("#maintenance-line")).to_contain_text("In maintenance since")
    expect(page.locator("#maintenance-off")).to_be_visible()
    # The running monitor marks its checks so, live; and after a reload too.
    until(page, "[...document.querySelectorAll('#checks tbody td')]"
                 ".some(td => td.textContent === 'maintenance')")
    page.reload()
    expect(page.locator("#state")).to_have_text("maintenance")
    page.click("#maintenance-off")
    expect(page.locator("#maintenance-on")).to_be_visible()
    expect(page.locator("#maintenance-error")).to_have_text("")


def test_an_error_of_the_api_is_shown_beside_its_button(make_site: Any, page: Any,
                                                        server: PageServer) -> None:
    site: Site = make_site({"monitors": [{"id": "home", "URL": server.url("/up")}]})
    _open(page, site, "home")
    # The monitor is removed from the file behind the page's back: the pause is refused.
    document = site.document()
    document["monitors"].append({"id": "other", "URL": server.url("/down")})
    document["monitors"].pop(0)
    site.config_path.write_text(__import__("json").dumps(document))
    page.console.allow("status of 412")  # the file changed: read again, then...
    page.console.allow("status of 404")  # ...the monitor is gone
    page.click("#pause")
    expect(page.locator("#pause-error")).to_contain_text("no monitor")
    expect(page.locator("#pause")).to_be_enabled()


def test_an_open_alert_is_acknowledged(make_site: Any, page: Any, server: PageServer) -> None:
    url = server.url("/down")  # a 500: its first check opens an alert
    site: Site = make_site({"monitors": [{"id": "api", "URL": url, "checkInterval": 1}]})
    _open(page, site, "api")
    expect(page.locator("#state")).to_have_text("down")
    button = page.locator("#alerts button.ack")
    expect(button).to_be_visible()  # the alert came live, or with the page
    expect(page.locator("#alerts tbody tr").first).to_contain_text("is down")
    button.first.click()
    expect(page.locator("#alerts tbody tr").first).to_contain_text("by local")
    assert page.locator("#alerts button.ack").count() == 0
    with sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM acks").fetchone()[0] == 1


def test_with_tokens_a_login_is_needed_and_a_read_login_sees_no_write_buttons(
        make_site: Any, page: Any, server: PageServer) -> None:
    site: Site = make_site({"monitors": [{"id": "home", "URL": server.url("/up")}]},
                           tokens=True)
    page.goto(f"{site.url}monitors/home")
    assert re.search(r"/login\?next=/monitors/home$", page.url)
    log_in(page, site, READ_TOKEN, then="/monitors/home")
    until(page, "window.monitorCharts?.response !== undefined")
    _drawn(page, "24h")
    for control in ("#check-now", "#pause", "#maintenance-on", "a[href$='/edit']"):
        assert page.locator(control).count() == 0, control
    page.context.clear_cookies()  # log_in's page then has no logout button
    log_in(page, site, then="/monitors/home")
    expect(page.locator("#pause")).to_be_visible()
    expect(page.locator("a[href$='/edit']")).to_be_visible()


def test_a_monitor_checked_every_10_minutes_draws_a_line_over_a_day(
        make_site: Any, page: Any, server: PageServer, tmp_path: Any) -> None:
    # Half of a day's 5-minute buckets hold no check: joined, not a line of lone points
    # (uPlot draws no segment beside a null, and no point where they are dense).
    url = server.url("/up")
    store = Store(tmp_path / "monitoring.db").start()
    now = time.time()
    for step in range(1, 144):
        store.put_check(CheckResult(url, now - step * 600, True, 200, 20.0 + step % 7))
    assert store.flush(timeout=30)
    store.close()
    site: Site = make_site({"monitors": [{"URL": url, "checkInterval": 600}]})
    _open(page, site, url, "?range=24h")
    _drawn(page, "24h")
    holes = page.evaluate("""(() => {
        const ys = window.monitorCharts.response.data[1];
        const set = ys.map((v, i) => v === null || v === undefined ? -1 : i).filter(i => i >= 0);
        const inner = ys.slice(set[0], set[set.length - 1] + 1);
        return [set.length, inner.filter(v => v === null).length,
                inner.filter(v => v === undefined).length];
    })()""")
    assert holes[0] >= 100 and holes[1] == 0 and holes[2] >= 100, holes


def test_a_metric_monitor_shows_its_value_live(make_site: Any, page: Any) -> None:
    site: Site = make_site({"monitors": [
        {"type": "metric", "series": "jobs.waiting", "name": "jobs", "max": 1e9,
         "window": 60, "checkInterval": 1}]})
    (monitor,) = [m["id"] for m in page.request.get(f"{site.url}api/v1/monitors").json()[
        "monitors"]]
    _open(page, site, monitor)
    expect(page.locator("dt", has_text="Value")).to_have_count(1)
    page.request.post(f"{site.url}api/v1/metrics", data='{"jobs.waiting": 7}',
                      headers={"Content-Type": "application/json"})
    expect(page.locator("#last-response")).to_have_text("7", timeout=15_000)
