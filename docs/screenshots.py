"""The screenshots of docs/web.md, made from a real run: `make screenshots`.

Starts a few HTTP servers on loopback (a home page, an API, a slow search, a broken
checkout), writes a week of their history through the store's own writer (so the charts and
uptime bars have something to show), then runs the real `monitoringApp.py -m --web` over
them with a status page, lets it check for a while, and has Debian's Chromium (through
Playwright) take the dashboard, a monitor page, the status page, the dashboard in dark mode
and at a phone's width into docs/img/. Everything stops by itself.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.core.model import CheckResult  # noqa: E402 - after the path is set
from monitor.store.sqlite.writer import Store  # noqa: E402

OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
TOKEN = "screenshot-token-0123456789"
WEEK = 7 * 86400
STEP = 300  # seconds between the checks of the week written beforehand
SERVING = re.compile(r"Serving (http://[^ ]+/) ")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path.startswith("/slow"):
            time.sleep(0.35)
        status = 500 if self.path.startswith("/checkout") else 200
        body = b"<html><body>demo</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def config(port: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    return {
        "monitors": [
            {"URL": f"{base}/", "name": "Home page", "tags": ["web"], "checkInterval": 2},
            {"URL": f"{base}/api/health", "name": "API", "tags": ["web", "api"],
             "checkInterval": 2},
            {"URL": f"{base}/slow/search", "name": "Search", "tags": ["web"],
             "checkInterval": 3},
            {"URL": f"{base}/checkout", "name": "Checkout", "tags": ["shop"],
             "checkInterval": 2},
            {"type": "tcp", "host": "127.0.0.1", "port": port, "name": "Web server port",
             "tags": ["infra"], "checkInterval": 5},
        ],
        "apiTokens": [{"name": "docs", "token": TOKEN, "scope": "write"}],
        "statusPages": [{"slug": "demo", "title": "Demo Inc. status",
                         "groups": [{"name": "Website", "monitors": ["Home page", "Search"]},
                                    {"name": "Services", "monitors": ["API", "Checkout"]}]}],
    }


def history(db: Path, document: dict, now: float) -> None:
    """A week of checks every 5 minutes, with a bad afternoon for the API and the
    checkout's recent trouble, written by the store's writer as -m would have."""
    store = Store(db).start()
    try:
        for entry in document["monitors"]:
            if "URL" not in entry:
                continue
            monitor_id = entry["URL"]
            slow = "slow" in monitor_id
            for step in range(WEEK // STEP):
                at = now - WEEK + step * STEP
                wave = 1 + 0.3 * math.sin(step / 18.0)
                dns, connect = 0.4 * wave, 0.9 * wave
                ttfb = (340 if slow else 28) * wave
                bad = ("api" in monitor_id and 800 <= step <= 824) or (
                    "checkout" in monitor_id and step >= WEEK // STEP - 60)
                store.put_check(_check(monitor_id, at, bad, dns, connect, ttfb))
            # The last half hour every 30 s: the dashboard's sparklines have their minutes.
            for step in range(60, 0, -1):
                wave = 1 + 0.25 * math.sin(step / 4.0)
                store.put_check(_check(monitor_id, now - step * 30, "checkout" in monitor_id,
                                       0.4, 0.9, (340 if slow else 28) * wave))
        store.flush(timeout=60)
    finally:
        store.close()


def _check(monitor_id: str, at: float, bad: bool, dns: float, connect: float,
           ttfb: float) -> CheckResult:
    return CheckResult(monitor_id, at, not bad, 500 if bad else 200, ttfb + connect + dns,
                       reason="status" if bad else None, detail="HTTP 500" if bad else "",
                       metrics={"dns": dns, "connect": connect, "ttfb": ttfb,
                                "total": ttfb + connect + dns})


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="screenshots-") as folder_name:
        folder = Path(folder_name)
        document = config(server.server_address[1])
        (folder / "config.json").write_text(json.dumps(document, indent=2))
        os.chmod(folder / "config.json", 0o600)
        history(folder / "monitoring.db", document, time.time())
        proc = subprocess.Popen([sys.executable, str(ROOT / "monitoringApp.py"), "-m",
                                 "--plain", "--web", "127.0.0.1:0"], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = _serving(proc)
            time.sleep(12)  # a few live checks of each, the checkout down for good
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                shoot(browser, url, document)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    server.shutdown()
    print(f"screenshots in {OUT.relative_to(ROOT)}/")


def _serving(proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = SERVING.search(line)
        if found:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
            return found.group(1)
    raise SystemExit("the monitor did not start serving")


def shoot(browser: Any, url: str, document: dict) -> None:
    def context(**options: Any) -> Any:
        made = browser.new_context(**options)
        tab = made.new_page()
        tab.goto(f"{url}login?next=/")
        tab.fill("#token", TOKEN)
        tab.click("#login-submit")
        tab.wait_for_load_state("networkidle")
        return tab

    wide = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
    tab = context(**wide, color_scheme="light")
    _shot(tab, "dashboard")
    tab.goto(f"{url}monitors/{document['monitors'][1]['URL']}")
    tab.wait_for_load_state("networkidle")
    tab.wait_for_timeout(500)  # the charts drawn
    _shot(tab, "monitor")
    tab.goto(f"{url}status/demo")
    tab.wait_for_load_state("networkidle")
    _shot(tab, "status")
    dark = context(**wide, color_scheme="dark")
    _shot(dark, "dashboard-dark")
    phone = context(viewport={"width": 375, "height": 740}, device_scale_factor=2,
                    is_mobile=True, has_touch=True, color_scheme="light")
    _shot(phone, "phone")


def _shot(tab: Any, name: str) -> None:
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(OUT / f"{name}.png"))
    print(f"  {name}.png")


if __name__ == "__main__":
    main()
