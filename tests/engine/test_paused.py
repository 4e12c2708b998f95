"""`paused`: a monitor kept in the config and listed, but never checked; a reload that
resumes it starts its checks with the alert state it had."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from monitor.config import Config, load_config
from monitor.config.edit import ConfigEditor
from monitor.core.model import CheckResult
from monitor.engine import Engine
from monitor.run.watches import scheduled, watched
from monitor.runtime import Runtime
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.support.app import wait_for
from tests.support.db import count_checks, query
from tests.support.pages import PageServer

NOW = 1_800_000_000.0
SITE = "http://a.test/"


def test_a_paused_monitor_is_neither_scheduled_nor_watched(tmp_path: Path) -> None:
    config = load_config_text(tmp_path, {"monitors": [
        {"URL": SITE, "paused": True}, {"URL": "http://b.test/"},
        {"type": "log", "path": "x.log", "paused": True}, {"type": "log", "path": "y.log"}]})
    assert [m.id for m in config.monitors if m.paused] == [SITE, "log:x.log"]
    assert [m.id for m in scheduled(config.monitors)] == ["http://b.test/"]
    assert [m.id for m in watched(config.monitors)] == ["log:y.log"]


def load_config_text(tmp_path: Path, doc: dict) -> Config:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return load_config(path)


def test_paused_monitors_are_listed_unchecked_and_resumed_by_a_reload(tmp_path) -> None:
    with PageServer() as pages:
        a, b = pages.set("/a", "ok"), pages.set("/b", "ok")
        path = tmp_path / "config.json"
        path.write_text(json.dumps({"monitors": [
            {"URL": a, "checkInterval": 0.05}, {"URL": b, "checkInterval": 0.05,
                                                "paused": True}]}))
        db = tmp_path / "m.db"
        runtime = Runtime(load_config(path), Store(db), config_path=path)
        runtime.start()
        try:
            runtime.step()
            wait_for(lambda: runtime.store.flush() or count_checks(db, a) >= 5,
                     what="checks of the running monitor")
            runtime.store.flush()
            assert count_checks(db, b) == 0
            # Listed: the database's list of monitors holds it, active.
            assert query(db, "SELECT monitor, active FROM monitors ORDER BY rowid") == [
                (a, 1), (b, 1)]

            editor = ConfigEditor(path)
            editor.resume(b)
            runtime.step()  # the file changed: reloaded
            wait_for(lambda: runtime.store.flush() or count_checks(db, b) >= 3,
                     what="checks of the monitor resumed")

            editor.pause(a)
            runtime.step()
            settled = wait_for(lambda: settle(runtime, db, a), what="the last checks of a")
            time.sleep(0.5)  # ten intervals: a monitor still scheduled gets checks
            runtime.store.flush()
            assert count_checks(db, a) == settled
        finally:
            runtime.stop()


def settle(runtime: Runtime, db: Path, url: str) -> int | None:
    """The monitor's checks once two counts 0.2 s apart agree (a check in flight at the
    reload may still land), else None."""
    runtime.store.flush()
    before = count_checks(db, url)
    time.sleep(0.2)
    runtime.store.flush()
    return before if count_checks(db, url) == before else None


def test_a_resumed_monitor_has_the_alert_it_had_open(tmp_path) -> None:
    db = tmp_path / "m.db"
    site = make_site(SITE, window=120.0)
    store = Store(db)
    for i in range(30):
        store.put_check(CheckResult(SITE, NOW - 30 + i, False, None, 1.0, "connect"))
    store.put_alert(AlertRecord(iso_utc(NOW - 20), SITE, "alert", iso_utc(NOW - 20), None,
                                0.0, "down"))
    store.close()

    paused = Config(monitors=(dataclasses.replace(site, paused=True),))
    engine = Engine(paused, Store(db), wall_clock=lambda: NOW)
    engine.restore()
    assert not engine.alerts.is_alerting(SITE)  # no rules run for it while paused
    engine.reload(Config(monitors=(site,)))
    # Its open alert read back: a failure now raises no second alert.
    assert engine.alerts.is_alerting(SITE)
    engine.store.close()
