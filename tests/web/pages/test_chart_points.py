"""Charts whose values have no neighbour to join, in a real Chromium against the real
`-m --web`: uPlot draws no segment beside a gap and hides the points of a dense series, so
a new monitor's first checks on its day chart were drawn as nothing. Each such value is a
dot of its own (read from the canvas), and a dense line keeps no dots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from tests.support.app import wait_for
from tests.web.pages import test_monitor_page
from tests.web.pages.test_monitor_page import _drawn, _open

server = test_monitor_page.server  # a loopback page server: /up answers 200

# The canvas pixels within 4 px of each value of `points` (indexes into the response
# chart's data) that have the colour of one of its lines: a dot drawn there.
INKED = """(indexes) => {
  const u = window.monitorCharts.response;
  const probe = document.createElement("canvas").getContext("2d", {willReadFrequently: true});
  const colours = [1, 2, 3].filter((s) => s < u.series.length - 1).map((s) => {
    probe.fillStyle = u.series[s].stroke(u, s);
    probe.fillRect(0, 0, 1, 1);
    return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  });
  return indexes.map((i) => {
    const x = Math.round(u.valToPos(u.data[0][i], "x", true));
    const y = Math.round(u.valToPos(u.data[1][i], "y", true));
    const px = u.ctx.getImageData(x - 4, y - 4, 9, 9).data;
    let inked = 0;
    for (let p = 0; p < px.length; p += 4) {
      if (colours.some((c) => c.every((v, k) => Math.abs(v - px[p + k]) < 40))) inked++;
    }
    return inked;
  });
}"""


def test_a_new_monitor_s_first_checks_are_dots_on_its_day_chart(
        make_site: Any, page: Any, server: Any, tmp_path: Path) -> None:
    url = server.url("/up")
    now = time.time()
    # Two checks hours apart (their 5-minute buckets between empty ones), and six hours of
    # a check every 5 minutes the day before: a line.
    store = Store(tmp_path / "monitoring.db").start()
    lone = [now - 5 * 3600, now - 2 * 3600]
    dense = [now - 20 * 3600 + 300 * i for i in range(72)]
    for at in lone + dense:
        store.put_check(CheckResult(url, at, True, 200, 40.0))
    assert store.flush(timeout=30)
    store.close()
    # Checked every 10 min: the program's own first check is a third lone bucket, now.
    site = make_site({"monitors": [{"URL": url, "checkInterval": 600}]})
    wait_for(lambda: test_monitor_page._checks(site, url) == len(lone) + len(dense) + 1,
             what="the program's first check stored")
    _open(page, site, url, "?range=24h")
    _drawn(page, "24h")
    xs, ys = page.evaluate("window.monitorCharts.response.data.slice(0, 2)")
    values = [i for i, y in enumerate(ys) if y is not None]
    step = xs[1] - xs[0]
    wanted = [xs.index(at // step * step) for at in lone] + [values[-1]]
    assert values[-1] > wanted[1] and len(values) >= 70, values
    # Each lone bucket is inked; the line's buckets are no dots (the filter keeps none).
    inked = page.evaluate(INKED, wanted)
    assert all(n >= 9 for n in inked), dict(zip(wanted, inked, strict=True))
    filtered = page.evaluate("""(() => { const u = window.monitorCharts.response;
        return u.series[1].points.filter(u, 1, false, null); })()""")
    assert filtered == wanted
