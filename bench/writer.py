"""The writer alone: checks made beforehand, then queued and written with their aggregates
(minutes, 10-minute blocks, monitor states and, with --metrics, the five http phase times
of each check). Prints checks per second from the first put to the last commit.

    python -m bench.writer [--sites 2000] [--minutes 20] [--interval 2] [--metrics]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.run import synthetic_check
from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store


def make_checks(sites: int, minutes: int, interval: float, start: float,
                metrics: bool) -> list[CheckResult]:
    monitor_ids = [f"http://site{i}.test/" for i in range(sites)]
    checks = []
    for step in range(int(minutes * 60 / interval)):
        ts = start + step * interval
        checks.extend(synthetic_check(monitor_id, index, sites, ts, interval, metrics)
                      for index, monitor_id in enumerate(monitor_ids))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--metrics", action="store_true")
    args = parser.parse_args()
    start = time.time() - args.minutes * 60
    checks = make_checks(args.sites, args.minutes, args.interval, start, args.metrics)
    now = [start]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "w.db", clock=lambda: now[0]).start()
        chunk = args.sites * 30  # a minute of checks at a time: memory stays bounded
        t0 = time.perf_counter()
        for first in range(0, len(checks), chunk):
            part = checks[first:first + chunk]
            now[0] = part[-1].timestamp
            for check in part:
                store.put_check(check)
            store.flush(600)
        elapsed = time.perf_counter() - t0
        store.close()
    print(json.dumps({"figure": "writer_checks_per_s", "value": round(len(checks) / elapsed),
                      "checks": len(checks), "metrics": args.metrics, "sites": args.sites}))


if __name__ == "__main__":
    main()
