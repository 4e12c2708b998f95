"""The metrics explorer in a real Chromium against the real `-m --web`: the time axis's
labels never overlap (every range, a desktop's and a phone's width), and the tree's counts
and names follow the series pushed while the page is open, without a reload."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.pages.test_explore import VALUES, push, start, stored

# The x axis's labels as uPlot wrote them: how many, and the narrowest space between two
# neighbours (px), each label as wide as its widest line in the axis's font, centred on its
# tick.
LABELS = """(() => {
  const u = window.exploreChart;
  const axis = u.axes[0];
  const ruler = document.createElement("canvas").getContext("2d");
  ruler.font = axis.font[0];
  const boxes = [];
  axis._splits.forEach((at, i) => {
    const text = axis._values[i];
    if (text === null || text === undefined) return;
    const width = Math.max(...String(text).split("\\n").map((line) =>
      ruler.measureText(line).width)) * axis.font[2] / axis.font[1];
    const x = u.valToPos(at, "x");
    boxes.push([x - width / 2, x + width / 2]);
  });
  let gap = Infinity;
  for (let i = 1; i < boxes.length; i++) gap = Math.min(gap, boxes[i][0] - boxes[i - 1][1]);
  return { labels: boxes.length, gap, values: axis._values };
})()"""


def test_the_time_axis_labels_never_overlap(page: Any, make_site: Any, tmp_path: Path) -> None:
    site = start(make_site, tmp_path)
    now = int(time.time())
    push(site, {"app.jobs.done": [[now - 10 * i, i] for i in range(1, 80)]})
    stored(site, 1)
    found = {}
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 800})
        for range_ in ("15m", "1h", "6h", "24h", "7d", "30d"):
            page.goto(f"{site.url}explore?q=app.jobs.done&range={range_}")
            page.wait_for_function(f"() => ({VALUES})()?.[0] > 0")
            found[width, range_] = page.evaluate(LABELS)
    crowded = {key: labels for key, labels in found.items()
               if labels["labels"] < 2 or labels["gap"] < 8}
    assert crowded == {}
    # Not too sparse either: a label every 2 minutes of the 15 on a desktop.
    assert found[1280, "15m"]["labels"] >= 6, found[1280, "15m"]


def test_the_tree_follows_series_pushed_while_open(page: Any, make_site: Any,
                                                   tmp_path: Path) -> None:
    site = start(make_site, tmp_path)
    push(site, {"app.a": 1})
    stored(site, 1)
    page.goto(f"{site.url}explore?q=app.**&range=15m")
    page.wait_for_function(f"() => ({VALUES})()?.length === 1")
    tree = page.locator("#tree")
    app = tree.locator('a[data-q="app.**"] + .count')
    expect(app).to_have_text("1")
    tree.get_by_role("button", name="Open app", exact=True).click()
    expect(tree.get_by_role("link", name="a", exact=True)).to_be_visible()
    page.evaluate("window.notReloaded = true")
    # New series under app, and a new top: the chart's poll finds them, the tree follows.
    push(site, {"app.b": 2, "app.c.d": 3, "zeta.x": 4})
    expect(app).to_have_text("3", timeout=20_000)
    expect(tree.get_by_role("link", name="b", exact=True)).to_be_visible()
    expect(tree.locator('a[data-q="app.c.**"] + .count')).to_have_text("1")
    expect(tree.get_by_role("link", name="zeta", exact=True)).to_be_visible()
    # Still open, in order, and usable: the new branch opens.
    assert page.evaluate("""[...document.querySelector('#tree a[data-q="app.**"]')
        .closest('li').querySelectorAll(':scope > ul > li > .node > a')]
        .map((a) => a.textContent)""") == ["a", "b", "c"]
    tree.get_by_role("button", name="Open app.c", exact=True).click()
    expect(tree.get_by_role("link", name="d", exact=True)).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
