"""How long the step from schema 8 to 9 takes on a big database, which it copies whole
(`website_monitoring` and `website_alerts` get their `monitor` column NOT NULL).

    python -m bench.migration                     # 2,000,000 checks of 500 monitors
    python -m bench.migration --checks 200000 --monitors 50

Builds a schema-8 file in a temporary folder with the migrations' own steps (4 -> 8 over
schema 4's tables), fills it in SQL with checks as -m writes them (http monitors: the
monitor column NULL, the phases' metrics; one in ten a tcp monitor, its id apart from its
target; every tenth http site ends in "/" and has a tls monitor "<site>//tls" to rename),
their minute and 10-minute aggregates and a few alerts, then times `migrate()` from 8 on
it and prints the seconds, the file's size before and after, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from monitor.store.sqlite.migrations import SCHEMA_4, STEPS, migrate
from monitor.store.sqlite.schema import statements

BASE = 1_790_000_000


def build(path: Path, checks: int, monitors: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("BEGIN")
    for statement in statements(SCHEMA_4):
        conn.execute(statement)
    for step in STEPS[3:7]:  # 4 -> 8
        step(conn)
    rows = []
    for i in range(monitors):
        if i % 10 == 9:
            rows.append((f"tcp:10.0.{i // 250}.{i % 250}:25", "", "tcp",
                         f"10.0.{i // 250}.{i % 250}:25"))
            continue
        site = f"https://site{i}.example.com/" + ("" if i % 10 else "shop/")
        rows.append((site, f"site {i}", "http", None))
        if site.endswith("/shop/"):
            rows.append((f"{site}/tls", f"site {i}/tls", "tls", f"site{i}.example.com:443"))
    conn.executemany("INSERT INTO sites (host, name, interval, active, kind, target)"
                     " VALUES (?, ?, 2, 1, ?, ?)", rows)
    count = len(rows)
    # One check of each monitor in turn, every 2 s: the ids, targets and rows -m writes.
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?),"
        " s AS (SELECT rowid - 1 AS k, host, kind, target FROM sites)"
        " INSERT INTO website_monitoring (timestamp, host, available, status, responseTime,"
        " reason, detail, lateness, monitor, metrics, warning)"
        " SELECT ? + n.i * 2.0 / ?, coalesce(s.target, s.host), n.i % 50 <> 0,"
        " CASE WHEN s.kind = 'http' THEN CASE WHEN n.i % 50 THEN 200 ELSE 503 END"
        " WHEN s.kind = 'tcp' THEN 0 END, 20 + n.i % 300,"
        " CASE WHEN n.i % 50 = 0 THEN 'http_status' END,"
        " CASE WHEN n.i % 50 = 0 THEN 'HTTP 503 Service Unavailable' END, n.i % 7,"
        " CASE WHEN s.target IS NULL THEN NULL ELSE s.host END,"
        " CASE WHEN s.kind = 'http' THEN json_object('dns', 1.5, 'connect', 4.25, 'tls',"
        " 12.5, 'ttfb', 20 + n.i % 300, 'total', 21 + n.i % 300) END, NULL"
        " FROM n JOIN s ON s.k = n.i % ?", (checks, BASE, count, count))
    conn.execute(
        "INSERT INTO aggregates (host, span, start, checks, up, rt_count, rt_sum, rt_min,"
        " rt_max, hist, outcomes)"
        " SELECT coalesce(monitor, host), 60, CAST(timestamp / 60 AS INTEGER) * 60, count(*),"
        " sum(available), count(*), sum(responseTime), min(responseTime),"
        " max(responseTime), '4P2', '200:' || count(*) FROM website_monitoring"
        " GROUP BY 1, 3")
    conn.execute(
        "INSERT INTO site_state (host, last_check, last_ok)"
        " SELECT coalesce(monitor, host), max(timestamp), max(timestamp)"
        " FROM website_monitoring GROUP BY 1")
    conn.execute(
        "INSERT INTO website_alerts (timestamp, host, type, startDate, availability, message,"
        " monitor) SELECT '2026-09-21T12:00:00.000Z', coalesce(target, host), 'alert',"
        " '2026-09-21T11:59:00.000Z', 0.5, 'down', CASE WHEN target IS NULL THEN NULL"
        " ELSE host END FROM sites")
    conn.execute("PRAGMA user_version=8")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2_000_000)
    parser.add_argument("--monitors", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitoring.db"
        build(path, args.checks, args.monitors)
        before = path.stat().st_size
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        migrate(conn, 8)
        seconds = time.perf_counter() - started
        wal = Path(f"{path}-wal").stat().st_size
        free = (conn.execute("PRAGMA freelist_count").fetchone()[0]
                * conn.execute("PRAGMA page_size").fetchone()[0])
        renamed = conn.execute("SELECT count(*) FROM website_monitoring WHERE monitor LIKE"
                               " '%/shop/tls'").fetchone()[0]
        conn.close()
        after = path.stat().st_size
    print(f"schema 8 -> 9: {args.checks:,} checks of {args.monitors} monitors in"
          f" {seconds:.1f} s; file {before / 1e6:.0f} MB -> {after / 1e6:.0f} MB (WAL"
          f" {wal / 1e6:.0f} MB), {free / 1e6:.0f} MB of it free pages (the old tables', for new"
          f" rows); {renamed:,} checks of renamed tls monitors")
    print(json.dumps({"bench": "migration", "checks": args.checks, "monitors": args.monitors,
                      "seconds": round(seconds, 2), "file_mb_before": round(before / 1e6),
                      "file_mb_after": round(after / 1e6), "wal_mb": round(wal / 1e6),
                      "free_mb": round(free / 1e6)}))


if __name__ == "__main__":
    main()
