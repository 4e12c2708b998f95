"""The real program as a user runs it, measured from outside, beside its peers in one run.

    python -m bench.real                          # every scenario: about 2 hours
    python -m bench.real --only punctual,slow     # some of them
    python -m bench.real --quick                  # a smoke run: seconds per scenario

Every figure comes from `monitoringApp.py -m -s -c config.json -db monitoring.db` started
as a process, on http monitors of nginx on 127.0.0.1 (Debian's nginx, with its echo module
for answers 100 ms late at no CPU), in a temporary folder:

- checks stored: rows of website_monitoring (a read-only connection), by their check time;
- checks made: nginx's request counter (stub_status): made but not stored is lost;
- lateness: the rows' `lateness` column; skipped slots: rows with reason 'skipped' plus the
  slots with no row at all (monitors x seconds / interval expected);
- CPU and memory: the monitor process and its probe processes, from /proc (bench.procfs);
- the writer's lag: the age of the newest stored check, sampled every few seconds.

Scenarios (`--only`): flat_out (beside the blackbox exporter and Monit, same run),
overload, punctual, slow, memory, large. Each prints a table row and one JSON line per
figure, with its target and the ratio to it (and the peer's figure where there is one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procfs
from bench.figures import FIGURES, figure, judged, print_table
from bench.peers import ECHO_MODULE, blackbox, ensure_packages, monit, nginx, nginx_requests

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "monitoringApp.py"
# A check counts as stored in time when it is in the database this long after its window
# ends: the same bound as the newest stored check's age.
GRACE = 2.0
BLACKBOX_TIMEOUT = 5.0  # s, the module's timeout bench.peers.blackbox gives the exporter
SCENARIOS = ("flat_out", "overload", "punctual", "slow", "memory", "large")
Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the monitor process started
    wall: float  # time.time()
    rows: int  # rows in website_monitoring
    newest_age: float | None  # seconds since the newest stored check's time
    cpu: float  # CPU seconds of the process tree so far
    uss: int  # bytes, the tree's unique pages (0 when not read)
    requests: int | None  # nginx's requests so far, our own reads of its counter excluded
    processes: int
    machine: float  # CPU seconds the whole machine has been busy so far
    nginx_cpu: float
    parent_cpu: float  # CPU seconds of the monitor process alone (the writer, alerts...)


@dataclass
class Window:
    """The rows whose check time is in [start, end), as read at one moment."""
    rows: int = 0
    skipped: int = 0
    failed: int = 0  # checks down (skipped slots aside)
    answered: int = 0  # checks with an HTTP status: nginx counted their request

    @property
    def checks(self) -> int:
        return self.rows - self.skipped


class Database:
    """The monitor's database as another program reads it: read-only, with a busy timeout;
    a database or table not created yet reads as empty."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.last_id, self.rows = 0, 0

    def _connection(self) -> sqlite3.Connection | None:
        if self.conn is None and self.path.exists():
            with contextlib.suppress(sqlite3.OperationalError):
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        return self.conn

    def poll(self) -> tuple[int, float | None]:
        """(rows stored so far, the newest check's time): counted from the last id seen on,
        so that a sample costs the new rows, not the whole table."""
        conn = self._connection()
        if conn is None:
            return 0, None
        try:
            count, top = conn.execute("SELECT count(*), max(id) FROM website_monitoring"
                                      " WHERE id > ?", (self.last_id,)).fetchone()
            newest = conn.execute("SELECT max(timestamp) FROM website_monitoring").fetchone()[0]
        except sqlite3.OperationalError:  # no table yet, or busy past the timeout
            return self.rows, None
        if top is not None:
            self.rows, self.last_id = self.rows + count, top
        return self.rows, newest

    def window(self, start: float, end: float, due: bool = False) -> Window:
        """The rows checked in [start, end); with `due`, those due in it (their time less
        their lateness: the slot, which a late start does not move; a full scan)."""
        conn = self._connection()
        if conn is None:
            return Window()
        at = "timestamp - coalesce(lateness, 0) / 1000" if due else "timestamp"
        try:
            rows, skipped, failed, answered = conn.execute(
                "SELECT count(*), coalesce(sum(reason = 'skipped'), 0),"
                " coalesce(sum(available = 0 AND coalesce(reason, '') != 'skipped'), 0),"
                " coalesce(sum(status IS NOT NULL), 0)"
                f" FROM website_monitoring WHERE {at} >= ? AND {at} < ?",
                (start, end)).fetchone()
        except sqlite3.OperationalError:
            return Window()
        return Window(rows, skipped, failed, answered)

    def failures(self, start: float, end: float) -> dict[str, Any]:
        """The reasons of the failed checks of [start, end), most frequent first, with the
        detail of one of each."""
        conn = self._connection()
        if conn is None:
            return {}
        return {reason: {"checks": n, "detail": detail} for reason, n, detail in conn.execute(
            "SELECT reason, count(*), max(detail) FROM website_monitoring WHERE timestamp >= ?"
            " AND timestamp < ? AND available = 0 AND coalesce(reason, '') != 'skipped'"
            " GROUP BY reason ORDER BY 2 DESC LIMIT 5", (start, end))}

    def lateness(self, start: float, end: float) -> dict[str, float]:
        """p50, p99 and max of the lateness (ms) of the checks made in [start, end)."""
        conn = self._connection()
        nan = float("nan")
        if conn is None:
            return {"p50": nan, "p99": nan, "max": nan, "n": 0}
        where = ("timestamp >= ? AND timestamp < ? AND lateness IS NOT NULL"
                 " AND coalesce(reason, '') != 'skipped'")
        n, top = conn.execute(f"SELECT count(*), max(lateness) FROM website_monitoring"
                              f" WHERE {where}", (start, end)).fetchone()
        result = {"n": n, "max": top if top is not None else nan}
        for p in (50, 99):
            if not n:
                result[f"p{p}"] = nan
                continue
            # The rank from the top: SQLite then keeps a heap of 1% of the rows, not all.
            above = n - max(1, math.ceil(p / 100 * n))
            result[f"p{p}"] = conn.execute(
                f"SELECT lateness FROM website_monitoring WHERE {where}"
                " ORDER BY lateness DESC LIMIT 1 OFFSET ?", (start, end, above)).fetchone()[0]
        return result

    def newest(self) -> float | None:
        return self._one("SELECT max(timestamp) FROM website_monitoring")

    def slots_covered(self, start: float, end: float, most: int) -> int:
        """Checks (not skipped) due in [start, end), at most `most` counted per monitor:
        a slot on the edge of the window measured on either side counts once."""
        conn = self._connection()
        if conn is None:
            return 0
        at = "timestamp - coalesce(lateness, 0) / 1000"
        return conn.execute(
            "SELECT coalesce(sum(min(n, ?)), 0) FROM (SELECT count(*) AS n FROM"
            f" website_monitoring WHERE {at} >= ? AND {at} < ?"
            " AND coalesce(reason, '') != 'skipped' GROUP BY monitor)",
            (most, start, end)).fetchone()[0]

    def first_due(self) -> float | None:
        return self._one("SELECT min(timestamp - coalesce(lateness, 0) / 1000)"
                         " FROM website_monitoring")

    def _one(self, sql: str) -> float | None:
        conn = self._connection()
        if conn is None:
            return None
        with contextlib.suppress(sqlite3.OperationalError):
            return conn.execute(sql).fetchone()[0]
        return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Nginx:
    """The target: base URL, pid, and its request counter without our own reads of it."""

    def __init__(self, base: str, pid: int, status_port: int) -> None:
        self.base, self.pid, self.status_port, self.reads = base, pid, status_port, 0

    def requests(self) -> int:
        # Each read of stub_status is a request too, counted in the figure it returns.
        self.reads += 1
        return nginx_requests(self.status_port) - self.reads


class Monitor:
    """`monitoringApp.py -m -s` over http monitors of `urls`, as a user starts it, in its
    own session (so that a kill reaches its probe processes too); stderr kept with the
    time of each line. Always stopped on leaving the `with`."""

    def __init__(self, folder: Path, urls: list[str], interval: float, target: Nginx,
                 timeout: float | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.target = folder, target
        self.config, self.db = folder / "config.json", folder / "monitoring.db"
        extra = {} if timeout is None else {"timeout": timeout}
        self.config.write_text(json.dumps({"monitors": [
            {"URL": url, "checkInterval": interval, **extra} for url in urls]}))
        self.monitors, self.interval = len(urls), interval
        self.database = Database(self.db)
        self.stderr: list[tuple[float, str]] = []
        self.samples: list[Sample] = []
        self.proc: subprocess.Popen[str] | None = None
        self.started = self.started_wall = 0.0
        self.requests_before = 0

    def __enter__(self) -> Monitor:
        self.requests_before = self.target.requests()
        self.started, self.started_wall = time.monotonic(), time.time()
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), "-m", "-s", "-c", str(self.config), "-db", str(self.db)],
            cwd=self.folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        return self

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append((time.monotonic() - self.started, line.rstrip("\n")))

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.database.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sample(self, memory: bool = True) -> Sample:
        assert self.proc is not None
        use = procfs.usage(self.proc.pid, memory)
        rows, newest = self.database.poll()
        wall = time.time()
        entry = Sample(self.elapsed(), wall, rows, None if newest is None else wall - newest,
                       use.cpu, use.uss, self.target.requests(), len(use.pids),
                       procfs.machine_busy(), procfs.cpu_seconds(self.target.pid),
                       procfs.cpu_seconds(self.proc.pid, reaped=False))
        self.samples.append(entry)
        return entry

    def watch(self, until: float, every: float, memory: bool = True) -> None:
        """Sample every `every` seconds until `until` seconds since the start; raise if the
        monitor exits meanwhile."""
        while True:
            self._check_alive()
            left = until - self.elapsed()
            if left <= 0:
                return
            time.sleep(min(every, left))
            if self.elapsed() < until - 1e-3:
                self.sample(memory)

    def _check_alive(self) -> None:
        if not self.alive():
            assert self.proc is not None
            tail = "\n".join(line for _at, line in self.stderr[-20:])
            raise RuntimeError(f"the monitor exited ({self.proc.returncode}):\n{tail}")

    def first_row(self, timeout: float) -> float:
        """Seconds from the start to the first check stored (polled every 0.1 s)."""
        while self.elapsed() < timeout:
            self._check_alive()
            rows, _newest = self.database.poll()
            if rows:
                return self.elapsed()
            time.sleep(0.1)
        raise RuntimeError(f"no check stored {timeout:g} s after the start")

    def stop(self, timeout: float = 120.0) -> tuple[float, bool]:
        """SIGINT, as Ctrl-C, then wait for the exit: (seconds it took, whether it exited
        by itself within `timeout`; else it was killed)."""
        assert self.proc is not None
        signalled = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
            return time.monotonic() - signalled, True
        except subprocess.TimeoutExpired:
            self.kill()
            return time.monotonic() - signalled, False

    def made(self) -> int:
        """Requests nginx answered since the start: the checks made (call after the exit)."""
        return self.target.requests() - self.requests_before

    def line_with(self, word: str) -> tuple[float, str] | None:
        return next(((at, line) for at, line in self.stderr if word in line.lower()), None)


@dataclass
class Measure:
    """One run of the monitor: a window after a warm-up, read at its end (+ GRACE) and
    again after the stop."""
    monitors: int
    interval: float
    seconds: float
    first_row_s: float
    start: Sample
    end: Sample
    in_time: Window
    final: Window = field(default_factory=Window)
    lateness: dict[str, float] = field(default_factory=dict)
    stop_s: float = 0.0
    stopped: bool = True
    made: int = 0  # requests nginx answered over the whole run
    everything: Window = field(default_factory=Window)  # the whole run's rows, after the stop
    failures: dict[str, Any] = field(default_factory=dict)
    overload: tuple[float, str] | None = None
    stderr: list[tuple[float, str]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)

    @property
    def expected(self) -> float:
        return self.monitors * self.seconds / self.interval

    @property
    def rate(self) -> float:
        """Checks answered (with an HTTP status: nginx counted them) and stored in time, per
        second of the window: a check that failed because the monitor itself fell behind (its
        timeout passed before it read the answer) checked nothing."""
        return self.in_time.answered / self.seconds

    @property
    def made_rate(self) -> float:
        requests = (self.end.requests or 0) - (self.start.requests or 0)
        return requests / self.seconds

    @property
    def cpu(self) -> float:
        return self.end.cpu - self.start.cpu

    @property
    def cpu_us(self) -> float:
        return self.cpu / max(1, self.in_time.checks) * 1e6

    @property
    def skipped(self) -> int:
        """Slots of the window not checked: skipped rows, and slots with no row at all."""
        return self.final.skipped + max(0, round(self.expected - self.final.rows))

    @property
    def lost(self) -> int:
        """Checks made (requests nginx counted) and not stored at all, over the whole run, at
        the least (a check stored as failed, without its answer, may be one of them); a check
        in flight at the stop, abandoned, counts too."""
        return lost(self.made, self.everything)

    def window_samples(self) -> list[Sample]:
        return [s for s in self.samples if self.start.at <= s.at <= self.end.at]

    @property
    def age_max(self) -> float:
        ages = [s.newest_age for s in self.window_samples() if s.newest_age is not None]
        return max(ages, default=float("nan"))

    @property
    def uss_kb_per_monitor(self) -> float:
        return max((s.uss for s in self.window_samples()), default=0) / 1024 / self.monitors


def measure(folder: Path, target: Nginx, urls: list[str], interval: float, seconds: float,
            warmup: float, every: float, memory: bool = True,
            timeout: float | None = None) -> Measure:
    """Run the monitor on `urls` (each check's `timeout`: the default when None); after the
    first stored check and `warmup` s more, a window of `seconds` sampled every `every` s;
    then the stop and the reads after it."""
    with Monitor(folder, urls, interval, target, timeout) as mon:
        first = mon.first_row(timeout=max(120.0, len(urls) / 500))
        mon.watch(first + warmup, every, memory)
        start = mon.sample(memory)
        mon.watch(start.at + seconds, every, memory)
        end = mon.sample(memory)
        # Seconds are those of the samples: the window is what was really measured.
        span = end.wall - start.wall
        time.sleep(GRACE)
        in_time = mon.database.window(start.wall, end.wall)
        stop_s, stopped = mon.stop()
        result = Measure(len(urls), interval, span, first, start, end, in_time,
                         stop_s=stop_s, stopped=stopped, made=mon.made(),
                         overload=mon.line_with("overload"), stderr=list(mon.stderr),
                         samples=list(mon.samples))
        # After the exit nothing competes for the CPU: the heavier reads now.
        result.final = mon.database.window(start.wall, end.wall)
        result.everything = mon.database.window(0, float("inf"))
        result.failures = mon.database.failures(start.wall, end.wall)
        result.lateness = mon.database.lateness(start.wall, end.wall)
    return result


def lost(made: int, stored: Window) -> int:
    return max(0, made - stored.checks)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def mb(value: float) -> str:
    return f"{value / 1e6:.0f} MB"


# --- scenarios -----------------------------------------------------------------------------

@dataclass
class Context:
    args: argparse.Namespace
    folder: Path
    target: Nginx
    rows: list[Row]
    capacity: float | None = None  # checks/s flat_out stored


def urls(ctx: Context, count: int, slow: bool = False) -> list[str]:
    prefix = "/slow" if slow else ""
    return [f"{ctx.target.base}{prefix}/s{i}" for i in range(count)]


def ours_flat_out(ctx: Context, name: str, monitors: int, interval: float) -> Measure:
    """As much as it can do. Each check's timeout is the blackbox exporter's (5 s), not
    the default (the interval, at most 10 s): at 0.1 s a check the monitor itself is late to
    read would fail, and count as nothing checked."""
    args = ctx.args
    return measure(ctx.folder / name, ctx.target, urls(ctx, monitors), interval, args.seconds,
                   args.warmup, args.every, timeout=BLACKBOX_TIMEOUT)


def common(m: Measure) -> dict[str, Any]:
    """The details every figure of a run carries; `others_cores`: what the rest of the
    machine used meanwhile (beyond the monitor and nginx), which a figure is taken beside."""
    others = (m.end.machine - m.start.machine) - m.cpu - (m.end.nginx_cpu - m.start.nginx_cpu)
    return {"others_cores": round(others / m.seconds, 2),
            "machine_cores": round((m.end.machine - m.start.machine) / m.seconds, 2),
            "nginx_cores": round((m.end.nginx_cpu - m.start.nginx_cpu) / m.seconds, 2),
            "monitors": m.monitors, "interval_s": m.interval, "window_s": round(m.seconds, 1),
            "answered_per_s": round(m.rate, 1), "made_per_s": round(m.made_rate, 1),
            "stored_per_s": round(m.in_time.checks / m.seconds, 1),
            "failed_per_s": round(m.final.failed / m.seconds, 1),
            "cpu_us_per_check": round(m.cpu_us, 1), "cores": round(m.cpu / m.seconds, 2),
            # The monitor process (scheduler, writer, alerts) apart from its probe processes.
            "parent_cores": round((m.end.parent_cpu - m.start.parent_cpu) / m.seconds, 2),
            "newest_age_max_s": _r(m.age_max), "uss_mb": round(m.end.uss / 1e6, 1),
            "processes": m.end.processes, "lost": m.lost, "stop_s": round(m.stop_s, 2),
            "failures": m.failures}


def _r(value: float, digits: int = 2) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def flat_out(ctx: Context) -> None:
    args = ctx.args
    busy, t0 = procfs.machine_busy(), time.monotonic()
    bb = blackbox(ctx.target.base, ctx.folder, args.peer_seconds, connections=64)
    # How busy the whole machine was meanwhile (the exporter, wrk, nginx and anything else):
    # beside ours, it says whether both were measured on the same free cores.
    machine = (procfs.machine_busy() - busy) / (time.monotonic() - t0)
    figure("peer_blackbox_probes_per_s", bb["rate"], "probes/s",
           cpu_us_per_probe=round(bb["cpu_us"], 1), cores=round(bb["cores"], 2),
           failed=bb["errors"], machine_cores=round(machine, 2))
    ctx.rows.append(("blackbox exporter, flat out (wrk, 64 connections)",
                     f"{bb['rate']:.0f} probes/s", f"{bb['cpu_us']:.0f} us CPU/probe",
                     f"{bb['cores']:.2f} cores"))
    mo = monit(ctx.target.base, ctx.target.status_port, ctx.folder, args.monit_hosts,
               args.peer_seconds)
    figure("peer_monit_checks_per_s", mo["rate"], "checks/s", hosts=args.monit_hosts,
           cpu_us_per_check=round(mo["cpu_us"], 1), cycle_s=round(mo["cycle_s"], 3))
    ctx.rows.append((f"Monit, {args.monit_hosts} hosts, 1 s cycle", f"{mo['rate']:.0f}/s",
                     f"{mo['cpu_us']:.0f} us CPU/check", f"cycle {mo['cycle_s']:.2f} s"))

    m = ours_flat_out(ctx, "flat_out", args.flat_monitors, args.flat_interval)
    ctx.capacity = m.rate
    asked = m.monitors / m.interval
    judged("flat_out_ratio_to_blackbox", ratio(m.rate, bb["rate"]), "x", 4.0, most=False,
           blackbox_probes_per_s=round(bb["rate"], 1), asked_per_s=asked, **common(m))
    judged("flat_out_cpu_ratio_to_blackbox", ratio(m.cpu_us, bb["cpu_us"]), "x", 0.25,
           blackbox_cpu_us_per_probe=round(bb["cpu_us"], 1),
           cpu_ratio_to_monit=_r(ratio(m.cpu_us, mo["cpu_us"])), **common(m))
    judged("flat_out_stored_share_of_made", ratio(m.rate, m.made_rate), "fraction", 0.999,
           most=False, in_time=m.in_time.checks, after_stop=m.final.checks, **common(m))
    ctx.rows.append((f"ours flat out: {m.monitors} monitors at {m.interval:g} s "
                     f"({asked:.0f}/s asked)",
                     f"{m.rate:.0f}/s answered and stored, {m.made_rate:.0f}/s made",
                     f"{m.cpu_us:.0f} us CPU/check, {m.cpu / m.seconds:.2f} cores",
                     f"{ratio(m.rate, bb['rate']):.2f}x blackbox rate (>= 4), "
                     f"{ratio(m.cpu_us, bb['cpu_us']):.2f}x its CPU (<= 0.25)"))


def overload(ctx: Context) -> None:
    args = ctx.args
    if ctx.capacity is None:
        if args.capacity:
            ctx.capacity = args.capacity
        else:  # what it can do, measured here (without the peers)
            ctx.capacity = ours_flat_out(ctx, "capacity", args.flat_monitors,
                                         args.flat_interval).rate
    interval = args.flat_interval
    monitors = max(1, math.ceil(5 * ctx.capacity * interval))
    m = ours_flat_out(ctx, "overload", monitors, interval)
    share = ratio(m.rate, ctx.capacity)
    growth = _growth_mb_per_min(m)
    judged("overload_stored_ratio_to_flat_out", share, "x", 1.0, most=False,
           capacity_per_s=round(ctx.capacity, 1), asked_per_s=round(monitors / interval),
           skipped=m.skipped, uss_growth_mb_per_min=_r(growth), **common(m))
    said = m.overload
    judged("overload_said_after_s", said[0] if said else float("nan"), "s", 10.0,
           line=said[1] if said else None, missing=said is None,
           stderr_lines=len(m.stderr), first_stderr=[line for _at, line in m.stderr[:3]])
    ctx.rows.append((f"overload: {monitors} monitors at {interval:g} s "
                     f"({monitors / interval:.0f}/s asked, 5x)",
                     f"{m.rate:.0f}/s stored ({share:.2f}x flat out), {m.made_rate:.0f}/s made",
                     f"said after {said[0]:.1f} s: {said[1][:60]}" if said else
                     "no line says overload",
                     f"USS {growth:+.1f} MB/min, writer {m.end.newest_age or 0:.1f} s behind"))


def _growth_mb_per_min(m: Measure) -> float:
    points = [(s.at, s.uss) for s in m.window_samples() if s.uss]
    return slope(points) * 60 / 1e6 if len(points) > 1 else float("nan")


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def punctual(ctx: Context, slow: bool = False) -> None:
    args = ctx.args
    name = "slow" if slow else "punctual"
    m = measure(ctx.folder / name, ctx.target, urls(ctx, args.punctual_monitors, slow), 1.0,
                args.minutes * 60, args.warmup, 2.0 if not args.quick else 1.0, memory=True)
    lat = m.lateness
    extra = {**common(m), "expected": round(m.expected), "stored": m.final.checks,
             "stored_in_time": m.in_time.checks, "failed": m.final.failed,
             "p50_ms": _r(lat["p50"]), "max_ms": _r(lat["max"])}
    judged(f"{name}_lateness_p99_ms", lat["p99"], "ms", 50.0, **extra)
    judged(f"{name}_slots_skipped", m.skipped, "slots", 0, skipped_rows=m.final.skipped,
           missing=max(0, round(m.expected - m.final.rows)), expected=round(m.expected))
    if not slow:
        judged(f"{name}_stored_share", ratio(m.final.checks, m.expected), "fraction", 0.999,
               most=False, in_time_share=_r(ratio(m.in_time.checks, m.expected), 4),
               expected=round(m.expected))
        judged(f"{name}_newest_age_max_s", m.age_max, "s", 2.0,
               samples=len(m.window_samples()))
    label = "100 ms answers" if slow else "on nginx"
    ctx.rows.append((f"{name}: {m.monitors} monitors at 1 s, {label}, {m.seconds:.0f} s",
                     f"{m.final.checks / m.seconds:.0f}/s of {m.monitors}/s stored",
                     f"lateness p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                     f"max {lat['max']:.0f} ms",
                     f"skipped {m.skipped}, failed {m.final.failed}, newest "
                     f"<= {m.age_max:.1f} s old, {m.cpu_us:.0f} us CPU/check"))


def memory(ctx: Context) -> None:
    args = ctx.args
    seconds = args.memory_minutes * 60
    m = measure(ctx.folder / "memory", ctx.target, urls(ctx, args.memory_monitors),
                args.memory_interval, seconds, args.warmup, 2.0 if args.quick else 10.0)
    samples = m.window_samples()
    half = [(s.at, s.uss / 1024 / m.monitors) for s in samples if s.at >= m.start.at
            + m.seconds / 2]
    per_hour = slope(half) * 3600 if len(half) > 1 else float("nan")
    judged("memory_uss_kb_per_monitor", m.uss_kb_per_monitor, "KB", 15.0,
           last_kb=round(m.end.uss / 1024 / m.monitors, 2), **common(m))
    # Flat: growing less than 1 KB a monitor an hour (the budget is 15 KB).
    judged("memory_uss_slope_kb_per_monitor_per_hour", per_hour, "KB/h", 1.0,
           samples=len(half), over_s=round(m.seconds / 2))
    ctx.rows.append((f"memory: {m.monitors} monitors at {m.interval:g} s, {m.seconds:.0f} s",
                     f"{m.uss_kb_per_monitor:.1f} KB/monitor (USS, max)",
                     f"second half {per_hour:+.2f} KB/monitor/h",
                     f"{mb(m.end.uss)} in {m.end.processes} processes"))


def large(ctx: Context) -> None:
    args = ctx.args
    interval, monitors = args.large_interval, args.large_monitors
    rounds = max(1, int(args.large_minutes * 60 // interval))
    folder = ctx.folder / "large"
    report: dict[str, Any] = {}

    def report_once(mon: Monitor) -> None:
        t0, at = time.monotonic(), mon.elapsed()
        done = subprocess.run([sys.executable, str(APP), "-r", "--once", "-c", str(mon.config),
                               "-db", str(mon.db)], cwd=folder, capture_output=True,
                              text=True, timeout=900)
        report.update(seconds=time.monotonic() - t0, lines=len(done.stdout.splitlines()),
                      exit=done.returncode, stderr=done.stderr[-300:], at=at)

    every = 1.0 if args.quick else 5.0
    with Monitor(folder, urls(ctx, monitors), interval, ctx.target) as mon:
        first = mon.first_row(timeout=300)
        # Whole rounds from the first check on: each monitor's first check is somewhere in
        # the first interval (however the start spreads them), and its n-th n - 1 intervals
        # later, so the window holds exactly `rounds` checks of each.
        origin = mon.database.first_due() or mon.started_wall
        run = first + rounds * interval + GRACE
        # The report from outside half way, once a whole round is stored.
        mon.watch(first + min(rounds * interval, max(interval + 5, rounds * interval / 2)),
                  every)
        report_once(mon)
        mon.watch(run, every)
        before = mon.sample()
        signal_wall = time.time()
        stop_s, stopped = mon.stop(timeout=300)
        made = mon.made()
        rounds_window = mon.database.window(origin, origin + rounds * interval, due=True)
        covered = mon.database.slots_covered(origin - 1e-3, origin + rounds * interval, rounds)
        everything = mon.database.window(0, float("inf"))
        failures = mon.database.failures(origin, origin + rounds * interval)
        newest = mon.database.newest()
        stop_lines = [line for _at, line in mon.stderr if line.startswith("Stopping")]
        samples = list(mon.samples)
    expected = monitors * rounds
    missing = lost(made, everything)
    uss_max = max(s.uss for s in samples)
    judged("large_first_check_s", first, "s", 10.0, monitors=monitors)
    judged("large_stored_share", ratio(covered, expected), "fraction", 0.999, most=False,
           slots_covered=covered, rows=rounds_window.rows, expected=expected, rounds=rounds,
           skipped_rows=rounds_window.skipped, failed=rounds_window.failed)
    judged("large_uss_kb_per_monitor", uss_max / 1024 / monitors, "KB", 10.0,
           uss_mb=round(uss_max / 1e6, 1), processes=samples[-1].processes,
           growth_mb_per_min=_r(slope([(s.at, s.uss) for s in samples[len(samples) // 2:]])
                                * 60 / 1e6 if len(samples) > 3 else float("nan")))
    judged("large_stop_s", stop_s, "s", 2.0, exited=stopped, stop_lines=stop_lines[:5],
           rows_at_signal=before.rows, rows_after_stop=everything.rows,
           writer_lag_at_signal_s=_r(before.newest_age or float("nan")),
           newest_stored_before_signal_s=_r(signal_wall - newest if newest else float("nan")))
    judged("large_checks_lost", missing, "checks", 0, made=made, stored=everything.checks,
           answered=everything.answered,
           failures=failures)
    judged("large_report_once_s", float(report.get("seconds", float("nan"))), "s", 1.0,
           lines=report.get("lines"), exit=report.get("exit"),
           at_s=_r(float(report.get("at", float("nan"))), 1),
           stderr=report.get("stderr") or None)
    ctx.rows.append((f"large: {monitors} monitors at {interval:g} s, {rounds} round(s)",
                     f"first check {first:.1f} s, {ratio(covered, expected):.3f}"
                     f" of {rounds} round(s) stored",
                     f"{uss_max / 1024 / monitors:.1f} KB/monitor, stop {stop_s:.1f} s, "
                     f"{missing} lost",
                     f"-r --once {report.get('seconds', float('nan')):.1f} s, "
                     f"{report.get('lines')} lines"))


RUNS: dict[str, Callable[[Context], None]] = {
    "flat_out": flat_out, "overload": overload, "punctual": punctual,
    "slow": lambda ctx: punctual(ctx, slow=True), "memory": memory, "large": large,
}
QUICK = {"minutes": 0.2, "memory_minutes": 0.3, "large_minutes": 0.5, "seconds": 4.0,
         "peer_seconds": 2.0, "monit_hosts": 100, "flat_monitors": 100,
         "punctual_monitors": 200, "memory_monitors": 1000, "large_monitors": 2000,
         "large_interval": 10.0, "warmup": 2.0, "every": 1.0}
FULL = {"minutes": 10.0, "memory_minutes": 60.0, "large_minutes": 30.0, "seconds": 30.0,
        "peer_seconds": 20.0, "monit_hosts": 2000, "flat_monitors": 2000,
        "punctual_monitors": 5000, "memory_monitors": 10000, "large_monitors": 100000,
        "large_interval": 60.0, "warmup": 5.0, "every": 2.0}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="seconds per scenario, small sizes")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"scenarios, comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--minutes", type=float, help="punctual and slow (10; quick 0.2)")
    parser.add_argument("--memory-minutes", type=float, help="memory (60; quick 0.3)")
    parser.add_argument("--large-minutes", type=float, help="large (30; quick 0.5)")
    parser.add_argument("--seconds", type=float, help="flat_out and overload's window (30)")
    parser.add_argument("--peer-seconds", type=float, help="blackbox and Monit measures (20)")
    parser.add_argument("--monit-hosts", type=int)
    parser.add_argument("--flat-monitors", type=int, help="flat_out's monitors (2000)")
    parser.add_argument("--flat-interval", type=float, default=0.1)
    parser.add_argument("--capacity", type=float,
                        help="overload without flat_out: the checks/s it can do")
    parser.add_argument("--punctual-monitors", type=int, help="punctual and slow (5000)")
    parser.add_argument("--memory-monitors", type=int, help="(10000)")
    parser.add_argument("--memory-interval", type=float, default=10.0)
    parser.add_argument("--large-monitors", type=int, help="(100000)")
    parser.add_argument("--large-interval", type=float, help="(60; quick 10)")
    parser.add_argument("--warmup", type=float, help="seconds after the first stored check (5)")
    parser.add_argument("--every", type=float, help="seconds between samples (2)")
    parser.add_argument("--folder", type=Path,
                        help="work here (a new or empty folder, kept: configs, databases)"
                             " instead of a temporary folder")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:  # what is given explicitly wins over the mode
            setattr(args, key, value)
    args.scenarios = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}: choose from "
                     f"{', '.join(SCENARIOS)}")
    if args.folder is not None and args.folder.exists() and any(args.folder.iterdir()):
        parser.error(f"--folder {args.folder}: not empty (its databases would mix runs)")
    return args


def ensure_echo_module() -> None:
    if not ECHO_MODULE.exists():
        print("installing libnginx-mod-http-echo from Debian...", flush=True)
        install = ["apt-get", "install", "-y", "-q", "libnginx-mod-http-echo"]
        if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=900)
            subprocess.run(install, check=True, capture_output=True, timeout=900)


@contextlib.contextmanager
def target(folder: Path) -> Iterator[Nginx]:
    with nginx(folder) as (base, pid, status_port):
        yield Nginx(base, pid, status_port)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    ensure_packages(["nginx", "prometheus-blackbox-exporter", "monit", "wrk"]
                    if "flat_out" in args.scenarios else ["nginx"])
    if "slow" in args.scenarios:
        ensure_echo_module()
    rows: list[Row] = []
    failed: list[str] = []
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.folder)) if args.folder is not None else
          tempfile.TemporaryDirectory(prefix="bench-real-")) as tmp, target(Path(tmp)) as nx:
        ctx = Context(args, Path(tmp), nx, rows)
        for name in SCENARIOS:
            if name not in args.scenarios:
                continue
            print(f"{name}...", file=sys.stderr, flush=True)
            printed, shown = len(FIGURES), len(rows)
            try:
                RUNS[name](ctx)
            except (RuntimeError, OSError, sqlite3.Error, subprocess.SubprocessError) as exc:
                # One scenario failing (the program exited, a peer did not start) leaves
                # the others to measure; the run still fails at the end.
                failed.append(name)
                print(f"{name}: failed: {exc}", file=sys.stderr, flush=True)
                figure(f"{name}_error", float("nan"), "", error=str(exc)[-2000:])
            print_table(rows[shown:])
            for entry in FIGURES[printed:]:
                print(json.dumps(entry), flush=True)
    print_table(rows)  # the figures' JSON lines were printed as each scenario ended
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
