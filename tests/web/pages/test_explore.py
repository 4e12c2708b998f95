"""The metrics explorer in a real browser against the real `-m --web`: the tree of the
series pushed through the API (JSON and Graphite lines), a query drawing the stored number
of points, a value (and a series) pushed while the page is open appearing without a
reload, a bad query's error under the box, the query in the URL, keys, a phone's width."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.support.app import wait_for

N = 12  # values pushed to each series, one every 30 s of the last 10 minutes

# The values the chart holds: those of each series (uPlot's columns after the x).
VALUES = """() => { const c = window.exploreChart;
  return c ? c.data.slice(1).map((s) => s.filter((v) => v !== null).length) : null; }"""


def push(site: Any, body: dict[str, Any] | str) -> None:
    text = isinstance(body, str)
    request = urllib.request.Request(
        f"{site.url}api/v1/metrics", data=(body if text else json.dumps(body)).encode(),
        headers={"Content-Type": "text/plain" if text else "application/json"},
        method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202


def stored(site: Any, count: int) -> None:
    """Wait until `count` series are written: a push is answered once queued."""
    def found() -> bool:
        with urllib.request.urlopen(f"{site.url}api/v1/metrics/tree", timeout=10) as answer:
            tops = json.load(answer)["children"]
        return sum(node["series"] for node in tops) >= count
    wait_for(found, timeout=10, what=f"{count} series stored")


def start(make_site: Any, tmp_path: Path) -> Any:
    (tmp_path / "access.log").write_text("")
    return make_site({"websites": [{"type": "log", "name": "web", "path": "access.log"}]})


def test_tree_query_live_values_and_errors(page: Any, make_site: Any, tmp_path: Path) -> None:
    site = start(make_site, tmp_path)
    first = int(time.time()) // 30 * 30 - 30 * N
    push(site, {"web.a.latency": [[first + 30 * i, 10 + i] for i in range(N)],
                "web.b.latency": [[first + 30 * i, 20 + i] for i in range(N)]})
    push(site, "".join(f"cpu.host1.load {0.5 + i / 10} {first + 30 * i}\n" for i in range(N)))
    stored(site, 3)
    page.goto(f"{site.url}explore")
    tree = page.locator("#tree")
    expect(tree.get_by_role("link", name="cpu", exact=True)).to_be_visible()
    # Open web, then web.a, and pick its latency: the query box and the URL say it.
    tree.get_by_role("button", name="Open web", exact=True).click()
    tree.get_by_role("button", name="Open web.a", exact=True).click()
    expect(tree.get_by_role("link", name="b", exact=True)).to_be_visible()
    tree.locator('a[data-q="web.a.latency"]').click()
    expect(page.locator("#q")).to_have_value("web.a.latency")
    page.wait_for_function(f"() => ({VALUES})()?.[0] === {N}")
    assert parse_qs(urlsplit(page.url).query) == {"q": ["web.a.latency"], "range": ["1h"]}

    # A value pushed now is on the chart a few seconds later, the page not reloaded.
    page.evaluate("window.notReloaded = true")
    push(site, {"web.a.latency": 99})
    page.wait_for_function(f"() => ({VALUES})()?.[0] === {N + 1}", timeout=20_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.exploreChart.data[1].includes(99)")

    # Wildcards and functions: a series per match; the Graphite lines' series too.
    page.fill("#q", "web.*.latency|max, cpu.**|avg|all")
    page.press("#q", "Enter")
    page.wait_for_function(f"() => JSON.stringify(({VALUES})()) === '[{N + 1},{N},{N}]'")
    labels = page.locator(".u-legend .u-label").all_text_contents()
    assert labels[1:] == ["web.a.latency|max", "web.b.latency|max", "cpu.**|avg|all"]

    # A bad query: the API's problem under the box, the position marked.
    page.console.allow("status of 400")
    page.fill("#q", "web.*.latency|median")
    page.press("#q", "Enter")
    error = page.locator("#q-error")
    expect(error).to_contain_text('unknown function "median"')
    expect(error.locator("mark")).to_have_text("m")
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.exploreChart") is None


def test_a_shared_link_and_a_phone(page: Any, make_site: Any, tmp_path: Path) -> None:
    site = start(make_site, tmp_path)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{site.url}explore?q=app.jobs.done|sum&range=15m")
    expect(page.locator("#range")).to_have_value("15m")
    expect(page.locator("#chart-status")).to_have_text("No series matches app.jobs.done|sum yet.")
    # A series pushed while the page is open: drawn with its values of the past minutes.
    now = int(time.time())
    push(site, {"app.jobs.done": [[now - 20 * i, i] for i in range(1, 6)]})
    page.wait_for_function(f"() => ({VALUES})()?.[0] === 5", timeout=20_000)
    page.reload()  # the tree as it is now
    page.wait_for_function(f"() => ({VALUES})()?.[0] === 5")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Keyboard: into the tree, open the branch with the right arrow, walk down to the leaf.
    page.locator("#tree a").first.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tree").get_by_role("link", name="jobs")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tree").get_by_role("link", name="done")).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#tree a:focus")).to_have_attribute("data-q", "app.jobs.done")
    page.keyboard.press("Enter")
    expect(page.locator("#q")).to_have_value("app.jobs.done")


def test_the_query_is_given_back_escaped(make_web: Any) -> None:
    web = make_web()
    answer = web.client.get("/explore?q=</script><script>alert(1)</script>&range=nope")
    assert answer.status_code == 200
    assert b"<script>alert(1)" not in answer.data
    assert b'<option value="1h" selected>' in answer.data  # an unknown range: the default
