"""A monitor of several locations read while 5,000 monitors are checked every second: the
real programs, measured from outside.

    python -m bench.locations                 # 5,000 monitors, the alert window filled
    python -m bench.locations --quick         # a smoke run: 200 monitors, seconds

The server is `monitoringApp.py -m -s --web` over a config of `--monitors` http monitors,
each checked from two agents' locations, eu and us, every `--interval` seconds (5,000
monitors every 2 s from each: 5,000 checks a second in all). The checks are posted by
this bench through the agent API (`POST /api/v1/agent/results`, batches of 1,000, as real
agents post them; two posting threads, one a location), so the server does what it does
with real agents' results: the alert rules judge each location, the writer stores every
row. `monitoringApp.py serve` runs beside it on the same files: it has no alert
evaluator, and replays the rules on the raw rows of the alert window (the database's
read).

Once the alert window (120 s) holds its rows, each server is asked in turn, from outside:
`GET /api/v1/monitors/{id}` (the monitor with its `locations`), `GET /monitors/{id}` (the
page's HTML), `GET /api/v1/monitors?locations=several&id=...` of 30 monitors (what the
dashboard reads for the chips of its rows in view) and, a few times, the list of all 5,000
with their locations. Target: a monitor's page or API answer under 100 ms.
Figures: median, p90 and max of each, the posting rate kept, the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.figures import figure, judged, print_figures, print_table
from bench.peers import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "monitoringApp.py"
LOCATIONS = ("eu", "us")
TARGET_MS = 100.0
BATCH = 1000  # rows a post, as agents post them
WINDOW = 120.0  # the default alertWindow: filled before the reads


def token(location: str) -> str:
    return f"bench-locations-token-{location}-0123456789"


def write_config(path: Path, monitors: int, interval: float) -> None:
    path.write_text(json.dumps({
        "agents": [{"name": f"{loc}-1", "token": token(loc), "location": loc}
                   for loc in LOCATIONS],
        "monitors": [{"id": f"m{i:05d}", "URL": f"http://127.0.0.1:9/{i}",
                      "checkInterval": interval, "locations": list(LOCATIONS)}
                     for i in range(monitors)]}))


class Poster(threading.Thread):
    """One location's agent, as the server sees it: each monitor's result every
    `interval` seconds (2% failing), posted in batches, ids increasing."""

    def __init__(self, url: str, location: str, monitors: int, interval: float,
                 stop: threading.Event) -> None:
        super().__init__(name=f"post-{location}", daemon=True)
        self.url, self.location, self.monitors = url, location, monitors
        self.interval, self.stop_event = interval, stop
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token(location)}"
        self.instance = str(uuid.uuid4())
        self.posted = 0
        self.late = 0.0  # seconds the posting fell behind, at most
        self.error: str | None = None

    def run(self) -> None:
        ident = 0
        start = time.time()
        rounds = 0
        try:
            self._call("heartbeat", {"instance": self.instance, "version": "bench",
                                     "outbox": 0, "monitors": self.monitors})
            while not self.stop_event.is_set():
                due = start + rounds * self.interval
                rows = []
                for i in range(self.monitors):
                    ident += 1
                    # Spread over the round, as a scheduler spreads its monitors.
                    at = due + self.interval * i / self.monitors
                    up = random.random() >= 0.02
                    rows.append({"id": ident, "monitor": f"m{i:05d}", "timestamp": at,
                                 "available": up, "code": 200 if up else 503,
                                 "response_ms": 20.0 + random.random() * 10,
                                 "reason": None if up else "http_status", "detail": "",
                                 "lateness_ms": 0.0, "warning": False, "metrics": {}})
                # A round's rows as their checks end: posted once their time has come.
                for first in range(0, len(rows), BATCH):
                    part = rows[first:first + BATCH]
                    wait = part[-1]["timestamp"] - time.time()
                    if wait > 0 and self.stop_event.wait(wait):
                        return
                    self._call("results", {"instance": self.instance, "results": part})
                    self.posted += len(part)
                self.late = max(self.late, time.time() - (due + self.interval))
                rounds += 1
        except Exception as exc:  # noqa: BLE001 - said by the bench at the end
            self.error = f"{self.location}: {exc}"

    def _call(self, route: str, body: dict[str, Any]) -> None:
        answer = self.session.post(f"{self.url}api/v1/agent/{route}", json=body, timeout=60)
        if answer.status_code >= 400:
            raise RuntimeError(f"{route}: {answer.status_code} {answer.text[:200]}")


def start(args: list[str], folder: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(APP), *args], cwd=folder,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_port(port, 60)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(log.read_text()[-2000:]) from None
    return proc


def timed(url: str, times: int) -> list[float]:
    """Milliseconds of each GET, from the request to the whole body read."""
    spent = []
    for _ in range(times):
        begun = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as answer:
            body = answer.read()
        spent.append((time.perf_counter() - begun) * 1000)
        assert body
    return spent


def stopped(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--fill", type=float, default=WINDOW + 10, help="seconds posted"
                        " before the reads (the alert window filled)")
    parser.add_argument("--times", type=int, default=20, help="reads of each kind")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.quick:
        options.monitors, options.fill, options.times = 200, 5.0, 5
    folder = Path(tempfile.mkdtemp(prefix="bench-locations-"))
    config, db = folder / "config.json", folder / "monitoring.db"
    write_config(config, options.monitors, options.interval)
    web_port, serve_port = free_port(), free_port()
    monitor = start(["-m", "-s", "--web", f"127.0.0.1:{web_port}", "-c", str(config),
                     "-db", str(db)], folder, web_port, folder / "monitor.log")
    stop = threading.Event()
    served: subprocess.Popen | None = None
    posters: list[Poster] = []
    try:
        served = start(["serve", "--listen", f"127.0.0.1:{serve_port}", "-c", str(config),
                        "-db", str(db)], folder, serve_port, folder / "serve.log")
        url = f"http://127.0.0.1:{web_port}/"
        posters = [Poster(url, loc, options.monitors, options.interval, stop)
                   for loc in LOCATIONS]
        begun = time.monotonic()
        for poster in posters:
            poster.start()
        print(f"posting {options.monitors} monitors x {len(LOCATIONS)} locations every"
              f" {options.interval:g} s for {options.fill:g} s before the reads…", flush=True)
        while time.monotonic() - begun < options.fill:
            time.sleep(1)
            failed = [p.error for p in posters if p.error]
            if failed:
                raise RuntimeError("; ".join(failed))
        posted_at = time.monotonic()
        posted = sum(p.posted for p in posters)
        rate = posted / (posted_at - begun)
        subject = f"m{options.monitors // 2:05d}"
        in_view = "".join(f"&id=m{i:05d}" for i in range(30))
        reads = {
            "monitor API": (f"api/v1/monitors/{subject}", options.times),
            "monitor page": (f"monitors/{subject}", options.times),
            "dashboard's 30 rows": (f"api/v1/monitors?locations=several&limit=100{in_view}",
                                    options.times),
            "all, with locations": ("api/v1/monitors?locations=several&limit=10000", 3),
        }
        rows = [("server", "read", "median ms", "p90 ms", "max ms")]
        load = os.getloadavg()[0]
        for server, port in (("-m --web", web_port), ("serve", serve_port)):
            for name, (path, times) in reads.items():
                spent = sorted(timed(f"http://127.0.0.1:{port}/{path}", times))
                median, p90 = statistics.median(spent), spent[max(0, int(len(spent) * 0.9) - 1)]
                rows.append((server, name, f"{median:.1f}", f"{p90:.1f}", f"{spent[-1]:.1f}"))
                extra = {"server": server, "p90_ms": round(p90, 1), "max_ms": round(spent[-1], 1),
                         "monitors": options.monitors, "checks_per_s": round(rate),
                         "load_average": round(load, 2)}
                if name.startswith("all"):
                    figure(f"{name}, {server}", median, "ms", **extra)
                else:
                    judged(f"{name}, {server}", median, "ms", TARGET_MS, **extra)
        body = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{serve_port}/api/v1/monitors/{subject}", timeout=60).read())
        print(f"\n{subject} from serve: " + ", ".join(
            f"{s['location']} {s['state']} {s['availability']:.3f} since {s['since']}"
            for s in body["locations"]))
        print_table(rows)
        print(f"\nposted {rate:.0f} checks/s (posting fell behind by at most"
              f" {max(p.late for p in posters):.1f} s); load average {load:.2f} on"
              f" {os.cpu_count()} cores")
        print_figures()
    finally:
        stop.set()
        for poster in posters:
            poster.join(30)
        if served is not None:
            stopped(served)
        stopped(monitor)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
