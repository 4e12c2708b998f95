"""A monitor's checks, stats and alerts through the real server, on a big database.

    python -m bench.api_history                          # 5,000,000 checks of 5,000 monitors
    python -m bench.api_history --checks 500000 --monitors 500

Builds a real SQLite file (the real schema, made by the store's own Store) filled in SQL as
`-m` leaves it: one check a minute per monitor, every monitor in turn, their minute and
10-minute aggregates and states, and a few alerts. Starts `monitoringApp.py serve` on it as
users do, and times from this process (the client) each request, REPEAT times:

- the floor: GET /api/v1/ (waitress and Flask, no database), in the same run;
- one monitor's newest page of checks (`/checks?limit=100`): the table is indexed by time
  alone, so a page walks every monitor's rows back to the monitor's hundredth, at most
  SCAN_ROWS of them (then it stops and says where to go on: `nextUntil`);
- a monitor with no check at all (a page walks its SCAN_ROWS and finds nothing);
- one hour of one monitor's checks (`since` and `until`);
- the stats of one monitor over 24 h and 365 d, and the newest 100 alert rows.

Beside the routes, the same reads without the walk's bound, in SQL on the file from this
process: what an unbounded page would cost. Prints each median as a ratio to the 200 ms
target, then one JSON line per figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from bench.peers import free_port, process, wait_port
from bench.run import FIGURES, figure
from monitor.store.history import SCAN_ROWS
from monitor.store.sqlite.writer import Store

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 200.0
REPEAT = 15
IDLE = "https://idle.example.com/"  # a monitor of the database without a check


def site(i: int) -> str:
    return f"https://site{i}.example.com/"


def build(path: Path, checks: int, monitors: int, now: float) -> None:
    """`checks` checks, one a minute per monitor in turn, ending at `now`; the aggregates,
    states and monitors the writer keeps; an alert and its recovery for every tenth."""
    Store(path, clock=lambda: now).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO monitors (monitor, name, interval, active, kind, target)"
                     " VALUES (?, '', 60, 1, 'http', ?)",
                     [(site(i), site(i)) for i in range(monitors)] + [(IDLE, IDLE)])
    first = now - checks * 60.0 / monitors
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
        " INSERT INTO website_monitoring (timestamp, host, available, status, responseTime,"
        " reason, detail, lateness, monitor, metrics, warning)"
        " SELECT ? + n.i * 60.0 / ?, 'https://site' || (n.i % ?) || '.example.com/',"
        " n.i % 50 <> 0, CASE WHEN n.i % 50 THEN 200 ELSE 503 END, 20 + n.i % 300,"
        " CASE WHEN n.i % 50 = 0 THEN 'http_status' END,"
        " CASE WHEN n.i % 50 = 0 THEN 'HTTP 503 Service Unavailable' END, n.i % 7,"
        " 'https://site' || (n.i % ?) || '.example.com/',"
        " json_object('dns', 1.5, 'connect', 4.25, 'ttfb', 20 + n.i % 300), NULL FROM n",
        (checks, first, monitors, monitors, monitors))
    for span in (60, 600):
        conn.execute(
            "INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum,"
            " rt_min, rt_max, hist, outcomes) SELECT monitor, ?, CAST(timestamp / ? AS"
            " INTEGER) * ?, count(*), sum(available), count(*), sum(responseTime),"
            " min(responseTime), max(responseTime), '4P2', '200:' || count(*)"
            " FROM website_monitoring GROUP BY monitor, 3", (span, span, span))
    conn.execute("INSERT INTO monitor_state (monitor, last_check, last_ok)"
                 " SELECT monitor, max(timestamp), max(timestamp) FROM website_monitoring"
                 " GROUP BY monitor")
    conn.executemany(
        "INSERT INTO website_alerts (timestamp, host, type, startDate, endDate,"
        " availability, message, monitor) VALUES (?, ?, ?, ?, ?, 0.5, 'x', ?)",
        [row for i in range(0, monitors, 10) for row in (
            ("2026-01-01T00:00:00.000Z", site(i), "alert", "2026-01-01T00:00:00.000Z",
             None, site(i)),
            ("2026-01-01T00:10:00.000Z", site(i), "recovery", "2026-01-01T00:00:00.000Z",
             "2026-01-01T00:10:00.000Z", site(i)))])
    conn.execute("COMMIT")
    conn.close()


def timed(port: int, path: str) -> tuple[list[float], dict]:
    """REPEAT answers to GET `path` on one keep-alive connection: their times in ms, the
    last body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    body: dict = {}
    for _ in range(REPEAT):
        start = time.perf_counter()
        conn.request("GET", path)
        answer = conn.getresponse()
        data = answer.read()
        times.append((time.perf_counter() - start) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status} {data[:300]!r}")
        body = json.loads(data)
    conn.close()
    return times, body


def in_sql(db: Path, sql: str, args: tuple) -> list[float]:
    conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro", uri=True)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        conn.execute(sql, args).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=5_000_000)
    parser.add_argument("--monitors", type=int, default=5000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-api-history-") as tmp:
        folder = Path(tmp)
        db = folder / "monitoring.db"
        started = time.perf_counter()
        build(db, args.checks, args.monitors, now)
        print(f"built {args.checks} checks of {args.monitors} monitors in"
              f" {time.perf_counter() - started:.0f} s ({db.stat().st_size / 1e6:.0f} MB)",
              file=sys.stderr)
        config = folder / "config.json"
        config.write_text(json.dumps({"monitors": [{"URL": site(0)}]}))
        os.chmod(config, 0o600)
        port = free_port()
        one = quote(site(args.monitors // 2), safe="")
        hour = f"since={now - 7200:.0f}&until={now - 3600:.0f}"
        requests: list[tuple[str, str]] = [
            ("floor", "/api/v1/"),
            ("checks_newest_page", f"/api/v1/monitors/{one}/checks?limit=100"),
            ("checks_none_in_range", f"/api/v1/monitors/{quote(IDLE, safe='')}/checks"),
            ("checks_one_hour", f"/api/v1/monitors/{one}/checks?{hour}&limit=1000"),
            ("stats_24h", f"/api/v1/monitors/{one}/stats?window=24h"),
            ("stats_365d", f"/api/v1/monitors/{one}/stats?window=365d"),
            ("alerts_newest_100", "/api/v1/alerts?limit=100"),
        ]
        results: dict[str, tuple[float, float, dict]] = {}
        app = [sys.executable, str(ROOT / "monitoringApp.py")]
        with process([*app, "serve", "--listen", f"127.0.0.1:{port}", "-c", str(config),
                      "-db", str(db)], cwd=folder):
            wait_port(port, 60)
            for name, path in requests:
                times, body = timed(port, path)
                results[name] = (statistics.median(times), max(times), body)
        unbounded = in_sql(db, "SELECT id FROM website_monitoring WHERE monitor = ?"
                               " ORDER BY timestamp DESC LIMIT 100", ("nowhere",))
    floor = results["floor"][0]
    print(f"{args.checks} checks of {args.monitors} monitors; a page walks at most"
          f" {SCAN_ROWS} rows; `serve` measured from a client process, {REPEAT} requests"
          " each (median, max)")
    for name, (median, worst, body) in results.items():
        listed = body.get("checks", body.get("alerts"))
        extra = f"{len(listed):5d} rows" if isinstance(listed, list) else "         "
        more = " nextUntil set" if body.get("nextUntil") else ""
        print(f"  {name:22s} {median:8.1f} ms  max {worst:8.1f} ms  {extra}  "
              f"{median / TARGET_MS:5.2f} of the 200 ms target{more}")
        figure(f"api_history_{name}_ms", median, "ms", max=round(worst, 1),
               floor_ms=round(floor, 2), ratio_to_target=round(median / TARGET_MS, 3))
    print(f"  unbounded (no walk bound, SQL, a monitor with no row): "
          f"{statistics.median(unbounded):8.1f} ms")
    figure("api_history_unbounded_scan_ms", statistics.median(unbounded), "ms")
    _print_figures(print)


def _print_figures(out: Callable[[str], None]) -> None:
    for entry in FIGURES:
        out(json.dumps(entry))


if __name__ == "__main__":
    main()
