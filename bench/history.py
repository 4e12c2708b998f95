"""A year of history for 5,000 monitors, read from the rollups: 90-day uptime of every
monitor, and a year of one monitor's response-time trend, against a 200 ms target.

    python -m bench.history                      # 5,000 monitors, 365 days
    python -m bench.history --monitors 500 --days 60

Builds a real SQLite file with the real schema (the store's own Store makes it) and fills
it in SQL as a year of `-m` leaves it: every monitor's day rows for the year, hour rows for
the last two days (and for the whole year for a few monitors, whose trend is read), the
10-minute blocks of the hour in progress and the minutes of the block in progress, each
with a real histogram, the rollups' mark at the last hour rolled, the whole days' uptime
packed and each monitor's counts of today (by the store's own code). Then times, in this
process, the store's reads the API serves them with (uptime per day, trend by day and by
hour), each beside a reference measured in the same run (the same number of rows read
back by a plain SELECT), and prints each as a ratio to the target. A diagnostic of the
store; the API route's figure through the real server is bench/server's.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.stats import trend
from monitor.store.codec import MinuteAgg
from monitor.store.sqlite import uptime
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store

TARGET_MS = 200.0
DAY, HOUR = 86400, 3600
HISTS = 64  # distinct histogram texts the rows take, drawn like real response times
TREND_MONITORS = 10  # monitors with a year of hour rows


def _hist_texts(checks: int, seed: int = 1) -> list[tuple[str, float, float, float]]:
    """(histogram text, sum, min, max) of `checks` response times around 80 ms, each a
    real MinuteAgg's, HISTS of them."""
    rng = random.Random(seed)
    out = []
    for _ in range(HISTS):
        agg = MinuteAgg()
        for _ in range(checks):
            agg.add(rng.lognormvariate(4.4, 0.5), True, 200, None)
        checks_, _up, _count, total, low, high, hist, _outcomes = agg.to_row()
        out.append((hist, total, low, high))
    return out


def build(path: Path, monitors: int, days: int, now: float) -> None:
    """The file as -m leaves it after `days` days of one check a minute per monitor."""
    Store(path, clock=lambda: now).close()  # the real schema, as the writer makes it
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE n(i INTEGER PRIMARY KEY)")
    conn.execute(f"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i <"
                 f" {max(monitors, days * 24, 10)}) INSERT INTO n SELECT i FROM c")
    conn.execute("CREATE TEMP TABLE h(k INTEGER PRIMARY KEY, span INTEGER, hist TEXT,"
                 " total REAL, low REAL, high REAL)")
    for span, checks in ((DAY, 1440), (HOUR, 60), (600, 10), (60, 1)):
        conn.executemany("INSERT INTO h (span, hist, total, low, high) VALUES (?,?,?,?,?)",
                         [(span, *row) for row in _hist_texts(checks, span)])
    conn.execute(
        "INSERT INTO monitors (monitor, name, interval, active, kind, target)"
        " SELECT 'https://site' || i || '.example.com/', 'site ' || i, 60, 1, 'http',"
        " 'https://site' || i || '.example.com/' FROM n WHERE i < ?", (monitors,))
    hour = int((now - 120) // HOUR * HOUR)  # the last hour rolled up
    today = hour // DAY * DAY
    conn.execute(
        "INSERT INTO monitor_state (monitor, last_check, last_ok, last_available, last_status,"
        " last_response, last_metrics) SELECT monitor, ?, ?, 1, 200, 80.5,"
        " '{\"dns\": 1.5, \"connect\": 3.25, \"ttfb\": 60.0, \"total\": 80.5}' FROM monitors",
        (now - 30, now - 30))

    def rows(span: int, first: int, count: int, where: str = "") -> None:
        """Rows of `span` from `first`, `count` of them per monitor (a monitor in 50 has a
        bad one now and then)."""
        checks = {DAY: 1440, HOUR: 60, 600: 10, 60: 1}[span]
        conn.execute(
            "INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum,"
            " rt_min, rt_max, hist, outcomes) SELECT m.monitor, ?, ? + t.i * ?, ?,"
            " ? - (CASE WHEN m.rowid % 50 = 0 AND t.i % 7 = 0 THEN 1 + ? / 100 ELSE 0 END),"
            " ?, h.total, h.low, h.high, h.hist, '200:' || ? FROM monitors m"
            " JOIN n t ON t.i < ? JOIN h ON h.span = ? AND h.k % ? = (m.rowid + t.i) % ?"
            f" {where}",
            (span, first, span, checks, checks, checks, checks, checks, count, span, HISTS,
             HISTS))

    rows(DAY, today - (days - 1) * DAY, days)  # today's: the hours rolled so far
    rows(HOUR, today - DAY, (hour - today) // HOUR + 24)
    rows(HOUR, today - (days - 1) * DAY, (days - 2) * 24, f"AND m.rowid <= {TREND_MONITORS}")
    block = int(now // 600 * 600)
    rows(600, hour, (block - hour) // 600 + 1)
    rows(60, block, int(now // 60 * 60 - block) // 60 + 1)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rolled_until', ?)",
                 (hour,))
    # The whole days packed, and each monitor's counts of today, by the store's own code.
    uptime.set_days(conn, conn.execute("SELECT monitor, start, checks, up FROM aggregates"
                                       " WHERE span = ? AND start < ?", (DAY, today)))
    uptime.start_day_counts(conn, hour, 0)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def prepared(folder: Path, monitors: int, days: int, *, max_age: float | None = None,
             then: Callable[[Path, float], None] | None = None) -> tuple[Path, float]:
    """`folder`'s monitoring.db as `build` makes it (then `then(db, now)`), and the time it
    was built for: built now, or the one built there before (its time in `built-at`),
    unless that is older than `max_age` seconds. The build takes minutes at 5,000 monitors
    and a year, so benchmarks given --folder reuse it."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "monitoring.db"
    stamp = folder / "built-at"
    if stamp.exists():
        now = float(stamp.read_text())
        if max_age is None or time.time() - now <= max_age:
            return db, now
        for old in folder.glob("monitoring.db*"):
            old.unlink()
    t0 = time.perf_counter()
    now = time.time()
    build(db, monitors, days, now)
    if then is not None:
        then(db, now)
    stamp.write_text(repr(now))
    print(f"built {db.name}: {monitors} monitors, {days} days in"
          f" {time.perf_counter() - t0:.1f} s ({db.stat().st_size / 1e6:.0f} MB)", flush=True)
    return db, now


def timed(run: Callable[[], object], repeat: int) -> float:
    """The median milliseconds of `repeat` runs (after one to warm the page cache)."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitoring.db"
        started = time.perf_counter()
        build(path, args.monitors, args.days, now)
        built = time.perf_counter() - started
        reader = open_reader(path)
        try:
            subject = reader.monitor_summaries()[0].id
            figures = {
                "uptime_90d_all": timed(lambda: reader.uptime_by_day(None, 90, now),
                                        args.repeat),
                "trend_year_by_day": timed(lambda: trend(
                    reader, subject, now - args.days * DAY, now, DAY), args.repeat),
                "trend_year_by_hour": timed(lambda: trend(
                    reader, subject, now - args.days * DAY, now, HOUR), args.repeat),
                "summaries_all": timed(reader.monitor_summaries, args.repeat),
            }
            # The reference: as many day rows read back by the plainest SELECT.
            rows = args.monitors * min(90, args.days)
            figures["reference_select_rows"] = timed(lambda: reader.conn.execute(
                "SELECT monitor, start, checks, up FROM aggregates WHERE span = ? LIMIT ?",
                (DAY, rows)).fetchall(), args.repeat)
            days = reader.uptime_by_day(None, 90, now)
            assert len(days) == args.monitors
            assert all(len(d.checks) == 90 and sum(d.checks) for d in days.values())
        finally:
            reader.close()
        size = path.stat().st_size
    print(f"history: {args.monitors:,} monitors, {args.days} days of rollups"
          f" ({size / 1e6:.0f} MB, built in {built:.1f} s); target {TARGET_MS:.0f} ms")
    for name, ms in figures.items():
        print(f"  {name:24} {ms:8.1f} ms  {ms / TARGET_MS:5.2f} x target")
    print(json.dumps({"bench": "history", "monitors": args.monitors, "days": args.days,
                      "target_ms": TARGET_MS, "file_mb": round(size / 1e6),
                      **{k: round(v, 1) for k, v in figures.items()},
                      **{f"{k}_ratio": round(v / TARGET_MS, 3) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
