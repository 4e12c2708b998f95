"""Memory soak: the real `monitoringApp.py -m -s` for a long run, its RSS sampled as it goes.

    python -m bench.soak                          # 1,000 sites at 1 s for 30 min
    python -m bench.soak --minutes 5
    python -m bench.soak --seconds 24 --sites 100 --interval 0.2 --sample 1 --alert-window 5

Starts the loopback target (127.0.0.1, stops by itself shortly after the run), then the
monitor in its own process on a generated config, with the database in a temporary folder.
Every --sample seconds it reads the monitor's VmRSS from /proc/PID/status and the number of
checks stored (max(id) of website_monitoring, over a read-only connection) with the write
lag (now minus the newest stored check's timestamp), and prints a row. Then a summary and
one JSON line per figure, as bench/run.py does.

The lag tells a leak from a backlog: the monitor queues checks in memory for its one writer
thread, so if the writer falls behind (a starved CPU), RSS grows with the queue while the
lag grows too; a leak grows RSS with the lag flat.

Warm-up: the first third of the run (at least one sample). Until then memory legitimately
grows: imports, the worker threads, SQLite's page cache, the aggregate cache (up to four
minutes of per-site minutes before it is pruned), and the per-site alert windows, which hold
`alertWindow` seconds of checks each (120 s unless --alert-window says otherwise; a run whose
warm-up is shorter is told so). Measured at 1,000 sites at 1 s: RSS climbs for about five
minutes (42 -> 61 MB), then holds; so at that scale only runs of 15 minutes or more have a
warm-up long enough for the verdict to mean something, hence the default of 30.

Verdict: "flat" if the growth after warm-up, as fitted (least-squares slope over the samples
from the end of warm-up on, times their time span), is below TOLERANCE_MB = 5 MB. Why 5 MB:
bounded state may still settle by a few MB after warm-up (the malloc arenas of up to 64
worker threads, SQLite's page cache of up to 2 MB, the aggregate cache's prune cycle), while
a real leak soon goes past it: at 1,000 checks/s a leak of one small Python object per
check (~50 bytes) is about 3 MB a minute, 60 MB over the 20 post-warm-up minutes of the
default run. The fit, not the last sample minus the warm-up sample, decides, so that one
sample at a peak does not. The bound is absolute, so a short run only catches a gross leak:
the summary gives the growth per stored check to compare against.

Exit code: 0 flat, 1 growing, 2 the run itself failed (the monitor died, no checks stored,
or too few samples to judge).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench.run import FIGURES, figure, target

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE_MB = 5.0
WARMUP_FRACTION = 1 / 3
DEFAULT_ALERT_WINDOW = 120.0  # the monitor's own default (monitor.config)
TARGET_MARGIN = 60.0  # seconds the target outlives the run: start-up and a graceful stop
STOP_TIMEOUT = 15.0  # seconds the monitor has to stop on SIGTERM before it is killed


def write_config(path: Path, base: str, sites: int, interval: float, workers: int,
                 alert_window: float | None) -> None:
    doc: dict = {"websites": [{"URL": f"{base}/s{i}", "checkInterval": interval}
                              for i in range(sites)],
                 "maxWorkers": workers}
    if alert_window is not None:
        doc["alertWindow"] = alert_window
    path.write_text(json.dumps(doc), encoding="utf-8")


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def kib(fields: dict[str, str], key: str) -> int | None:
    value = fields.get(key)  # "123456 kB"
    return int(value.split()[0]) if value else None


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_usage(pid: int) -> tuple[int | None, int, int, int]:
    """(VmRSS in KiB, threads, processes) of the monitor and its probe processes, summed,
    and the monitor's own VmRSS: RSS over-counts the pages they share (the Python binary
    and libraries), so the sum is an upper bound of their memory. None for RSS once the
    monitor is gone."""
    status = proc_status(pid)
    rss = own = kib(status, "VmRSS")
    if rss is None:
        return None, 0, 0, 0
    threads, processes = int(status.get("Threads", "0")), 1
    for child in children_of(pid):
        child_status = proc_status(child)
        child_rss = kib(child_status, "VmRSS")
        if child_rss is not None:
            rss += child_rss
            threads += int(child_status.get("Threads", "0"))
            processes += 1
    return rss, threads, processes, own


class Sample(NamedTuple):
    t: float  # seconds since the monitor started
    rss_mb: float
    threads: int
    checks: int  # stored so far
    lag: float | None  # seconds between now and the newest stored check's timestamp
    processes: int = 1  # the monitor and its probe processes
    parent_mb: float = 0.0  # the monitor's own RSS: the rest is its probe processes'


def stored_checks(db: Path) -> tuple[int, float | None]:
    """The checks stored so far, and the timestamp of the newest. max(id) is the row count
    while nothing is purged, and costs one B-tree descent where count(*) would scan the
    table. Read-only, and closed again at once so as to hold no snapshot."""
    if not db.exists():
        return 0, None
    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT id, timestamp FROM website_monitoring"
                               " ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0, None  # not created yet
    return (row[0], row[1]) if row else (0, None)


def final_counts(db: Path) -> tuple[int, dict[str, int]]:
    """Checks stored in all, and the failed ones by reason (after the monitor stopped)."""
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        total = conn.execute("SELECT count(*) FROM website_monitoring").fetchone()[0]
        failed = dict(conn.execute(
            "SELECT coalesce(reason, 'unknown'), count(*) FROM website_monitoring"
            " WHERE available IS NOT 1 GROUP BY 1 ORDER BY 2 DESC").fetchall())
    finally:
        conn.close()
    return total, failed


def stop_monitor(proc: subprocess.Popen) -> int:
    """SIGTERM (the monitor commits what is pending and exits), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)
    return proc.returncode


def slope_per_s(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y); 0 with fewer than two distinct times."""
    if len({t for t, _ in points}) < 2:
        return 0.0
    return statistics.linear_regression([t for t, _ in points], [y for _, y in points]).slope


def sample_loop(proc: subprocess.Popen, db: Path, run: float, every: float,
                t0: float) -> list[Sample]:
    """One sample every `every` s until `run` s after t0, each printed as a table row."""
    samples: list[Sample] = []
    print(f"{'time s':>8} {'RSS MB':>9} {'parent':>7} {'procs':>5} {'threads':>8}"
          f" {'checks':>11} {'checks/s':>9} {'lag s':>7}", flush=True)
    k = 1
    while k * every <= run + 1e-9:
        time.sleep(max(0.0, t0 + k * every - time.monotonic()))
        k += 1
        rss, threads, processes, own = tree_usage(proc.pid)
        if proc.poll() is not None or rss is None:
            raise RuntimeError(f"the monitor exited (code {proc.poll()}) during the run")
        t = time.monotonic() - t0
        checks, newest = stored_checks(db)
        lag = None if newest is None else max(0.0, time.time() - newest)
        sample = Sample(t, rss / 1024, threads, checks, lag, processes, own / 1024)
        rate = ""
        if samples:
            rate = f"{(checks - samples[-1].checks) / (t - samples[-1].t):.0f}"
        samples.append(sample)
        print(f"{t:8.1f} {sample.rss_mb:9.1f} {sample.parent_mb:7.1f} {processes:5d}"
              f" {sample.threads:8d} {checks:11,d}"
              f" {rate:>9}"
              f" {'' if lag is None else f'{lag:.1f}':>7}", flush=True)
    return samples


def summarize(args: argparse.Namespace, run: float, samples: list, hwm_mb: float | None,
              total: int, reasons: dict[str, int]) -> bool:
    expected_rate = args.sites / args.interval
    # The last sample of the first third (samples are due at k * --sample; count by index,
    # since a sample taken a hair after its time must not fall out of the warm-up).
    warm_end = max(1, int(run * WARMUP_FRACTION / args.sample + 1e-6)) - 1
    post = samples[warm_end:]
    warm, end = post[0], post[-1]
    slope = slope_per_s([(x.t, x.rss_mb) for x in post])  # MiB/s
    span = end.t - warm.t
    fitted = slope * span
    parent_fitted = slope_per_s([(x.t, x.parent_mb) for x in post]) * span
    endpoint = end.rss_mb - warm.rss_mb
    post_checks = end.checks - warm.checks
    first = samples[0]
    rate = (end.checks - first.checks) / (end.t - first.t) if end.t > first.t else 0.0
    lags = [x.lag for x in post if x.lag is not None]
    window = args.alert_window if args.alert_window is not None else DEFAULT_ALERT_WINDOW
    flat = fitted < TOLERANCE_MB
    verdict = "flat" if flat else "growing"
    per_check = fitted * 1024 * 1024 / post_checks if post_checks else float("nan")

    print()
    print(f"RSS at end of warm-up ({warm.t:.0f} s): {warm.rss_mb:.1f} MB")
    print(f"RSS at end ({end.t:.0f} s):          {end.rss_mb:.1f} MB"
          + f" in {end.processes} process(es), {end.rss_mb * 1024 / args.sites:.1f} KB per site"
          + (f"  (the parent's peak {hwm_mb:.1f} MB)" if hwm_mb else ""))
    print(f"growth after warm-up:   {fitted:+.2f} MB fitted over {span:.0f} s "
          f"({slope * 1024 * 60:+.1f} KB/min, {per_check:+.2f} B/check), "
          f"{endpoint:+.2f} MB end minus warm-up")
    print(f"  of which the monitor's own process: {parent_fitted:+.2f} MB fitted "
          f"({warm.parent_mb:.1f} -> {end.parent_mb:.1f} MB), its probe processes: "
          f"{fitted - parent_fitted:+.2f} MB")
    failed = sum(reasons.values())
    why = ", ".join(f"{count:,} {reason}" for reason, count in reasons.items())
    print(f"checks: {rate:.0f}/s stored of {expected_rate:.0f}/s configured "
          f"({rate / expected_rate:.0%}); {total:,} stored in all, {failed:,} failed"
          + (f" ({why})" if why else ""))
    backlog = total - end.checks
    if lags:
        print(f"write lag after warm-up (now minus the newest stored check): max "
              f"{max(lags):.1f} s, at end {lags[-1]:.1f} s; {backlog:,} checks stored after "
              "the last sample")
    if lags and lags[-1] > max(5.0, 5 * args.interval):
        print(f"note: the writer was {lags[-1]:.0f} s behind at the end: the checks it had "
              "not written yet were queued in the monitor's memory, and count in its RSS")
    if end.threads != warm.threads:
        print(f"note: the monitor's threads went from {warm.threads} to {end.threads} after "
              "warm-up (the worker pool grows on demand, up to maxWorkers)")
    if warm.t < window:
        print(f"note: warm-up ({warm.t:.0f} s) is shorter than the alert window "
              f"({window:g} s): the in-memory windows were still filling after it")
    if rate < 0.7 * expected_rate:
        print("note: fewer checks than configured; the load was lighter than asked")
    print(f"verdict: {verdict} (tolerance {TOLERANCE_MB:g} MB of fitted growth after warm-up)")

    figure("soak_rss_warmup_mb", warm.rss_mb, "MB", at_s=round(warm.t, 1),
           threads=warm.threads)
    figure("soak_rss_end_mb", end.rss_mb, "MB", at_s=round(end.t, 1), threads=end.threads,
           processes=end.processes, parent_peak_mb=round(hwm_mb, 1) if hwm_mb else None,
           kb_per_site=round(end.rss_mb * 1024 / args.sites, 2), sites=args.sites)
    figure("soak_rss_growth_mb", fitted, "MB", endpoint_mb=round(endpoint, 3),
           over_s=round(span, 1), bytes_per_check=round(per_check, 3),
           tolerance_mb=TOLERANCE_MB, verdict=verdict,
           parent_mb=round(parent_fitted, 3))
    figure("soak_rss_slope_kb_per_min", slope * 1024 * 60, "KB/min", samples=len(post))
    figure("soak_checks_per_s", rate, "checks/s", expected=round(expected_rate, 1),
           sites=args.sites, interval_s=args.interval, stored=total, failed=failed,
           failed_by_reason=reasons)
    if lags:
        figure("soak_write_lag_s", lags[-1], "s", max_after_warmup=round(max(lags), 1),
               stored_after_last_sample=backlog)
    for entry in FIGURES:
        print(json.dumps(entry))
    return flat


def soak(args: argparse.Namespace) -> int:
    run = args.seconds if args.seconds is not None else args.minutes * 60
    print(f"soak: {args.sites} sites at {args.interval:g} s "
          f"({args.sites / args.interval:.0f} checks/s) for {run:g} s, RSS every "
          f"{args.sample:g} s; warm-up {run * WARMUP_FRACTION:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, \
            target(lifetime=run + TARGET_MARGIN) as base:
        config, db = Path(tmp) / "config.json", Path(tmp) / "soak.db"
        write_config(config, base, args.sites, args.interval, args.workers, args.alert_window)
        errors = Path(tmp) / "stderr.txt"
        with errors.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "monitoringApp.py"), "-m", "-s", "-c", str(config),
                 "-db", str(db)], cwd=tmp, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        t0 = time.monotonic()
        hwm = None
        try:
            samples = sample_loop(proc, db, run, args.sample, t0)
            hwm = kib(proc_status(proc.pid), "VmHWM")
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            samples = []
        finally:
            code = stop_monitor(proc)
        warnings = errors.read_text(encoding="utf-8", errors="replace").strip()
        if warnings:
            lines = warnings.splitlines()
            print(f"monitor stderr ({len(lines)} lines, last 10):", file=sys.stderr)
            print("\n".join(lines[-10:]), file=sys.stderr)
        if code not in (0, -signal.SIGTERM) or not samples:
            print(f"error: the monitor exited with code {code}", file=sys.stderr)
            return 2
        total, reasons = final_counts(db) if db.exists() else (0, {})
        if total == 0:
            print("error: the monitor stored no checks", file=sys.stderr)
            return 2
        flat = summarize(args, run, samples, hwm / 1024 if hwm else None, total, reasons)
    return 0 if flat else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="run length (default 30)")
    parser.add_argument("--seconds", type=float,
                        help="run length in seconds, for short runs (overrides --minutes)")
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="checkInterval, seconds")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--workers", type=int, default=64, help="maxWorkers of the config")
    parser.add_argument("--alert-window", type=float,
                        help="alertWindow of the config (default: the monitor's, 120 s)")
    args = parser.parse_args()
    for name in ("minutes", "seconds", "interval", "sample", "alert_window"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be greater than 0")
    if args.sites < 1 or args.workers < 1:
        parser.error("--sites and --workers must be at least 1")
    run = args.seconds if args.seconds is not None else args.minutes * 60
    if run / args.sample < 3:
        parser.error("the run needs at least 3 samples: --sample is too long for the run")
    # A SIGTERM ends the run as Ctrl-C does, stopping the monitor and the target with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(soak(args))
    sys.exit(130)


if __name__ == "__main__":
    main()
