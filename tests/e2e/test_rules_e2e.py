"""The alert rules in the real program: `-m` in its own process against a loopback server
that flaps and one that is down, and `maintenance on|off|list` from another process while
it runs."""

import sqlite3
import threading

from monitor.store.sqlite.writer import Store
from tests.support.app import Output, run_app, start, stop, wait_for, write
from tests.support.db import query
from tests.support.pages import PageServer


def test_flapping_reminders_and_maintenance_in_the_running_program(tmp_path):
    with PageServer() as server:
        flappy = server.set("/flappy", "ok")
        down = server.set("/down", "broken", status=500)
        write(tmp_path / "config.json", {
            "websites": [
                {"URL": flappy, "name": "flappy", "checkInterval": 0.1, "alertWindow": 1,
                 "flapLimit": 3, "flapWindow": 4},
                {"URL": down, "name": "down", "checkInterval": 0.1, "alertWindow": 1,
                 "alertAfter": 3, "remindEvery": 1},
            ]})
        proc = start(["-m", "--plain"], tmp_path)
        out = Output(proc)
        try:
            # The flappy site alternates every 0.35 s: flapping within a few changes.
            stop_flapping = threading.Event()

            def flap() -> None:
                status = 500
                while not stop_flapping.wait(0.35):
                    server.set("/flappy", "x", status=status)
                    status = 200 if status == 500 else 500

            flapper = threading.Thread(target=flap, daemon=True)
            flapper.start()
            wait_for(lambda: out.starting("FLAPPING: "), 15, "a flapping line",
                     lambda: "\n".join(out.lines))
            wait_for(lambda: len(out.starting("REMINDER: ")) >= 2, 15, "two reminders")
            stop_flapping.set()
            flapper.join()
            server.set("/flappy", "ok")
            wait_for(lambda: out.starting("SETTLED: "), 15, "the settling",
                     lambda: "\n".join(out.lines))

            # Put the down site in maintenance from another process, for a while.
            done = run_app(["maintenance", "on", "down", "--for", "1h"], tmp_path)
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("down: maintenance on until ")
            wait_for(lambda: out.starting("MAINTENANCE: down: checks recorded, no alerts"),
                     5, "the maintenance line")
            reminders = len(out.starting("REMINDER: "))
            marked = wait_for(lambda: query(
                tmp_path / "monitoring.db", "SELECT count(*) FROM website_monitoring WHERE"
                " host = ? AND reason = 'maintenance'", down)[0][0] >= 10, 10,
                "checks marked maintenance")
            assert marked
            listed = run_app(["maintenance", "list"], tmp_path)
            assert listed.returncode == 0
            assert listed.stdout.startswith("down: on since ")
            done = run_app(["maintenance", "off", "down"], tmp_path)
            assert done.stdout == "down: maintenance off\n"
            wait_for(lambda: out.starting("MAINTENANCE OVER: down"), 5, "the end line")
            wait_for(lambda: len(out.starting("REMINDER: ")) > reminders, 5,
                     "reminders again")
        finally:
            _, _, err = stop(proc)
            out.join()
    flapping = out.starting("FLAPPING: ")
    assert len(flapping) == 1, out.lines  # once, not once per change
    assert flapping[0].startswith("FLAPPING: Website " + flappy + " is flapping: 4 changes")
    # While it flapped, nothing else of the flappy site was said.
    first, settled = (out.lines.index(flapping[0]),
                      out.lines.index(out.starting("SETTLED: ")[0]))
    assert not [line for line in out.lines[first + 1:settled]
                if flappy in line and not line.startswith("REMINDER")], out.lines
    # The down site: one alert (after 3 failures), then reminders, none in maintenance.
    assert len(out.starting(f"ALERT: Website {down}")) == 1
    began = out.lines.index(out.starting("MAINTENANCE: down")[0])
    ended = out.lines.index(out.starting("MAINTENANCE OVER: down")[0])
    assert not [line for line in out.lines[began:ended] if line.startswith("REMINDER: ")]
    assert err == ""
    rows = query(tmp_path / "monitoring.db",
                 "SELECT type FROM website_alerts WHERE host = ? ORDER BY id", flappy)
    assert rows.count(("flapping",)) == 1 and rows.count(("settled",)) == 1


def test_maintenance_errors_are_one_line(tmp_path):
    write(tmp_path / "config.json", {"websites": [{"URL": "http://127.0.0.1:9/"}]})
    done = run_app(["maintenance", "on", "nope"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: no monitor 'nope' in config.json: give a monitor's id, name or target; "
        "`monitors` lists them")
    done = run_app(["maintenance", "on", "http://127.0.0.1:9/", "--for", "soon"], tmp_path)
    assert done.returncode == 2 and "'soon' is not a duration" in done.stderr
    # Issue 21, 12: a database that does not exist is an error, not a new empty file that
    # no monitor reads; a file that is not a monitoring database is refused, untouched.
    for command in (("on", "http://127.0.0.1:9/"), ("off", "http://127.0.0.1:9/"),
                    ("list",)):
        done = run_app(["maintenance", *command, "-db", "typo.db"], tmp_path)
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr == ("Error: typo.db: database not found (start the monitor with"
                               " -m first)\n")
        assert not (tmp_path / "typo.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    before = other.read_bytes()
    done = run_app(["maintenance", "on", "http://127.0.0.1:9/", "-db", str(other)], tmp_path)
    assert done.returncode == 1 and "not a monitoring database" in done.stderr
    assert other.read_bytes() == before
    Store(tmp_path / "monitoring.db").close()  # what -m makes at its start
    done = run_app(["maintenance", "list"], tmp_path)
    assert (done.returncode, done.stdout) == (
        0, "no monitor is in maintenance or has maintenance windows\n")
    done = run_app(["maintenance", "on", "http://127.0.0.1:9/", "--for", "90m"], tmp_path)
    assert done.returncode == 0 and (tmp_path / "monitoring.db").stat().st_mode & 0o077 == 0
