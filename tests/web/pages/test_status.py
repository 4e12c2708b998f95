"""Status pages: the `statusPages` config (each error names its JSON path), the public page
over a real database (states, 90 daily bars, incidents, maintenance, names only, never a
target or a secret), its refresh document answered 304 while unchanged; then in a real
browser over the real `-m --web`: public while the dashboard asks for a login, a monitored
server that goes down shown as an incident after a refresh, usable at 375 px."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.history import build
from monitor.config import parse_config
from monitor.config import status as status_config
from monitor.config.edit import Clash, ConfigEditor, Invalid
from monitor.config.schema import config_schema
from monitor.core.errors import ConfigError
from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, SetMaintenance, iso_utc
from monitor.web.pages import status
from tests.support.browser import READ_TOKEN, Site, log_in
from tests.support.pages import PageServer
from tests.support.web import TOKENS, write_config

SITES = [f"https://site{i}.example.com/" for i in range(4)]
SECRET = "pw-Zq81secret"
NAMES = ["Home page", "API", "Shop", "Search"]


def _doc(pages: Any, monitors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"monitors": monitors if monitors is not None else [
        {"URL": "https://a.example/", "name": "home page"},
        {"id": "api", "type": "tcp", "host": "b.example", "port": 443, "name": "API"},
        {"URL": "https://c.example/"}],
        "statusPages": pages}


def _page(*monitors: Any, **more: Any) -> dict[str, Any]:
    return {"slug": "acme", "title": "Acme status",
            "groups": [{"name": "Web", "monitors": list(monitors)}], **more}


# -- the config ------------------------------------------------------------------------------

def test_a_good_config_loads_its_pages_with_monitors_by_id() -> None:
    config = parse_config(json.dumps(_doc([
        _page("home page", "api", description="Our services"),
        {"slug": "api-2", "title": "API", "groups": [{"name": "A", "monitors": ["API"]},
                                                     {"name": "B", "monitors": ["api"]}]}])))
    first, second = config.status_pages
    assert (first.slug, first.title, first.description) == ("acme", "Acme status",
                                                            "Our services")
    assert first.groups[0].monitors == ("https://a.example/", "api")
    assert second.monitor_ids == ("api",)  # twice on the page, once in its list
    assert parse_config(json.dumps(_doc([]))).status_pages == ()


@pytest.mark.parametrize(("pages", "error"), [
    ({"slug": "x"}, 'statusPages: must be a list of objects with "slug", "title" and'
                    ' "groups"'),
    (["acme"], 'statusPages[0]: must be an object with "slug", "title" and "groups"'),
    ([_page("api", colour="red")], "statusPages[0].colour: unknown key"),
    ([{"title": "T", "groups": []}], "statusPages[0].slug: is required"),
    ([{"slug": "acme", "groups": [{"name": "W", "monitors": ["api"]}]}],
     "statusPages[0].title: is required"),
    ([_page("api", slug="Acme")], 'statusPages[0].slug: must be lowercase letters, digits'
                                  ' and "-" (at most 64)'),
    ([_page("api", slug="a/b")], "statusPages[0].slug: must be lowercase"),
    ([_page("api"), _page("api", title="again")],
     'statusPages[1].slug: "acme" is already the slug of statusPages[0]'),
    ([_page("api", title="")], "statusPages[0].title: must be a non-empty string"),
    ([_page("api", description=3)], "statusPages[0].description: must be a non-empty"),
    ([_page("api", groups=[])], "statusPages[0].groups: must be a non-empty list"),
    ([_page("api", groups=[{"name": "W"}])], "statusPages[0].groups[0].monitors: is"
                                             " required"),
    ([_page("api", groups=[{"name": "W", "monitors": []}])],
     "statusPages[0].groups[0].monitors: must be a non-empty list"),
    ([_page("api", groups=[{"name": "W", "monitors": ["api"], "x": 1}])],
     "statusPages[0].groups[0].x: unknown key"),
    ([_page("api", "x")], 'statusPages[0].groups[0].monitors[1]: no monitor "x" (by id or'
                          ' name)'),
    ([_page("api", 7)], "statusPages[0].groups[0].monitors[1]: must be a monitor's id or"
                        " name"),
    ([_page("https://c.example/")], 'statusPages[0].groups[0].monitors[0]: the monitor'
                                    ' "https://c.example/" has no "name"'),
    ([_page("api", "API")], 'statusPages[0].groups[0].monitors[1]: "API" is already in'
                            ' this group'),
])
def test_each_error_names_its_path(pages: Any, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps(_doc(pages)))
    assert str(caught.value).startswith(f"config.json: {error}"), str(caught.value)


def test_a_name_two_monitors_share_must_be_given_as_an_id() -> None:
    monitors = [{"URL": "https://a.example/", "name": "web"},
                {"URL": "https://b.example/", "name": "web"}]
    with pytest.raises(ConfigError, match=r'monitors\[0\]: 2 monitors are named "web": name'
                                          " one by its id"):
        parse_config(json.dumps(_doc([_page("web")], monitors)))
    assert parse_config(json.dumps(_doc([_page("https://b.example/")], monitors)))


# A site of no name, whose `plugins` make a monitor named after its URL (host, port, path).
INTERNAL = "https://admin:pw@internal-db.corp.example:8443/admin/health?key=abc"


def test_a_monitor_a_site_of_no_name_makes_is_not_shown_by_its_url_made_name() -> None:
    plugged = parse_config(json.dumps({"plugins": ["tls"], "monitors": [{"URL": INTERNAL}]}))
    tls = plugged.monitors[1]
    assert tls.parent_id and "internal-db" in tls.name  # the name made of the site's URL
    for reference in (tls.id, tls.name):
        with pytest.raises(ConfigError) as caught:
            parse_config(json.dumps({"plugins": ["tls"], "monitors": [{"URL": INTERNAL}],
                                     "statusPages": [_page(reference)]}))
        said = str(caught.value)
        assert said.startswith("config.json: statusPages[0].groups[0].monitors[0]: the"
                               " monitor"), said
        assert 'give the site a "name"' in said, said


def test_a_named_site_s_plugin_monitor_shows_its_name_and_nothing_of_the_url(
        make_web: Any) -> None:
    web = make_web({"plugins": ["tls"], "monitors": [{"URL": INTERNAL, "name": "Database"}],
                    "statusPages": [_page("Database", "Database/tls")]}, tokens=True)
    page = web.client.get("/status/acme")
    document = web.client.get("/status/acme.json")
    assert page.status_code == document.status_code == 200
    names = [m["name"] for g in document.get_json()["groups"] for m in g["monitors"]]
    assert names == ["Database", "Database/tls"]
    for text in (page.get_data(as_text=True), document.get_data(as_text=True)):
        for part in ("internal-db", "corp.example", "8443", "admin", "health", "key=",
                     "https"):
            assert part not in text, part


def test_every_key_has_a_schema_fragment_and_the_schema_agrees() -> None:
    assert set(status_config.PAGE_KEYS) == set(status_config.PAGE_SCHEMA["properties"])
    assert set(status_config.GROUP_KEYS) == set(status_config.GROUP_SCHEMA["properties"])
    validator = jsonschema.Draft202012Validator(config_schema(strict=True))
    assert list(validator.iter_errors(_doc([_page("api")]))) == []
    assert list(validator.iter_errors(_doc([_page("api", slug="Not A Slug")])))
    assert list(validator.iter_errors(_doc([_page("api", colour=1)])))


def test_an_edit_through_the_api_keeps_the_pages_references(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_config(path, _doc([_page("home page", "api")]))
    editor = ConfigEditor(path)
    with pytest.raises(Clash):  # the pages do not hide that an entry makes another's id
        editor.add({"URL": "https://a.example/", "name": "again"})
    with pytest.raises(Invalid, match=r'statusPages\[0\]\.groups\[0\]\.monitors\[1\]: no'
                                      r' monitor "api"'):
        editor.delete("api")


# -- the page, through Flask's test client over a real database ---------------------------------

class Served:
    """The app of make_web over a database with history, on a clock the test moves."""

    def __init__(self, web: Any, now: float) -> None:
        self.web, self.store, self.client, self.app = web, web.store, web.client, web.app
        self.context = web.context
        self.now = now
        self.context.clock = lambda: self.now

    def check(self, index: int, available: bool | None, *, warning: bool = False,
              reason: str | None = None, at: float | None = None) -> None:
        reason = reason or (None if available else "connect")
        self.store.put_check(CheckResult(SITES[index], at or self.now - 1, available,
                                         200 if available else None, 20.0, reason,
                                         "refused: 10.0.0.7" if reason else "",
                                         warning=warning))
        assert self.store.flush()

    def html(self, path: str = "/status/acme") -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        return answer.get_data(as_text=True)

    def data(self) -> dict[str, Any]:
        self.app.extensions.pop(status._CACHE, None)  # made anew, now
        answer = self.client.get("/status/acme.json")
        assert answer.status_code == 200
        return answer.get_json()


@pytest.fixture()
def served(make_web: Any, tmp_path: Path) -> Any:
    """`served(tokens=False, maintenance=None, **page)`: 90 days of history of four
    monitors (the bench's builder: the real schema, the store's own code), a page of them,
    the app over both."""

    def make(tokens: bool = False, maintenance: Any = None, **page: Any) -> Served:
        now = time.time()
        build(tmp_path / "monitoring.db", len(SITES), 90, now)
        monitors: list[dict[str, Any]] = [
            {"URL": url, "name": name, "checkInterval": 60} for url, name in zip(SITES, NAMES,
                                                                                strict=True)]
        # A target with a password and a secret path: a status page shows neither.
        monitors[1] = {"id": SITES[1], "name": "API", "checkInterval": 60,
                       "URL": f"https://user:{SECRET}@api.internal.example/private/x?k=1"}
        if maintenance is not None:
            monitors[3]["maintenance"] = maintenance
        site = Served(make_web({"monitors": monitors, "statusPages": [{
            "slug": "acme", "title": "Acme status",
            "groups": [{"name": "Web", "monitors": ["Home page", "API"]},
                       {"name": "Store", "monitors": ["Shop", SITES[3]]}], **page}]},
            tokens=tokens), now)
        site.store.set_monitors(site.context.config.monitors)
        return site

    return make


def _states(html: str) -> list[str]:
    return re.findall(r'class="state state-(\w+) js-state">([^<]+)<', html)


def test_the_page_shows_each_monitor_s_state_and_the_overall_line(served: Any) -> None:
    site = served(description="Our services, live")
    html = site.html()
    assert "<title>Acme status</title>" in html and "Our services, live" in html
    assert 'class="overall overall-operational"' in html
    assert "All systems operational" in html
    assert [name for name in NAMES if f'<span class="monitor-name">{name}</span>' in html] \
        == NAMES
    assert _states(html) == [("up", "Operational")] * 4
    site.check(1, False)
    site.check(2, True, warning=True, reason="certificate")
    site.check(3, None, reason="maintenance")
    doc = site.data()
    assert [m["state"] for g in doc["groups"] for m in g["monitors"]] == \
        ["up", "down", "warning", "maintenance"]
    assert doc["overall"] == {"state": "partial", "said": "Partial outage"}
    html = site.html()
    assert _states(html) == [("up", "Operational"), ("down", "Outage"),
                             ("warning", "Degraded"), ("maintenance", "Maintenance")]
    for index in (0, 2):
        site.check(index, False)
    assert site.data()["overall"]["said"] == "Major outage"  # all down but maintenance


def test_overall_lines_without_an_outage() -> None:
    assert status._overall(["up", "maintenance", "warning"]) == "maintenance"
    assert status._overall(["up", "warning", "paused"]) == "degraded"
    assert status._overall(["unknown", "paused"]) == "unknown"
    assert status.OVERALL["operational"] == "All systems operational"


def test_ninety_daily_bars_coloured_by_uptime_with_the_day_s_figure(served: Any) -> None:
    site = served()
    for _ in range(3):
        site.check(0, False)  # today: some checks failed
    html = site.html()
    strips = re.findall(r'<div class="strip bars"[^>]*>(.*?)</div>', html, re.S)
    assert len(strips) == 4
    bars = re.findall(r'<span class="([^"]*)" title="([^"]+)"></span>', strips[0])
    assert len(bars) == status.DAYS
    today = time.strftime("%Y-%m-%d", time.gmtime(site.now))
    assert bars[-1][1].startswith(f"{today}: ") and bars[-1][0] in ("u-high", "u-mid",
                                                                      "u-low")
    assert bars[-2] == ("u-full", time.strftime("%Y-%m-%d", time.gmtime(site.now - 86400))
                        + ": 100.00%")
    doc = site.data()
    first = doc["groups"][0]["monitors"][0]
    assert len(first["daily"]) == status.DAYS and first["daily"][-2] == 1
    assert first["daily"][-1] < 1 and first["uptime"] < 1
    with site.context.reader() as reader:
        days = reader.uptime_by_day([SITES[0]], status.DAYS, site.now)[SITES[0]]
    assert first["daily"][-1] == status.share(days.up[-1], days.checks[-1])
    assert first["uptime"] == status.share(sum(days.up), sum(days.checks))
    assert first["uptimeText"] == status.share_text(first["uptime"]) != "100.00%"
    assert f'<span class="js-uptime">{first["uptimeText"]}</span>' in html
    assert doc["from"] == iso_utc((site.now // 86400 - 89) * 86400)


def test_a_check_more_that_changes_no_figure_shown_changes_nothing(served: Any) -> None:
    site = served()
    etag = site.client.get("/status/acme.json").headers["ETag"]
    site.check(0, True)
    site.now += status.CACHE_SECONDS
    answer = site.client.get("/status/acme.json", headers={"If-None-Match": etag})
    assert answer.status_code == 304


def test_uptime_is_never_all_while_a_check_failed() -> None:
    assert status.share(99_999, 100_000) == 0.9999
    assert status.share_text(status.share(99_999, 100_000)) == "99.99%"
    assert status.share_text(status.share(1999, 2000)) == "99.95%"
    assert status.share_text(status.share(5, 5)) == "100.00%"
    assert status.share(0, 0) is None and status.share_text(None) == "No data"


def test_incidents_are_the_monitors_down_now_and_those_with_an_alert_open(served: Any,
                                                                         ) -> None:
    site = served()
    assert 'id="incidents" class="card hidden"' in site.html()
    site.check(1, False, at=site.now - 120)
    site.check(1, False)
    start = iso_utc(site.now - 300)
    site.store.put_alert(AlertRecord(iso_utc(site.now - 60), SITES[2], "alert", start, None,
                                     0.5, "Website shop is down"))
    assert site.store.flush()
    doc = site.data()
    assert doc["incidents"] == [
        {"name": "Shop", "state": "recovering", "said": "Recovered, monitoring",
         "since": start},
        {"name": "API", "state": "down", "said": "Outage",
         "since": iso_utc(site.now - 120)}]
    html = site.html()
    assert 'id="incidents" class="card"' in html
    assert f'<time datetime="{start}">' in html


def test_maintenance_now_and_scheduled(served: Any) -> None:
    start = time.time() + 3 * 86400
    window = {"from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
              "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 7200))}
    site = served(maintenance=[window, {"every": "day", "at": "03:00", "for": 1800}])
    site.store.set_maintenance(SetMaintenance(SITES[0], site.now - 60, site.now + 3600))
    assert site.store.flush()
    stretches = site.data()["maintenance"]
    assert stretches[0] == {"names": ["Home page"], "since": iso_utc(site.now - 60),
                            "until": iso_utc(site.now + 3600), "now": True}
    assert {"names": ["Search"], "since": iso_utc(int(start)),
            "until": iso_utc(int(start) + 7200), "now": False} in stretches
    daily = [s for s in stretches if s["since"].endswith("T03:00:00.000Z")]
    assert daily and daily[0]["names"] == ["Search"] and not daily[0]["now"]
    assert len(stretches) == 3
    html = site.html()
    assert ">Now</span>" in html and ">Scheduled</span>" in html


def test_the_next_start_of_a_recurring_window_is_its_wall_time_in_its_zone() -> None:
    config = parse_config(json.dumps({"monitors": [{"URL": "https://a.example/", "maintenance": {
        "every": ["sun"], "at": "02:30", "for": 3600, "timezone": "Europe/Paris"}}]}))
    window = config.monitors[0].rules.maintenance[0]
    # Saturday 2026-03-28 12:00 UTC: the next is Sunday 02:30 in Paris, still winter time
    # (+01:00), the night the clocks go forward (read as windows.py reads it).
    after = 1774699200.0
    coming = window.next_window(after)
    assert coming is not None and iso_utc(coming[0]) == "2026-03-29T01:30:00.000Z"
    assert coming[1] == coming[0] + 3600
    assert window.window_at(coming[0]) == coming  # the occurrence window_at sees
    later = window.next_window(coming[0])
    assert later is not None and later[0] == coming[0] + 7 * 86400 - 3600  # summer time


def test_a_customer_sees_names_only_never_a_target_an_id_or_a_secret(served: Any) -> None:
    site = served(tokens=True)
    site.check(1, False)
    for text in (site.html(), json.dumps(site.data())):
        for secret in (SECRET, "api.internal", "private", "example.com", "10.0.0.7",
                       "refused", "connect", TOKENS[0]["token"], TOKENS[1]["token"]):
            assert secret not in text, secret


def test_the_page_is_public_and_starts_no_session(served: Any) -> None:
    site = served(tokens=True)
    answer = site.client.get("/status/acme")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert "no-store" in answer.headers["Cache-Control"]
    assert site.client.get("/status/acme.json").status_code == 200
    # The list of pages is not public.
    listed = site.client.get("/status")
    assert listed.status_code == 302 and listed.headers["Location"].startswith("/login")


def test_the_list_of_pages_links_each(served: Any) -> None:
    site = served()
    html = site.html("/status")
    assert '<a href="/status/acme">Acme status</a>' in html
    assert "All systems operational" in html


ADMIN_LINKS = ('href="/"', 'href="/explore"', 'href="/logs"', 'href="/status"',
               'href="/login"', "Dashboard", "dashboard", "Log in", 'name="csrf-token"')


@pytest.mark.parametrize("path", ["/status/nope", "/status/nope/", "/status/acme/x"])
def test_a_mistyped_address_is_a_404_in_the_status_pages_look(served: Any,
                                                                 path: str) -> None:
    """A customer's mistyped address: no admin navigation, no way into it, no session."""
    site = served(tokens=True)
    answer = site.client.get(path, headers={"Accept": "text/html"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 404 and answer.mimetype == "text/html", html[:300]
    assert "There is no status page at this address" in html
    assert "<title>Status page not found</title>" in html
    assert 'class="status-page"' in html and "status.css" in html
    for admin in ADMIN_LINKS:
        assert admin not in html, admin
    assert "Set-Cookie" not in answer.headers


def test_an_unknown_slug_s_document_is_a_404_problem(served: Any) -> None:
    site = served(tokens=True)
    answer = site.client.get("/status/nope.json", headers={"Accept": "text/html"})
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["detail"] == "there is no status page 'nope' here"
    assert "Set-Cookie" not in answer.headers


def test_other_errors_keep_the_admin_look(served: Any) -> None:
    site = served()
    answer = site.client.get("/nope", headers={"Accept": "text/html"})
    assert answer.status_code == 404 and "Back to the dashboard" in answer.get_data(
        as_text=True)


def test_the_refresh_document_is_304_until_the_page_changes(served: Any) -> None:
    site = served()
    first = site.client.get("/status/acme.json")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    assert first.get_json()["updated"] == iso_utc(site.now)
    site.now += 1  # within the cache, and after it: what it shows has not changed
    again = site.client.get("/status/acme.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    site.now += status.CACHE_SECONDS
    assert site.client.get("/status/acme.json",
                           headers={"If-None-Match": etag}).status_code == 304
    site.check(0, False)
    site.now += status.CACHE_SECONDS
    changed = site.client.get("/status/acme.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["overall"]["state"] == "partial"
    # The page carries the ETag its script sends first.
    assert f'data-etag={changed.headers["ETag"]}' in site.html()


def test_a_compressed_document_s_etag_is_a_304_without_compressing_it_again(served: Any,
                                                                          ) -> None:
    site = served()
    brotli = {"Accept-Encoding": "br"}
    first = site.client.get("/status/acme.json", headers=brotli)
    assert first.headers["Content-Encoding"] == "br" and first.headers["ETag"].endswith(':br"')
    again = site.client.get("/status/acme.json",
                            headers={**brotli, "If-None-Match": first.headers["ETag"]})
    # The page's own 304 (flask-compress's, after compressing, would say the ":br" tag).
    assert again.status_code == 304 and not again.headers["ETag"].endswith(':br"')


def test_a_weak_etag_or_a_star_is_a_304(served: Any) -> None:
    site = served()
    etag = site.client.get("/status/acme.json").headers["ETag"]
    compressed = site.client.get("/status/acme.json", headers={"Accept-Encoding": "br"})
    # What a proxy that compresses makes of a strong ETag (nginx's gzip), of either; and
    # "*": If-None-Match compares weakly (RFC 9110, 13.1.2).
    for header in (f"W/{etag}", f"W/{compressed.headers['ETag']}", f'"other", W/{etag}',
                   "*"):
        answer = site.client.get("/status/acme.json", headers={"If-None-Match": header})
        assert answer.status_code == 304, header
        assert answer.data == b"" and answer.headers["ETag"] == etag
    assert site.client.get("/status/acme.json", headers={
        "If-None-Match": 'W/"other"'}).status_code == 200


def test_a_bad_refresh_interval_is_a_400_page(served: Any) -> None:
    site = served()
    assert site.client.get("/status/acme?refresh=0").status_code == 400
    assert 'data-refresh="5"' in site.html("/status/acme?refresh=5")


# -- in a real browser, over the real `-m --web` ------------------------------------------------

def _browser_site(make_site: Any, server: PageServer) -> Site:
    return make_site({"monitors": [
        {"URL": server.set("/", "ok"), "name": "Home page", "checkInterval": 0.5, "timeout": 1,
         "alertWindow": 2}],
        "statusPages": [{"slug": "acme", "title": "Acme status", "groups": [
            {"name": "Web", "monitors": ["Home page"]}]}]}, tokens=True)


def test_public_in_a_browser_while_the_dashboard_asks_for_a_login(make_site: Any,
                                                                  page: Any) -> None:
    from playwright.sync_api import expect

    with PageServer() as server:
        site = _browser_site(make_site, server)
        page.goto(f"{site.url}status/acme")
        expect(page.locator("h1")).to_have_text("Acme status")
        expect(page.locator(".monitor-name")).to_have_text("Home page")
        expect(page.locator(".bars span")).to_have_count(status.DAYS)
        page.goto(site.url)
        assert re.search(r"/login(\?|$)", page.url), page.url
        page.goto(f"{site.url}status")
        assert "/login" in page.url
        log_in(page, site, READ_TOKEN, then="/status")  # the list, for those logged in
        page.click("text=Acme status")
        expect(page.locator("#overall")).to_be_visible()


def test_a_server_that_goes_down_shows_as_an_incident_after_a_refresh(make_site: Any,
                                                                       page: Any) -> None:
    from playwright.sync_api import expect

    with PageServer() as server:
        site = _browser_site(make_site, server)
        page.goto(f"{site.url}status/acme?refresh=1")
        expect(page.locator(".js-state")).to_have_text("Operational", timeout=15_000)
        before = page.locator("#updated").get_attribute("datetime")
        server.shutdown()  # refused from now on
        server.server_close()
        expect(page.locator("#incident-list li")).to_contain_text("Outage", timeout=20_000)
        expect(page.locator("#incidents")).to_be_visible()
        expect(page.locator("#overall")).to_have_text("Major outage")
        expect(page.locator(".js-state")).to_have_text("Outage")
        assert page.locator("#updated").get_attribute("datetime") != before


def test_a_mistyped_address_loads_without_a_console_error(make_site: Any,
                                                          page: Any) -> None:
    from playwright.sync_api import expect

    with PageServer() as server:
        site = _browser_site(make_site, server)
        # The browser logs the 404 of the address itself; nothing else may be logged.
        page.console.allow(r"status of 404 .*/status/nope\)$")
        answer = page.goto(f"{site.url}status/nope")
        assert answer is not None and answer.status == 404
        expect(page.locator("h1")).to_have_text("No status page here")
        assert page.locator("nav, a").count() == 1  # the skip link only
        assert page.context.cookies() == []


def test_usable_at_375_px(make_site: Any, page: Any) -> None:
    with PageServer() as server:
        site = _browser_site(make_site, server)
        page.set_viewport_size({"width": 375, "height": 740})
        page.goto(f"{site.url}status/acme")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        shown = page.evaluate("[...document.querySelectorAll('.bars span')]"
                              ".filter(s => s.offsetWidth > 0).length")
        assert shown == 30  # a phone shows the last 30 days, bars wide enough to see
        width = page.evaluate("document.querySelector('.bars span:last-child')"
                              ".getBoundingClientRect().width")
        assert width >= 5
        # The keyboard reads each day's figure.
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('bars')")
        tip = page.locator(".bar-tip")
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert tip.inner_text().startswith(today)
        page.keyboard.press("Home")
        earliest = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 29 * 86400))
        assert tip.inner_text().startswith(earliest)
