"""Benchmarks of the core monitor: punctuality, throughput, and report time on a big database.

    python -m bench.run            # the full run (a few minutes)
    python -m bench.run --quick    # a smoke run of a few seconds (the test suite runs it)

Prints a table, then one JSON line per figure. Every ratio is against a reference measured
in the same run on the same machine: a bare requests loop for throughput, a plain GROUP BY
over the raw table for reports. Loopback only; the target process stops by itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from monitor.checks.http.spec import http_monitor
from monitor.cli.report import StatsPrinter
from monitor.config import Config
from monitor.core.model import CheckResult
from monitor.engine import Engine
from monitor.render.report import window_report
from monitor.runtime import Runtime
from monitor.stats import window_stats
from monitor.store.api import Reader
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store

FIGURES: list[dict] = []


def figure(name: str, value: float, unit: str, **extra: object) -> None:
    FIGURES.append({"figure": name, "value": round(value, 3), "unit": unit, **extra})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@contextmanager
def spawn_server(*module_args: str, cwd: Path | None = None):
    """Run `python -m MODULE ARGS...`, a loopback server that prints its port first; yield
    its base URL; stop it afterwards (each also stops by itself at the end of its life)."""
    proc = subprocess.Popen([sys.executable, "-m", *module_args], stdout=subprocess.PIPE,
                            text=True, cwd=cwd or Path(__file__).resolve().parent.parent)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


@contextmanager
def target(delay_ms: float = 0.0, lifetime: float = 900.0):
    with spawn_server("bench.target", "0", str(delay_ms), str(lifetime)) as base:
        yield base


def run_engine(base: str, sites: int, interval: float, seconds: float, workers: int,
               db: Path, processes: int | None = None, in_flight: int | None = None) -> dict:
    """The monitor as `-m` runs it (a Runtime, stepped by the main loop, which also
    prints the stats), on `sites` sites of the target; `processes` and `in_flight` as the
    config's keys (None: "auto"). CPU counts the probe processes too."""
    config = Config(
        monitors=tuple(http_monitor(f"{base}/s{i}", interval=interval,
                                    timeout=min(10.0, interval * 2)) for i in range(sites)),
        max_workers=workers,
        max_in_flight=in_flight,
        processes=processes,
    )
    runtime = Runtime(config, Store(db))
    engine = runtime.engine
    engine.keep_lateness = True
    runtime.start()
    runtime.step()
    # Lateness of the first interval is the start-up spread, not steady state: skip it.
    time.sleep(interval)
    engine.lateness_ms.clear()
    done0, skipped0 = engine.checks_done, engine.probes.skipped
    cpu0, own0, wall0 = engine_cpu(engine), cpu_seconds(), time.monotonic()
    # As `-m` does: the main thread steps the runtime and prints the stats every 10 s
    # (and 60 s) meanwhile.
    printed: list[str] = []
    printer = StatsPrinter(db, printed.append)
    print_times = []
    while time.monotonic() - wall0 < seconds:
        runtime.step()
        t0 = time.monotonic()
        before = len(printed)
        printer.tick()
        if len(printed) > before:
            print_times.append((time.monotonic() - t0) * 1000)
        time.sleep(0.25)
    printer.close()
    done = engine.checks_done - done0
    skipped = engine.probes.skipped - skipped0
    elapsed = time.monotonic() - wall0
    cpu, own = engine_cpu(engine) - cpu0, cpu_seconds() - own0
    lateness = list(engine.lateness_ms)
    runtime.stop()
    conn = sqlite3.connect(db)
    stored, failed = conn.execute(
        "SELECT count(*), count(*) - sum(available) FROM website_monitoring").fetchone()
    conn.close()
    return {
        "checks": done, "expected": sites / interval * elapsed, "skipped": skipped,
        "rate": done / elapsed, "cpu_us": cpu / max(1, done) * 1e6,
        "parent_cpu_us": own / max(1, done) * 1e6,
        "lat_p50": pct(lateness, 50), "lat_p99": pct(lateness, 99),
        "lat_max": max(lateness, default=float("nan")), "stored": stored, "failed": failed,
        "threads": engine.probes.threads, "processes": len(getattr(engine.probes, "pids", ())),
        "prints": len(print_times),
        "print_ms_max": max(print_times, default=0.0),
    }


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_cpu(engine: Engine) -> float:
    """CPU seconds of this process and of the engine's probe processes, if any."""
    total = cpu_seconds()
    for pid in getattr(engine.probes, "pids", ()):
        with suppress(OSError):  # a probe process restarted meanwhile
            total += cpu_of(pid)
    return total


def reference_requests(base: str, seconds: float) -> dict:
    """A bare loop of requests.get on fresh connections from one thread: the ceiling of
    what requests does per thread here, measured beside the engine."""
    import requests

    session = requests.Session()
    session.trust_env = False
    count = 0
    cpu0 = cpu_seconds()
    end = time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < end:
        _ = session.get(f"{base}/ref", headers={"Connection": "close"}, timeout=5).content
        count += 1
    elapsed = time.monotonic() - start
    return {"rate": count / elapsed, "cpu_us": (cpu_seconds() - cpu0) / count * 1e6}


def bench_engine(args: argparse.Namespace, rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp, target() as base:
        ref = reference_requests(base, args.ref_seconds)
        figure("reference_requests_checks_per_s", ref["rate"], "checks/s",
               cpu_us_per_check=round(ref["cpu_us"], 1))
        rows.append(("bare requests loop, 1 thread, new connection", f"{ref['rate']:.0f}/s",
                     f"{ref['cpu_us']:.0f} us CPU/check", ""))

        punctual = run_engine(base, args.sites, 1.0, args.seconds, args.workers,
                              Path(tmp) / "punctual.db")
        figure("engine_punctual_checks_per_s", punctual["rate"], "checks/s",
               sites=args.sites, interval_s=1.0, expected=round(punctual["expected"]),
               skipped=punctual["skipped"], failed=punctual["failed"])
        figure("engine_punctual_lateness_p99_ms", punctual["lat_p99"], "ms",
               p50=round(punctual["lat_p50"], 2), max=round(punctual["lat_max"], 2))
        figure("engine_punctual_cpu_us_per_check", punctual["cpu_us"], "us")
        figure("engine_punctual_stats_print_ms_max", punctual["print_ms_max"], "ms",
               prints=punctual["prints"])
        rows.append((f"{args.sites} sites at 1 s, {args.seconds:g} s",
                     f"{punctual['rate']:.0f}/s of {punctual['expected'] / args.seconds:.0f}/s",
                     f"lateness p50 {punctual['lat_p50']:.1f} ms, p99 {punctual['lat_p99']:.1f}"
                     f" ms, max {punctual['lat_max']:.1f} ms",
                     f"skipped {punctual['skipped']}, failed {punctual['failed']}, "
                     f"{punctual['prints']} stats prints (max {punctual['print_ms_max']:.0f} ms)"))

        capacity = run_engine(base, args.cap_sites, 0.05, args.cap_seconds, args.workers,
                              Path(tmp) / "capacity.db")
        ratio = capacity["rate"] / ref["rate"]
        figure("engine_max_checks_per_s", capacity["rate"], "checks/s",
               ratio_to_bare_requests=round(ratio, 2), threads=capacity["threads"],
               cpu_us_per_check=round(capacity["cpu_us"], 1))
        rows.append((f"engine flat out ({args.cap_sites} sites at 50 ms)",
                     f"{capacity['rate']:.0f}/s", f"{capacity['cpu_us']:.0f} us CPU/check",
                     f"{ratio:.2f}x bare requests"))


class SimulatedClock:
    """The store's wall clock during a fill: the time of the checks being written, so that
    the writer's cache of aggregates in progress works as it does on live checks."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def synthetic_check(monitor_id: str, index: int, sites: int, ts: float, interval: float,
                    metrics: bool) -> CheckResult:
    """The check of the `index`-th of `sites` sites in the round that starts at `ts`: 2%
    failures and a spread of response times, the same for the same arguments."""
    code = (index * 7919 + int(ts) * 104729) % 1000
    ok = code >= 20  # 2% failures
    response = 5.0 + (code % 97) * 1.7 + (300.0 if code > 990 else 0.0)
    phases = ({"dns": response * 0.05, "connect": response * 0.15, "tls": response * 0.3,
               "ttfb": response * 0.9, "total": response} if metrics else {})
    return CheckResult(monitor_id, ts + interval * index / sites, ok, 200 if ok else 503, response,
                       None if ok else "http_status", metrics=phases)


def fill_database(store: Store, monitor_ids: list[str], start: float, seconds: float,
                  interval: float, clock: SimulatedClock | None = None,
                  metrics: bool = False) -> int:
    """Write a check of every site each `interval` from `start` for `seconds`, through the
    real writer (aggregates and all); return how many. With `metrics`, each check carries
    the five http phase times, as http checks do."""
    written = 0
    sites = len(monitor_ids)
    steps = int(seconds / interval)
    for step in range(steps):
        ts = start + step * interval
        if clock is not None:
            clock.now = ts
        for index, monitor_id in enumerate(monitor_ids):
            store.put_check(synthetic_check(monitor_id, index, sites, ts, interval, metrics))
        written += sites
        if step % 50 == 49:
            store.flush(600)  # keep the queue (and memory) bounded
    store.flush(600)
    return written


def timed(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_reports(args: argparse.Namespace, rows: list[tuple]) -> None:
    """Fill a database through the writer, one stretch of time after another, and after each
    time the reports as `-m` and `-r` compute them (windows starting on the minute, ending
    now) at its end: the same work on an ever bigger database, which should cost the same."""
    total = args.db_hours * 3600.0
    stretch = total / args.db_checkpoints
    monitor_ids = [f"http://site{i}.test/" for i in range(args.db_sites)]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "big.db"
        origin = time.time() - total
        clock = SimulatedClock(origin)
        store = Store(db, clock=clock).start()
        written, fill_time, points = 0, 0.0, []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # the raw reference
        reader = open_reader(db)
        for k in range(args.db_checkpoints):
            t0 = time.monotonic()
            written += fill_database(store, monitor_ids, origin + k * stretch, stretch,
                                     args.db_interval, clock, args.metrics)
            fill_time += time.monotonic() - t0
            end = origin + (k + 1) * stretch
            short = timed(lambda e=end: window_stats(reader, (e - 600) // 60 * 60, e))
            long = None
            if (k + 1) * stretch >= 3600:
                long = timed(lambda e=end: window_stats(reader, (e - 3600) // 60 * 60, e))
            points.append((written, short, long))
            print(f"  {written:>12,} checks: 10 min {short * 1000:6.0f} ms, 1 h "
                  + (f"{long * 1000:6.0f} ms" if long is not None else "     - (< 1 h held)"),
                  flush=True)
        store.close()
        end = origin + total
        figure("store_write_rows_per_s", written / fill_time, "rows/s", rows=written,
               sites=args.db_sites)
        rows.append((f"writer: {written:,} checks, {args.db_sites} sites, with aggregates",
                     f"{written / fill_time:,.0f} rows/s", f"{os.path.getsize(db) / 1e6:.0f} MB",
                     ""))
        text = timed(lambda: window_report(reader, 600, now=end), repeat=1)
        first_short, (_, t_short, t_long) = points[0][1], points[-1]
        figure("report_10min_ms", t_short * 1000, "ms", sites=args.db_sites, rows=written,
               first_ms=round(first_short * 1000, 1), at_rows=points[0][0],
               growth=round(t_short / first_short, 2), table_text_ms=round(text * 1000, 1),
               target_ms=200)
        rows.append((f"report: {args.db_sites} sites, past 10 min, {written:,} checks",
                     f"{t_short * 1000:.0f} ms",
                     f"{first_short * 1000:.0f} ms at {points[0][0]:,} checks",
                     f"x{t_short / first_short:.2f} as the database grew"))
        rows.append(("report text as printed, past 10 min", f"{text * 1000:.0f} ms", "", ""))
        if t_long is not None:
            t_raw = timed(lambda: conn.execute(
                "SELECT monitor, count(*), sum(available), min(responseTime), avg(responseTime),"
                " max(responseTime) FROM website_monitoring WHERE timestamp >= ?"
                " GROUP BY monitor", ((end - 3600) // 60 * 60,)).fetchall(), repeat=1)
            longs = [(n, t) for n, _, t in points if t is not None]
            figure("report_1h_ms", t_long * 1000, "ms", sites=args.db_sites, rows=written,
                   first_ms=round(longs[0][1] * 1000, 1), at_rows=longs[0][0],
                   growth=round(t_long / longs[0][1], 2),
                   reference_raw_group_by_ms=round(t_raw * 1000, 1),
                   speedup=round(t_raw / t_long, 1), target_ms=200)
            rows.append((f"report: {args.db_sites} sites, past hour, {written:,} checks",
                         f"{t_long * 1000:.0f} ms",
                         f"plain GROUP BY on raw rows: {t_raw * 1000:.0f} ms",
                         f"{t_raw / t_long:.1f}x faster"))
        error = p99_error(reader, conn, (end - 600) // 60 * 60, end, monitors=5)
        figure("report_p99_max_relative_error", error, "fraction")
        rows.append(("p99 from histogram vs exact", f"max error {error:.1%}", "", ""))
        conn.close()
        reader.close()


def p99_error(reader: Reader, conn: sqlite3.Connection, start: float, end: float,
              monitors: int) -> float:
    stats = window_stats(reader, start, end)
    worst = 0.0
    for monitor_id in list(stats)[:monitors]:
        values = [r[0] for r in conn.execute(
            "SELECT responseTime FROM website_monitoring WHERE monitor=? AND timestamp >= ?"
            " AND status IS NOT NULL", (monitor_id, start))]
        exact = pct(values, 99)
        worst = max(worst, abs(stats[monitor_id].p99 - exact) / exact)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--cap-sites", type=int, default=500)
    parser.add_argument("--cap-seconds", type=float, default=10)
    parser.add_argument("--ref-seconds", type=float, default=5)
    parser.add_argument("--db-sites", type=int, default=5000)
    parser.add_argument("--db-interval", type=float, default=1.8,
                        help="seconds between checks of a site (5,000 sites, 1 h: 10 M checks)")
    parser.add_argument("--db-hours", type=float, default=2.0)
    parser.add_argument("--db-checkpoints", type=int, default=4)
    parser.add_argument("--metrics", action="store_true",
                        help="the writer's checks carry the five http phase times")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-reports", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.seconds, args.cap_sites, args.cap_seconds = 20, 2, 20, 1
        args.ref_seconds, args.db_sites, args.db_interval = 1, 20, 1.0
        args.db_hours, args.db_checkpoints = 1.0, 2

    rows: list[tuple] = []
    if not args.skip_engine:
        bench_engine(args, rows)
    if not args.skip_reports:
        bench_reports(args, rows)

    from tabulate import tabulate

    print(tabulate(rows, headers=("measure", "result", "detail", "vs reference")))
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
