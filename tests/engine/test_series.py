"""Metric monitors in the engine, on real database files: values written by a writer of
the server's own (as `serve` beside `-m` writes them) read by the engine's feed, judged by
the metric monitor's watch, its results judged by the alert rules (too high too long
alerts, then recovers)."""

from __future__ import annotations

import json

from monitor.config import parse_config
from monitor.engine import Engine
from monitor.store.api import RecordSeries
from monitor.store.sqlite.writer import Store
from tests.support.db import query

T = 1_700_000_000.0
MONITOR = "metric:app.queue.depth"


def _engine(db, wall) -> Engine:
    config = parse_config(json.dumps({"monitors": [
        {"type": "metric", "series": "app.queue.depth", "max": 1000, "window": 30,
         "checkInterval": 10, "alertWindow": 60}]}), "c.json")
    return Engine(config, Store(db), wall_clock=lambda: wall[0]).restore()


def _push(db, at: float, value: float) -> None:
    server = Store(db).start()
    try:
        assert server.put_series(RecordSeries((("app.queue.depth", at, value),)))
        assert server.flush()
    finally:
        server.close()


def test_a_series_too_high_too_long_alerts_and_recovers(tmp_path):
    db, wall = tmp_path / "m.db", [T]
    engine = _engine(db, wall)
    try:
        # The alert window is on the real monotonic clock: every result of the test is in
        # it. Ten too high, then enough fine ones to make 80% of it.
        for step in range(60):
            wall[0] = T + 10 * step
            _push(db, wall[0] - 1, 5000.0 if step < 10 else 10.0)
            engine.watches.poll_all()
        engine.store.flush()
        rows = query(db, "SELECT timestamp, available, reason, detail FROM website_monitoring"
                         " WHERE monitor = ? ORDER BY id", MONITOR)
        assert len(rows) == 60
        assert rows[0] == (T, 0, "threshold", "app.queue.depth avg over 30s 5000 > max 1000")
        # The window's average: 30 s back, still three of the high values in it.
        assert rows[11] == (T + 110, 0, "threshold",
                            "app.queue.depth avg over 30s 1673.33 > max 1000")
        assert rows[13] == (T + 130, 1, None, None)
        kinds = [kind for (kind,) in query(db, "SELECT type FROM website_alerts"
                                               " WHERE monitor = ? ORDER BY id", MONITOR)]
        assert kinds == ["alert", "recovery"]
        message = query(db, "SELECT message FROM website_alerts ORDER BY id")[0][0]
        assert "threshold: app.queue.depth avg over 30s" in message
    finally:
        engine.stop()
