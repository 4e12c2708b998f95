"""The dashboard of 5,000 monitors in Chromium against the real `serve`: (a) how soon it is
interactive, (b) the bytes of a first load, (c) the main thread's busy share while 1,000
checks a second reach it through the event stream. Targets 1 s, 300 KB and 0.5.

    python -m bench.web_dashboard                      # 5,000 monitors, a year of history
    python -m bench.web_dashboard --folder /tmp/wd     # build there once, then reuse it
    python -m bench.web_dashboard --quick              # a smoke run

The database is bench.history's (5,000 monitors, a year of day rows, the hours of the past
two days, the blocks and minutes in progress), with what a year of `-m` leaves besides at
the edges of the dashboard's windows (the hours, blocks and minutes around 24 h, 7 d and
30 d ago, and the minutes of the past three hours), one monitor in 50 down or warning
now, and a last failure with its raw check for one in 10. The config names them with tags
(a team and an environment each). `monitoringApp.py serve` runs over them in a process of
its own.

(a) Each load in a fresh browser context (nothing cached): from the navigation's start to
the rows drawn with their data and no long task (50 ms or more, a PerformanceObserver's)
in the 50 ms after; with where the time went (the HTML, the scripts, the first and last
byte of the data, GET /api/v1/dashboard, which the page's head preloads; the drawing).
(b) Every response of that load, compressed as sent (CDP Network.loadingFinished's
encodedDataLength: headers and bodies). (c) Checks written to the database at 1,000 a
second by a real writer in this process (monitor.store's Store, as a running -m writes
them: http results with their phase times, a few monitors flapping), read by the
server's event stream and applied by the page: CDP Performance.getMetrics' TaskDuration
over the wall time, and the checks the page applied. Beside each, in the same run: the
same server's trivial 404 page for (a) and (b), and the same dashboard open with no
checks coming for (c). With --profile, the page's JavaScript profile over (c): its
functions by self time.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.history import _hist_texts, prepared
from bench.metrics import serve, timed_gets
from bench.run import FIGURES, cpu_of, figure
from bench.web_monitor import wait
from monitor.core.model import CheckResult
from monitor.store.sqlite import uptime
from monitor.store.sqlite.writer import Store
from tests.support.browser import ARGS, CHROMIUM

READY_TARGET_MS = 1000.0
BYTES_TARGET = 300_000
BUSY_TARGET = 0.5
MAX_AGE = 600.0  # seconds a database built in --folder is used for (its sparklines: 20 min)
QUIET_MS = 50.0  # no long task for this long after the rows are drawn
DAY, HOUR = 86400, 3600
TEAMS = ("shop", "search", "payments", "identity", "mail", "media", "ads", "data")
ENVS = ("prod", "staging")

# Long tasks from the very start of the page: installed before any of its scripts (by CDP,
# which the page's Content-Security-Policy does not govern).
OBSERVE = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
"""
TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const files = performance.getEntriesByType("resource");
  const data = files.find((e) => e.name.includes("/api/v1/dashboard"));
  return {
    ready: window.dashboardStats ? window.dashboardStats.readyAt : null,
    html: nav.responseEnd, dataFirstByte: data ? data.responseStart : 0,
    data: data ? data.responseEnd : 0,
    scripts: Math.max(0, ...files.filter((e) => e.name.includes(".js")).map((e) => e.responseEnd)),
    load: nav.loadEventEnd,
    longTasks: window.__longTasks,
    rows: document.querySelectorAll("#rows tr.mon").length,
  };
}"""


def make_config(folder: Path, monitors: int) -> Path:
    """bench.history's monitors (`https://site<i>.example.com/`), each with a team's tag and
    an environment's."""
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": [
        {"URL": f"https://site{i}.example.com/", "name": f"site {i}", "checkInterval": 60,
         "tags": [TEAMS[i % len(TEAMS)], ENVS[i % 5 == 0]]} for i in range(monitors)]}))
    path.chmod(0o600)
    return path


def fill(db: Path, now: float) -> None:
    """What a year of -m leaves beside bench.history's rows, where the dashboard reads: the
    hours, blocks and minutes around each window's start, the minutes of the past three
    hours, today's day row as the hours rolled so far (the rollups keep it so), a few
    monitors down or warning now and a last failure with its raw check for some."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE n(i INTEGER PRIMARY KEY)")
    conn.execute("WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE"
                 " i < 1000) INSERT INTO n SELECT i FROM c")
    conn.execute("CREATE TEMP TABLE h(k INTEGER PRIMARY KEY, span INTEGER, hist TEXT,"
                 " total REAL, low REAL, high REAL)")
    for span, checks in ((HOUR, 60), (600, 10), (60, 1)):
        conn.executemany("INSERT INTO h (span, hist, total, low, high) VALUES (?,?,?,?,?)",
                         [(span, *row) for row in _hist_texts(checks, span)])
    rolled = int((now - 120) // HOUR * HOUR)

    def rows(span: int, first: int, end: int) -> None:
        checks = {HOUR: 60, 600: 10, 60: 1}[span]
        conn.execute(
            "INSERT OR IGNORE INTO aggregates (monitor, span, start, checks, up, rt_count,"
            " rt_sum, rt_min, rt_max, hist, outcomes) SELECT m.monitor, ?, ? + t.i * ?, ?, ?,"
            " ?, h.total, h.low, h.high, h.hist, '200:' || ? FROM monitors m JOIN n t"
            " ON t.i < ? JOIN h ON h.span = ? AND h.k % 64 = (m.rowid + t.i) % 64",
            (span, first, span, checks, checks, checks, checks,
             max(0, (end - first) // span), span))

    minute = int(now // 60 * 60)
    for seconds in (DAY, 7 * DAY, 30 * DAY):
        edge = int((now - seconds) // 60 * 60)
        day = edge // DAY * DAY
        rows(HOUR, day, min(rolled, day + DAY))
        rows(600, edge // HOUR * HOUR - HOUR, edge // HOUR * HOUR + 2 * HOUR)
        rows(60, edge // 600 * 600 - 600, edge // 600 * 600 + 1200)
    rows(60, minute - 3 * HOUR, minute + 60)
    # Response times that differ minute to minute, as real ones do (the sparklines: drawn
    # from 64 texts, they would compress to nothing).
    conn.execute("UPDATE aggregates SET rt_sum = 20 + (abs(random()) % 400000) / 1000.0"
                 " WHERE span = 60 AND start >= ? AND monitor IN (SELECT monitor FROM monitors)",
                 (minute - 3 * HOUR,))
    today = rolled // DAY * DAY
    conn.execute("UPDATE aggregates SET checks = (SELECT ifnull(sum(checks), 0) FROM"
                 " aggregates h WHERE h.monitor = aggregates.monitor AND h.span = 3600 AND"
                 " h.start >= ? AND h.start < ?), up = checks WHERE span = 86400 AND start = ?",
                 (today, rolled, today))
    conn.execute("UPDATE aggregates SET up = checks WHERE span = 86400 AND start = ?",
                 (today,))
    # Now: one in 50 down since a while, one in 50 warning; one in 10 failed once lately.
    conn.execute("UPDATE monitor_state SET down_since = ? - 900, last_failure = ? - 40,"
                 " last_available = 0, last_status = 503, last_reason = 'http_status',"
                 " last_detail = 'HTTP 503' WHERE rowid % 50 = 7", (now, now))
    conn.execute("UPDATE monitor_state SET warning = 'tls_expiry: certificate expires in 9.5"
                 " days' WHERE rowid % 50 = 21")
    conn.execute("UPDATE monitor_state SET last_failure = ? - (rowid * 97) % 86400"
                 " WHERE rowid % 10 = 3", (now,))
    conn.execute(
        "INSERT INTO website_monitoring (timestamp, host, available, status, responseTime,"
        " reason, detail, lateness, monitor) SELECT last_failure, monitor, 0, 503, 120.5,"
        " 'http_status', 'HTTP 503 Service Unavailable', 1.0, monitor FROM monitor_state"
        " WHERE last_failure IS NOT NULL")
    uptime.start_day_counts(conn, rolled, 0)
    conn.execute("COMMIT")
    conn.close()


def load(browser: Any, url: str, until: str) -> dict[str, Any]:
    """One first load in a fresh context: its timings, long tasks and bytes; `until`, the
    page's own sign that it has drawn what it shows."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        context.add_init_script(OBSERVE)
        page = context.new_page()
        page.set_default_timeout(60_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        sizes: dict[str, float] = {}
        cdp.on("Network.loadingFinished",
               lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
        page.goto(url)
        wait(page, until)
        page.wait_for_timeout(QUIET_MS * 4)  # a long task that starts now would be seen
        found = page.evaluate(TIMING)
        found["bytes"] = sum(sizes.values())
        found["files"] = len(sizes)
        found["interactive"] = interactive(found["ready"] if found["ready"] is not None
                                           else found["load"], found["longTasks"])
        return found
    finally:
        context.close()


def interactive(ready: float, tasks: list[list[float]]) -> float:
    """From `ready` on, the end of the last long task before a quiet 50 ms."""
    at = ready
    for start, duration in sorted(tasks):
        if start + duration <= at:
            continue
        if start >= at + QUIET_MS:
            break
        at = start + duration
    return at


class Checks:
    """Checks of every monitor at `rate` a second, written by a real writer as -m writes
    them: http results with their phases; one monitor in 100 flapping (down every third
    check), the others up, around 80 ms."""

    def __init__(self, db: Path, monitors: list[str], rate: float) -> None:
        self.store = Store(db, rollups=False).start()
        self.monitors = monitors
        self.rate = rate
        self.written = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-checks", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rng = random.Random(5)
        started = time.monotonic()
        i = 0
        while not self.stop.is_set():
            due = int((time.monotonic() - started) * self.rate)
            now = time.time()
            for _ in range(due - self.written):
                monitor_id = self.monitors[i % len(self.monitors)]
                flapping = i % len(self.monitors) % 100 == 11
                ms = rng.lognormvariate(4.4, 0.4)
                if flapping and i // len(self.monitors) % 3 == 0:
                    result = CheckResult(monitor_id, now, False, 503, ms, "http_status",
                                         "HTTP 503", mono=time.monotonic())
                else:
                    result = CheckResult(
                        monitor_id, now, True, 200, ms, mono=time.monotonic(),
                        metrics={"dns": 1.2, "connect": ms * 0.2, "tls": ms * 0.3,
                                 "ttfb": ms * 0.9, "total": ms})
                self.store.put_check(result)
                self.written += 1
                i += 1
            self.stop.wait(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.store.close()


def busy(page: Any, cdp: Any, seconds: float) -> dict[str, float]:
    """The main thread's busy share over `seconds` (TaskDuration over wall time), and the
    checks the page applied a second."""
    def metrics() -> dict[str, float]:
        return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    checks0 = page.evaluate("window.dashboardStats.checks")
    m0, t0 = metrics(), time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    m1, t1 = metrics(), time.monotonic()
    checks1 = page.evaluate("window.dashboardStats.checks")
    wall = t1 - t0
    return {"busy": (m1["TaskDuration"] - m0["TaskDuration"]) / wall,
            "script": (m1["ScriptDuration"] - m0["ScriptDuration"]) / wall,
            "layout": (m1["LayoutDuration"] + m1["RecalcStyleDuration"]
                       - m0["LayoutDuration"] - m0["RecalcStyleDuration"]) / wall,
            "checks_per_s": (checks1 - checks0) / wall}


def profile(cdp: Any, page: Any, seconds: float, top: int = 12) -> list[tuple[str, float]]:
    """The page's JavaScript over `seconds`: its functions by self time (ms)."""
    cdp.send("Profiler.enable")
    cdp.send("Profiler.start")
    page.wait_for_timeout(seconds * 1000)
    found = cdp.send("Profiler.stop")["profile"]
    deltas = found["timeDeltas"]
    per_sample = (found["endTime"] - found["startTime"]) / max(1, len(deltas)) / 1000
    names = {}
    for node in found["nodes"]:
        frame = node["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1].split("?")[0]
        names[node["id"]] = (f"{frame['functionName'] or '(anonymous)'}"
                             f" {where}:{frame['lineNumber'] + 1}" if where
                             else frame["functionName"] or "(program)")
    spent: dict[str, float] = {}
    for sample in found["samples"]:
        spent[names[sample]] = spent.get(names[sample], 0.0) + per_sample
    return sorted(spent.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rate", type=float, default=1000.0, help="checks a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="of live checks")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the page's JavaScript under the live checks")
    parser.add_argument("--folder", type=Path, help="build the files there, or use those"
                        " built there before (the build takes a minute)")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.days, args.rounds, args.seconds = 200, 35, 2, 3.0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-web-dashboard-") as tmp:
        folder = args.folder or Path(tmp)
        # Its windows' edges and sparklines are of the time it was built for.
        db, _built_for = prepared(folder, args.monitors, args.days, max_age=MAX_AGE,
                                  then=fill)
        config = make_config(folder, args.monitors)
        ids = [m["URL"] for m in json.loads(config.read_text())["monitors"]]
        with serve(folder, config, db) as (port, pid), sync_playwright() as playwright:
            base = f"http://127.0.0.1:{port}"
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ready = "document.documentElement.dataset.dashboard === 'ready'"
            load(browser, f"{base}/", ready)  # the server's first request warms it
            reference = [load(browser, f"{base}/bench-nothing-here", "document.readyState"
                              " === 'complete'") for _ in range(args.rounds)]
            cpu0 = cpu_of(pid)
            loads = [load(browser, f"{base}/", ready) for _ in range(args.rounds)]
            page_cpu = (cpu_of(pid) - cpu0) / args.rounds * 1000
            html = timed_gets(port, "/api/v1/dashboard", {"Accept-Encoding": "br"}, args.rounds,
                              pid)
            live = watch(browser, base, db, ids, args, pid)
            browser.close()
    report(args, loads, reference, page_cpu, html, live)


def watch(browser: Any, base: str, db: Path, ids: list[str], args: argparse.Namespace,
          pid: int) -> dict[str, Any]:
    """(c): the dashboard open, first with no checks coming, then at `rate` a second."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/")
    wait(page, "document.getElementById('live').textContent === 'live'")
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    quiet = busy(page, cdp, min(args.seconds, 10.0))
    checks = Checks(db, ids, args.rate)
    try:
        page.wait_for_timeout(3000)  # the stream under way
        cpu0, t0 = cpu_of(pid), time.monotonic()
        loaded = busy(page, cdp, args.seconds)
        server = (cpu_of(pid) - cpu0) / (time.monotonic() - t0)
        found = profile(cdp, page, min(args.seconds, 10.0)) if args.profile else []
        # Still live: a row in view shows a check written just now.
        shown = page.evaluate("document.querySelectorAll('#rows tr.mon').length")
    finally:
        checks.close()
    context.close()
    return {"quiet": quiet, "loaded": loaded, "server": server, "profile": found,
            "written": checks.written, "shown": shown}


def report(args: argparse.Namespace, loads: list[dict[str, Any]],
           reference: list[dict[str, Any]], page_cpu: float, html: dict[str, Any],
           live: dict[str, Any]) -> None:
    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    ready, ref_ready = med(loads, "interactive"), med(reference, "interactive")
    size, ref_size = med(loads, "bytes"), med(reference, "bytes")
    parts = {key: round(med(loads, key), 1) for key in
             ("html", "scripts", "dataFirstByte", "data", "ready")}
    long_tasks = [round(d) for row in loads for _s, d in row["longTasks"]]
    figure("dashboard_interactive_ms", ready, "ms", rounds=len(loads), monitors=args.monitors,
           **parts, long_tasks_ms=long_tasks, server_cpu_ms=round(page_cpu, 1),
           target_ratio=round(ready / READY_TARGET_MS, 3),
           vs_reference=round(ready / ref_ready, 1) if ref_ready else None)
    figure("dashboard_first_load_bytes", size, "bytes", files=loads[0]["files"],
           target_ratio=round(size / BYTES_TARGET, 3),
           vs_reference=round(size / ref_size, 1) if ref_size else None)
    figure("reference_page_interactive_ms", ref_ready, "ms", bytes=ref_size)
    figure("dashboard_data_ms", html["median"], "ms", bytes=html["bytes"],
           server_cpu_ms=round(html["cpu_ms"], 1))
    quiet, loaded = live["quiet"], live["loaded"]
    figure("dashboard_live_busy", loaded["busy"], "share", rate=args.rate,
           seconds=args.seconds, applied_per_s=round(loaded["checks_per_s"]),
           script=round(loaded["script"], 3), layout=round(loaded["layout"], 3),
           server_cpu_core=round(live["server"], 3),
           target_ratio=round(loaded["busy"] / BUSY_TARGET, 3),
           vs_idle=round(loaded["busy"] / quiet["busy"], 1) if quiet["busy"] else None)
    figure("dashboard_idle_busy", quiet["busy"], "share")
    print(f"The dashboard of {args.monitors:,} monitors ({args.days} days of history),"
          f" the real serve, Chromium; {len(loads)} first loads, medians:")
    print(f"  (a) interactive at {ready:7.1f} ms  {ready / READY_TARGET_MS:.2f}x the 1 s target"
          f"   (reference, a 404 page of the same server: {ref_ready:.1f} ms)")
    print(f"      HTML {parts['html']:.0f} ms, scripts {parts['scripts']:.0f} ms, data first"
          f" byte {parts['dataFirstByte']:.0f} ms, last {parts['data']:.0f} ms, rows drawn"
          f" {parts['ready']:.0f} ms;"
          f" server CPU {page_cpu:.0f} ms a load; long tasks {long_tasks} ms")
    print(f"      the data alone (GET /api/v1/dashboard, brotli): {html['median']:.0f} ms, p90"
          f" {html['p90']:.0f} ms, server CPU {html['cpu_ms']:.0f} ms, {html['bytes']} bytes")
    print(f"  (b) first load {size / 1000:7.1f} KB  {size / BYTES_TARGET:.2f}x the 300 KB target"
          f"   ({loads[0]['files']} files; reference {ref_size / 1000:.1f} KB)")
    print(f"  (c) main thread busy {loaded['busy']:6.3f}  {loaded['busy'] / BUSY_TARGET:.2f}x the"
          f" 0.5 target at {args.rate:.0f} checks/s ({loaded['checks_per_s']:.0f} applied a"
          f" second; script {loaded['script']:.3f}, style and layout {loaded['layout']:.3f});"
          f" idle {quiet['busy']:.3f} (reference); server {live['server'] * 100:.0f}% of a core")
    if not math.isclose(loaded["checks_per_s"], args.rate, rel_tol=0.2):
        print(f"      note: the page applied {loaded['checks_per_s']:.0f} checks a second of"
              f" the {args.rate:.0f} written")
    for name, ms in live["profile"]:
        print(f"      {ms:8.1f} ms  {name}")
    for item in FIGURES:
        print(json.dumps(item))


if __name__ == "__main__":
    main()
