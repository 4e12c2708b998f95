"""The alert rules through the engine and a real SQLite file, on injected clocks: what is
stored, what a restart restores from it, and maintenance windows (from the config, across
a daylight-saving change, and set from the command line)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.alerts import AlertEvaluator
from monitor.config import Config
from monitor.core.model import CheckResult
from monitor.core.rules import AlertRules
from monitor.core.windows import OneOff, Recurring
from monitor.engine import Engine
from monitor.stats import window_stats
from monitor.store.api import SetMaintenance
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.support.db import query

SITE = "http://shop.test/"
T0 = 1_800_000_000.0


class Clocks:
    """A wall and a monotonic clock for one process (each process has its own origin)."""

    def __init__(self, at: float, origin: float) -> None:
        self.origin = origin
        self.set(at)

    def set(self, at: float) -> None:
        self.wall = at
        self.mono = self.origin + at


def engine_at(db, clocks: Clocks, on_status=None, **rules) -> Engine:
    """An engine over `db` (a new process), its alert state restored from it; its status
    lines (maintenance) to `on_status`."""
    site = replace(make_site(SITE, window=rules.pop("window", 10.0),
                             interval=rules.pop("interval", 1.0)), rules=AlertRules(**rules))
    config = Config(monitors=(site,))
    engine = Engine(config, Store(db), wall_clock=lambda: clocks.wall, on_status=on_status)
    engine.alerts = AlertEvaluator(clock=lambda: clocks.wall, mono=lambda: clocks.mono)
    return engine.restore()


def feed(engine: Engine, clocks: Clocks, start: float, pattern: str, step: float = 1.0) -> None:
    """One check per mark ("." up, "x" down, "w" warning) every `step` seconds."""
    for i, mark in enumerate(pattern):
        clocks.set(start + i * step)
        if mark == "w":
            result = CheckResult(SITE, clocks.wall, True, 200, 5.0, "tls_expiry",
                                 "certificate expires in 5.0 days", mono=clocks.mono,
                                 warning=True)
        else:
            result = CheckResult(SITE, clocks.wall, mark == ".", 200 if mark == "." else None,
                                 5.0, None if mark == "." else "connect",
                                 "" if mark == "." else "connection refused", mono=clocks.mono)
        engine.record(result)


def stored(db) -> list[tuple[str, float]]:
    """The alert rows: (type, seconds after T0)."""
    return [(kind, datetime.fromisoformat(ts).timestamp() - T0) for kind, ts in
            query(db, "SELECT type, timestamp FROM website_alerts ORDER BY id")]


def test_reminders_flapping_and_warnings_carry_across_restarts(tmp_path):
    db = tmp_path / "m.db"
    rules = {"remind_every": 30.0, "flap_limit": 3, "flap_window": 20.0}
    clocks = Clocks(T0, origin=1000.0)
    engine = engine_at(db, clocks, **rules)
    feed(engine, clocks, T0, "w" * 5 + "x" * 40)
    engine.store.close()
    assert stored(db) == [("warning", 0), ("alert", 6), ("reminder", 36)]  # 5 up of 7

    # Down during the stop; restarted at T0+60: the reminder is due at T0+66, once.
    clocks = Clocks(T0 + 60, origin=-50_000.0)
    engine = engine_at(db, clocks, **rules)
    feed(engine, clocks, T0 + 60, "x" * 10)
    engine.store.close()
    assert stored(db)[3:] == [("reminder", 66)]

    # Flapping, then a restart while it flaps: not reported again; it settles once.
    clocks = Clocks(T0 + 100, origin=7.0)
    engine = engine_at(db, clocks, **rules)
    feed(engine, clocks, T0 + 100, ".x.x.x")
    engine.store.close()
    # The first up recovers (the 10 s window holds it alone) and clears the warning open
    # since T0; then it flaps: one alert, then held.
    # (The change from the down at T0+69 is not counted: 31 s back, out of the 20 s.)
    assert stored(db)[4:] == [("recovery", 100), ("cleared", 100), ("alert", 101),
                              ("flapping", 104)]
    clocks = Clocks(T0 + 110, origin=123_456.0)
    engine = engine_at(db, clocks, **rules)
    feed(engine, clocks, T0 + 110, "." * 30)
    engine.store.close()
    # The changes at T0+100..105 (read back from the stored checks) and T0+110 age out of
    # the 20 s: one left at T0+126, when it settles and the alert open since T0+101
    # recovers (the 10 s window all up).
    assert stored(db)[8:] == [("settled", 126), ("recovery", 126)]


def test_alert_after_counts_carry_across_a_restart_through_the_database(tmp_path):
    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=0.0)
    engine = engine_at(db, clocks, alert_after=(3, 3))
    feed(engine, clocks, T0, "..xx")
    engine.store.close()
    clocks = Clocks(T0 + 4, origin=5e6)
    engine = engine_at(db, clocks, alert_after=(3, 3))
    feed(engine, clocks, T0 + 4, "x")
    engine.store.close()
    assert stored(db) == [("alert", 4)]


def maintained(db, clocks: Clocks, windows) -> Engine:
    """A monitor checked every minute, with maintenance `windows`."""
    return engine_at(db, clocks, window=120.0, interval=60.0, maintenance=tuple(windows))


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def checks_of(db) -> list[tuple[str, int | None, str | None]]:
    return [(datetime.fromtimestamp(ts, UTC).strftime("%H:%M"), ok, reason)
            for ts, ok, reason in query(
                db, "SELECT timestamp, available, reason FROM website_monitoring ORDER BY id")]


def test_a_recurring_window_across_the_spring_forward_night(tmp_path):
    # Sundays at 02:00 Europe/Paris for an hour. On 2026-03-29 02:00 does not exist
    # (02:00 CET -> 03:00 CEST): the window is 01:00-02:00 UTC (03:00-04:00 CEST). The site
    # fails from 01:00 to 01:59 UTC: recorded, marked, no alert. It fails at 02:00 UTC
    # too: that check is outside the window, and alerts.
    db = tmp_path / "m.db"
    clocks = Clocks(utc("2026-03-29T00:58:00"), origin=0.0)
    engine = maintained(db, clocks, [Recurring(frozenset({6}), 2, 0, 3600.0,
                                               "Europe/Paris")])
    start = utc("2026-03-29T00:58:00")
    feed(engine, clocks, start, ".." + "x" * 60 + "x", step=60.0)
    engine.store.close()
    rows = checks_of(db)
    assert rows[:3] == [("00:58", 1, None), ("00:59", 1, None), ("01:00", None, "maintenance")]
    assert rows[61] == ("01:59", None, "maintenance")
    assert rows[62] == ("02:00", 0, "connect")
    assert [(kind, datetime.fromtimestamp(T0 + at, UTC).strftime("%H:%M"))
            for kind, at in stored(db)] == [("alert", "02:00")]


def test_a_recurring_window_across_the_fall_back_night(tmp_path):
    # On 2026-10-25 02:00 comes twice (03:00 CEST -> 02:00 CET): the window starts at the
    # first, 00:00 UTC, and lasts an hour of real time: 00:00-01:00 UTC, once.
    db = tmp_path / "m.db"
    start = utc("2026-10-24T23:58:00")
    clocks = Clocks(start, origin=0.0)
    engine = maintained(db, clocks, [Recurring(frozenset({6}), 2, 0, 3600.0,
                                               "Europe/Paris")])
    feed(engine, clocks, start, "." * 150, step=60.0)
    engine.store.close()
    marked = [at for at, ok, reason in checks_of(db) if reason == "maintenance"]
    assert len(marked) == 60 and (marked[0], marked[-1]) == ("00:00", "00:59")


def test_an_alert_open_when_maintenance_begins_stays_silent_then_recovers(tmp_path):
    db = tmp_path / "m.db"
    start = utc("2026-12-01T01:50:00")
    clocks = Clocks(start, origin=0.0)
    window = OneOff(utc("2026-12-01T02:00:00"), utc("2026-12-01T04:00:00"))
    engine = maintained(db, clocks, [window])
    # Down from 01:50 (alert), through the window, and up from 03:00 (inside it).
    feed(engine, clocks, start, "x" * 70 + "." * 70, step=60.0)  # to 04:09
    engine.store.close()
    alerts = [(kind, datetime.fromtimestamp(T0 + at, UTC).strftime("%H:%M"))
              for kind, at in stored(db)]
    # No reminder, no recovery inside the window; the first check after it, at 04:00,
    # recovers (the window's 120 s holds only checks since).
    assert alerts == [("alert", "01:50"), ("recovery", "04:00")]
    reader = open_reader(db)
    try:
        # In no availability: 10 down before the window, 10 up after it, 120 in it.
        stats = window_stats(reader, start, start + 140 * 60)[SITE]
        assert (stats.availability, stats.reasons["maintenance"]) == (0.5, 120)
        # What a restart's rules start from: the checks after the maintenance.
        assert reader.recent_verdicts(start, start + 3 * 3600)[SITE][:2] == [
            (utc("2026-12-01T04:00:00"), True), (utc("2026-12-01T04:01:00"), True)]
    finally:
        reader.close()


def test_maintenance_set_from_the_command_line_is_seen_and_survives_a_restart(tmp_path):
    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=0.0)
    lines: list[str] = []
    engine = engine_at(db, clocks, on_status=lines.append)
    store = Store(db)  # as `maintenance on` does, from its own process
    store.set_maintenance(SetMaintenance(SITE, T0 + 5, T0 + 20))
    store.close()
    feed(engine, clocks, T0, ".....")
    engine.poll_maintenance()
    assert lines == []
    clocks.set(T0 + 5)
    engine.poll_maintenance()
    assert lines == ["MAINTENANCE: http://shop.test/: checks recorded, no alerts until"
                     " 2027-01-15T08:00:20Z"]
    feed(engine, clocks, T0 + 5, "xxxxx")
    engine.store.close()
    reader = open_reader(db)
    try:  # what the live view shows: in maintenance since its first check in it
        assert reader.in_maintenance() == {SITE: T0 + 5}
    finally:
        reader.close()
    clocks = Clocks(T0 + 10, origin=99.0)
    engine = engine_at(db, clocks, on_status=lines.append)  # restarted: read back
    engine.poll_maintenance()  # as -m does at its start
    assert len(lines) == 2 and lines[1] == lines[0]
    feed(engine, clocks, T0 + 10, "x" * 10)
    assert stored(db) == []
    feed(engine, clocks, T0 + 20, "x")  # the maintenance has ended
    engine.poll_maintenance()
    engine.stop()
    assert stored(db) == [("alert", 20)]
    assert lines[-1] == "MAINTENANCE OVER: http://shop.test/"
    reader = open_reader(db)
    try:
        assert reader.in_maintenance() == {}  # a check out of maintenance since
    finally:
        reader.close()


def test_a_check_begun_before_a_window_and_ended_in_it_is_in_maintenance(tmp_path):
    db = tmp_path / "m.db"
    start = utc("2026-12-01T01:59:50")
    clocks = Clocks(start, origin=0.0)
    engine = maintained(db, clocks, [OneOff(utc("2026-12-01T02:00:00"),
                                            utc("2026-12-01T04:00:00"))])
    # Begun 10 s before the window, timed out 20 s into it.
    engine.record(CheckResult(SITE, start, False, None, 30_000.0, "timeout", "timed out",
                              mono=clocks.mono))
    engine.store.close()
    assert checks_of(db) == [("01:59", None, "maintenance")]
    assert stored(db) == []


def test_a_failed_poll_keeps_the_maintenance_known(tmp_path):
    import sqlite3

    from monitor.core.errors import StoreError

    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=0.0)
    store = Store(db)
    store.set_maintenance(SetMaintenance(SITE, T0 - 5, None))
    store.close()
    lines: list[str] = []
    engine = engine_at(db, clocks, on_status=lines.append)
    engine.poll_maintenance()
    # The file failing under the running monitor: the maintenance table's pages turned to
    # garbage, then a write elsewhere, so that the open reader reads them again.
    conn = sqlite3.connect(db)
    pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'maintenance'")]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as file:
        for page in pages:
            file.seek((page - 1) * size)
            file.write(bytes(range(256)) * (size // 256))
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    with pytest.raises(StoreError, match="malformed"):
        engine.poll_maintenance()
    feed(engine, clocks, T0 + 1, "xxx")
    engine.stop()
    assert stored(db) == [] and len(lines) == 1  # still in maintenance: no OVER line
