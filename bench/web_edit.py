"""An edit, a pause and a delete at 5,000 monitors, done from the pages in Chromium against
the real program, each timed from the click to the next page loaded (or the change shown);
target 300 ms each (Uptime Kuma: 45 s at 700 monitors).

    python -m bench.web_edit              # 5,000 monitors, -m --web
    python -m bench.web_edit --serve      # the same, `serve` beside a real -m
    python -m bench.web_edit --quick      # a smoke run (the test suite runs it)

The config holds 5,000 http monitors of a loopback target (bench.target, a process of its
own), each checked every 60 s by the real -m; the database what that -m writes. Chromium
(Debian's, driven by Playwright) opens a monitor's edit form, renames it and saves (timed
to the monitor's page loaded: the POST, its write of config.json, the redirect and the
page); on that page clicks Pause (timed to the button saying Resume: the API's write and
the page's update); opens another monitor's delete confirmation and deletes (timed to the
next page loaded: the dashboard). Beside them, in the same run: the same server's `GET
/api/v1/` (what any request costs now) and the browser's plain navigations to the form, the
monitor page and the dashboard (what those pages cost without an edit). Then, in this
process, the editor's write alone, split into its parts: why an edit costs what it does.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.metrics import timed_gets
from bench.peers import free_port, process, wait_port
from bench.run import FIGURES, cpu_of, figure, target
from monitor.config.edit import ConfigEditor
from monitor.web.pages import monitor_url

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium calls Google's hosts, refused here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The time of the click, in the browser's own clock (epoch ms), kept across the navigation
# it starts; then the next page's load, or the moment the change is in the page.
MARK = """([selector, text]) => { const el = document.querySelector(selector);
  el.addEventListener("click", () => sessionStorage.setItem("bench-t0",
    String(performance.timeOrigin + performance.now())), {capture: true, once: true});
  if (text === null) return;
  window.benchShown = null;
  const seen = new MutationObserver(() => { if (el.textContent === text) {
    window.benchShown = performance.timeOrigin + performance.now(); seen.disconnect(); } });
  seen.observe(el, {childList: true, characterData: true, subtree: true}); }"""
LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"
SINCE_CLICK = """() => { const n = performance.getEntriesByType("navigation")[0];
  const t0 = Number(sessionStorage.getItem("bench-t0")), origin = performance.timeOrigin;
  return {load: origin + n.loadEventEnd - t0, post: origin + n.redirectEnd - t0,
          next: n.responseStart - n.requestStart, redirects: n.redirectCount,
          shown: window.benchShown ? window.benchShown - t0 : null};
}"""


def make_config(folder: Path, monitors: int, base: str) -> Path:
    """`monitors` http monitors of the target at `base`, each checked every 60 s."""
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": [
        {"URL": f"{base}/site/{i}", "name": f"site {i}", "checkInterval": 60}
        for i in range(monitors)]}, indent=2))
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def program(folder: Path, config: Path, serve: bool) -> Iterator[tuple[int, int]]:
    """The real program over the folder: `-m --web`, or `serve` beside a `-m`; (the web
    server's port, its pid)."""
    port = free_port()
    app = [sys.executable, str(ROOT / "monitoringApp.py")]
    files = ["-c", str(config), "-db", str(folder / "monitoring.db")]
    web = [*app, "serve", "--listen", f"127.0.0.1:{port}", *files]
    monitor = [*app, "-m", "--plain", *files]
    with contextlib.ExitStack() as stack:
        if serve:
            stack.enter_context(process(monitor, cwd=folder))
            time.sleep(2)  # the monitor makes the database first
            proc = stack.enter_context(process(web, cwd=folder))
        else:
            proc = stack.enter_context(process([*monitor, "--web", f"127.0.0.1:{port}"],
                                               cwd=folder))
        wait_port(port, 60)
        yield port, proc.pid


def timed_click(page: Any, selector: str, shown: tuple[str, str] | None = None,
                ) -> dict[str, float]:
    """Click, then wait for the next page loaded or for the text `shown` (selector, text)
    to be in the page. In ms from the click, by the browser's clock: `load` (the next
    page's load event), `post` (the POST answered: its write done, the redirect in hand),
    `next` (the next page's request to its first byte), `shown`; `wall`, by this
    process's, with Playwright's own delays."""
    page.evaluate(MARK, [selector, shown[1] if shown else None])
    t0 = time.perf_counter()
    if shown is None:
        with page.expect_navigation(wait_until="load"):
            page.click(selector)
    else:
        page.click(selector)
        page.wait_for_selector(f"{shown[0]}:text-is('{shown[1]}')")
    wall = (time.perf_counter() - t0) * 1000
    found = page.evaluate(SINCE_CLICK)
    if shown is not None:
        return {"wall": wall, "load": found["shown"]}
    if found["redirects"] != 1:
        raise RuntimeError(f"{selector}: no redirect after the POST: {page.url}")
    return {"wall": wall, "load": found["load"], "post": found["post"],
            "next": found["next"]}


def browser_rounds(url: str, base: str, rounds: int, monitors: int, pid: int,
                   ) -> dict[str, list[dict[str, float]]]:
    """Each round: an edit, a pause, a delete, each of a monitor of the target `base`."""
    from playwright.sync_api import sync_playwright
    found: dict[str, list[dict[str, float]]] = {
        "edit": [], "pause": [], "delete": [], "form": [], "monitor page": [],
        "dashboard": []}
    cpu: dict[str, float] = {"edit": 0.0, "pause": 0.0, "delete": 0.0}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(60_000)
        for turn in range(rounds):
            edited = f"{base}/site/{(turn * 997 + 11) % (monitors // 2)}"
            deleted = f"{base}/site/{monitors - 1 - turn}"
            shown = page.goto(url + monitor_url(edited, "edit"), wait_until="load")
            if shown is None or shown.status != 200:
                raise RuntimeError(f"the edit form of {edited}: {shown and shown.status}"
                                   f" {page.inner_text('main')[:300]}")
            found["form"].append({"load": page.evaluate(LOADED)})
            page.fill("#f-name", f"edited {turn}")
            before = cpu_of(pid)
            found["edit"].append(timed_click(page, "#save"))
            cpu["edit"] += cpu_of(pid) - before
            if page.url.partition("?")[0] != url + monitor_url(edited):
                raise RuntimeError(f"the edit led to {page.url}")
            page.wait_for_selector("#pause:text-is('Pause')")
            before = cpu_of(pid)
            found["pause"].append(timed_click(page, "#pause", ("#pause", "Resume")))
            cpu["pause"] += cpu_of(pid) - before
            for what, path in (("monitor page", monitor_url(edited)), ("dashboard", "/")):
                page.goto(url + path, wait_until="load")
                found[what].append({"load": page.evaluate(LOADED)})
            page.goto(url + monitor_url(deleted, "delete"), wait_until="load")
            before = cpu_of(pid)
            found["delete"].append(timed_click(page, "#confirm-delete"))
            cpu["delete"] += cpu_of(pid) - before
        browser.close()
    for what, seconds in cpu.items():
        for row in found[what]:
            row["cpu"] = seconds * 1000 / rounds  # the server's, the -m's checks with it
    return found


def write_alone(config: Path, repeat: int) -> dict[str, Any]:
    """The editor's replace of one entry in a copy of the config, in this process: its
    median, and where its time goes (cumulative ms of one write, from a profile)."""
    copy = config.with_name("alone.json")
    shutil.copyfile(config, copy)
    editor = ConfigEditor(copy)
    snap = editor.read()
    entry = dict(snap.entries[7])
    monitor_id = snap.config.monitors[7].id  # type: ignore[union-attr]
    times = []
    for turn in range(repeat):
        entry["name"] = f"alone {turn}"
        t0 = time.perf_counter()
        editor.replace(monitor_id, entry)
        times.append((time.perf_counter() - t0) * 1000)
    profile = cProfile.Profile()
    entry["name"] = "profiled"
    profile.runcall(editor.replace, monitor_id, entry)
    stats = pstats.Stats(profile)
    parts = {}
    for (file, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        label = f"{Path(file).name}:{name}"
        if label in PARTS:
            parts[PARTS[label]] = parts.get(PARTS[label], 0.0) + row[3] * 1000
    return {"median": statistics.median(times), "parts": parts}


# What the profile of a write is split into: a function -> what it does.
PARTS = {
    "edit.py:replace": "the whole write",
    "edit.py:read": "read the file, its hash (and parse when it changed)",
    "edit.py:_validate": "validate (the loader)",
    "edit.py:_write": "write: backup, temporary file, fsync, rename",
    "edit.py:_snapshot": "the new snapshot (JSON of the document)",
    "jsontext.py:replace": "the entry's text replaced",
    "edit.py:_list": "where the entries are in the text (each decoded)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--serve", action="store_true", help="`serve` beside a -m, not"
                        " -m --web")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.rounds = 200, 2
    mode = "serve beside -m" if args.serve else "-m --web"
    with tempfile.TemporaryDirectory(prefix="bench-web-edit-") as tmp, target() as base:
        folder = Path(tmp)
        config = make_config(folder, args.monitors, base)
        with program(folder, config, args.serve) as (port, pid):
            url = f"http://127.0.0.1:{port}"
            time.sleep(3 if args.quick else 10)  # the first checks of every monitor
            reference = timed_gets(port, "/api/v1/", {}, 20, pid)
            found = browser_rounds(url, base, args.rounds, args.monitors, pid)
            after = timed_gets(port, "/api/v1/", {}, 20, pid)
        alone = write_alone(config, 3 if args.quick else 10)
    report(found, reference, after, alone, args.monitors, mode)


def report(found: dict[str, list[dict[str, float]]], reference: dict, after: dict,
           alone: dict[str, Any], monitors: int, mode: str) -> None:
    print(f"{monitors} monitors, {mode}, {len(found['edit'])} rounds (medians, ms):")
    print(f"  GET /api/v1/ (reference, same server)    {reference['median']:7.1f}"
          f"  (after the rounds: {after['median']:.1f})")
    figure("api_root_ms", reference["median"], "ms", after=round(after["median"], 1))
    for what in ("form", "monitor page", "dashboard"):
        opened = statistics.median(r["load"] for r in found[what])
        label = "an edit form" if what == "form" else f"the {what}"
        print(f"  {label + ' opened (reference: a page)':<42} {opened:7.1f}")
        figure("web_page_opened_ms", opened, "ms", page=what, monitors=monitors, mode=mode)
    labels = {"edit": "edit: Save to the monitor's page loaded",
              "pause": "pause: click to the button saying Resume",
              "delete": "delete: click to the next page loaded"}
    for what, label in labels.items():
        rows = found[what]
        wall = statistics.median(r["wall"] for r in rows)
        shown = statistics.median(r.get("load", r["wall"]) for r in rows)
        extra = ""
        if "post" in rows[0]:
            post = statistics.median(r["post"] for r in rows)
            following = statistics.median(r["next"] for r in rows)
            extra = (f"  (the POST and its write: {post:.1f}; the next page's server time:"
                     f" {following:.1f})")
        print(f"  {label:<42} {shown:7.1f}  {shown / TARGET_MS:.2f}x target{extra}"
              f"  wall {wall:.1f}  server CPU {rows[0]['cpu']:.1f}")
        figure(f"web_{what}_ms", shown, "ms", monitors=monitors, mode=mode,
               target_ratio=round(shown / TARGET_MS, 2), wall=round(wall, 1),
               worst=round(max(r.get("load", r["wall"]) for r in rows), 1),
               server_cpu_ms=round(rows[0]["cpu"], 1),
               vs_api_root=round(shown / reference["median"], 1))
    print(f"  the editor's write alone (this process)  {alone['median']:7.1f}")
    for part, ms in sorted(alone["parts"].items(), key=lambda item: -item[1]):
        print(f"      {part:<52} {ms:7.1f}")
    figure("config_write_ms", alone["median"], "ms", monitors=monitors,
           parts={k: round(v, 1) for k, v in alone["parts"].items()})
    for item in FIGURES:
        print(json.dumps(item))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
    sys.exit(0)
