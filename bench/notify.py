"""Does a hanging notification provider delay the checks? The real `-m` twice, on the same
flapping sites (alerts and recoveries all along): once with a healthy webhook provider,
once with that one and a provider that never answers. Prints the checks' lateness in both
runs and the messages delivered to the healthy provider.

    python -m bench.notify [--sites 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.run import figure, pct
from tests.support.pages import PageServer
from tests.support.receivers import WebhookReceiver

APP = str(Path(__file__).resolve().parent.parent / "monitoringApp.py")


def run(sites: int, seconds: float, hanging: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder, PageServer() as pages, \
            WebhookReceiver() as hook, WebhookReceiver(mode="hang") as stuck:
        urls = [pages.set(f"/s{i}", "ok") for i in range(sites)]
        providers = [{"name": "hook", "url": hook.url("json")}]
        if hanging:
            providers.append({"name": "stuck", "url": stuck.url("json", query="rto=30")})
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({
            "websites": [{"URL": url, "checkInterval": 0.5, "alertWindow": 1}
                         for url in urls],
            "notify": providers}))
        db = Path(folder) / "m.db"
        done = threading.Event()

        def flap() -> None:  # a tenth of the sites down, then up, every 2 s
            status = 503
            while not done.wait(2.0):
                for i in range(0, sites, 10):
                    pages.set(f"/s{i}", "x", status=status)
                status = 200 if status == 503 else 503

        flipper = threading.Thread(target=flap, daemon=True)
        flipper.start()
        proc = subprocess.Popen([sys.executable, APP, "-m", "-s", "-c", str(config), "-db",
                                 str(db)], cwd=folder, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            done.wait(seconds)
        finally:
            done.set()
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
            flipper.join(5)
        conn = sqlite3.connect(db)
        try:
            lateness = [r[0] for r in conn.execute(
                "SELECT lateness FROM website_monitoring WHERE reason IS NOT 'skipped'"
                " AND lateness IS NOT NULL")]
            alerts = conn.execute("SELECT count(*) FROM website_alerts").fetchone()[0]
        finally:
            conn.close()
        return {"checks": len(lateness), "p50": pct(lateness, 50), "p99": pct(lateness, 99),
                "max": max(lateness), "alerts": alerts, "delivered": len(hook.requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"{'run':<28} {'checks':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
          f" {'alerts':>7} {'delivered':>9}")
    for hanging in (False, True, False, True):
        found = run(args.sites, args.seconds, hanging)
        name = "with a hanging provider" if hanging else "healthy provider only"
        print(f"{name:<28} {found['checks']:>7} {found['p50']:>7.1f} {found['p99']:>7.1f}"
              f" {found['max']:>7.1f} {found['alerts']:>7} {found['delivered']:>9}")
        figure(f"notify lateness p99, {name}", found["p99"], "ms", **found)


if __name__ == "__main__":
    main()
