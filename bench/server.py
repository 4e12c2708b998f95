"""The API's reads of 5,000 monitors and a year of history, from the real server process,
measured from outside, each as a ratio to its 200 ms target.

    python -m bench.server              # 5,000 monitors, a year of rollups
    python -m bench.server --quick      # a smoke run (the test suite runs it)

A database as a year of `-m` leaves it (bench.history's, made by the real schema and the
store's own code: every monitor's day rows for the year, the rolled hours, the blocks and
minutes in progress, the last result of each) and a config.json of the same 5,000 http
monitors. `monitoringApp.py serve` runs over them in a process of its own; this process
times keep-alive GETs and reads the server's CPU per GET from /proc. Beside them, in the
same run, the same server's trivial `GET /api/v1/` is the reference: what any request costs
on this machine now. Nothing is cached between requests.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench.history import prepared
from bench.metrics import serve, timed_gets
from bench.run import FIGURES, figure

TARGET_MS = 200.0
DAY = 86400


def make_config(folder: Path, monitors: int) -> Path:
    """The monitors bench.history's database holds: `https://site<i>.example.com/`."""
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": [
        {"URL": f"https://site{i}.example.com/", "name": f"site {i}", "checkInterval": 60}
        for i in range(monitors)]}))
    os.chmod(path, 0o600)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--gets", type=int, default=20)
    parser.add_argument("--folder", type=Path, help="build the files there, or use those"
                        " built there before (the build takes minutes)")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.days, args.gets = 200, 30, 3
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        folder = args.folder or Path(tmp)
        db, now = prepared(folder, args.monitors, args.days)  # its "now": when built for
        config = make_config(folder, args.monitors)
        trend_id = "https://site1.example.com/"  # one with a year of hour rows too
        routes = {
            "the monitors, all in one page": f"/api/v1/monitors?limit={args.monitors}",
            "90-day uptime of every monitor": "/api/v1/uptime?days=90",
            "a year of a monitor's response time, by day":
                f"/api/v1/monitors/{trend_id}/trend?since={now - 365 * DAY:.0f}&step=1d",
            "a year of a monitor's response time, by 3 h":
                f"/api/v1/monitors/{trend_id}/trend?since={now - 365 * DAY:.0f}&step=3h",
        }
        diagnostics = {
            "90 daily bars of every monitor (a status page of all)":
                "/api/v1/uptime?days=90&daily=true",
        }
        with serve(folder, config, db) as (port, pid):
            reference = timed_gets(port, "/api/v1/", {}, args.gets, pid)
            found = {what: timed_gets(port, path, {}, args.gets, pid)
                     for what, path in {**routes, **diagnostics}.items()}
    rows = [("GET /api/v1/ (reference, same server)", reference, None)]
    figure("api_root_ms", reference["median"], "ms", p90=round(reference["p90"], 1))
    for what, result in found.items():
        target = TARGET_MS if what in routes else None
        rows.append((what, result, target))
        figure("api_read_ms", result["median"], "ms", what=what, monitors=args.monitors,
               p90=round(result["p90"], 1), bytes=result["bytes"],
               server_cpu_ms=round(result["cpu_ms"], 1),
               target_ratio=None if target is None else round(result["median"] / target, 2),
               vs_api_root=round(result["median"] / reference["median"], 1))
    width = max(len(row[0]) for row in rows)
    for what, result, target in rows:
        ratio = "" if target is None else f"{result['median'] / target:.2f}x target"
        print(f"{what:<{width}}  {result['median']:8.1f} ms  p90 {result['p90']:8.1f} ms"
              f"  CPU {result['cpu_ms']:7.1f} ms  {result['bytes']:>9} bytes  {ratio}")
    for item in FIGURES:
        print(json.dumps(item))


if __name__ == "__main__":
    main()
