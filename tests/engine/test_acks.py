"""Acknowledged alerts through the engine and a real SQLite file, on injected clocks: an
acknowledgement stored (as the API stores it, maybe by another process) is polled, and the
alert is reminded no more; a restart reads it back; the runtime's step polls it."""

from __future__ import annotations

from pathlib import Path

from monitor.alerts import AlertEvaluator
from monitor.config import load_config
from monitor.core.model import CheckResult
from monitor.runtime import Runtime
from monitor.store.api import Ack
from monitor.store.sqlite.writer import Store
from tests.engine.test_rules_engine import SITE, T0, Clocks, engine_at, feed, stored
from tests.support.db import query


def ack_first_alert(db: Path, by: str = "ci") -> None:
    """Acknowledge the first alert row, through a store of its own (as `serve` does)."""
    (alert, monitor), = query(db, "SELECT id, monitor FROM website_alerts WHERE type = 'alert'"
                                  " ORDER BY id LIMIT 1")
    store = Store(db)
    store.put_ack(Ack(alert, monitor, T0, by))
    store.close()


def test_an_acknowledged_alert_gets_no_more_reminders(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=1000.0)
    statuses: list[str] = []
    engine = engine_at(db, clocks, on_status=statuses.append, remind_every=30.0)
    feed(engine, clocks, T0, "x" * 40)
    engine.store.flush()
    assert stored(db) == [("alert", 0), ("reminder", 30)]
    ack_first_alert(db)
    engine.poll_acks()
    assert statuses == [f"ACKNOWLEDGED: {SITE}: no more reminders of its alert"]
    feed(engine, clocks, T0 + 40, "x" * 100)
    engine.poll_acks()  # said once
    assert len(statuses) == 1
    feed(engine, clocks, T0 + 140, "." * 11)
    engine.store.close()
    assert stored(db) == [("alert", 0), ("reminder", 30), ("recovery", 148)]


def test_a_restart_reads_the_acknowledgement_back(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    clocks = Clocks(T0, origin=1000.0)
    engine = engine_at(db, clocks, remind_every=30.0)
    feed(engine, clocks, T0, "x" * 5)
    engine.store.close()
    ack_first_alert(db)
    # Down during the stop; a reminder would be due at once: none, with no poll yet.
    clocks = Clocks(T0 + 100, origin=-5000.0)
    engine = engine_at(db, clocks, remind_every=30.0)
    feed(engine, clocks, T0 + 100, "x" * 100)
    engine.store.close()
    assert stored(db) == [("alert", 0)]


def test_the_runtime_polls_acknowledgements_at_each_step(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    # The test hands the engine its results (the site's own check, at the start, is of
    # another clock: out of the window at once).
    config_path.write_text('{"monitors": [{"URL": "http://127.0.0.1:9/", "checkInterval":'
                           ' 86400, "remindEvery": 30, "alertWindow": 10}]}')
    clocks = Clocks(T0, origin=1000.0)
    lines: list[str] = []
    runtime = Runtime(load_config(config_path), Store(tmp_path / "m.db"),
                      config_path=config_path, on_line=lines.append, wall=lambda: clocks.wall)
    runtime.engine.alerts = AlertEvaluator(clock=lambda: clocks.wall, mono=lambda: clocks.mono)
    runtime.engine.restore()
    runtime.start()
    try:
        site = runtime.config.monitors[0]

        def down(at: float) -> None:
            clocks.set(at)
            runtime.engine.record(CheckResult(site.id, at, False, None, 1.0, "connect",
                                              "refused", mono=clocks.mono))
        down(T0)
        runtime.store.flush()
        ack_first_alert(tmp_path / "m.db")
        runtime.step(T0 + 1)
        assert f"ACKNOWLEDGED: {site.label}: no more reminders of its alert" in lines
        for i in range(2, 100):
            down(T0 + i)
    finally:
        runtime.stop()
    assert stored(tmp_path / "m.db") == [("alert", 0)]
