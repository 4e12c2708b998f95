"""`-a` and `-r` reading while `-m` writes at a high rate: never a "database is locked".

Everything is real and on 127.0.0.1 only: a fast asyncio target in its own process serves
the healthy sites, a small in-process server serves sites that flap between 200 and 503
(so that alerts and recoveries are written all along, not only at the start), `-m` runs
as a subprocess, and the readers are the real command line in their own processes, so
that each one is a separate SQLite connection in a separate process, as in production.
"""
# SQLite only: readers beside the writer on one file, its locks ("database is locked").

import http.server
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.run import target as bench_target
from monitor.core.secrets import display_url
from tests.support.app import run_app, start, wait_for, write
from tests.support.db import query, reading

HEALTHY_SITES = 120
FLAPPING_SITES = 12
INTERVAL = 0.1
FLAP_HALF_PERIOD = 1.0  # seconds up, then as many down
READ_SECONDS = 7.0
MIN_ROUNDS = 4
TARGET_LIFETIME = 90  # the target stops by itself even if this test is killed
# "busy" and "locked" are how SQLite says it (SQLITE_BUSY / "database is locked"); "Error"
# and "Traceback" are how the CLI and Python say anything else went wrong, "Warning:" how
# the writer and Python warn (the report's "0 warning" counts monitors: not one of them).
BAD_WORDS = re.compile(r"locked|busy|Error|Traceback|Warning:", re.IGNORECASE)


# The follower's output is read while it runs: it must not sit in a pipe buffer. Loopback
# must never go through a proxy someone configured on the machine.
ENV = {"PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost",
       "no_proxy": "127.0.0.1,localhost"}


def _spawn(args, cwd, out_path):
    # Long-running processes write to files, not pipes: -m prints an ALERT line for every
    # flap, and the follower every message; a full 64 KB pipe that nobody reads until the
    # end would block them and turn the test into a deadlock instead of a verdict.
    with open(out_path.with_suffix(".out"), "w") as out, \
            open(out_path.with_suffix(".err"), "w") as err:
        return start(args, cwd, stdout=out, stderr=err, env=ENV)


def _read_outputs(path):
    return path.with_suffix(".out").read_text(), path.with_suffix(".err").read_text()


def _terminate(proc, sig=signal.SIGTERM):
    """stop() from test_e2e for processes whose output goes to files."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{proc.args} did not stop within 10 s")


def _run_reader(args, cwd):
    # A generous timeout: a reader stuck behind a lock (busy_timeout is 10 s) must show up
    # as a failure with its output, not hang the suite.
    return run_app(args, cwd, env=ENV)


def _has_rows(db, table):
    if not Path(db).exists():
        return 0
    try:
        return query(db, f"SELECT count(*) FROM {table}")[0][0]
    except sqlite3.OperationalError:  # not created yet by -m
        return 0


class _FlapHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection, as the monitor asks

    def do_GET(self):  # noqa: N802 - the name http.server calls
        index = int(self.path.rsplit("/f", 1)[1])
        # Each site flaps on its own phase, so that alerts and recoveries are spread over
        # the whole run instead of arriving in one burst.
        phase = int((time.monotonic() + index * 0.17) / FLAP_HALF_PERIOD) % 2
        status = 200 if phase == 0 else 503
        body = b"up" if status == 200 else b"down"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest's output clean
        pass


class _FlapServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # -m cuts its checks in flight short when it stops: a peer gone mid-answer is
        # expected then, and not worth a traceback in the test output.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture()
def flapping():
    server = _FlapServer(("127.0.0.1", 0), _FlapHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture()
def target():
    # bench.target is asyncio in its own process: it answers the healthy sites at
    # thousands of requests a second without sharing this process's GIL with the readers.
    with bench_target(lifetime=TARGET_LIFETIME) as base:
        yield base


@pytest.fixture()
def running():
    """Processes to end if the test fails half-way, so that none outlives it."""
    procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _table_checks(report, n_sites):
    """Per table of a `-r` output: its sum of the checks column."""
    sums = []
    for block in report.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or not lines[0].startswith("=="):
            continue
        rows = lines[3:]  # title, header, dashes
        assert len(rows) == n_sites, block
        # The first three columns (site, avail, checks) never hold a space.
        sums.append(sum(int(row.split()[2]) for row in rows))
    return sums


def test_readers_stay_clean_while_monitor_writes_fast(target, flapping, running, tmp_path):
    urls = [f"{target}/s{i}" for i in range(HEALTHY_SITES)]
    flaps = [f"{flapping}/f{i}" for i in range(FLAPPING_SITES)]
    config = tmp_path / "config.json"
    # A 1 s alert window on the flapping sites: each half period of 503s alerts, and each
    # half period of 200s recovers, so the alert table keeps growing while we read.
    write(config, {"websites": [{"URL": u, "checkInterval": INTERVAL} for u in urls]
                   + [{"URL": u, "checkInterval": INTERVAL, "alertWindow": 1.0,
                       "timeout": 1.0} for u in flaps],
                   "alertThreshold": 0.8})
    db = str(tmp_path / "m.db")
    n_sites = len(urls) + len(flaps)
    labels = {display_url(u) for u in urls + flaps}

    monitor = _spawn(["-m", "-c", str(config), "-db", db], tmp_path, tmp_path / "monitor")
    running.append(monitor)
    # Readers before the schema exists would fail for a reason other than locking.
    wait_for(lambda: _has_rows(db, "website_monitoring") >= 10 * n_sites, 15,
             "ten rounds of checks")
    wait_for(lambda: _has_rows(db, "website_alerts") >= 1, 15, "a first alert")

    follower = _spawn(["-a", "-db", db], tmp_path, tmp_path / "follower")
    running.append(follower)
    checks_before = _has_rows(db, "website_monitoring")
    alerts_before = _has_rows(db, "website_alerts")

    reports, histories = [], []
    deadline = time.monotonic() + READ_SECONDS
    # A count of rounds as well as a duration: on a slow machine the readers take longer,
    # and the test then runs a little longer instead of proving less.
    while time.monotonic() < deadline or len(reports) < MIN_ROUNDS:
        # Both readers at once, so that they also overlap each other, not just the writer.
        # Every row (--all): 132 sites would be summed up, and the rows are what is checked.
        report = start(["-r", "--once", "--all", "-db", db], tmp_path, env=ENV)
        running.append(report)
        history = _run_reader(["-a", "--no-follow", "-db", db], tmp_path)
        out, err = report.communicate(timeout=60)
        reports.append((report.returncode, out, err))
        histories.append((history.returncode, history.stdout, history.stderr))
    checks_after = _has_rows(db, "website_monitoring")
    alerts_after = _has_rows(db, "website_alerts")
    assert follower.poll() is None, "the follower exited on its own"
    assert monitor.poll() is None, "the monitor exited on its own"
    _terminate(monitor)

    # The claim itself, checked first so that a failure shows the reader's own words.
    for code, out, err in reports + histories:
        assert code == 0, f"exit {code}\n{out}\n{err}"
        assert err == ""
        assert not BAD_WORDS.search(out), out

    # -m stopped cleanly: exit 0, nothing on stderr (a write that hit a lock is reported
    # there as "Warning: ... cannot write"), and every check it counted is in the database.
    m_out, m_err = _read_outputs(tmp_path / "monitor")
    assert monitor.returncode == 0, m_err
    assert m_err == ""
    assert not BAD_WORDS.search(m_out), m_out
    recorded = int(m_out.strip().splitlines()[-1].split()[1])  # "Stopped; N checks recorded"
    assert _has_rows(db, "website_monitoring") == recorded

    # The writes really went on while we read, and alerts with them. About 750 checks a
    # second here; the floor is far lower so that a loaded machine does not fail it.
    assert checks_after - checks_before >= 100 * READ_SECONDS, (checks_before, checks_after)
    assert alerts_after > alerts_before, (alerts_before, alerts_after)

    # Every -r printed both tables with a row for every site, and they saw the data grow.
    first_sums, last_sums = _table_checks(reports[0][1], n_sites), None
    for _code, out, _err in reports:
        sums = _table_checks(out, n_sites)
        assert len(sums) == 2, out  # the past 10 minutes and the past hour
        assert all(s > 0 for s in sums), out
        assert {line.split()[0] for line in out.splitlines()[3:3 + n_sites]} == labels
        assert "Recent alerts:\n  Website " in out
        last_sums = sums
    assert last_sums[0] > first_sums[0], (first_sums, last_sums)

    # Each -a --no-follow printed a consistent snapshot: a prefix of the final history,
    # never less than what was there when reading began, and growing over the run.
    with reading(db) as reader:
        messages = [message for _, message in reader.alerts_after()]
    lengths = []
    for _code, out, _err in histories:
        lines = out.splitlines()
        assert lines == messages[:len(lines)], out
        assert len(lines) >= alerts_before
        lengths.append(len(lines))
    assert lengths[-1] > lengths[0], lengths

    # The follower, which read all along, printed every alert and recovery exactly once
    # and in order. It polls every 0.5 s, so wait for it to catch up with the last ones.
    follower_out = tmp_path / "follower.out"
    wait_for(lambda: follower_out.read_text().splitlines() == messages, 10,
             "the follower to print the whole history")
    _terminate(follower, signal.SIGINT)
    f_out, f_err = _read_outputs(tmp_path / "follower")
    assert (follower.returncode, f_err) == (0, "")
    assert f_out.splitlines() == messages
