"""100 status pages open in Chromium, and what they cost the server, measured from outside.

    python -m bench.web_status              # 5,000 monitors, 100 pages open for 60 s
    python -m bench.web_status --quick      # a smoke run (a few pages, a few seconds)

A database as 90 days of `-m` leave it for 5,000 monitors (bench.history's, made by the
real schema and the store's own code) and their config.json, with a status page of 20 of
them (bench.server's monitors). `monitoringApp.py serve` runs over them in a process of
its own; its CPU is read from /proc:

- idle, for the length of the window, before any page is open: the reference;
- while `--pages` pages, each in a browser context of its own (a visitor each: its own
  cache, its own first load), stay open for `--seconds`, refreshing themselves as they do
  for a customer (every 30 s, their document's ETag answered 304 while nothing changed);
- the same during an incident: a monitor of the page failing a check a second, written
  to the database beside the server as a `-m` would, so that what the page shows changes
  and most refreshes are answered in full.

Each as a fraction of one core against the 5% target. Then one page's first load in a
fresh context: the bytes transferred (target 300 KB) and the time to its load event,
beside the same server's trivial `GET /api/v1/`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.history import prepared
from bench.metrics import serve, timed_gets
from bench.run import FIGURES, cpu_of, figure
from bench.server import make_config
from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from tests.support.browser import ARGS, CHROMIUM

CPU_TARGET = 0.05  # of one core, for all the open pages
BYTES_TARGET = 300_000
SLUG = "acme"


def page_config(config: Path, monitors: int, shown: int) -> list[str]:
    """Add a status page of `shown` monitors spread over the list (bench.history gives
    one in 50 a bad day now and then: some are among them); their ids."""
    document = json.loads(config.read_text())
    step = max(1, monitors // shown)
    chosen = [document["monitors"][i] for i in range(0, monitors, step)][:shown]
    half = len(chosen) // 2
    document["statusPages"] = [{
        "slug": SLUG, "title": "Acme status", "description": "Our services, live",
        "groups": [{"name": "Web", "monitors": [m["name"] for m in chosen[:half]]},
                   {"name": "API", "monitors": [m["name"] for m in chosen[half:]]}]}]
    config.write_text(json.dumps(document))
    return [m["URL"] for m in chosen]


def idle(pid: int, seconds: float) -> float:
    """The server's CPU over `seconds` with nothing asked of it, as a fraction of a core."""
    cpu0, t0 = cpu_of(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_of(pid) - cpu0) / (time.monotonic() - t0)


def first_load(browser: Any, url: str) -> dict[str, float]:
    """One visitor's first load: bytes on the wire (headers and bodies, compressed as
    sent) and milliseconds to the load event."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("Network.enable")
        sizes: list[float] = []
        cdp.on("Network.loadingFinished", lambda event: sizes.append(event["encodedDataLength"]))
        tab.goto(url, wait_until="load")
        tab.wait_for_load_state("networkidle")
        timing = tab.evaluate("(({responseStart, loadEventEnd}) => [responseStart,"
                              " loadEventEnd])(performance.getEntriesByType('navigation')[0])")
        return {"bytes": sum(sizes), "files": len(sizes), "ttfb": timing[0], "ms": timing[1]}
    finally:
        context.close()


class Visitors:
    """`count` pages, each in a context of its own, counting their refreshes' answers."""

    def __init__(self, browser: Any, url: str, count: int) -> None:
        self.answers: Counter[int] = Counter()
        self.contexts = []
        self.tabs = []
        for _ in range(count):
            context = browser.new_context()
            context.on("response", self._seen)
            tab = context.new_page()
            tab.goto(url, wait_until="load")
            self.contexts.append(context)
            self.tabs.append(tab)

    def _seen(self, response: Any) -> None:
        if response.url.split("?")[0].endswith(f"/status/{SLUG}.json"):
            self.answers[response.status] += 1

    def window(self, pid: int, seconds: float) -> tuple[float, Counter[int]]:
        """The server's CPU while the pages stay open `seconds` (a fraction of a core),
        and their refreshes' answers by status."""
        self.answers.clear()
        cpu0, t0 = cpu_of(pid), time.monotonic()
        self.tabs[0].wait_for_timeout(seconds * 1000)  # the browser's events go on
        spent = (cpu_of(pid) - cpu0) / (time.monotonic() - t0)
        return spent, Counter(self.answers)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


class Incident:
    """A monitor of the page failing a check a second, written beside the server."""

    def __init__(self, db: Path, monitor_id: str) -> None:
        self.store = Store(db, rollups=False).start()
        self.monitor_id = monitor_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.store.put_check(CheckResult(self.monitor_id, time.time(), False, None, 5.0,
                                             "connect", "refused"))
            self.store.flush()
            self.stop.wait(1.0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--shown", type=int, default=20, help="monitors on the page")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--refresh", type=int, default=None,
                        help="seconds between refreshes (default: the page's own, 30)")
    parser.add_argument("--folder", type=Path, help="build the files there, or use those"
                        " built there before")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.days, args.pages, args.seconds = 200, 10, 3, 8.0
        args.refresh = args.refresh or 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        folder = args.folder or Path(tmp)
        db, _built_for = prepared(folder, args.monitors, args.days)
        config = make_config(folder, args.monitors)
        shown = page_config(config, args.monitors, args.shown)
        path = f"/status/{SLUG}" + (f"?refresh={args.refresh}" if args.refresh else "")
        with serve(folder, config, db) as (port, pid), sync_playwright() as playwright:
            url = f"http://127.0.0.1:{port}{path}"
            time.sleep(1.0)  # past the start's own work
            reference = idle(pid, args.seconds)
            root = timed_gets(port, "/api/v1/", {}, 20, pid)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            load = first_load(browser, url)
            t0 = time.monotonic()
            visitors = Visitors(browser, url, args.pages)
            opened = time.monotonic() - t0
            visitors.tabs[0].wait_for_timeout(2000)
            quiet, quiet_answers = visitors.window(pid, args.seconds)
            incident = Incident(db, shown[0])
            try:
                busy, busy_answers = visitors.window(pid, args.seconds)
            finally:
                incident.close()
            visitors.close()
            browser.close()
    report(args, reference, quiet, quiet_answers, busy, busy_answers, load, root, opened)


def report(args: argparse.Namespace, reference: float, quiet: float, quiet_answers: Counter,
           busy: float, busy_answers: Counter, load: dict[str, float], root: dict,
           opened: float) -> None:
    every = args.refresh or 30
    figure("status_pages_idle_cpu", reference, "core", seconds=args.seconds,
           monitors=args.monitors)
    for name, spent, answers in (("status_pages_cpu", quiet, quiet_answers),
                                 ("status_pages_incident_cpu", busy, busy_answers)):
        polls = sum(answers.values())
        figure(name, spent, "core", pages=args.pages, seconds=args.seconds,
               refresh_s=every, monitors=args.monitors, shown=args.shown,
               answers={str(k): v for k, v in sorted(answers.items())},
               cpu_ms_per_refresh=round((spent - reference) * args.seconds * 1000
                                        / polls, 2) if polls else None,
               target_ratio=round(spent / CPU_TARGET, 3),
               vs_idle=round(spent / reference, 1) if reference > 0 else None)
    figure("status_page_first_load_bytes", load["bytes"], "bytes", files=load["files"],
           target_ratio=round(load["bytes"] / BYTES_TARGET, 3))
    figure("status_page_first_load_ms", load["ms"], "ms", ttfb_ms=round(load["ttfb"], 1),
           vs_api_root=round(load["ms"] / root["median"], 1))
    figure("api_root_ms", root["median"], "ms")
    print(f"{args.pages} status pages ({args.shown} monitors of {args.monitors}), refreshing"
          f" every {every} s, opened in {opened:.1f} s; server CPU over {args.seconds:g} s:")
    rows = [("idle (reference)", reference, Counter()),
            ("pages open, nothing changes", quiet, quiet_answers),
            ("pages open, an incident in progress", busy, busy_answers)]
    for what, spent, answers in rows:
        told = ", ".join(f"{n}x {status}" for status, n in sorted(answers.items()))
        ratio = "" if not answers else f"  {spent / CPU_TARGET:.2f}x target"
        print(f"  {what:<38} {spent * 100:6.2f}% of a core{ratio}  {told}")
    print(f"first load: {load['bytes'] / 1000:.1f} KB in {load['files']:.0f} files"
          f" ({load['bytes'] / BYTES_TARGET:.2f}x target), its first byte at"
          f" {load['ttfb']:.0f} ms, load event at {load['ms']:.0f} ms"
          f" (GET /api/v1/: {root['median']:.1f} ms)")
    for item in FIGURES:
        print(json.dumps(item))


if __name__ == "__main__":
    main()
