"""Push monitors in the engine, on real database files: pushes written by a writer of the
server's own (as `serve` beside `-m` writes them) read by the engine's feed, made results
the alert rules judge (a late job alerts), and judged from the database after a restart."""

from __future__ import annotations

import json

from monitor.config import parse_config
from monitor.engine import Engine
from monitor.engine.pushes import READ_EVERY, PushReader
from monitor.store.api import RecordPush
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.store.test_pushes import write_pushes
from tests.support.db import query

T = 1_700_000_000.0
MONITOR = "push:backup"


def _engine(db, wall) -> Engine:
    config = parse_config(json.dumps({"monitors": [
        {"type": "push", "name": "backup", "checkInterval": 60, "grace": 60}]}), "c.json")
    return Engine(config, Store(db), wall_clock=lambda: wall[0]).restore()


def _results(db) -> list[tuple]:
    return query(db, "SELECT timestamp, available, reason, detail FROM website_monitoring"
                     " WHERE monitor = ? ORDER BY id", MONITOR)


def test_a_push_is_up_a_late_job_alerts_and_a_restart_judges_from_the_database(tmp_path):
    db, wall = tmp_path / "m.db", [T]
    engine = _engine(db, wall)
    try:
        engine.watches.poll_all()
        write_pushes(db, RecordPush(MONITOR, T + 1, "ping", message="ok"))
        wall[0] = T + 1 + READ_EVERY
        engine.watches.poll_all()
        engine.store.flush()
        assert _results(db) == [(T, None, "new", "no push yet; expected every 1m + 1m grace"),
                                (T + 1, 1, None, "ok")]
        wall[0] = T + 1 + 120 + 10  # past checkInterval + grace
        engine.watches.poll_all()
        engine.store.flush()
        assert _results(db)[-1] == (wall[0], 0, "late", "no push for 2m09s; expected every"
                                                        " 1m + 1m grace")
        [(kind, message)] = query(db, "SELECT type, message FROM website_alerts")
        assert kind == "alert" and message.startswith("push backup is down.")
        assert "late: no push for 2m09s" in message
    finally:
        engine.stop()
    # Restarted: the job's last push is read back, no "new" again; still late.
    wall[0] += 5
    engine = _engine(db, wall)
    try:
        engine.watches.poll_all()
        engine.store.flush()
        assert _results(db)[-1][1:3] == (0, "late")
        assert query(db, "SELECT count(*) FROM website_alerts")[0][0] == 1  # not raised again
    finally:
        engine.stop()


def test_the_feed_reads_every_monitors_pushes_in_one_read_after_the_last_id(tmp_path):
    db = tmp_path / "m.db"
    write_pushes(db, RecordPush("a", T, "ping"), RecordPush("a", T + 1, "start"))
    feed = PushReader(lambda: open_reader(db))
    try:
        before = feed.open("a")
        assert (before.done.timestamp, before.start.timestamp) == (T, T + 1)
        assert feed.open("b").done is None
        write_pushes(db, RecordPush("b", T + 2, "ping"), RecordPush("a", T + 3, "ping"),
              RecordPush("c", T + 4, "ping"))  # c: not watched, not kept
        pushes, complete = feed.take("a", 5000.0)
        assert [(p.timestamp, p.event) for p in pushes] == [(T + 3, "ping")]
        assert complete == 5000.0
        # b's came with the same read: taken without another.
        write_pushes(db, RecordPush("b", T + 5, "ping"))
        pushes, complete = feed.take("b", 5000.0 + READ_EVERY / 2)
        assert [p.timestamp for p in pushes] == [T + 2] and complete == 5000.0
        pushes, complete = feed.take("b", 5000.0 + READ_EVERY)
        assert [p.timestamp for p in pushes] == [T + 5] and complete == 5000.0 + READ_EVERY
        feed.close("b")
        write_pushes(db, RecordPush("b", T + 6, "ping"))
        assert feed.take("b", 6000.0) == ([], 6000.0)
        # Opened again: told what came while it was closed.
        assert feed.open("b").done.timestamp == T + 6
    finally:
        feed.shutdown()
