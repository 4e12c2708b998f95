"""Engine: retention purge on an injected wall clock; wall-clock steps while running."""

import threading
import time

from monitor.alerts import AlertEvaluator
from monitor.checks import CheckResult
from monitor.config import Config
from monitor.engine import Engine
from monitor.store import AlertRecord, Store, iso_utc, open_reader
from tests.conftest import make_site

NOW = 1_800_000_000.0
DAY = 86400.0


def count(db):
    conn = open_reader(db).conn
    try:
        return conn.execute("SELECT count(*) FROM website_monitoring").fetchone()[0]
    finally:
        conn.close()


def test_retention_days_purges_while_running_at_most_hourly(tmp_path):
    db = tmp_path / "m.db"
    clock = [NOW]
    site = make_site("http://a.test/")
    store = Store(db)
    engine = Engine(Config(monitors=(site,), retention_days=1.0), store,
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
    conn = open_reader(tmp_path / "m.db").conn
    try:
        counts = dict(conn.execute("SELECT host, count(*) FROM website_monitoring"
                                   " GROUP BY host"))
    finally:
        conn.close()
    for url in (ok, failing):
        assert counts[url] >= elapsed / 0.05 * 0.8, (url, counts[url], elapsed)
    assert [(e.type, e.url) for e in events] == [("alert", failing)]


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
    engine.alerts.configure(config.monitors)
    engine._restore_alert_state()
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
