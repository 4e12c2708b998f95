"""The read side at large scale, measured on the real program from outside: `-r --once` at
100,000 monitors, the live view's first frame at 100,000 monitors (`-r`, and `-m` on a new
database), and the 10-minute and 1-hour stats on 20 million stored checks (as `-r --once`
and the API compute them).

    python -m bench.large --folder /tmp/large     # builds both databases once, then reuses
    python -m bench.large --quick                 # a smoke run (small databases)

The databases, in --folder (else a new temporary folder), the monitors set from a real
config file as `-m` sets them:
- report.db: 100,000 http monitors at 60 s for an hour (6 M checks), every check through
  the real writer (bench.run.synthetic_check, with the http phase times): 40-80 minutes
  on 2 busy cores;
- history.db: 5,000 monitors, 20 M checks over 2.5 days: those of the days at 60 s
  written in SQL (raw rows, and hour and day rows as the rollups leave them: the writer
  takes an hour per 5 M checks here), the last 70 minutes or more at 10 s through the real
  writer, so that the windows measured are the writer's, dense.
A database reused is first brought up to now through the writer; one further behind than
that is worth (report.db: 3 rounds, 300,000 checks; history.db: 90) is read with the
programs' clock at its newest check instead (Debian's libfaketime, preloaded: the same
program, reading the windows that end then as it reads those ending now). Every figure
comes from a process started as a user starts it (`monitoringApp.py ...`), timed from
outside: `-r --once` to its exit (beside `-r --once` on an empty database, the program's
start, measured in the same run), the live view on a pseudo-terminal to its first whole
frame, `serve`'s stats route over HTTP; in-process figures are diagnostics. Each is a JSON
line with its target and ratio (bench.figures).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.figures import figure, judged, print_figures, print_table
from bench.run import SimulatedClock, synthetic_check
from monitor.config import load_config
from monitor.store.sqlite.writer import Store

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "monitoringApp.py"
REPORT_TARGET_S = 1.0
FRAME_TARGET_S = 1.0
STATS_TARGET_MS = 200.0
QUEUED = 200_000  # checks put before the fill waits for the writer


def write_config(path: Path, monitors: int, interval: float) -> None:
    """A config of `monitors` http sites, as a user with that many writes it."""
    sites = [{"URL": f"https://site{i}.example.com/health"} for i in range(monitors)]
    path.write_text(json.dumps({"websites": sites, "defaultCheckInterval": interval}))


def _rounds(store: Store, ids: list[str], clock: SimulatedClock, first: float, last: float,
            interval: float) -> int:
    """A check of every monitor at `first`, `first + interval`, ... up to before `last`,
    through the writer; the clock follows the checks' time, as it does live."""
    written = 0
    sites = len(ids)
    ts = first
    step = 0
    # The queue stays well under the writer's bound (MAX_QUEUED), beyond which it drops.
    every = max(1, QUEUED // sites)
    while ts < last:
        clock.now = ts
        for index, monitor_id in enumerate(ids):
            store.put_check(synthetic_check(monitor_id, index, sites, ts, interval, True))
        written += sites
        step += 1
        if step % every == 0:
            store.flush(600)
        ts += interval
    store.flush(600)
    return written


def fill(db: Path, config: Path, stretches: list[tuple[float, float]], now: float) -> int:
    """Checks of every monitor of `config` through the real writer: `stretches` as
    (seconds, interval) one after the other, the last ending at `now`; the monitors set as
    `-m` sets them from the config."""
    monitors = load_config(config).monitors
    ids = [m.id for m in monitors]
    start = now - sum(seconds for seconds, _ in stretches)
    clock = SimulatedClock(start)
    store = Store(db, clock=clock)
    store.set_monitors(monitors)
    store.start()
    written = 0
    try:
        for seconds, interval in stretches:
            written += _rounds(store, ids, clock, start, start + seconds, interval)
            start += seconds
    finally:
        store.close()
    if store.dropped or stored_checks(db) < written:
        raise SystemExit(f"{db}: the writer dropped {store.dropped} of {written:,} checks")
    return written


def newest_check(db: Path) -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return float(conn.execute("SELECT max(timestamp) FROM website_monitoring"
                                  ).fetchone()[0])
    finally:
        conn.close()


def top_up(db: Path, config: Path, interval: float, now: float, most: int) -> int | None:
    """Checks from the newest stored one up to `now`, every `interval`: a database built
    earlier then ends now, as one a monitor is writing. None, and nothing written, when
    that takes more than `most` rounds (100,000 monitors an hour behind: 6 M checks)."""
    # synthetic_check spreads a round over its interval: the round's start is before it.
    # Its last round ends before `now`: a check after now would make the windows not live.
    first = (newest_check(db) // interval + 1) * interval
    rounds = int((now - first) // interval)
    if rounds <= 0:
        return 0
    if rounds > most:
        return None
    return fill(db, config, [(rounds * interval, interval)], first + rounds * interval)


FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def clock_at(db: Path) -> dict[str, str]:
    """The environment that runs a program with its clock at the database's newest check
    (Debian's libfaketime, preloaded: the clock starts there and runs on; the program is
    still the process started): it reads the windows ending then exactly as it reads those
    ending now on a database a monitor writes. For a database too far behind to bring up
    to now through the writer."""
    if not FAKETIME_LIB.exists():
        raise SystemExit(f"{db} is too far behind to top up through the writer, and"
                         " libfaketime is missing (apt-get install faketime): build afresh")
    at = newest_check(db) + 5.0
    return {"LD_PRELOAD": str(FAKETIME_LIB),
            "FAKETIME": "@" + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))}


# The raw checks of the days before the recent stretch, written in SQL (the writer takes an
# hour per 10 M checks on 2 busy cores): bench.run.synthetic_check's figures for every
# monitor every `interval` s, as the writer stores them (http phases as metrics).
_OLD_CHECKS = """
WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < :rounds - 1),
c AS (SELECT CAST(:origin + k.n * :interval AS INTEGER) AS round, m.rowid - 1 AS i,
             m.monitor AS monitor, m.target AS target FROM k CROSS JOIN monitors m),
v AS (SELECT round, i, monitor, target, (i * 7919 + round * 104729) % 1000 AS code FROM c),
w AS (SELECT round, i, monitor, target, code >= 20 AS ok,
             5.0 + (code % 97) * 1.7 + (CASE WHEN code > 990 THEN 300.0 ELSE 0.0 END) AS rt
      FROM v)
INSERT INTO website_monitoring (timestamp, host, available, status, responseTime, reason,
                                detail, lateness, monitor, metrics, warning)
SELECT round + :interval * i / :sites, target, ok, CASE WHEN ok THEN 200 ELSE 503 END, rt,
       CASE WHEN ok THEN NULL ELSE 'http_status' END, CASE WHEN ok THEN NULL ELSE 'HTTP 503' END,
       1.0, monitor, json_object('dns', rt * 0.05, 'connect', rt * 0.15, 'tls', rt * 0.3,
                                 'ttfb', rt * 0.9, 'total', rt), NULL
FROM w ORDER BY round, i
"""
# Each monitor's hour of those checks as the writer's rollup leaves it: counts, sums,
# extremes, the histogram (bucket * 512 + count in three base-64 digits) and the outcomes.
_BUCKET = ("CASE WHEN responseTime <= 0.1 THEN 0 ELSE min(511, CAST(ceil(ln(responseTime"
           " / 0.1) / ln(1.05) - 1e-9) AS INTEGER)) END")
_OLD_HOUR = f"""
INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum, rt_min, rt_max,
                        hist, outcomes)
SELECT h.monitor, 3600, :hour, h.checks, h.up, h.rt_count, h.rt_sum, h.rt_min, h.rt_max,
       h.hist, o.outcomes FROM (
  SELECT monitor, sum(n) AS checks, sum(u) AS up, sum(n) AS rt_count, total(s) AS rt_sum,
         min(lo) AS rt_min, max(hi) AS rt_max,
         group_concat(char(48 + (b * 512 + n) / 4096, 48 + (b * 512 + n) / 64 % 64,
                           48 + (b * 512 + n) % 64), '') AS hist
  FROM (SELECT monitor, {_BUCKET} AS b, count(*) AS n, sum(available) AS u,
               total(responseTime) AS s, min(responseTime) AS lo, max(responseTime) AS hi
        FROM website_monitoring WHERE timestamp >= :hour AND timestamp < :hour + 3600
        GROUP BY monitor, b)
  GROUP BY monitor) h
JOIN (SELECT monitor, group_concat(key || ':' || n) AS outcomes FROM (
        SELECT monitor, key, count(*) AS n FROM (
          SELECT monitor, status AS key FROM website_monitoring
          WHERE timestamp >= :hour AND timestamp < :hour + 3600
          UNION ALL SELECT monitor, reason FROM website_monitoring
          WHERE timestamp >= :hour AND timestamp < :hour + 3600 AND reason IS NOT NULL)
        GROUP BY monitor, key)
      GROUP BY monitor) o ON o.monitor = h.monitor
"""
# The days from their hours (entries and outcomes repeated add up, as readers sum them).
_OLD_DAYS = """
INSERT INTO aggregates (monitor, span, start, checks, up, rt_count, rt_sum, rt_min, rt_max,
                        hist, outcomes)
SELECT monitor, 86400, start / 86400 * 86400, sum(checks), sum(up), sum(rt_count),
       sum(rt_sum), min(rt_min), max(rt_max), group_concat(hist, ''), group_concat(outcomes)
FROM aggregates WHERE span = 3600 AND start >= :first AND start < :last
GROUP BY monitor, start / 86400
"""


def old_history(db: Path, config: Path, seconds: float, interval: float, end: float) -> int:
    """The checks of every monitor of `config` every `interval` for `seconds` up to `end`
    (a multiple of a day... of an hour), in SQL, with their hour and day rows, the rollups'
    mark at `end`: as a monitor leaves the file after that long, the minutes and blocks of
    those days purged. The writer then carries on from `end`."""
    store = Store(db, clock=lambda: end - seconds)
    store.set_monitors(load_config(config).monitors)
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        sites = conn.execute("SELECT count(*) FROM monitors").fetchone()[0]
        rounds = int(seconds // interval)
        origin = end - rounds * interval
        conn.execute("BEGIN")
        conn.execute(_OLD_CHECKS, {"rounds": rounds, "origin": origin, "interval": interval,
                                   "sites": sites})
        for hour in range(int(origin) // 3600 * 3600, int(end), 3600):
            conn.execute(_OLD_HOUR, {"hour": hour})
        conn.execute(_OLD_DAYS, {"first": int(origin) // 86400 * 86400, "last": int(end)})
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rolled_until', ?)",
                     (end,))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return sites * rounds


def stored_checks(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT max(id) FROM website_monitoring").fetchone()[0] or 0
    finally:
        conn.close()


def prepare(folder: Path, name: str, monitors: int, stretches: list[tuple[float, float]],
            old: tuple[float, float] | None = None, most: int = 30,
            ) -> tuple[Path, Path, dict[str, str]]:
    """`folder`/`name`.db, its config, and the prefix of the commands that read it: built
    now, or the one built before brought up to now (its last stretch's interval), or read
    with the clock at its end (clock_at) when that takes more than `most` rounds. `old`:
    (seconds, interval) of checks before the stretches, written in SQL (old_history)."""
    folder.mkdir(parents=True, exist_ok=True)
    db, config = folder / f"{name}.db", folder / f"{name}.json"
    interval = stretches[-1][1]
    now = time.time() // interval * interval
    started = time.monotonic()
    if db.exists() and config.exists():
        added = top_up(db, config, interval, now, most)
        if added is None:
            clock = clock_at(db)
            print(f"{db}: reused, read at {clock['FAKETIME'][1:]} UTC (its newest check):"
                  f" more than"
                  f" {most} rounds behind", file=sys.stderr, flush=True)
            return db, config, clock
        print(f"{db}: reused, {added:,} checks added up to now in"
              f" {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        return db, config, {}
    write_config(config, monitors, interval)
    written = 0
    if old is not None:
        # The recent stretches from the hour the old checks end at: the rollups' mark.
        first = (now - sum(seconds for seconds, _ in stretches)) // 3600 * 3600
        stretches = [(now - first - sum(s for s, _ in stretches[1:]), stretches[0][1]),
                     *stretches[1:]]
        written += old_history(db, config, old[0], old[1], first)
        print(f"{db}: {written:,} checks of the days before in SQL in"
              f" {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    through = time.monotonic()
    recent = fill(db, config, stretches, now)
    took = time.monotonic() - through
    print(f"{db}: built, {monitors:,} monitors, {written + recent:,} checks, {recent:,} of them"
          f" through the writer in {took:.0f} s ({recent / took:,.0f} checks/s,"
          f" {db.stat().st_size / 1e6:,.0f} MB)", file=sys.stderr, flush=True)
    return db, config, {}

# -- measures, from outside -------------------------------------------------------------

def run_timed(argv: list[str], env: dict[str, str] | None = None,
              timeout: float = 900) -> tuple[float, float, str, str, int]:
    """(wall s, CPU s, stdout, stderr, exit) of a process run to its end, stdout a pipe (as
    `-r --once > file`); CPU from the kernel's account of the waited child."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return wall, cpu, done.stdout, done.stderr, done.returncode


def app(*args: str | Path) -> list[str]:
    return [sys.executable, str(APP), *map(str, args)]


def median_run(argv: list[str], repeat: int, env: dict[str, str] | None = None,
               ) -> dict[str, Any]:
    """The median wall and CPU of `repeat` runs after one to warm the page cache, and what
    the last printed."""
    run_timed(argv, env)
    runs = [run_timed(argv, env) for _ in range(repeat)]
    wall, cpu, out, err, code = runs[-1]
    if code != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {code}: {err[-500:]}")
    return {"wall": statistics.median(r[0] for r in runs),
            "cpu": statistics.median(r[1] for r in runs), "lines": len(out.splitlines()),
            "bytes": len(out.encode()), "out": out, "walls": [round(r[0], 3) for r in runs]}


@contextlib.contextmanager
def terminal(argv: list[str], width: int = 160, height: int = 50,
             env: dict[str, str] | None = None) -> Iterator[Any]:
    """`argv` on a pseudo-terminal of `width` x `height`, as on a user's screen; yields a
    reader of what it draws (bytes so far, read for up to `seconds`); stopped at the end as
    Ctrl-C stops it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                            env={**os.environ, "TERM": "xterm-256color", **(env or {})})
    os.close(slave)
    drawn = bytearray()

    def read(until: float) -> bytes:
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], max(0.0, until - time.monotonic()))
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn.extend(chunk)
            return bytes(drawn)
        return bytes(drawn)

    try:
        yield read
    finally:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # What it still writes on its way out, so that its writes never block.
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0.2)[0] and os.read(master, 65536):
                pass
        os.close(master)


def first_frame(argv: list[str], timeout: float = 120.0, env: dict[str, str] | None = None,
                ) -> dict[str, float]:
    """Seconds from the start of `argv` on a terminal to its first output, to its view's
    header (the counts), and to its first whole frame (the panel under the table drawn)."""
    marks = {"first_output_s": b"", "header_s": b" monitors:", "frame_s": b"Latest alerts"}
    found: dict[str, float] = {}
    started = time.perf_counter()
    with terminal(argv, env=env) as read:
        end = time.monotonic() + timeout
        while len(found) < len(marks) and time.monotonic() < end:
            drawn = read(end)
            at = time.perf_counter() - started
            for name, mark in marks.items():
                if name not in found and drawn and mark in drawn:
                    found[name] = at
    return {name: found.get(name, float("nan")) for name in marks}


def empty_database(folder: Path) -> Path:
    """A monitoring database with no monitor: `-r --once` on it is the reference, the
    program's start and its imports, measured beside."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "empty.db"
    if not db.exists():
        Store(db).close()
    return db


@contextlib.contextmanager
def serving(db: Path, config: Path, clock: dict[str, str]) -> Iterator[str]:
    """`monitoringApp.py serve` on the database, on a free loopback port; its base URL."""
    port = free_port()
    proc = subprocess.Popen(app("serve", "-c", config, "-db", db, "--listen",
                                f"127.0.0.1:{port}"), cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **clock},
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("Serving"):
            said = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"serve did not start: {line}{said}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_ms(url: str, repeat: int) -> tuple[float, dict[str, Any]]:
    """The median milliseconds of GET `url` (after one), and its body."""
    def get() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())
    body = get()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        body = get()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), body


def in_process_ms(run: Any, repeat: int) -> float:
    """Median CPU milliseconds of `run()` in this process (after one): a diagnostic."""
    run()
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def bench_report(db: Path, config: Path, clock: dict[str, str], empty: Path, repeat: int,
                 rows: list[Row]) -> None:
    """`-r --once` and the live view's first frame at this database's size (each program
    with `clock` in its environment: see prepare)."""
    monitors = len(json.loads(config.read_text())["websites"])
    reference = median_run(app("-r", "--once", "-db", empty), repeat, clock)
    once = median_run(app("-r", "--once", "-c", config, "-db", db), repeat, clock)
    judged("large_report_once_s", once["wall"], "s", REPORT_TARGET_S, monitors=monitors,
           cpu_s=round(once["cpu"], 3), lines=once["lines"], bytes=once["bytes"],
           runs_s=once["walls"], empty_database_s=round(reference["wall"], 3),
           over_empty_s=round(once["wall"] - reference["wall"], 3))
    wall, cpu, out, _err, code = run_timed(app("-r", "--once", "--all", "-c", config,
                                               "-db", db), clock)
    figure("large_report_all_s", wall, "s", monitors=monitors, cpu_s=round(cpu, 3),
           lines=len(out.splitlines()), exit=code)
    frame = first_frame(app("-r", "-db", db), env=clock)
    judged("large_view_first_frame_s", frame["frame_s"], "s", FRAME_TARGET_S,
           monitors=monitors, first_output_s=round(frame["first_output_s"], 3),
           header_s=round(frame["header_s"], 3))
    rows.append((f"-r --once, {monitors:,} monitors", f"{once['wall']:.2f} s",
                 f"{once['lines']} lines, {once['cpu']:.2f} s CPU; empty database"
                 f" {reference['wall']:.2f} s", f"target {REPORT_TARGET_S:g} s"))
    rows.append((f"-r --once --all, {monitors:,} monitors", f"{wall:.1f} s",
                 f"{len(out.splitlines())} lines, {cpu:.1f} s CPU", "every row: no target"))
    from monitor.store.sqlite.queries import open_reader

    reader = open_reader(db)
    try:
        sample = reader.active_monitors()[monitors // 2].id
    finally:
        reader.close()
    with serving(db, config, clock) as base:
        url = (f"{base}/api/v1/monitors/{urllib.parse.quote(sample, safe='')}/stats"
               "?window=1h")
        ms, _body = api_ms(url, repeat)
        judged("large_api_stats_1h_ms", ms, "ms", STATS_TARGET_MS, monitors=monitors)
    rows.append((f"-r live view, {monitors:,} monitors", f"{frame['frame_s']:.2f} s",
                 f"first output {frame['first_output_s']:.2f} s, header"
                 f" {frame['header_s']:.2f} s", f"target {FRAME_TARGET_S:g} s"))


def bench_monitor_frame(folder: Path, monitors: int, rows: list[Row]) -> None:
    """`-m` on a terminal, started as a user starts it on a config of `monitors` http
    monitors at 60 s (each refused at once on loopback: the view, not the checks, is
    measured) and a new database: its live view's first frame, and its first stored
    check."""
    work = folder / "monitor-frame"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("m.db*"):
        old.unlink()
    port = free_port()  # closed again: connections to it are refused
    config = work / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": f"http://127.0.0.1:{port}/s{i}"} for i in range(monitors)],
        "defaultCheckInterval": 60}))
    db = work / "m.db"
    started = time.time()
    frame = first_frame(app("-m", "-c", config, "-db", db), timeout=300)
    first_check = float("nan")
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT min(timestamp) FROM website_monitoring").fetchone()[0]
            first_check = (found - started) if found is not None else float("nan")
        finally:
            conn.close()
    judged("large_monitor_first_frame_s", frame["frame_s"], "s", FRAME_TARGET_S,
           monitors=monitors, first_output_s=round(frame["first_output_s"], 3),
           header_s=round(frame["header_s"], 3), first_check_s=round(first_check, 3))
    rows.append((f"-m live view, {monitors:,} monitors, new database",
                 f"{frame['frame_s']:.2f} s", f"first output {frame['first_output_s']:.2f} s,"
                 f" first check stored {first_check:.1f} s", f"target {FRAME_TARGET_S:g} s"))


def bench_stats(db: Path, config: Path, clock: dict[str, str], empty: Path, repeat: int,
                rows: list[Row]) -> None:
    """The 10-minute and 1-hour stats on the history database: as `-r --once` computes them
    (from outside, above the empty-database reference; and in this process, each window),
    for every monitor (`--all`), and as the API serves them."""
    from monitor.render.report import window_report, window_reports
    from monitor.stats import window_start, window_stats
    from monitor.store.sqlite.queries import open_reader

    checks = stored_checks(db)
    monitors = len(json.loads(config.read_text())["websites"])
    reference = median_run(app("-r", "--once", "-db", empty), repeat, clock)
    once = median_run(app("-r", "--once", "-c", config, "-db", db), repeat, clock)
    over = once["wall"] - reference["wall"]
    judged("history_report_once_stats_ms", over * 1000, "ms", 2 * STATS_TARGET_MS,
           note="-r --once (both windows) minus -r --once on an empty database",
           report_once_s=round(once["wall"], 3), empty_database_s=round(reference["wall"], 3),
           checks=checks, monitors=monitors, lines=once["lines"])
    all_wall, all_cpu, all_out, _err, _code = run_timed(app(
        "-r", "--once", "--all", "-c", config, "-db", db), clock)
    figure("history_report_all_s", all_wall, "s", cpu_s=round(all_cpu, 3),
           lines=len(all_out.splitlines()), checks=checks, monitors=monitors)
    reader = open_reader(db)
    # Read at the database's newest check when the programs run with their clock there.
    at = newest_check(db) + 5.0 if clock else None
    try:
        sample = reader.active_monitors()[monitors // 2].id
        judged("history_stats_both_ms", in_process_ms(
            lambda: window_reports(reader, [600.0, 3600.0], at), repeat), "ms",
            2 * STATS_TARGET_MS, note="in process, CPU: both windows as -r --once reads"
            " them, in one pass", checks=checks, monitors=monitors)
        for seconds, name in ((600.0, "10min"), (3600.0, "1h")):
            now = time.time() if at is None else at
            judged(f"history_stats_{name}_ms", in_process_ms(
                lambda s=seconds, n=now: window_report(reader, s, n), repeat), "ms",
                STATS_TARGET_MS,
                note="in process, CPU: the window as -r --once computes it",
                checks=checks, monitors=monitors)
            judged(f"history_window_stats_all_{name}_ms", in_process_ms(
                lambda s=seconds, n=now: window_stats(reader, window_start(n, s), n),
                repeat), "ms", STATS_TARGET_MS,
                note="in process, CPU: every monitor's full stats (what --all prints)",
                checks=checks, monitors=monitors)
    finally:
        reader.close()
    with serving(db, config, clock) as base:
        for window in ("10m", "1h"):
            url = (f"{base}/api/v1/monitors/{urllib.parse.quote(sample, safe='')}/stats"
                   f"?window={window}")
            ms, body = api_ms(url, repeat)
            judged(f"history_api_stats_{window}_ms", ms, "ms", STATS_TARGET_MS,
                   checks=checks, monitors=monitors, monitor_checks=body.get("checks"))
    rows.append((f"stats, {checks:,} checks, {monitors:,} monitors",
                 f"-r --once {once['wall']:.2f} s", f"{over * 1000:.0f} ms above an empty"
                 f" database ({reference['wall']:.2f} s)", f"--all {all_wall:.1f} s"))


Row = tuple[str, str, str, str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="build the databases here once, reuse them")
    parser.add_argument("--monitors", type=int, default=100_000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--history-monitors", type=int, default=5_000)
    parser.add_argument("--history-checks", type=int, default=20_000_000)
    parser.add_argument("--recent-minutes", type=int, default=70,
                        help="of the history, written through the writer (at 10 s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--skip-history", action="store_true")
    parser.add_argument("--skip-monitor", action="store_true",
                        help="not -m's first frame (its start is the engine's)")
    parser.add_argument("--quick", action="store_true", help="small databases: a smoke run")
    parser.add_argument("--build-only", choices=("report", "history"))
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.minutes, args.history_monitors = 300, 12, 100
        args.history_checks, args.recent_minutes, args.repeat = 60_000, 15, 1
    folder = args.folder or Path(tempfile.mkdtemp(prefix="large-"))
    recent = args.recent_minutes * 60.0
    # The history's checks before its recent stretch, at 60 s: what the writer's 10 s leave.
    rounds = (args.history_checks - args.history_monitors * int(recent // 10)
              ) // args.history_monitors
    if args.build_only:
        if args.build_only == "report":
            prepare(folder, "report", args.monitors, [(args.minutes * 60.0, 60.0)])
        else:
            prepare(folder, "history", args.history_monitors, [(recent, 10.0)],
                    old=(max(0, rounds) * 60.0, 60.0))
        return
    rows: list[Row] = []
    empty = empty_database(folder)
    if not args.skip_report:
        db, config, clock = prepare(folder, "report", args.monitors,
                                    [(args.minutes * 60.0, 60.0)], most=3)
        bench_report(db, config, clock, empty, args.repeat, rows)
    if not args.skip_monitor:
        bench_monitor_frame(folder, args.monitors, rows)
    if not args.skip_history:
        db, config, clock = prepare(folder, "history", args.history_monitors,
                                    [(recent, 10.0)], old=(max(0, rounds) * 60.0, 60.0),
                                    most=90)
        bench_stats(db, config, clock, empty, args.repeat, rows)
    print_table(rows)
    print_figures()

if __name__ == "__main__":
    main()
