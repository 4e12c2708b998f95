"""The dashboard's columns at a phone's, a small laptop's and a desktop's width, in a real
Chromium against the real `-m --web`: with a monitor in each state and uptimes of every
shape ("95.24%", "100%", "0.00%", "–"), no state pill and no uptime figure is cut (an
ellipsis, or a pill wider than its cell), and the monitor's name keeps most of the room."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from tests.support.app import wait_for
from tests.web.pages import test_monitor_page
from tests.web.pages.test_dashboard import _open, _until

server = test_monitor_page.server  # a loopback page server: /up answers 200, /down 500
STATES = ["down", "warning", "unknown", "maintenance", "paused", "up"]

# Each shown header, state or uptime cell whose content is wider than its box, as "row:
# cell text (widths)".
CUT = """[...document.querySelectorAll('#monitors thead tr, #rows tr.mon')].flatMap((tr) =>
  [...tr.querySelectorAll('thead th, td.c-state, td.c-up')]
    .filter((td) => td.offsetWidth > 0 && td.scrollWidth > td.clientWidth)
    .map((td) => `${tr.querySelector('a')?.textContent ?? 'header'}: ${td.textContent}`
                 + ` (${td.scrollWidth} > ${td.clientWidth})`))"""
# The shown columns' widths, by the header's classes.
WIDTHS = """Object.fromEntries([...document.querySelectorAll('#monitors thead th')]
  .filter((th) => th.offsetWidth > 0).map((th, i) => [`${i} ${th.className}`, th.offsetWidth]))"""


def _api(site: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{site.url}api/v1{path}", method="GET" if body is None else "POST",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_no_state_or_uptime_is_cut_at_375_1024_and_1280_px(
        make_site: Any, page: Any, server: Any, tmp_path: Path) -> None:
    up = server.url("/up")
    # 19 checks up and one down over the past hours: "95.00%", the widest figure's shape.
    store = Store(tmp_path / "monitoring.db").start()
    now = time.time()
    for i in range(20):
        store.put_check(CheckResult("up", now - 3600 - 600 * i, i != 7, 200, 30.0))
    assert store.flush(timeout=30)
    store.close()
    # New monitors' first checks are spread over their interval, the n-th of 6 at n/6 of
    # it: the one checked every hour is still unknown throughout the test.
    site = make_site({"monitors": [
        {"id": "up", "URL": up, "name": "a shop with a long name indeed", "checkInterval": 600},
        {"id": "down", "URL": server.url("/down"), "checkInterval": 1},
        {"id": "warning", "type": "disk", "path": str(tmp_path), "maxPercent": 100,
         "warnPercent": 0.001, "checkInterval": 1},
        {"id": "unknown", "URL": server.url("/up"), "checkInterval": 3600},
        {"id": "service", "URL": server.url("/up"), "checkInterval": 1},
        {"id": "paused", "URL": server.url("/up"), "paused": True}]})
    wait_for(lambda: _api(site, "/monitors/service")["state"] == "up",
             what="a first check of the monitor put in maintenance")
    _api(site, "/monitors/service/maintenance", {"for": "1h"})
    wait_for(lambda: sorted(m["state"] for m in _api(site, "/monitors?limit=100")["monitors"])
             == sorted(STATES), timeout=15, what="a monitor in each state")
    _open(page, site)
    cut: dict[int, list[str]] = {}
    widths: dict[int, dict[str, int]] = {}
    for width in (1280, 1024, 800, 375):
        page.set_viewport_size({"width": width, "height": 800})
        _until(page, f"document.documentElement.clientWidth === {width}"
                     " && document.querySelectorAll('#rows tr.mon').length === 6")
        page.wait_for_timeout(100)  # a frame to draw the rows again at the new width
        shown = page.evaluate("[...document.querySelectorAll('#rows tr.mon .state')]"
                              ".map((pill) => pill.textContent)")
        assert sorted(shown) == sorted(STATES)
        figures = page.evaluate("[...document.querySelectorAll('#rows td.c-up')]"
                                ".map((td) => td.textContent)")
        assert {"100%", "0.00%", "–"} <= set(figures), figures
        assert any(re.fullmatch(r"9\d\.\d\d%", figure) for figure in figures), figures
        cut[width] = page.evaluate(CUT)
        widths[width] = page.evaluate(WIDTHS)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert cut == {1280: [], 1024: [], 800: [], 375: []}
    # The name's column is the widest, and the most of the table at a phone's width.
    for width, columns in widths.items():
        name = next(w for key, w in columns.items() if "c-name" in key)
        assert name == max(columns.values()), (width, columns)
        assert width > 375 or name >= 0.38 * sum(columns.values()), columns
