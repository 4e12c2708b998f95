"""The live view of the real `-m` and `-r` in a real terminal (tmux): fitted to its width,
redrawn in place, worst first, `q` to quit, refitted on a resize, coloured unless NO_COLOR."""

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from monitor.cli.selftest import LocalServer
from tests.support.app import APP, run_app, start, wait_for
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url
from tests.support.pages import PageServer
from tests.support.stall import StallMeter

LONG = "/a/very/long/path/to/some/health/endpoint/that/goes/on?with=query&and=more"

if shutil.which("tmux") is None:  # make test installs it; elsewhere, say so, never pass
    pytest.fail("tmux is needed for the live view tests (apt-get install tmux)",
                pytrace=False)


class Tmux:
    """A tmux session of its own running one command in a window of a given size."""

    def __init__(self, command: list[str], width: int, height: int, cwd, env=None) -> None:
        self.name = f"live-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height
        environment = dict(os.environ)
        environment.pop("NO_COLOR", None)
        environment.update(env or {})
        shell = " ".join(_quote(part) for part in command) + "; echo EXIT=$?; sleep 60"
        subprocess.run(["tmux", "-L", self.name, "new-session", "-d", "-s", self.name,
                        "-x", str(width), "-y", str(height), shell], cwd=cwd,
                       env=environment, check=True)

    def screen(self, colours: bool = False) -> list[str]:
        args = ["tmux", "-L", self.name, "capture-pane", "-p", "-J", "-t", self.name]
        done = subprocess.run(args + (["-e"] if colours else []), capture_output=True,
                              text=True)
        return done.stdout.rstrip("\n").split("\n")

    def text(self) -> str:
        return "\n".join(self.screen())

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.name, "send-keys", "-t", self.name, *keys],
                       check=True)

    def resize(self, width: int, height: int) -> None:
        subprocess.run(["tmux", "-L", self.name, "resize-window", "-t", self.name,
                        "-x", str(width), "-y", str(height)], check=True)
        self.width, self.height = width, height

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


@pytest.fixture()
def sites(tmp_path):
    """Two healthy sites (one with a long URL) on a loopback server, one refused."""
    server = LocalServer()
    server.app.add_url_rule(LONG.split("?")[0], "long", lambda: "ok")
    server.start()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": server.url, "name": "healthy", "checkInterval": 0.5},
        {"URL": refused_url(), "checkInterval": 0.5},
        {"URL": server.url.rstrip("/") + LONG, "checkInterval": 0.5},
    ], "alertWindow": 2}))
    yield server, config
    server.stop()


@pytest.fixture()
def terminals():
    made: list[Tmux] = []

    def make(*args, **kwargs) -> Tmux:
        made.append(Tmux(*args, **kwargs))
        return made[-1]

    yield make
    for terminal in made:
        terminal.kill()


def monitor(tmp_path, config, *extra) -> list[str]:
    return [sys.executable, APP, "-m", "-c", str(config), "-db", str(tmp_path / "m.db"),
            *extra]  # for a terminal (tmux) to run


def header_totals(terminal: Tmux, unstable: int = 0) -> tuple[int, int, int] | None:
    """(down, warning, up) of the header's totals, when `unstable` are unstable."""
    found = re.search(r"(\d+) monitors: (\d+) down, (\d+) warning, (\d+) unstable, (\d+) up",
                      terminal.text())
    if found is None or int(found[4]) != unstable:
        return None
    return int(found[2]), int(found[3]), int(found[5])


def table_rows(terminal: Tmux) -> list[str]:
    """The table's lines: from its header line to the first blank line."""
    lines = terminal.screen()
    start = next(i for i, line in enumerate(lines) if line.startswith("monitor "))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def assert_fits(terminal: Tmux) -> None:
    # capture-pane -J joins a wrapped line back: a line wider than the window shows.
    wide = [line for line in terminal.screen() if len(line) > terminal.width]
    assert not wide, f"lines wider than {terminal.width}:\n" + "\n".join(wide)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)])
def test_the_view_fits_the_terminal_and_counts_right(tmp_path, sites, terminals, width,
                                                     height):
    _server, config = sites
    terminal = terminals(monitor(tmp_path, config), width, height, tmp_path)
    wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20,
             "the header's totals: 1 down, 0 warning, 2 up", terminal.text)
    assert_fits(terminal)
    rows = table_rows(terminal)
    assert len(rows) == 3, terminal.text()
    refused = json.loads(config.read_text())["websites"][1]["URL"]
    assert refused.split("//")[1].rstrip("/") in rows[0], rows  # down, first
    header = terminal.screen()[next(i for i, line in enumerate(terminal.screen())
                                    if line.startswith("monitor "))]
    columns = header.split()
    if width >= 200:  # everything
        for title in ("checks", "skipped", "min", "avg", "max", "p50", "p90", "p99",
                      "status", "failures", "down", "last"):
            assert title in columns, header
    else:  # the useful few
        for title in ("avail", "p50", "p99", "failures", "down"):
            assert title in columns, header
    # The long URL shortened in its middle: its host and its end kept.
    assert any(re.search(r"127\.0\.0\.1:\d+….*and=more", row) for row in rows), rows
    assert re.search(r"Website http://127\.0\.0\.1:\d+/ is down", terminal.text())


def test_a_site_going_down_moves_to_the_top_within_one_check(tmp_path, sites, terminals):
    server, config = sites
    terminal = terminals(monitor(tmp_path, config), 120, 30, tmp_path)
    wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20, "all sites checked",
             terminal.text)
    assert not table_rows(terminal)[0].startswith("healthy")
    with StallMeter() as stall:  # the machine's own stalls, allowed for below
        server.stop()
        stopped = time.monotonic()
        # The next check (within 0.5 s) fails at once; the view redraws every second.
        wait_for(lambda: header_totals(terminal) is not None
                 and header_totals(terminal)[0] == 3, 5, "3 down", terminal.text)
        took = time.monotonic() - stopped
    assert took < 0.5 + 1.0 + 1.0 + stall.worst_ms / 1000, (
        f"{took:.1f} s (the machine stalled up to {stall.worst_ms:.0f} ms)")
    rows = table_rows(terminal)
    assert all("down" not in row for row in rows)  # no stray words: the rows are sites
    # Every site is down now; the one that has been down longest is not necessarily first,
    # but "healthy" left the bottom (it was last, up) for the down group.
    assert len(rows) == 3


def test_q_quits_cleanly_and_everything_is_committed(tmp_path, sites, terminals):
    _server, config = sites
    terminal = terminals(monitor(tmp_path, config), 100, 30, tmp_path)
    wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20, "the view", terminal.text)
    terminal.keys("q")
    wait_for(lambda: "EXIT=" in terminal.text(), 5, "the program's exit", terminal.text)
    text = terminal.text()
    assert "EXIT=0" in text, text
    stopped = re.search(r"Stopped; (\d+) checks recorded in ", text)
    assert stopped, text
    assert int(stopped.group(1)) == count_checks(str(tmp_path / "m.db"))
    # The view is gone with its alternate screen.
    assert not any(line.startswith("monitor ") for line in text.splitlines())


def test_h_switches_to_the_hour_and_back(tmp_path, sites, terminals):
    _server, config = sites
    terminal = terminals(monitor(tmp_path, config), 120, 30, tmp_path)
    wait_for(lambda: "Past 10 min (since" in terminal.text(), 20, "the 10-minute view",
             terminal.text)
    terminal.keys("h")
    wait_for(lambda: "Past hour (since" in terminal.text(), 3, "the hour view", terminal.text)
    terminal.keys("h")
    wait_for(lambda: "Past 10 min (since" in terminal.text(), 3, "the 10-minute view again",
             terminal.text)


def test_a_resize_refits_the_view(tmp_path, sites, terminals):
    _server, config = sites
    terminal = terminals(monitor(tmp_path, config), 200, 40, tmp_path)
    wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20, "the view", terminal.text)
    wide = next(line for line in terminal.screen() if line.startswith("monitor "))
    terminal.resize(70, 20)
    wait_for(lambda: all(len(line) <= 70 for line in terminal.screen())
             and any(line.startswith("monitor ") for line in terminal.screen()), 5,
             "the view refitted to 70 columns", terminal.text)
    narrow = next(line for line in terminal.screen() if line.startswith("monitor "))
    assert len(narrow.split()) < len(wide.split())
    assert_fits(terminal)


def test_more_sites_than_rows_shows_the_worst_and_counts_the_rest(tmp_path, terminals,
                                                                   hostile):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": f"{hostile.base}/ok?n={i}", "checkInterval": 1} for i in range(40)]
        + [{"URL": refused_url(), "name": "the broken one", "checkInterval": 1}]}))
    terminal = terminals(monitor(tmp_path, config), 100, 20, tmp_path)
    wait_for(lambda: header_totals(terminal) == (1, 0, 40), 20, "the view", terminal.text)
    rows = [row for row in table_rows(terminal) if not row.startswith("…")]
    assert rows[0].startswith("the broken one"), rows
    more = re.search(r"… and (\d+) more monitors \((\d+) up\)", terminal.text())
    assert more, terminal.text()
    assert int(more.group(1)) == int(more.group(2)) == 41 - len(rows)
    assert len(terminal.screen()) <= 20
    assert_fits(terminal)


def test_colour_for_state_and_none_with_no_color(tmp_path, sites, terminals):
    _server, config = sites
    coloured = terminals(monitor(tmp_path, config), 120, 30, tmp_path)
    wait_for(lambda: header_totals(coloured) == (1, 0, 2), 20, "the view", coloured.text)
    screen = "\n".join(coloured.screen(colours=True))
    styled = r"\x1b\[[0-9;]*{}m(?:\x1b\[[0-9;]*m)*"
    assert re.search(styled.format(31) + r"http://127\.0\.0\.1", screen), screen  # red
    assert re.search(styled.format(32) + "healthy", screen), screen  # up: green
    coloured.keys("q")
    plain = terminals(monitor(tmp_path, config, "-db", str(tmp_path / "other.db")), 120,
                      30, tmp_path, env={"NO_COLOR": "1"})
    wait_for(lambda: header_totals(plain) == (1, 0, 2), 20, "the view", plain.text)
    screen = "\n".join(plain.screen(colours=True))
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", screen), screen


def test_report_shows_the_same_view_from_another_process(tmp_path, sites, terminals):
    _server, config = sites
    db = tmp_path / "m.db"
    writer = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path, stdout=None,
                   stderr=None, text=False)
    try:
        wait_for(lambda: count_checks(str(db)) >= 6, 20, "checks stored")
        terminal = terminals([sys.executable, APP, "-r", "-db", str(db)], 130, 24, tmp_path)
        wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20, "the view",
                 terminal.text)
        assert "checks/s" in terminal.text() and "newest check" in terminal.text()
        assert_fits(terminal)
        terminal.keys("q")
        wait_for(lambda: "EXIT=0" in terminal.text(), 5, "-r quits on q", terminal.text)
    finally:
        writer.terminate()
        writer.wait(10)


def test_not_a_terminal_gets_plain_tables_fitted_to_columns(tmp_path, sites):
    _server, config = sites
    narrow = {**os.environ, "COLUMNS": "72"}
    proc = subprocess.Popen(monitor(tmp_path, config), cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=narrow)
    try:
        wait_for(lambda: count_checks(str(tmp_path / "m.db")) >= 6, 20, "checks stored")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "\x1b[" not in out  # no colour into a pipe
    # Alert lines are printed whole, never shortened.
    assert re.search(r"^ALERT: Website http://127\.0\.0\.1:\d+/ is down\. availability=.*"
                     r"time=\S+Z \(connect: connection refused\)$", out, re.M), out
    # The same tables as -m prints, from -r --once: fitted to COLUMNS.
    report = run_app(["-r", "--once", "-db", str(tmp_path / "m.db")], tmp_path,
                     env={"COLUMNS": "72"}, timeout=30)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert any(line.startswith("monitor ") for line in lines), report.stdout
    table = [line for line in lines if not line.startswith("  Website")]  # alerts: whole
    assert all(len(line) <= 72 for line in table), "\n".join(table)
    assert any("…" in line and "and=more" in line for line in table), report.stdout


def test_a_terminal_that_goes_away_stops_the_monitor_cleanly(tmp_path, sites):
    # Its window closed (here: its tmux killed): the view reads end-of-file from the
    # terminal, and the monitor stops as on Ctrl-C, everything committed, not spinning on.
    _server, config = sites
    db = tmp_path / "m.db"
    terminal = Tmux(monitor(tmp_path, config), 100, 30, tmp_path)
    try:
        wait_for(lambda: header_totals(terminal) == (1, 0, 2), 20, "the view", terminal.text)
    finally:
        terminal.kill()

    def running() -> list[str]:
        return subprocess.run(["pgrep", "-f", str(db)], capture_output=True,
                              text=True).stdout.split()

    wait_for(lambda: not running(), 5, "the monitor's exit")
    assert count_checks(str(db)) >= 6
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# write(2)'s number, for reading /proc/PID/task/*/syscall.
WRITE = {"x86_64": 1, "aarch64": 64}.get(platform.machine())


def blocked_writing(pid: int, fd: int) -> bool:
    """Whether a thread of `pid` is in write(2) on `fd` (read from /proc, as a debugger
    would: the first field is the call's number, the next its first argument)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "syscall").read_text().split()
            if len(fields) > 1 and fields[0] == str(WRITE) and int(fields[1], 16) == fd:
                return True
    return False


@pytest.mark.skipif(WRITE is None or not Path("/proc/self/task").exists(),
                    reason="reads write(2)'s number from /proc on x86_64 or aarch64 Linux")
def test_a_terminal_that_does_not_read_blocks_the_view_only(tmp_path, sites):
    # A real terminal (a pty) whose other end is never read: after a few frames the view's
    # writes block. Reload and stop must go on, everything committed.
    import fcntl
    import pty
    import signal
    import struct
    import termios

    server, config = sites
    db = tmp_path / "m.db"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(monitor(tmp_path, config), cwd=tmp_path, stdin=slave,
                            stdout=slave, stderr=subprocess.PIPE, text=True)
    os.close(slave)
    try:
        wait_for(lambda: count_checks(str(db)) >= 6, 20, "checks stored")
        # Frames of a few KB a second fill the pty's buffer within seconds: wait until the
        # view is stuck in a write to it.
        wait_for(lambda: blocked_writing(proc.pid, 1), 30, "the view blocked in a write")
        document = json.loads(config.read_text())
        added = server.url + "?added"
        document["websites"].append({"URL": added, "checkInterval": 0.5})
        config.write_text(json.dumps(document))
        wait_for(lambda: count_checks(str(db), added) >= 2, 10,
                 "checks of the site added while the terminal was blocked")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0, proc.stderr.read()
    assert took < 3.0, f"{took:.1f} s to stop"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_warning_is_shown_and_counted(tmp_path, terminals, servers, pki):
    """A certificate 5 days from expiry: up for availability, "warning" in the header's
    totals and in its row's warnings column."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": servers["soon"].url, "caFile": str(pki / "ca.pem"), "name": "expiring",
         "checkInterval": 0.5},
        {"URL": servers["good"].url, "caFile": str(pki / "ca.pem"), "name": "fine",
         "checkInterval": 0.5},
    ]}))
    terminal = terminals(monitor(tmp_path, config), 200, 30, tmp_path)
    wait_for(lambda: header_totals(terminal) == (0, 1, 1), 20,
             "the header's totals: 0 down, 1 warning, 1 up", terminal.text)
    rows = table_rows(terminal)
    assert rows[0].startswith("expiring"), rows  # the worst first
    assert re.search(r"tls_expiry:\d+", rows[0]), rows
    assert "tls_expiry" not in rows[1], rows


def test_up_now_with_failures_in_the_window_is_unstable_not_warning(tmp_path, terminals):
    """Issue 22, 8: a site that failed and is up again is "unstable" in the header's totals,
    and "warning" stays for results that warn."""
    with PageServer() as pages:
        url = pages.set("/", "down for now", status=500)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"websites": [{"URL": url, "checkInterval": 0.3}]}))
        terminal = terminals(monitor(tmp_path, config), 200, 30, tmp_path)
        wait_for(lambda: header_totals(terminal) == (1, 0, 0), 20, "the site down",
                 terminal.text)
        pages.set("/", "fine again")
        wait_for(lambda: header_totals(terminal, unstable=1) == (0, 0, 0), 20,
                 "the header's totals: 0 down, 0 warning, 1 unstable, 0 up", terminal.text)


def test_a_site_in_maintenance_is_shown_and_counted_apart(tmp_path, sites, terminals):
    """The refused site in a maintenance window: not down, but "in maintenance", counted
    in the header and listed after the sites that are up; the MAINTENANCE line shown."""
    server, _ = sites
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": server.url, "name": "healthy", "checkInterval": 0.5},
        {"URL": refused_url(), "name": "closed", "checkInterval": 0.5,
         "maintenance": {"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}},
    ], "alertWindow": 2}))
    terminal = terminals(monitor(tmp_path, config), 160, 30, tmp_path)
    wait_for(lambda: "(1 in maintenance)" in terminal.text(), 20,
             "the header's maintenance count", terminal.text)
    # Not down; the healthy site up once the window's counts are read again (within a
    # second: the maintenance is read at every frame, the counts when they are refreshed).
    wait_for(lambda: header_totals(terminal) == (0, 0, 1), 5, "the healthy site up",
             terminal.text)
    rows = table_rows(terminal)
    assert rows[0].startswith("healthy") and rows[1].startswith("closed"), rows
    assert "MAINTENANCE: closed: checks recorded, no alerts until 2100-01-01T00:00:00Z" in (
        terminal.text())
    assert "is down" not in terminal.text()


def test_an_overloaded_monitor_says_so_in_the_header(tmp_path, terminals, hostile):
    # 200 monitors every 50 ms on answers 100 ms late, 10 in flight: about 100 checks/s of
    # the 4,000/s asked for. The header's second line says so, first, in a narrow window.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "monitors": [{"URL": f"{hostile.base}/slow?{i}", "checkInterval": 0.05,
                      "timeout": 2} for i in range(200)],
        "maxInFlight": 10, "processes": 1}))
    terminal = terminals(monitor(tmp_path, config), 80, 24, tmp_path)
    wait_for(lambda: any(line.startswith("OVERLOADED: ") for line in terminal.screen()),
             30, "the overload in the header", terminal.text)
    line = next(line for line in terminal.screen() if line.startswith("OVERLOADED: "))
    assert re.match(r"OVERLOADED: \d+(\.\d)? checks/s skipped \(due", line), line
    # Still a view of the monitors, and the warning also in the panel under them.
    assert header_totals(terminal) is not None, terminal.text()
    wait_for(lambda: "Warning: overloaded: " in terminal.text(), 10, "the warning",
             terminal.text)
