"""Crash safety: the real `-m` killed with SIGKILL at random moments, 20 times, on one database.

What it proves, after every kill:

* the database is intact (`PRAGMA integrity_check` is "ok");
* at most the last second of checks is missing: the newest stored check started at most
  1 s before the kill, and every request the loopback target received more than 1 s before
  the kill has its check row stored (matched one by one, see `missing_checks`);
* the alert state written so far is consistent: per site, alert and recovery rows strictly
  alternate, starting with an alert (two alerts in a row = a repeated alert, two recoveries
  in a row = a bogus one), and a recovery names the start of the alert it ends;
* the alert state is the one the stored checks imply, wherever they settle it (see
  `settled_state`): no lost alert, no lost recovery, across restarts;
* every ALERT/RECOVERY line printed is in the database, and no transition is printed twice
  across runs (an announcement may be lost by a kill, by design, but never repeated).

At the end every flappy site is healthy for a full run stopped by SIGTERM: each site's last
row must be a recovery (no recovery lost across the 20 kills); then one site goes down for
one more run and its last row must be an alert.

The monitor checks ~120 healthy sites on a fast counting target (its own process) plus a
few flappy sites served by a threaded server in this process, whose answers (200 or 503)
the test flips at random moments, so that kills land while a site is down, just after it
recovered, and in between. The flips and the kill times come from a seeded random.Random:
the seed is printed (and in every failure message); CRASH_SEED=N replays a plan.

    .venv/bin/python -m pytest tests/e2e/test_crash.py -q -s     # -s shows the figures
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bench.run import spawn_server
from monitor.store.api import parse_iso
from tests.support import app
from tests.support.app import ROOT
from tests.support.db import query

RUNS = 20
HEALTHY_SITES = 120
FLAPPY_SITES = 6
# Every site: 126 sites at 0.2 s is ~630 checks/s demanded. At 0.1 s (1,260/s) the test
# ran this 2-core box at its ceiling (the target served 1,150-1,200/s), so a CI machine
# that gave it 40% of its CPU for a moment turned that into a backlog of over a second. The
# test is about what a kill loses, not about capacity: half the load leaves headroom (with
# two busy loops beside it the newest stored check was at most 156 ms old at the kill).
INTERVAL = 0.2
WINDOW = 1.0  # alertWindow of every site
TIMEOUT = 0.5  # per check: a check started before kill - 1 s has ended by kill - 0.5 s
MAX_WORKERS = 64
MAX_LOSS = 1.0  # seconds of checks a kill may lose
RUN_SLEEP = (0.3, 2.5)  # seconds between "really checking" and the kill
READY_ROWS = 150  # rows of the current run stored before it counts as really checking
# Requests the target received more than MAX_LOSS before the kill whose check row is not
# stored. None, as designed: such a check started before that moment (its timestamp is
# taken before it connects), ended within TIMEOUT (the watchdog), was queued at once and
# committed within BATCH_WAIT (0.1 s) + one write; 0.5 s to spare. No slack: the matching
# is exact (see missing_checks), and a lagging writer is what this test is here to catch.
MISSING_TOLERANCE = 0
EPS = 0.05  # s: wall clock vs monotonic clock, where settled_state compares windows
TIMEOUT_S = 30.0  # generous bound on every wait for the monitor


# -- the counting target: `python -m tests.e2e.test_crash target LIFETIME` ---------------------

def _serve_target(lifetime: float) -> None:
    """Answers 200 "ok" to every request and closes; remembers when each request arrived.
    GET /__arrivals?since=A&until=B answers {path: [arrival times in [A, B)]} in JSON."""
    arrivals: list[tuple[float, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            now = time.time()
            target = head.split(b" ", 2)[1].decode("latin-1")
            if target.startswith("/__arrivals"):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
                since, until = float(query["since"][0]), float(query["until"][0])
                found: dict[str, list[float]] = {}
                for at, path in arrivals:
                    if since <= at < until:
                        found.setdefault(path, []).append(at)
                body = json.dumps(found).encode()
            else:
                arrivals.append((now, target))
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await asyncio.sleep(lifetime)

    asyncio.run(serve())


def counting_target(lifetime: float = 1800.0):
    return spawn_server("tests.e2e.test_crash", "target", str(lifetime), cwd=ROOT)


def arrivals(base: str, since: float, until: float) -> dict[str, list[float]]:
    """{URL: arrival times} of the requests the target received in [since, until)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}/__arrivals?since={since!r}&until={until!r}",
                     timeout=10) as answer:
        return {base + path: times for path, times in json.loads(answer.read()).items()}


def missing_checks(received: dict[str, list[float]], started: dict[str, list[float]],
                   before: float = float("inf")) -> dict[str, int]:
    """Per URL, how many of the requests that arrived before `before` have no stored check.

    Each request was sent by one check, which started before the request arrived (a
    check's timestamp is taken before it connects). So the k-th request of a URL needs k
    stored checks of that URL that started before it; the largest shortfall over k is the
    number of requests whose check row is missing. Exact, given that the target answers
    every request: a stored check whose request never arrived (a timeout) could only
    hide a missing one, and checks of healthy loopback sites do not time out here."""
    missing = {}
    for url, times in received.items():
        starts = sorted(started.get(url, ()))
        index = shortfall = 0
        for k, arrival in enumerate(sorted(t for t in times if t < before), start=1):
            while index < len(starts) and starts[index] < arrival:
                index += 1
            shortfall = max(shortfall, k - index)
        if shortfall:
            missing[url] = shortfall
    return missing


# -- the flappy sites: a threaded server in this process, one health flag per site ---------

class FlappyServer:
    def __init__(self, sites: int) -> None:
        self.healthy = [True] * sites
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                index = int(self.path.strip("/").removeprefix("f"))
                code = 200 if owner.healthy[index] else 503
                body = b"ok" if code == 200 else b"down"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # not 5: a burst of connects must not wait for a SYN retry

            def handle_error(self, request: object, client_address: object) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed client
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, index: int) -> str:
        return f"{self.base}/f{index}"

    def __enter__(self) -> FlappyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# -- the database, read as the kill left it -------------------------------------------------

def rows_since(db: Path, base_id: int) -> int:
    if not db.exists():
        return 0
    try:
        return query(db, "SELECT count(*) FROM website_monitoring WHERE id > ?", base_id)[0][0]
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return 0


def max_id(db: Path) -> int:
    if not db.exists():
        return 0
    return query(db, "SELECT coalesce(max(id), 0) FROM website_monitoring")[0][0]


def alert_history(db: Path) -> dict[str, list[tuple]]:
    history: dict[str, list[tuple]] = {}
    for row in query(db, "SELECT id, host, type, startDate, endDate, timestamp, message"
                         " FROM website_alerts ORDER BY id"):
        history.setdefault(row[1], []).append(row)
    return history


def alternation_errors(history: dict[str, list[tuple]]) -> list[str]:
    """Per host: alert, recovery, alert, ...; a recovery ends the alert just before it."""
    errors = []
    for host, rows in history.items():
        for position, (_id, _host, kind, start, end, _ts, _msg) in enumerate(rows):
            expected = "alert" if position % 2 == 0 else "recovery"
            if kind != expected:
                errors.append(f"{host}: row {position} is {kind!r}, expected {expected!r} "
                              f"(types: {[r[2] for r in rows]})")
                break
            if kind == "recovery" and (start != rows[position - 1][3] or not end
                                       or end < start):
                errors.append(f"{host}: recovery {start}..{end} does not end the alert "
                              f"started {rows[position - 1][3]}")
                break
    return errors


def settled_state(db: Path, base_id: int) -> dict[str, bool]:
    """Per host, the alert state that the checks stored by the run after `base_id` imply,
    where they settle it: True = no alert open, False = alert open.

    The database holds a prefix of the event stream (a check and the alert it causes are
    queued together under one lock; batches are committed in queue order; ids follow queue
    order). Take a stored check c of the run such that a later row of the run is stored
    (so whatever c's evaluation raised is stored too), every stored check of that host from
    c's window on (ts >= c.ts - window) and every later one has the same availability v,
    and no earlier run's check lies in that window. Then from c on the window only ever
    holds checks of value v: availability is 1.0 or 0.0, so after c the state is v and no
    later evaluation changes it. The last stored row of the host must say so."""
    rows = query(db, "SELECT id, host, timestamp, available FROM website_monitoring"
                     " WHERE id > ? ORDER BY id", base_id)
    if not rows:
        return {}
    last_id = rows[-1][0]
    before = dict(query(db, "SELECT host, max(timestamp) FROM website_monitoring"
                            " WHERE id <= ? GROUP BY host", base_id))
    per_host: dict[str, list[tuple]] = {}
    for row_id, host, ts, ok in rows:
        per_host.setdefault(host, []).append((row_id, ts, bool(ok)))
    settled = {}
    for host, checks in per_host.items():
        value = checks[-1][2]
        tail = []  # the last run of checks of the same value, by id (queue order)
        for check in reversed(checks):
            if check[2] != value:
                break
            tail.append(check)
        other = max((ts for _id, ts, ok in checks if ok != value), default=float("-inf"))
        floor = max(other, before.get(host, float("-inf")))
        candidates = [ts for row_id, ts, _ok in tail if row_id < last_id]
        if candidates and max(candidates) - WINDOW - EPS > floor:
            settled[host] = value
    return settled


def state_errors(history: dict[str, list[tuple]], settled: dict[str, bool]) -> list[str]:
    errors = []
    for host, healthy in settled.items():
        last = history.get(host, [(None, host, "recovery")])[-1][2]
        if healthy and last != "recovery":
            errors.append(f"{host}: its stored checks settle it as up, but its last alert row "
                          "is an alert (a recovery was lost)")
        if not healthy and last != "alert":
            errors.append(f"{host}: its stored checks settle it as down, but it has no open "
                          f"alert (last row: {last}; an alert was lost)")
    return errors


def printed_lines(path: Path) -> list[tuple[str, str]]:
    """(type, message) of each complete ALERT/RECOVERY line of a run's stdout."""
    found = []
    text = path.read_text()
    complete = text if text.endswith("\n") else text.rpartition("\n")[0]
    for line in complete.splitlines():
        for prefix, kind in (("ALERT: ", "alert"), ("RECOVERY: ", "recovery")):
            if line.startswith(prefix):
                found.append((kind, line[len(prefix):]))
    return found


# -- the test -------------------------------------------------------------------------------

def write_config(path: Path, target: str, flappy: FlappyServer) -> list[str]:
    urls = [f"{target}/s{i}" for i in range(HEALTHY_SITES)]
    urls += [flappy.url(i) for i in range(FLAPPY_SITES)]
    path.write_text(json.dumps({
        "websites": [{"URL": url, "checkInterval": INTERVAL, "timeout": TIMEOUT,
                      "alertWindow": WINDOW} for url in urls],
        "maxWorkers": MAX_WORKERS,
    }))
    return urls


class Monitor:
    """One `-m` process, its stdout and stderr in files (never pipes: a kill must not
    depend on anyone reading them)."""

    def __init__(self, tmp: Path, name: str, config: Path, db: Path) -> None:
        self.out_path, self.err_path = tmp / f"{name}.out", tmp / f"{name}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = app.start(["-m", "-c", str(config), "-db", str(db)], tmp, stdout=out,
                                  stderr=err)

    def output(self) -> str:
        return (f"--- stdout ---\n{self.out_path.read_text()[-3000:]}\n"
                f"--- stderr ---\n{self.err_path.read_text()[-3000:]}")

    def wait_checking(self, db: Path, base_id: int, context: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while rows_since(db, base_id) < READY_ROWS:
            if self.proc.poll() is not None:
                pytest.fail(f"{context}: the monitor exited ({self.proc.returncode}) before "
                            f"checking\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{context}: fewer than {READY_ROWS} rows stored within "
                            f"{TIMEOUT_S:g} s\n{self.output()}")
            time.sleep(0.05)

    def kill(self) -> float:
        kill_time = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(TIMEOUT_S)
        return kill_time

    def terminate(self, context: str) -> float:
        stop_time = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{context}: no exit within {TIMEOUT_S:g} s of SIGTERM\n"
                        f"{self.output()}")
        assert self.proc.returncode == 0, f"{context}: exit {self.proc.returncode}\n" \
                                          f"{self.output()}"
        return stop_time

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_kill_9_at_random_moments_loses_at_most_a_second_and_no_alert_state(tmp_path):
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    print(f"\ncrash test seed: {seed} (CRASH_SEED={seed} replays the plan)")
    db = tmp_path / "crash.db"
    config = tmp_path / "config.json"
    monitors: list[Monitor] = []
    losses: list[float] = []
    rates: list[float] = []
    served: list[float] = []
    lost_rows: list[int] = []
    coverage: Counter = Counter()
    settled_count = 0

    with counting_target() as target, FlappyServer(FLAPPY_SITES) as flappy:
        write_config(config, target, flappy)
        flappy_urls = [flappy.url(i) for i in range(FLAPPY_SITES)]

        def flip(index: int) -> None:
            flappy.healthy[index] = not flappy.healthy[index]

        def checks_of_run(base_id: int) -> dict[str, list[float]]:
            """{URL: start times} of the checks stored by the run after `base_id`."""
            started: dict[str, list[float]] = {}
            for host, ts in query(db, "SELECT host, timestamp FROM website_monitoring"
                                      " WHERE id > ?", base_id):
                started.setdefault(host, []).append(ts)
            return started

        def check_clean_stop(context: str, base_id: int, stop_time: float) -> None:
            """After SIGTERM every check that ended before the stop is stored: a request
            that arrived TIMEOUT before the signal belongs to a check that had ended."""
            started = checks_of_run(base_id)
            first = min(min(times) for times in started.values())
            lost = missing_checks(arrivals(target, first, stop_time), started,
                                  before=stop_time - TIMEOUT)
            assert not lost, (f"{context}: stopped by SIGTERM, yet requests received before "
                              f"the stop have no check row: {lost}")

        def check_alert_state(context: str, base_id: int) -> dict[str, list[tuple]]:
            nonlocal settled_count
            history = alert_history(db)
            errors = alternation_errors(history)
            assert not errors, f"{context}: " + "\n".join(errors)
            settled = settled_state(db, base_id)
            settled_count += sum(1 for host in settled if host in flappy_urls)
            errors = state_errors(history, settled)
            assert not errors, f"{context}: " + "\n".join(errors)
            return history

        try:
            for run in range(1, RUNS + 1):
                context = f"seed {seed}, run {run}"
                if run > 1 and rng.random() < 0.4:
                    flip(rng.randrange(FLAPPY_SITES))  # changed while the monitor is down
                base_id = max_id(db)
                monitor = Monitor(tmp_path, f"run{run:02d}", config, db)
                monitors.append(monitor)
                monitor.wait_checking(db, base_id, context)
                # The kill moment, with flips of random sites at random moments before it.
                began = time.monotonic()
                duration = rng.uniform(*RUN_SLEEP)
                for at in sorted(rng.uniform(0, duration) for _ in range(rng.randint(0, 3))):
                    time.sleep(max(0.0, began + at - time.monotonic()))
                    flip(rng.randrange(FLAPPY_SITES))
                time.sleep(max(0.0, began + duration - time.monotonic()))
                kill_time = monitor.kill()
                context += f" (killed {duration:.2f} s after it was checking)"

                assert query(db, "PRAGMA integrity_check") == [("ok",)], context
                newest, first, count = query(
                    db, "SELECT max(timestamp), min(timestamp), count(*) FROM"
                        " website_monitoring WHERE id > ?", base_id)[0]
                loss = kill_time - newest
                losses.append(loss)
                rates.append(count / (kill_time - first))
                started = checks_of_run(base_id)
                # From the run's first check on: nothing the previous process sent is counted.
                received = arrivals(target, first, kill_time)
                served.append(sum(map(len, received.values())) / (kill_time - first))
                lost = sum(missing_checks(received, started).values())
                lost_rows.append(lost)
                print(f"run {run:2d}: killed {duration:.2f} s after checking began; {count} rows"
                      f" ({rates[-1]:.0f}/s stored, target served {served[-1]:.0f}/s); newest"
                      f" {loss * 1000:.0f} ms before the kill; {lost} requests have no row")
                assert loss <= MAX_LOSS, (
                    f"{context}: the newest stored check started {loss:.3f} s before the kill;"
                    f" {lost} requests the target received have no row (the monitor went on "
                    "checking; its rows were not committed)")
                old = missing_checks(received, started, before=kill_time - MAX_LOSS)
                assert sum(old.values()) <= MISSING_TOLERANCE, (
                    f"{context}: {sum(old.values())} requests received more than "
                    f"{MAX_LOSS:g} s before the kill have no check row: {old}")

                history = check_alert_state(context, base_id)
                for index, url in enumerate(flappy_urls):
                    rows = history.get(url, [])
                    if rows and rows[-1][2] == "alert":
                        coverage["killed with an alert open"] += 1
                    elif rows and parse_iso(rows[-1][5]) >= kill_time - 2 * WINDOW:
                        coverage["killed < 2 s after a recovery"] += 1
                    elif not flappy.healthy[index]:
                        coverage["killed while down, no alert yet"] += 1
                    else:
                        coverage["killed while up"] += 1
                messages = {(r[2], r[6]) for rows in history.values() for r in rows}
                unstored = set(printed_lines(monitor.out_path)) - messages
                assert not unstored, f"{context}: printed but not stored: {unstored}"

            # All flappy sites healthy: a whole run must bring every recovery.
            context = f"seed {seed}, final healthy run"
            flappy.healthy[:] = [True] * FLAPPY_SITES
            base_id = max_id(db)
            monitor = Monitor(tmp_path, "final-up", config, db)
            monitors.append(monitor)
            monitor.wait_checking(db, base_id, context)
            time.sleep(2 * WINDOW + 1.0)
            stop_time = monitor.terminate(context)
            assert query(db, "PRAGMA integrity_check") == [("ok",)], context
            history = check_alert_state(context, base_id)
            still_open = {host: rows[-1] for host, rows in history.items()
                          if rows[-1][2] != "recovery"}
            assert not still_open, f"{context}: lost recoveries: {still_open}\n" \
                                   f"{monitor.output()}"
            check_clean_stop(context, base_id, stop_time)

            # One site down: its alert must come.
            context = f"seed {seed}, final run with {flappy_urls[0]} down"
            flappy.healthy[0] = False
            base_id = max_id(db)
            monitor = Monitor(tmp_path, "final-down", config, db)
            monitors.append(monitor)
            monitor.wait_checking(db, base_id, context)
            time.sleep(2 * WINDOW + 1.0)
            stop_time = monitor.terminate(context)
            history = check_alert_state(context, base_id)
            assert history[flappy_urls[0]][-1][2] == "alert", context
            assert ("alert", history[flappy_urls[0]][-1][6]) in printed_lines(
                monitor.out_path), f"{context}: the alert was not printed\n{monitor.output()}"
            check_clean_stop(context, base_id, stop_time)
        finally:
            for monitor in monitors:
                monitor.ensure_dead()

    # Every line printed over all runs is stored, and none was printed twice.
    history = alert_history(db)
    stored = Counter((r[2], r[6]) for rows in history.values() for r in rows)
    assert all(n == 1 for n in stored.values()), "two stored rows with the same message"
    printed = Counter(line for m in monitors for line in printed_lines(m.out_path))
    assert not set(printed) - set(stored), f"seed {seed}: printed, never stored: " \
                                           f"{set(printed) - set(stored)}"
    repeated = {line: n for line, n in printed.items() if n > 1}
    assert not repeated, f"seed {seed}: printed more than once: {repeated}"
    errors = [(m.err_path.name, m.err_path.read_text()) for m in monitors
              if m.err_path.read_text()]
    assert not errors, f"seed {seed}: the monitor wrote to stderr: {errors}"

    unprinted = sum(stored.values()) - sum(printed.values())
    demanded = (HEALTHY_SITES + FLAPPY_SITES) / INTERVAL
    print(f"checks/s per run: stored mean {statistics.mean(rates):.0f} (min {min(rates):.0f}, "
          f"max {max(rates):.0f}); healthy-site requests served mean "
          f"{statistics.mean(served):.0f}/s; demanded {demanded:.0f}/s")
    print(f"kill time - newest stored check: max {max(losses) * 1000:.0f} ms, "
          f"mean {statistics.mean(losses) * 1000:.0f} ms")
    print(f"rows lost per kill (requests received without a row): max {max(lost_rows)}, "
          f"mean {statistics.mean(lost_rows):.0f}")
    print(f"alert rows: {sum(stored.values())} on {len(history)} sites, {unprinted} never "
          f"printed (announcement lost by a kill); flappy states settled by the stored checks "
          f"and checked: {settled_count}")
    print("flappy sites at the kills: " + ", ".join(f"{k}: {n}" for k, n in coverage.items()))


if __name__ == "__main__" and sys.argv[1:2] == ["target"]:
    _serve_target(float(sys.argv[2]))
