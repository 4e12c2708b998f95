"""A monitor of several locations through the engine and a real SQLite file, restarted
twice: its open alert, then its location warning, read back from the stored rows and each
location's stored checks, neither repeated nor lost. Injected clocks, a monotonic origin of
its own for each process."""

from dataclasses import replace

from monitor.alerts import AlertEvaluator
from monitor.config import Config
from monitor.core.model import CheckResult
from monitor.engine import Engine
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.engine.test_rules_engine import Clocks, stored
from tests.support.db import query

SITE = "http://shop.test/"
T0 = 1_800_000_000.0


def engine_at(db, clocks: Clocks) -> Engine:
    site = replace(make_site(SITE, window=10.0, interval=1.0, name="shop"),
                   locations=("local", "eu", "us"))
    engine = Engine(Config(monitors=(site,)), Store(db), wall_clock=lambda: clocks.wall)
    engine.alerts = AlertEvaluator(clock=lambda: clocks.wall, mono=lambda: clocks.mono)
    return engine.restore()


def rounds(engine: Engine, clocks: Clocks, start: float, **patterns: str) -> None:
    """One check a second from each location ("." up, "x" down)."""
    for i in range(max(len(p) for p in patterns.values())):
        clocks.set(start + i)
        for location, pattern in patterns.items():
            up = pattern[i] == "."
            engine.record(CheckResult(SITE, clocks.wall, up, 200 if up else 503, 5.0,
                                      None if up else "http_status",
                                      "" if up else "HTTP 503", mono=clocks.mono,
                                      location=location))


def test_a_restart_keeps_the_alert_and_the_location_warning_of_several_locations(tmp_path):
    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=1000.0)
    engine = engine_at(db, clocks)
    rounds(engine, clocks, T0, local=".....", eu="xxxxx", us="xxxxx")
    engine.store.close()
    assert stored(db) == [("alert", 0)]
    assert query(db, "SELECT count(*), count(location) FROM website_monitoring") == [(15, 10)]

    # Restarted at T0+10: the alert stays open; eu and us are read back down, so eu's
    # first check up does not recover it (read without their locations, or not at all,
    # eu fresh and up with local would). eu's window 80% up at T0+14: the recovery, and
    # us still down: its warning.
    clocks = Clocks(T0 + 10, origin=-50_000.0)
    engine = engine_at(db, clocks)
    rounds(engine, clocks, T0 + 10, local=".......", eu=".......", us="xxxxxxx")
    engine.store.close()
    assert stored(db)[1:] == [("recovery", 14), ("warning", 14)]

    # Restarted at T0+20 with us's warning open: not repeated; cleared once us's window
    # is 80% up (T0+26: 7 up, its failure of T0+16).
    clocks = Clocks(T0 + 20, origin=77.0)
    engine = engine_at(db, clocks)
    rounds(engine, clocks, T0 + 20, local="........", eu="........", us="........")
    engine.store.close()
    assert stored(db)[3:] == [("cleared", 26)]
    messages = [m for (m,) in query(db, "SELECT message FROM website_alerts ORDER BY id")]
    # The recovery came with local's check of T0+14 (eu's window then 4 up of 5, 80%):
    # local's 6 up and eu's 4 of 5, 10 of 11.
    assert messages == [
        "Website http://shop.test/ is down. availability=0.0%, time=2027-01-15T08:00:00Z"
        " (shop; http_status: HTTP 503; down from eu, us; up from local)",
        "Website http://shop.test/ has recovered. availability=90.9%,"
        " time=2027-01-15T08:00:14Z; down since 2027-01-15T08:00:00Z, for 14s (shop; up"
        " from local, eu; down from us)",
        "Website http://shop.test/ is down from us only (1 of 3 locations, quorum 2)."
        " time=2027-01-15T08:00:14Z (shop; http_status: HTTP 503)",
        "Website http://shop.test/ is up again from all 3 locations."
        " time=2027-01-15T08:00:26Z; warning since 2027-01-15T08:00:14Z, for 12s (shop)"]
