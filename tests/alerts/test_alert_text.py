"""What an alert line says (issue 21, 18): the monitor by its subject, its name when it has
one, and why (the reason and detail of its latest failed check), the same in the terminal,
in `-a` and in notifications; the http line starts as the original design's, byte for byte.
A check of this machine notified in the agents' form says what it changed from, which is
not "up" for a monitor never seen up."""

from __future__ import annotations

import json
import re
import socket
import time

from monitor.alerts import AlertEvaluator
from monitor.alerts.messages import subject
from monitor.config import parse_config
from monitor.core.model import CheckResult
from tests.alerts.test_alerts import T0, Clock
from tests.support import app
from tests.support.access_logs import combined
from tests.support.app import Output, run_app, stop, wait_for
from tests.support.pages import PageServer
from tests.support.receivers import WebhookReceiver

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def monitors(*entries: dict):
    return parse_config(json.dumps({"websites": list(entries)})).monitors


def test_each_kind_is_called_by_what_it_checks_once():
    shown = {m.id: subject(m.kind, m.target) for m in monitors(
        {"URL": "https://u:pw@a.test/x?token=1"},
        {"type": "tcp", "host": "127.0.0.1", "port": 6390, "name": "db"},
        {"type": "disk", "path": "/var"},
        {"type": "cpu"}, {"type": "memory"}, {"type": "load"},
        {"type": "process", "name": "nginx"},
        {"type": "process", "match": "gunicorn: worker", "id": "workers"})}
    assert list(shown.values()) == [
        "Website https://u:***@a.test/x?token=***", "tcp 127.0.0.1:6390", "disk /var",
        "cpu", "memory", "load", "process nginx", "process ~gunicorn: worker"]


def test_every_line_names_the_monitor_and_an_alert_says_why():
    clock = Clock()
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    db, disk, nginx = monitors(
        {"type": "tcp", "host": "127.0.0.1", "port": 6390, "name": "db", "remindEvery": 60},
        {"type": "disk", "path": "/var"}, {"type": "process", "name": "nginx"})
    alerts.configure([db, disk, nginx])

    def record(monitor, at, ok, reason=None, detail=""):
        clock.set(T0 + at)
        return alerts.record(CheckResult(monitor.id, clock.now, ok, None, 1.0, reason,
                                         detail, mono=clock.mono))

    (alert,) = record(db, 0, False, "connect", "connection refused")
    assert alert.message == ("tcp 127.0.0.1:6390 is down. availability=0.0%,"
                             " time=2027-01-15T08:00:00Z (db; connect: connection refused)")
    assert (alert.reason, alert.detail, alert.previous) == (
        "connect", "connection refused", "unknown")  # never seen up
    record(db, 30, False, "timeout", "no answer within 2 s")
    # The reminder says the latest failure's cause, a skipped slot's row aside.
    record(db, 59, False, "skipped", "the previous check was still running")
    (reminder,) = record(db, 60, True)
    assert reminder.message.endswith("for 1m00s (db; timeout: no answer within 2 s)")
    for second in range(61, 200):
        if raised := record(db, second, True):
            (recovery,) = raised
            break
    assert recovery.message.endswith(" (db)")
    assert recovery.previous == "down"
    (down_again,) = record(db, 300, False, "connect", "connection refused")
    assert down_again.previous == "up"

    (alert,) = record(disk, 300, False, "threshold", "disk /var 93.1% used > maxPercent 90")
    assert alert.message == ("disk /var is down. availability=0.0%, time=2027-01-15T08:05:00Z"
                             " (threshold: disk /var 93.1% used > maxPercent 90)")
    # A process monitor's name is its process's, which the subject says already.
    (alert,) = record(nginx, 300, False, "process", "nginx: 0 running, min 1")
    assert alert.message.startswith("process nginx is down.")
    assert alert.message.endswith(" (process: nginx: 0 running, min 1)")


def test_the_lines_in_the_program_in_history_and_in_notifications(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "access.log"
    log.write_text("")
    with PageServer() as pages, WebhookReceiver() as hook:
        site = pages.set("/health", "down", status=503)
        fast = {"checkInterval": 0.25, "alertWindow": 1}
        (tmp_path / "config.json").write_text(json.dumps({
            "websites": [
                {"URL": site, "name": "shop", **fast},
                {"type": "tcp", "host": "127.0.0.1", "port": port, "name": "db", **fast},
                {"type": "disk", "path": "/", "maxPercent": 0.1, **fast},
                {"type": "process", "name": "nosuchprocess", **fast},
                {"type": "log", "path": "access.log", "name": "web", "maxRate": 1,
                 "fromStart": True}],
            "notify": [{"name": "hook", "url": hook.url("json")}]}))
        proc = app.start(["-m", "--plain"], tmp_path)
        out = Output(proc)
        try:
            start = int(time.time()) // 10 * 10 - 600
            with open(log, "a", encoding="utf-8") as file:  # 2.5 requests a second
                file.write("\n".join(combined(start + i / 15, "10.0.0.1", "/api/x")
                                     for i in range(300)) + "\n")
            wait_for(lambda: len(out.starting("ALERT: ")) >= 5, 20, "five alerts",
                     lambda: "\n".join(out.lines))
            sent = hook.wait_for(5, 20)
        finally:
            _, _, err = stop(proc)
            out.join()
    # The process monitor is written the old way (`name` as the process name): said once.
    assert err == ('Warning: config.json: websites[3]: process: "name" as the process name to'
                   ' match is deprecated; put it in "process" ("name" is then only the'
                   ' label)\n')
    assert "web: format: combined" in out.lines  # a note, printed plainly
    by_start = {}
    for line in out.starting("ALERT: "):
        by_start[line.split(" is down.")[0].split(" generated")[0]] = line
    assert re.fullmatch(
        rf"ALERT: Website {re.escape(site)} is down\. availability=0\.0%, time={TIME}"
        r" \(shop; http_status: HTTP 503 Service Unavailable\)",
        by_start[f"ALERT: Website {site}"])
    assert re.fullmatch(rf"ALERT: tcp 127\.0\.0\.1:{port} is down\. availability=0\.0%,"
                        rf" time={TIME} \(db; connect: connection refused\)",
                        by_start[f"ALERT: tcp 127.0.0.1:{port}"])
    assert re.fullmatch(rf"ALERT: disk / is down\. availability=0\.0%, time={TIME}"
                        r" \(threshold: disk / [\d.]+% used > maxPercent 0\.1\)",
                        by_start["ALERT: disk /"])
    assert re.fullmatch(rf"ALERT: process nosuchprocess is down\. availability=0\.0%,"
                        rf" time={TIME} \(process: nosuchprocess: 0 running, min 1\)",
                        by_start["ALERT: process nosuchprocess"])
    assert re.fullmatch(rf"ALERT: High traffic generated an alert - hits = \d+, triggered at"
                        rf" {TIME} \(web; log access\.log\)",  # as the config names it
                        by_start["ALERT: High traffic"])

    # `-a`: the same lines, from the database.
    history = run_app(["-a", "--no-follow"], tmp_path)
    assert history.returncode == 0, history.stderr
    for line in by_start.values():
        assert line.removeprefix("ALERT: ") in history.stdout

    # Notifications: the line as printed, or the agents' form for a check of this machine,
    # which was never up: it changed from unknown.
    host = socket.gethostname()
    bodies = {item.body["title"]: item.body["message"] for item in sent}
    assert bodies["ALERT: shop"] == by_start[f"ALERT: Website {site}"].removeprefix("ALERT: ")
    assert bodies["ALERT: db"] == by_start[f"ALERT: tcp 127.0.0.1:{port}"].removeprefix(
        "ALERT: ")
    assert re.fullmatch(rf"disk / on {re.escape(host)} changed from unknown -> down at {TIME}"
                        r" \(threshold: disk / [\d.]+% used > maxPercent 0\.1\)",
                        bodies["disk / is now DOWN"])
    assert re.fullmatch(rf"process nosuchprocess on {re.escape(host)} changed from unknown ->"
                        rf" down at {TIME} \(process: nosuchprocess: 0 running, min 1\)",
                        bodies["nosuchprocess is now DOWN"])
    assert bodies["ALERT: web"] == by_start["ALERT: High traffic"].removeprefix("ALERT: ")


def restored(db, site, now: float) -> tuple[AlertEvaluator, list[float]]:
    """The alert state a restart at `now` reads back from `db`, on a clock the test moves
    (the list's one item, the monotonic seconds)."""
    from monitor.config import Config
    from monitor.engine import Engine
    from monitor.store.sqlite.writer import Store

    mono = [5_000.0]
    config = Config(monitors=(site,))
    engine = Engine(config, Store(db), wall_clock=lambda: now)
    engine.alerts = AlertEvaluator(clock=lambda: now + mono[0] - 5_000.0,
                                   mono=lambda: mono[0])
    engine.restore()
    engine.store.close()
    return engine.alerts, mono


def test_the_cause_survives_a_restart(tmp_path):
    # A reminder raised after a restart by a check up (the window still below the
    # threshold) says the cause of the latest failure before the stop, from the database.
    from dataclasses import replace

    from monitor.core.rules import AlertRules
    from monitor.store.api import AlertRecord, iso_utc
    from monitor.store.sqlite.writer import Store
    from tests.conftest import make_site

    now = 1_800_000_000.0
    site = replace(make_site("http://site.test/", window=120.0),
                   rules=AlertRules(remind_every=10.0))
    db = tmp_path / "m.db"
    store = Store(db)
    for i in range(30):
        store.put_check(CheckResult(site.id, now - 30 + i, False, None, 1.0, "connect",
                                    "connection refused"))
    store.put_alert(AlertRecord(iso_utc(now - 20), site.id, "alert", iso_utc(now - 20), None,
                                0.0, "down"))
    store.close()
    alerts, mono = restored(db, site, now)
    mono[0] += 1
    (reminder,) = alerts.record(CheckResult(site.id, now + 1, True, 200, 1.0,
                                                   mono=mono[0]))
    assert reminder.type == "reminder"
    assert reminder.message.endswith(" (connect: connection refused)"), reminder.message
    assert (reminder.reason, reminder.detail) == ("connect", "connection refused")


def test_a_monitor_up_long_before_a_restart_changes_from_up(tmp_path):
    # Up once, a week before the restart (far beyond the history read back): its first
    # alert after it still changes from up, not from unknown.
    from monitor.store.sqlite.writer import Store
    from tests.conftest import make_site

    now = 1_800_000_000.0
    site = make_site("http://site.test/", window=2.0)
    db = tmp_path / "m.db"
    store = Store(db)
    store.put_check(CheckResult(site.id, now - 7 * 86400, True, 200, 1.0, mono=1.0))
    store.close()
    alerts, mono = restored(db, site, now)
    events = []
    for _ in range(3):
        mono[0] += 1
        events += alerts.record(CheckResult(site.id, now + mono[0] - 5_000.0, False,
                                                   None, 1.0, "connect", "connection refused",
                                                   mono=mono[0]))
    (alert,) = events
    assert (alert.type, alert.previous) == ("alert", "up")
