"""The writers alone, SQLite's and PostgreSQL's, in one run: the same checks made beforehand
(SITES monitors, each check with the five http phase times), queued and written with their
aggregates (minutes, 10-minute blocks, states, metric sums, the hours rolled up) by each
store's writer thread, a minute of checks at a time, each flushed. Prints checks per second
of each, from the first put to the last commit, and their ratio.

An in-process diagnostic of the writer alone: no checks run, no HTTP, no reader. PostgreSQL
is a server the bench starts (tests/support/postgres.py: Debian's binaries, a temporary
folder, 127.0.0.1, fsync off as in the tests; stopped at the end) on the same machine: its
processes share the cores with the bench's, as a server beside the monitor would.

    python -m bench.pg_writer [--sites 5000] [--minutes 2] [--interval 2] [--no-metrics]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.writer import make_checks
from monitor.core.model import CheckResult
from monitor.store.postgres.writer import Store as PostgresStore
from monitor.store.sqlite.writer import Store as SqliteStore
from tests.support.postgres import running_server


def measure(make: Callable[..., object], where: str, checks: list[CheckResult],
            chunk: int, start: float) -> float:
    """Checks per second of one writer over `checks`."""
    now = [start]
    store = make(where, clock=lambda: now[0]).start()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for first in range(0, len(checks), chunk):
        part = checks[first:first + chunk]
        now[0] = part[-1].timestamp
        store.put_checks(part)
        if not store.flush(600):
            raise SystemExit(f"{where}: the writer did not write everything")
    elapsed = time.perf_counter() - t0
    store.close()
    return len(checks) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--no-metrics", action="store_true")
    args = parser.parse_args()
    metrics = not args.no_metrics
    start = time.time() - args.minutes * 60
    checks = make_checks(args.sites, args.minutes, args.interval, start, metrics)
    chunk = int(args.sites * 60 / args.interval)  # a minute of checks at a time
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = measure(SqliteStore, str(Path(tmp) / "w.db"), checks, chunk, start)
    with running_server() as server:
        postgresql = measure(PostgresStore, server.url(server.create_database()), checks,
                             chunk, start)
    print(json.dumps({"figure": "pg_writer_checks_per_s", "sqlite": round(sqlite),
                      "postgresql": round(postgresql),
                      "ratio": round(postgresql / sqlite, 2), "checks": len(checks),
                      "sites": args.sites, "metrics": metrics}))


if __name__ == "__main__":
    main()
