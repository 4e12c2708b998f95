"""The command line's output faults, with the real program in real processes: a reader that
goes away (`| head -1`) and a stdout that nobody reads (`-m | less` left unscrolled).

Pipelines run in a real bash with `pipefail`, so that the exit status seen is the
monitor's own, as a script sees it.
"""

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from monitor.cli.modes import _Output
from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, MonitorRow
from monitor.store.sqlite.writer import Store
from tests.support.app import APP, start, wait_for, write
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url

BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for `git log | head`
PIPE_BYTES = 4096  # the smallest pipe Linux allows: filled by a few dozen alert lines


def head_1(args, cwd, timeout=30.0):
    """`monitoringApp.py ARGS | head -1` in bash with pipefail: (status, stdout, stderr)."""
    # With stdout buffered, as in a user's shell: unbuffered (PYTHONUNBUFFERED, which a test
    # runner may set), Python drops the rest of a write the pipe took only part of, silently.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" | head -1', "bash", sys.executable, APP, *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return done.returncode, done.stdout, done.stderr


def alerts_db(tmp_path, count):
    db = tmp_path / "m.db"
    store = Store(db)
    for i in range(count):
        store.put_alert(AlertRecord("2026-01-01T00:00:00.000Z", "http://a.test/", "alert",
                                    "2026-01-01T00:00:00.000Z", None, 0.5,
                                    f"message {i:05d} " + "x" * 80))
    store.close()
    return str(db)


def test_alert_history_into_head_ends_quietly(tmp_path):
    # 6,000 lines of ~100 bytes: far more than the pipe and head's read can take, so
    # writing goes on after head has exited.
    db = alerts_db(tmp_path, 6000)
    status, out, err = head_1(["-a", "--no-follow", "-db", db], tmp_path)
    assert (status, out, err) == (BROKEN_PIPE_EXIT, "message 00000 " + "x" * 80 + "\n", "")


def test_following_alerts_into_head_ends_while_no_alert_comes(tmp_path):
    # Issue 21, 16: `-a | head -1` ran on for as long as no new alert came to be printed
    # into the closed pipe. The closed reader is noticed while idle.
    db = alerts_db(tmp_path, 1)
    started = time.monotonic()
    status, out, err = head_1(["-a", "-db", db], tmp_path, timeout=60)
    assert (status, out, err) == (BROKEN_PIPE_EXIT, "message 00000 " + "x" * 80 + "\n", "")
    assert time.monotonic() - started < 20  # a poll or two after head left, plus start-up


def test_report_into_head_ends_quietly(tmp_path):
    db = tmp_path / "m.db"
    store = Store(db)
    now = time.time()
    urls = [f"http://site-{i:04d}.test/" for i in range(1500)]
    store.set_monitors([MonitorRow(url, "http", url, "", 1.0) for url in urls])
    for url in urls:
        store.put_check(CheckResult(url, now - 30, True, 200, 12.0))
    store.close()
    # Both tables of 1,500 sites, every row (--all): well over the pipe and head's read.
    status, out, err = head_1(["-r", "--once", "--all", "-db", str(db)], tmp_path)
    assert (status, err) == (BROKEN_PIPE_EXIT, "")
    assert out.startswith("== ") and out.endswith(": past 10m00s (since ...) ==\n"[-4:])
    assert "past 10m00s" in out and len(out.splitlines()) == 1


def test_monitor_into_head_stops_cleanly_with_everything_committed(hostile, tmp_path):
    # The down site's alert is printed a moment after the first line, into a closed pipe.
    ok = hostile.base + "/ok?head"
    down = refused_url()
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": ok, "checkInterval": 0.1},
                                {"URL": down, "checkInterval": 0.1}], "alertWindow": 1})
    db = str(tmp_path / "m.db")
    hits_before = hostile.hits.get("/ok", 0)
    started = time.monotonic()
    status, out, err = head_1(["-m", "-c", str(config), "-db", db], tmp_path)
    elapsed = time.monotonic() - started
    assert (status, err) == (BROKEN_PIPE_EXIT, ""), out
    assert len(out.splitlines()) == 1 and out.startswith(("Monitoring 2 monitor(s)", "ALERT: "))
    # It ended by itself at the alert line, not at the first table (10 s).
    assert elapsed < 8, elapsed
    assert query(db, "SELECT count(*) FROM website_alerts WHERE host=?", down) == [(1,)]
    # Every check the site answered is in the database (one in flight at the stop may have
    # been cut short, and is then not recorded): the stop committed what was queued.
    hits = hostile.hits.get("/ok", 0) - hits_before
    assert hits - 1 <= count_checks(db, ok) <= hits, (hits, count_checks(db, ok))
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_blocked_stdout_holds_up_neither_reload_nor_stop(hostile, tmp_path):
    """-m with its stdout a pipe nobody reads: the alert lines fill it, and then a reload
    must still take effect and SIGTERM must still stop it promptly, all committed."""
    ok = hostile.base + "/ok?blocked"
    refused = refused_url()
    down = [f"{refused}?n={i}" for i in range(60)]  # 60 alert lines of ~95 bytes: > 4 KB
    sites = [{"URL": ok, "checkInterval": 0.2}] + [
        {"URL": url, "checkInterval": 0.5} for url in down]
    config = tmp_path / "config.json"
    write(config, {"websites": sites, "alertWindow": 1})
    db = str(tmp_path / "m.db")
    read_end, write_end = os.pipe()
    fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    hits_before = hostile.hits.get("/ok", 0)
    with open(tmp_path / "stderr", "w") as err_file:
        proc = start(["-m", "-c", str(config), "-db", db], tmp_path, stdout=write_end,
                     stderr=err_file, text=False)
    os.close(write_end)
    try:
        def alerts():
            try:
                return query(db, "SELECT count(*) FROM website_alerts")[0][0]
            except Exception:  # noqa: BLE001 - not created yet
                return 0

        # All 60 alerts written: their lines are more than the pipe holds, so the printing
        # is blocked from here on.
        wait_for(lambda: alerts() == len(down), 20, "the alerts of all down sites")
        time.sleep(0.5)  # the announcements reach the printing
        for name in ("added", "added-again"):
            url = f"{hostile.base}/ok?{name}"
            sites.append({"URL": url, "checkInterval": 0.2})
            write(config, {"websites": sites, "alertWindow": 1})
            wait_for(lambda u=url: count_checks(db, u) >= 3, 8, f"checks of the {name} site")
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("did not stop within 10 s of SIGTERM with its stdout blocked")
        elapsed = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        printed = b""
        while chunk := os.read(read_end, 65536):
            printed += chunk
        os.close(read_end)
    assert proc.returncode == 0
    assert elapsed < 3.0, elapsed
    assert (tmp_path / "stderr").read_text() == ""
    # What got out is the start of the output; the rest never could.
    assert printed.startswith(b"Monitoring 61 monitor(s)") and len(printed) <= PIPE_BYTES
    assert b"Stopped;" not in printed
    hits = hostile.hits.get("/ok", 0) - hits_before
    recorded = sum(count_checks(db, f"{hostile.base}/ok?{q}")
                   for q in ("blocked", "added", "added-again"))
    assert hits - 3 <= recorded <= hits, (hits, recorded)  # one in flight per site at most
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


class GatedEcho:
    """An echo that blocks like a full pipe until opened."""

    def __init__(self):
        self.gate = threading.Event()
        self.lines: list[str] = []
        self.entered = threading.Event()

    def __call__(self, text):
        self.entered.set()
        self.gate.wait(10)
        self.lines.append(text)


def test_output_keeps_every_line_and_only_the_latest_table():
    echo = GatedEcho()
    output = _Output(echo, err=pytest.fail, on_broken=lambda: pytest.fail("broken"))
    output.line("first")
    assert echo.entered.wait(5)  # "first" is being written, and blocks
    output.table("table 1")
    output.line("ALERT: a")
    output.table("table 2")
    output.line("RECOVERY: a")
    output.table("table 3")
    echo.gate.set()
    assert output.close("Stopped", grace=5)
    assert echo.lines == ["first", "ALERT: a", "RECOVERY: a", "table 3", "Stopped"]


def test_output_bounds_the_waiting_lines_and_says_how_many_it_dropped(monkeypatch):
    monkeypatch.setattr(_Output, "MAX_LINES", 3)
    echo = GatedEcho()
    output = _Output(echo, err=pytest.fail, on_broken=lambda: pytest.fail("broken"))
    output.line("0")
    assert echo.entered.wait(5)
    for i in range(1, 7):
        output.line(str(i))
    echo.gate.set()
    assert output.close("Stopped", grace=5)
    assert echo.lines == ["0", "1", "2", "3",
                          "(3 line(s) not printed while the output was not read; -a shows"
                          " the alerts)", "Stopped"]


def test_output_close_gives_up_on_a_blocked_stdout_after_the_grace():
    echo = GatedEcho()
    output = _Output(echo, err=pytest.fail, on_broken=lambda: pytest.fail("broken"))
    output.line("stuck")
    assert echo.entered.wait(5)
    started = time.monotonic()
    assert output.close("Stopped", grace=0.2) is False
    assert time.monotonic() - started < 1.0
    echo.gate.set()


def test_output_reports_a_closed_stdout_once():
    broken = []

    def closed(text):
        raise BrokenPipeError(32, "Broken pipe")

    output = _Output(closed, err=pytest.fail, on_broken=lambda: broken.append(True))
    output.line("a")
    output.line("b")
    assert output.close(None, grace=5)
    assert output.broken and broken == [True]
