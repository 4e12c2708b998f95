"""How long the step from schema 9 to 10 takes on a big database: it rolls the history the
file holds up into hours and days (from its 10-minute blocks), packs the days' uptime and
counts each monitor's last day, in the one transaction of the step.

    python -m bench.backfill                         # 500 monitors, 90 days of blocks
    python -m bench.backfill --monitors 100 --days 30

Builds a schema-9 file in a temporary folder (today's schema less schema 10's rows, at
user_version 9) filled in SQL as `-m` of schema 9 leaves it: every monitor's 10-minute
blocks of the days with a real histogram each, and the minutes of the last hour; then times
`migrate()` from 9 and prints the seconds, the rows read and written, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from monitor.store.codec import MinuteAgg
from monitor.store.sqlite.migrations import migrate
from monitor.store.sqlite.writer import Store

DAY, BLOCK = 86400, 600
HISTS = 64


def build(path: Path, monitors: int, days: int, now: float) -> None:
    Store(path, clock=lambda: now).close()  # the schema, as the writer makes it
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    rng = random.Random(3)
    hists = []
    for _ in range(HISTS):  # ten checks' histograms, as a block of one check a minute has
        agg = MinuteAgg()
        for _ in range(10):
            agg.add(rng.lognormvariate(4.4, 0.5), True, 200, None)
        hists.append(agg.to_row())
    conn.execute("CREATE TEMP TABLE h(k INTEGER PRIMARY KEY, sum REAL, low REAL, high REAL,"
                 " hist TEXT)")
    conn.executemany("INSERT INTO h (sum, low, high, hist) VALUES (?,?,?,?)",
                     [(r[3], r[4], r[5], r[6]) for r in hists])
    blocks = days * DAY // BLOCK
    first = int(now // BLOCK) * BLOCK - blocks * BLOCK
    conn.execute("CREATE TEMP TABLE n(i INTEGER PRIMARY KEY)")
    conn.execute("WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?)"
                 " INSERT INTO n SELECT i FROM c", (max(blocks, monitors),))
    conn.execute("INSERT INTO monitors (monitor, name, interval, active, kind, target)"
                 " SELECT 'https://site' || i || '.example.com/', '', 60, 1, 'http',"
                 " 'https://site' || i || '.example.com/' FROM n WHERE i < ?", (monitors,))
    conn.execute("INSERT INTO monitor_state (monitor, last_check, last_ok) SELECT monitor, ?,"
                 " ? FROM monitors", (now, now))
    conn.execute(
        "INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum, rt_min,"
        " rt_max, hist, outcomes) SELECT m.monitor, 600, ? + t.i * 600, 10,"
        " 10 - (m.rowid + t.i) % 97 / 96, 10, h.sum, h.low, h.high, h.hist,"
        " CASE WHEN (m.rowid + t.i) % 97 = 96 THEN '200:9,503:1,http_status:1' ELSE '200:10'"
        " END FROM monitors m JOIN n t ON t.i < ? JOIN h ON h.k = 1 + (m.rowid * 7 + t.i) % ?",
        (first, blocks, HISTS))
    conn.execute("INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum,"
                 " rt_min, rt_max, hist, outcomes) SELECT m.monitor, 60, ? + t.i * 60, 1, 1,"
                 " 1, 80.0, 80.0, 80.0, '4P1', '200:1' FROM monitors m JOIN n t ON t.i < 60",
                 (int(now // 60) * 60 - 3600,))
    conn.execute("DELETE FROM aggregates WHERE span IN (3600, 86400)")
    conn.execute("DELETE FROM uptime_days")
    conn.execute("DELETE FROM meta WHERE key = 'rolled_until'")
    conn.execute("PRAGMA user_version=9")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitoring.db"
        started = time.perf_counter()
        build(path, args.monitors, args.days, now)
        built = time.perf_counter() - started
        before = path.stat().st_size
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        blocks = conn.execute("SELECT count(*) FROM aggregates WHERE span = 600").fetchone()[0]
        started = time.perf_counter()
        migrate(conn, 9)
        seconds = time.perf_counter() - started
        hours, day_rows = (conn.execute(f"SELECT count(*) FROM aggregates WHERE span = {span}"
                                        ).fetchone()[0] for span in (3600, 86400))
        conn.close()
        after = path.stat().st_size
    print(f"schema 9 -> 10: {args.monitors:,} monitors, {args.days} days ({blocks:,} blocks,"
          f" file {before / 1e6:.0f} MB built in {built:.0f} s) rolled up into {hours:,}"
          f" hours and {day_rows:,} days in {seconds:.1f} s ({blocks / seconds:,.0f}"
          f" blocks/s); file {after / 1e6:.0f} MB after")
    print(json.dumps({"bench": "backfill", "monitors": args.monitors, "days": args.days,
                      "blocks": blocks, "seconds": round(seconds, 2), "hours": hours,
                      "days_rows": day_rows, "blocks_per_s": round(blocks / seconds),
                      "file_mb_before": round(before / 1e6), "file_mb_after": round(after / 1e6)}))


if __name__ == "__main__":
    main()
