"""Engine: retention purge on an injected wall clock; wall-clock steps while running."""

import json
import threading
import time

from monitor.alerts import AlertEvaluator
from monitor.config import Config
from monitor.config.retention import Retention
from monitor.core.model import CheckResult
from monitor.engine import Engine
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.support.app import start
from tests.support.db import query

NOW = 1_800_000_000.0
DAY = 86400.0


def count(db):
    return query(db, "SELECT count(*) FROM website_monitoring")[0][0]


def test_retention_days_purges_while_running_at_most_hourly(tmp_path):
    db = tmp_path / "m.db"
    clock = [NOW]
    site = make_site("http://a.test/")
    store = Store(db)
    engine = Engine(Config(monitors=(site,), retention=Retention.every(DAY)), store,
                    wall_clock=lambda: clock[0])
    for age in (2 * DAY, 1.5 * DAY, 3600.0, 60.0):
        store.put_check(CheckResult(site.id, NOW - age, True, 200, 1.0))
    store.flush()
    assert count(db) == 4

    engine.maybe_purge()
    store.flush()
    assert count(db) == 2  # the two older than a day are gone
    assert store.purged == (2, 0)

    store.put_check(CheckResult(site.id, NOW - 3 * DAY, True, 200, 1.0))
    clock[0] = NOW + 1800  # half an hour later: not yet time for the next purge
    engine.maybe_purge()
    store.flush()
    assert count(db) == 3
    clock[0] = NOW + 3600
    engine.maybe_purge()
    store.flush()
    assert count(db) == 2
    store.close()


def test_no_retention_means_no_purge(tmp_path):
    db = tmp_path / "m.db"
    store = Store(db)
    engine = Engine(Config(monitors=(make_site("http://a.test/"),)), store,
                    wall_clock=lambda: NOW)
    store.put_check(CheckResult("http://a.test/", NOW - 400 * DAY, True, 200, 1.0))
    engine.maybe_purge()
    store.flush()
    assert count(db) == 1
    store.close()


def test_wall_clock_steps_disturb_neither_schedule_nor_alerts(hostile, tmp_path):
    # The engine's wall clock is stepped an hour back, then a day forward, while it checks
    # a healthy and a failing site: the schedule (monotonic) keeps its pace, the failing
    # site alerts once, the healthy one never.
    step = [0.0]
    ok, failing = hostile.base + "/ok", hostile.base + "/500"
    sites = (make_site(ok, interval=0.05, window=1.0), make_site(failing, interval=0.05,
                                                                window=1.0))
    store = Store(tmp_path / "m.db")
    engine = Engine(Config(monitors=sites), store, wall_clock=lambda: time.time() + step[0])
    events = []
    engine.hooks.append(events.append)
    engine.start()
    try:
        started = time.monotonic()
        for jump in (-3600.0, 86400.0):
            threading.Event().wait(0.6)
            step[0] += jump
        threading.Event().wait(0.6)
        elapsed = time.monotonic() - started
    finally:
        engine.stop()
    counts = dict(query(tmp_path / "m.db", "SELECT host, count(*) FROM website_monitoring"
                                           " GROUP BY host"))
    for url in (ok, failing):
        assert counts[url] >= elapsed / 0.05 * 0.8, (url, counts[url], elapsed)
    assert [(e.type, e.monitor_id) for e in events] == [("alert", failing)]


def test_a_hook_that_blocks_holds_up_neither_checks_nor_writing(hostile, tmp_path):
    # A paused terminal (`-m | less`) or a slow notification service blocks its hook: the
    # monitor goes on checking and writing; the announcements wait their turn, in order.
    release = threading.Event()
    seen = []

    def stuck_hook(event):
        seen.append(event)
        release.wait(10)

    site = make_site(hostile.base + "/500", interval=0.05, window=1.0)
    store = Store(tmp_path / "m.db")
    engine = Engine(Config(monitors=(site,)), store)
    engine.hooks.append(stuck_hook)
    engine.start()
    try:
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            threading.Event().wait(0.02)
        assert seen, "the alert was never announced"
        store.flush()
        before = count(tmp_path / "m.db")
        threading.Event().wait(0.5)
        store.flush()
        assert count(tmp_path / "m.db") >= before + 5  # still checking and writing
    finally:
        release.set()
        engine.stop()


SITE = "http://site.test/"
AHEAD = NOW + 3600.0  # where the wall clock was while it ran an hour ahead


def fail_ahead(store, seconds):
    """`seconds` of failures of SITE, one a second, dated up to AHEAD, and their alert."""
    for i in range(seconds):
        store.put_check(CheckResult(SITE, AHEAD - seconds + i, False, None, 1.0, "connect"))
    store.put_alert(AlertRecord(iso_utc(AHEAD - seconds), SITE, "alert",
                                iso_utc(AHEAD - seconds), None, 0.0, "down"))


def restored(db, alerts=None):
    """An engine over `db` at NOW (window 120 s) with its alert state restored."""
    config = Config(monitors=(make_site(SITE, window=120.0),))
    engine = Engine(config, Store(db), wall_clock=lambda: NOW)
    if alerts is not None:
        engine.alerts = alerts
    engine.restore()
    engine.store.close()
    return engine


def test_restore_after_the_wall_clock_stepped_back_keeps_one_window(tmp_path):
    # An hour of failures stored while the wall clock was an hour ahead, the alert open;
    # then the clock is corrected and the monitor restarts. Only the last window of those
    # checks may count: rows dated in the "future" were once all kept, and never pruned,
    # so the alert stayed open for up to the size of the step.
    db = tmp_path / "m.db"
    store = Store(db)
    fail_ahead(store, 3600)
    store.close()

    mono = [5_000.0]
    engine = restored(db, AlertEvaluator(clock=lambda: NOW + mono[0] - 5_000.0,
                                         mono=lambda: mono[0]))
    assert engine.alerts.is_alerting(SITE)
    events = []
    for second in range(1, 200):
        mono[0] = 5_000.0 + second
        events.append((second, engine.alerts.record(
            CheckResult(SITE, NOW + second, True, 200, 1.0, mono=mono[0]))))
    recoveries = [(second, event.type) for second, raised in events for event in raised]
    # The newest stored check counts as made now: 121 failures in the window at first.
    assert recoveries == [(97, "recovery")]


def test_restore_after_a_correction_the_monitor_ran_on_after_uses_the_recent_checks(
        tmp_path):
    # The clock ran an hour ahead while the site failed; it was corrected, the monitor ran
    # on and the site recovered. Then a restart: the present is the last check written, not
    # the rows dated an hour ahead, which would raise the alert again.
    db = tmp_path / "m.db"
    store = Store(db)
    fail_ahead(store, 300)
    for i in range(200):
        store.put_check(CheckResult(SITE, NOW - 200 + i, True, 200, 1.0))
    store.put_alert(AlertRecord(iso_utc(NOW - 100), SITE, "recovery", iso_utc(AHEAD - 300),
                                iso_utc(NOW - 100), 0.8, "up"))
    store.close()

    engine = restored(db)
    assert not engine.alerts.is_alerting(SITE)
    assert engine.alerts.availability(SITE) == 1.0


def _log_ahead_beside_a_site_down(db, now, log_monitor, site) -> None:
    """As a previous run left `db`: `site` down for 30 s with its alert raised 24 s before
    `now`, and beside it a log whose lines (and so its results) are dated an hour ahead, its
    results written last."""
    store = Store(db)
    store.set_monitors([site, log_monitor])
    for i in range(30):
        store.put_check(CheckResult(site.id, now - 30 + i, False, 503, 1.0, "http_status",
                                    "HTTP 503 Service Unavailable"))
    store.put_alert(AlertRecord(iso_utc(now - 24), site.id, "alert", iso_utc(now - 24), None,
                                0.0, f"Website {site.id} is down."))
    for i in range(3):
        store.put_check(CheckResult(log_monitor.id, now + 3600 - 30 + 10 * i, True, None, 0.0,
                                    metrics={"value": 1.0}))
    store.close()


def test_a_log_dated_by_its_own_clock_moves_no_other_monitors_present(tmp_path):
    # Issue 21, 7: the restore took max(wall clock, last check written) as the present, and a
    # log's results carry the log's time: an hour ahead, the site's alert opened 24 s before
    # looked an hour old, and its reminder (remindEvery 600) came at once, "for 1h00m24s".
    from dataclasses import replace

    from monitor.config import parse_config
    from monitor.core.rules import AlertRules

    db = tmp_path / "m.db"
    site = replace(make_site(SITE, window=120.0), rules=AlertRules(remind_every=600.0))
    log = parse_config(json.dumps({"websites": [
        {"type": "log", "path": str(tmp_path / "access.log")}]})).monitors[0]
    _log_ahead_beside_a_site_down(db, NOW, log, site)

    mono = [5_000.0]
    alerts = AlertEvaluator(clock=lambda: NOW + mono[0] - 5_000.0, mono=lambda: mono[0])
    config = Config(monitors=(site, log))
    engine = Engine(config, Store(db), wall_clock=lambda: NOW)
    engine.alerts = alerts
    engine.restore()
    engine.store.close()
    assert alerts.is_alerting(SITE)

    def check(second: float) -> list[str]:
        mono[0] = 5_000.0 + second
        return [event.message for event in alerts.record(CheckResult(
            SITE, NOW + second, False, 503, 1.0, "http_status", "HTTP 503 Service Unavailable",
            mono=mono[0]))]

    assert [check(second) for second in range(1, 576)] == [[]] * 575
    # 600 s after the alert, not before: and it says so.
    (reminder,) = check(576)
    assert "; down since " in reminder and ", for 10m00s (" in reminder, reminder


def test_a_log_ahead_and_a_restart_of_the_program(tmp_path):
    # The same in the real program, on the database a previous run left.
    from tests.support.app import Output, stop, wait_for, write
    from tests.support.db import query
    from tests.support.pages import PageServer

    with PageServer() as pages:
        url = pages.set("/", "down", status=503)
        write(tmp_path / "config.json", {"websites": [
            {"URL": url, "checkInterval": 0.25, "alertWindow": 120, "remindEvery": 600},
            {"type": "log", "path": "access.log"}]})
        (tmp_path / "access.log").write_text("")
        from monitor.config import load_config
        site, log = load_config(tmp_path / "config.json").monitors
        db = tmp_path / "monitoring.db"
        _log_ahead_beside_a_site_down(db, time.time(), log, site)
        proc = start(["-m", "--plain"], tmp_path)
        out = Output(proc)
        try:
            # Eight checks of the site made since the restart, each of which could remind.
            wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE host = ?"
                                   " AND reason = 'http_status'", url)[0][0] >= 38, 20,
                     "eight new checks", lambda: "\n".join(out.lines))
        finally:
            _, _, err = stop(proc)
            out.join()
    assert err == ""
    assert not out.starting("REMINDER: "), out.lines
    assert not out.starting("ALERT: "), out.lines  # still the one open: not raised again
