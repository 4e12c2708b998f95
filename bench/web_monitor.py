"""One monitor's page among 5,000 in Chromium against the real `serve`: its charts drawn
for 24 h and for a year (target 1 s, as the dashboard's), the bytes of a first load
(target 300 KB), and a pause and a resume from the click to the page showing it done
(target 300 ms).

    python -m bench.web_monitor                     # 5,000 monitors, a year of rollups
    python -m bench.web_monitor --folder /tmp/wm    # build there once, then reuse it
    python -m bench.web_monitor --quick             # a smoke run

The database is bench.history's (5,000 monitors, a year of day rows, the hours of the past
two days, and a year of hours for the monitor shown), the config bench.server's.
`monitoringApp.py serve` runs over them in a process of its own. Each page load is in a
fresh browser context (nothing cached): from the navigation's start to the response chart
drawn (uPlot's draw hook), with where the time went (the HTML, the scripts, the API's
answers, the drawing) from the browser's resource timing. The pause and resume are timed
in the page, from the click to the state shown and the button ready again, with the API's
own answer time beside. Beside them, in the same run, the same server's `GET /api/v1/`:
what any request costs on this machine now.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.history import prepared
from bench.metrics import serve, timed_gets
from bench.run import FIGURES, cpu_of, figure
from bench.server import make_config
from monitor.web.pages import monitor_url
from tests.support.browser import ARGS, CHROMIUM

CHART_TARGET_MS = 1000.0
BYTES_TARGET = 300_000
ACTION_TARGET_MS = 300.0
SUBJECT = "https://site1.example.com/"  # one of bench.history's with a year of hour rows

# Where a load's time went, from the browser's own timing (ms from the navigation's start).
LOAD = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const files = performance.getEntriesByType("resource");
  const api = files.filter((e) => e.name.includes("/api/v1/"));
  const charts = api.filter((e) => e.name.includes("/trend") || e.name.includes("/checks?since"));
  const scripts = files.filter((e) => e.initiatorType === "script" || e.name.endsWith(".js")
                                      || e.name.includes(".js?"));
  return {
    drawn: window.monitorCharts.drawnAt,
    loaded: window.monitorCharts.loadedAt,
    ready: window.monitorCharts.readyAt,
    html: nav.responseEnd,
    scripts: Math.max(0, ...scripts.map((e) => e.responseEnd)),
    chartsAsked: Math.min(...charts.map((e) => e.startTime)),
    chartsAnswered: Math.max(...charts.map((e) => e.responseEnd)),
    chartServer: Math.max(...charts.map((e) => e.responseStart - e.requestStart)),
    bytes: nav.transferSize + files.reduce((sum, e) => sum + e.transferSize, 0),
    files: 1 + files.length,
    points: window.monitorCharts.response.data[0].length,
  };
}"""
# A click on Pause (or Resume), timed in the page to the state shown and the button ready.
TOGGLE = """async () => {
  const button = document.getElementById("pause");
  const state = document.getElementById("state");
  const pausing = button.textContent === "Pause";
  const done = () => !button.disabled
    && (pausing ? state.textContent === "paused" : state.textContent !== "paused");
  const t0 = performance.now();
  button.click();
  await new Promise((resolve) => {
    const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(); } });
    watch.observe(document.body, { subtree: true, childList: true, characterData: true,
                                   attributes: true });
  });
  const ms = performance.now() - t0;
  const post = performance.getEntriesByType("resource")
    .filter((e) => e.name.endsWith(pausing ? "/pause" : "/resume")).pop();
  return { what: pausing ? "pause" : "resume", ms,
           error: document.getElementById("pause-error").textContent,
           server: post.responseStart - post.requestStart,
           fetch: post.responseEnd - post.startTime };
}"""


def loads(browser: Any, url: str, rounds: int) -> list[dict[str, float]]:
    """`rounds` first loads of `url`, each in a fresh context: their timings."""
    found = []
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.locator("#chart-response[data-drawn]").wait_for(state="attached")
        wait(page, "window.monitorCharts.readyAt !== undefined")
        found.append(page.evaluate(LOAD))
        context.close()
    return found


def wait(page: Any, expression: str, timeout: float = 60.0) -> None:
    # Polled from here: wait_for_function evaluates strings, which the page's CSP refuses.
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {expression}")
        time.sleep(0.02)


def toggles(browser: Any, url: str, rounds: int, pid: int, config: Path,
            ) -> tuple[list[dict], float]:
    """`rounds` pauses and as many resumes, clicked on the page: their timings, and the
    server's CPU per click. Each is checked done in config.json too (after the timing)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("#chart-response[data-drawn]").wait_for(state="attached")
    found = []
    cpu0 = cpu_of(pid)
    for _ in range(2 * rounds):
        result = page.evaluate(TOGGLE)
        if result["error"]:
            raise RuntimeError(f"{result['what']}: {result['error']}")
        entry = next(m for m in json.loads(config.read_text())["monitors"]
                     if m["URL"] == SUBJECT)
        if entry.get("paused", False) != (result["what"] == "pause"):
            raise RuntimeError(f"{result['what']} shown, but config.json has {entry}")
        found.append(result)
        time.sleep(0.2)
    cpu = (cpu_of(pid) - cpu0) / len(found) * 1000
    context.close()
    return found, cpu


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--folder", type=Path, help="build the files there, or use those"
                        " built there before (the build takes minutes)")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.days, args.rounds = 200, 30, 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-web-monitor-") as tmp:
        folder = args.folder or Path(tmp)
        db, _built_for = prepared(folder, args.monitors, args.days)
        config = make_config(folder, args.monitors)
        with serve(folder, config, db) as (port, pid), sync_playwright() as playwright:
            base = f"http://127.0.0.1:{port}{monitor_url(SUBJECT)}"
            root = timed_gets(port, "/api/v1/", {}, 20, pid)
            html = timed_gets(port, monitor_url(SUBJECT), {}, 10, pid)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ranges = {name: loads(browser, f"{base}?range={name}", args.rounds)
                      for name in ("24h", "1y")}
            clicks, click_cpu = toggles(browser, base, args.rounds, pid, config)
            browser.close()
    report(args, root, html, ranges, clicks, click_cpu)


def report(args: argparse.Namespace, root: dict, html: dict,
           ranges: dict[str, list[dict[str, float]]], clicks: list[dict],
           click_cpu: float) -> None:
    reference = root["median"]
    figure("api_root_ms", reference, "ms", p90=round(root["p90"], 1))
    figure("monitor_page_html_ms", html["median"], "ms", bytes=html["bytes"],
           server_cpu_ms=round(html["cpu_ms"], 1), vs_api_root=round(html["median"] / reference, 1))
    print(f"One monitor's page among {args.monitors:,} ({args.days} days of history), the real"
          f" serve; GET /api/v1/ (reference) {reference:.1f} ms, the page's HTML alone"
          f" {html['median']:.1f} ms")
    for name, rows in ranges.items():
        drawn = median(rows, "drawn")
        parts = {key: round(median(rows, key), 1) for key in
                 ("html", "scripts", "chartsAsked", "chartsAnswered", "chartServer", "loaded",
                  "ready")}
        figure(f"monitor_page_chart_{name}_ms", drawn, "ms", rounds=len(rows),
               monitors=args.monitors, points=rows[0]["points"], **parts,
               target_ratio=round(drawn / CHART_TARGET_MS, 3),
               vs_api_root=round(drawn / reference, 1))
        print(f"  charts drawn, {name:>3}: {drawn:7.1f} ms ({drawn / CHART_TARGET_MS:.2f}x the"
              f" 1 s target; {rows[0]['points']} points): HTML at {parts['html']:.0f} ms,"
              f" scripts by {parts['scripts']:.0f}, data asked at {parts['chartsAsked']:.0f}"
              f" and answered by {parts['chartsAnswered']:.0f} (server {parts['chartServer']:.0f}"
              f" ms at most), in hand at {parts['loaded']:.0f}, drawn at {drawn:.0f}; the rest"
              f" (checks, alerts, strip) by {parts['ready']:.0f}")
    first = ranges["24h"]
    size = median(first, "bytes")
    figure("monitor_page_first_load_bytes", size, "bytes", files=first[0]["files"],
           target_ratio=round(size / BYTES_TARGET, 3))
    print(f"  first load: {size / 1000:.1f} KB in {first[0]['files']:.0f} files"
          f" ({size / BYTES_TARGET:.2f}x the 300 KB target)")
    for what in ("pause", "resume"):
        rows = [row for row in clicks if row["what"] == what]
        took = median(rows, "ms")
        figure(f"monitor_page_{what}_ms", took, "ms", rounds=len(rows), monitors=args.monitors,
               max=round(max(row["ms"] for row in rows), 1),
               api_answer_ms=round(median(rows, "server"), 1),
               fetch_ms=round(median(rows, "fetch"), 1), server_cpu_ms=round(click_cpu, 1),
               target_ratio=round(took / ACTION_TARGET_MS, 3),
               vs_api_root=round(took / reference, 1))
        print(f"  {what:>6}: {took:7.1f} ms from the click to it shown"
              f" ({took / ACTION_TARGET_MS:.2f}x the 300 ms target; at most"
              f" {max(row['ms'] for row in rows):.0f}), of which the API's answer"
              f" {median(rows, 'server'):.1f} ms; server CPU {click_cpu:.0f} ms a click")
    for item in FIGURES:
        print(json.dumps(item))


if __name__ == "__main__":
    main()
