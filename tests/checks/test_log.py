"""The `log` kind inside `-m`: an access log appended to while the real program runs, its
traffic alert and recovery stored and notified like every monitor's, its 10-second
results recorded; the config keys; `check NAME`."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from monitor.config import load_config, parse_config
from monitor.core.errors import ConfigError
from tests.support import app
from tests.support.access_logs import combined
from tests.support.app import Output, run_app, stop, wait_for
from tests.support.db import query, reading
from tests.support.receivers import WebhookReceiver


def test_traffic_alert_and_recovery_in_the_running_monitor(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("")
    with WebhookReceiver() as hook:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            # fromStart: the lines appended before the monitor opened the log count too.
            "websites": [{"type": "log", "path": "access.log", "name": "web",
                          "maxRate": 1, "fromStart": True}],
            "notify": [{"name": "hook", "url": hook.url("json")}]}))
        proc = app.start(["-m", "--plain", "-c", str(config), "-db", str(tmp_path / "m.db")],
                         tmp_path)
        try:
            start = int(time.time()) // 10 * 10 - 600
            # 300 requests in 20 s of log time (2.5 a second over 2 minutes: above 1),
            # then one every 10 s for 5 minutes: the window falls back under 120.
            lines = [combined(start + i / 15, "10.0.0.1", "/api/x") for i in range(300)]
            lines += [combined(start + 20 + 10 * i, "10.0.0.2", "/") for i in range(30)]
            with open(log, "a", encoding="utf-8") as file:
                file.write("\n".join(lines) + "\n")
            alert, recovery = hook.wait_for(2, 20)
        finally:
            _, out, err = stop(proc)
    assert proc.returncode == 0, err
    assert alert.body["title"] == "ALERT: web"
    assert alert.body["message"].startswith("High traffic generated an alert - hits = ")
    assert recovery.body["title"] == "RECOVERY: web"
    assert recovery.body["message"].startswith("High traffic alert recovered - hits = ")
    db = tmp_path / "m.db"
    monitor = "log:access.log"  # its path as written, however -c names the config
    with reading(db) as reader:
        assert reader.alert_types(monitor) == ["alert", "recovery"]
    # Its 10-second results: up, the period's requests per second as its value.
    rows = query(db, "SELECT available, metrics FROM website_monitoring WHERE monitor = ?"
                     " ORDER BY timestamp", monitor)
    assert rows and all(ok == 1 for ok, _ in rows)
    assert json.loads(rows[0][1])["hits"] == 150.0  # [start, start+10): 10 s x 15
    assert "ALERT: High traffic generated an alert" in out
    # The format told is a plain note, not a warning (issue 21, 14).
    assert "web: format: combined" in out.splitlines() and "Warning" not in err, err


def test_config_keys():
    config = parse_config(json.dumps({"websites": [
        {"type": "log", "path": "/var/log/a.log", "maxRate": 50, "maxErrorRate": 0.1,
         "format": "combined", "fromStart": True}]}), "/etc/monitor/config.json")
    monitor = config.monitors[0]
    spec = monitor.spec
    assert (monitor.id, monitor.kind, monitor.target) == ("log:/var/log/a.log", "log",
                                                          "/var/log/a.log")
    assert (spec.max_rate, spec.max_error_rate, spec.format, spec.from_start) == (
        50.0, 0.1, "combined", True)
    relative = parse_config(json.dumps({"websites": [{"type": "log", "path": "a.log"}]}),
                            "/etc/monitor/config.json").monitors[0]
    assert relative.spec.path == "/etc/monitor/a.log" and relative.spec.max_rate == 10.0


@pytest.mark.parametrize(("entry", "message"), [
    ({}, "websites[0].path: is required (the access log to watch)"),
    ({"path": ""}, "websites[0].path: must be a non-empty string"),
    ({"path": "a", "maxRate": 0}, "websites[0].maxRate: must be a number greater than 0"),
    ({"path": "a", "maxErrorRate": 2}, "websites[0].maxErrorRate: must be a number from 0 to 1"),
    ({"path": "a", "format": "nginx"},
     "websites[0].format: must be one of: auto, common, combined, w3c, csv"),
    ({"path": "a", "fromStart": 1}, "websites[0].fromStart: must be true or false"),
])
def test_config_errors(entry, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"websites": [{"type": "log", **entry}]}))
    assert str(caught.value) == f"config.json: {message}"


def test_check_reads_the_end_of_the_log(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(combined(1_800_000_000 + i, "10.0.0.1", "/") for i in range(50))
                   + "\nnot a request\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [{"type": "log", "path": "access.log",
                                                "name": "web"}]}))
    done = run_app(["check", "-c", str(config), "web"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "format combined; of its last 51 lines 50 parse, 1 malformed" in done.stdout
    (tmp_path / "access.log").unlink()
    done = run_app(["check", "-c", str(config), "web"], tmp_path)
    assert done.returncode == 1 and "missing" in done.stdout


def test_check_reads_the_fields_of_a_w3c_log_above_its_end(tmp_path):
    # An IIS log longer than what `check` reads of its end: its #Fields line is above it.
    log = tmp_path / "u_ex.log"
    lines = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1_800_000_000 + i // 5))
             + " 10.0.0.5 GET /api/x 10.0.0.1 200 512" for i in range(3000)]
    log.write_text("#Software: Microsoft Internet Information Services 10.0\n#Fields: date"
                   " time s-ip cs-method cs-uri-stem c-ip sc-status sc-bytes\n"
                   + "\n".join(lines) + "\n")
    assert log.stat().st_size > 64 * 1024
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [{"type": "log", "path": "u_ex.log",
                                                "name": "iis"}]}))
    done = run_app(["check", "-c", str(config), "iis"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"format w3c; of its last (\d+) lines \1 parse, 0 malformed",
                     done.stdout), done.stdout


def test_no_log_recovery_in_maintenance_in_the_running_program(tmp_path):
    # Issue 21, 10: `maintenance on lm`, a restart, more lines: no RECOVERY until the
    # maintenance is over.
    log = tmp_path / "access.log"
    log.write_text("")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [{"type": "log", "path": "access.log",
                                                "name": "lm", "maxRate": 1,
                                                "fromStart": True}]}))
    args = ["-m", "--plain", "-c", str(config), "-db", "m.db"]
    db = tmp_path / "m.db"
    monitor = "log:access.log"
    start = int(time.time()) // 10 * 10 - 1200
    proc = app.start(args, tmp_path)
    out = Output(proc)
    try:
        with open(log, "a", encoding="utf-8") as file:  # 300 in 20 s: above 1/s
            file.write("\n".join(combined(start + i / 15, "10.0.0.1", "/a")
                                 for i in range(300)) + "\n")
        wait_for(lambda: out.starting("ALERT: High traffic"), 20, "the alert")
    finally:
        stop(proc)
        out.join()
    done = run_app(["maintenance", "on", "lm", "-c", str(config), "-db", "m.db"], tmp_path)
    assert done.returncode == 0, done.stderr
    proc = app.start(args, tmp_path)
    out = Output(proc)
    try:
        wait_for(lambda: out.starting("MAINTENANCE: lm"), 10, "the maintenance line")
        with open(log, "a", encoding="utf-8") as file:  # one every 10 s for 5 minutes
            file.write("\n".join(combined(start + 20 + 10 * i, "10.0.0.2", "/")
                                 for i in range(30)) + "\n")
        # Read: the results of those 5 minutes recorded (the window fell back long ago).
        wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE"
                                   " monitor = ? AND timestamp >= ?", monitor,
                               start + 300)[0][0] > 0,
                 30, "the results of the new lines", lambda: "\n".join(out.lines))
        time.sleep(1)  # four more polls of the log: a recovery would be out by now
        assert not out.starting("RECOVERY"), out.lines
        done = run_app(["maintenance", "off", "lm", "-c", str(config), "-db", "m.db"], tmp_path)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: out.starting("RECOVERY: High traffic alert recovered"), 20,
                 "the recovery after the maintenance", lambda: "\n".join(out.lines))
    finally:
        _, _, err = stop(proc)
        out.join()
    assert out.lines.index(out.starting("MAINTENANCE OVER: lm")[0]) < out.lines.index(
        out.starting("RECOVERY: ")[0])
    with reading(db) as reader:
        assert reader.alert_types(monitor) == ["alert", "recovery"]


def test_the_id_is_the_path_as_written_however_the_config_is_named(tmp_path, monkeypatch):
    # serve beside -m, or -m run from another folder, must see the same monitor.
    (tmp_path / "t").mkdir()
    config = tmp_path / "t" / "config.json"
    config.write_text(json.dumps({"monitors": [{"type": "log", "path": "access.log"}]}))
    monkeypatch.chdir(tmp_path)
    ids, files = set(), set()
    for name in ("t/config.json", str(config), "./t/../t/config.json"):
        (monitor,) = load_config(name).monitors
        ids.add(monitor.id)
        files.add(os.path.realpath(monitor.target))
    monkeypatch.chdir(tmp_path / "t")
    (monitor,) = load_config("config.json").monitors
    ids.add(monitor.id)
    files.add(os.path.realpath(monitor.target))
    assert ids == {"log:access.log"}
    assert files == {os.path.realpath(tmp_path / "t" / "access.log")}
