"""Two writers on one database and the hour and day rollups: only the monitor that owns the
file rolls up (`serve`, purge and the other writers beside it do not), and two that would
both roll never add an hour twice to the day rows, each reading meta's mark and pass in
progress again under the write lock. On both stores (the `backend` fixture): real writer
threads, injected clocks; and the real `serve` process beside a database whose hours are
due."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from monitor.cli.modes import purge
from monitor.store.sqlite.rollups import DAY, HOUR, LATE_HORIZON
from tests.store.conftest import Backend
from tests.store.test_rollups import DAY0, MONITORS, expected, history, meta, stored
from tests.support import app
from tests.support.app import Output

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


@pytest.fixture
def two(backend: Backend) -> Iterator[tuple[Any, Any, list[float], list[str], Backend]]:
    """Two writers on one database, both rolling up, on one clock."""
    now = [0.0]
    said: list[str] = []
    first = backend.make(on_error=said.append, clock=lambda: now[0])
    second = backend.make(on_error=said.append, clock=lambda: now[0])
    yield first, second, now, said, backend


def test_two_rolling_writers_never_count_an_hour_twice(two) -> None:
    first, second, now, said, db = two
    checks = history(DAY0 + HOUR, DAY0 + 4 * HOUR)
    # The first writes the checks; both flush after each part, each rolling what its own
    # reading of meta says is due (the second's was read at its first flush).
    for i in range(0, len(checks), 20):
        part = checks[i:i + 20]
        now[0] = part[-1].timestamp + 1
        for c in part:
            first.put_check(c)
        assert first.flush() and second.flush()
    end = DAY0 + 4 * HOUR
    now[0] = end + LATE_HORIZON + 1
    assert second.flush() and first.flush() and second.flush()
    assert meta(db, "rolled_until") == [str(end)]
    assert stored(db, HOUR) == expected(checks, HOUR, end)
    assert stored(db, DAY) == expected(checks, DAY, DAY0 + DAY)
    assert said == []


def test_a_pass_in_chunks_goes_on_across_writers(two, monkeypatch) -> None:
    # A monitor per transaction: each writer goes on with the pass the other began (read
    # from meta), rather than beginning its own from its stale mark.
    first, second, now, _said, db = two
    monkeypatch.setattr(db.module("rollups"), "PASS_MONITORS", 1)
    checks = history(DAY0 + HOUR, DAY0 + 3 * HOUR)
    for c in checks:
        first.put_check(c)
    now[0] = checks[-1].timestamp + 1
    assert first.flush() and second.flush()  # both have read meta's mark
    assert sorted(m for (m,) in db.read("SELECT monitor FROM monitor_state")) == sorted(
        MONITORS)
    end = DAY0 + 3 * HOUR
    now[0] = end + LATE_HORIZON + 1
    for writer in (first, second, first, second, first, second):  # a chunk a flush
        assert writer.flush()
    assert meta(db, "rolled_until") == [str(end)]
    assert stored(db, HOUR) == expected(checks, HOUR, end)
    assert stored(db, DAY) == expected(checks, DAY, DAY0 + DAY)


def _file_with_hours_due(db: Backend) -> tuple[int, int]:
    """A database whose writer stopped three hours ago: the hours since its mark are due by
    the real clock. Returns its mark and its hour rows."""
    start = (time.time() // HOUR - 4) * HOUR
    checks = history(start, start + 2 * HOUR)
    store = db.make(clock=lambda: start + HOUR + 60)  # the first hour still in its horizon
    try:
        for c in checks:
            store.put_check(c)
        assert store.flush()
    finally:
        store.close()
    mark = int(float(meta(db, "rolled_until")[0]))
    hours = db.read(f"SELECT count(*) FROM aggregates WHERE span = {HOUR}")[0][0]
    assert mark < time.time() - 2 * HOUR
    return mark, hours


def test_serve_beside_the_monitor_does_not_roll_up(backend: Backend, tmp_path: Path) -> None:
    db = backend
    mark, hours = _file_with_hours_due(db)
    app.write(tmp_path / "config.json", {"monitors": [
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "closed"}]})
    proc = app.start(["serve", "--listen", "127.0.0.1:0", "-db", db.where], tmp_path)
    output = Output(proc, stderr=True)
    try:
        line = app.wait_for(lambda: next((text for text in output.lines
                                          if SERVING.search(text)), None),
                            timeout=20, what="the Serving line", detail=output.dump)
        url = SERVING.search(line).group(1)  # type: ignore[union-attr]
        # A batch of serve's writer: series values, written before it answers the query.
        answer = requests.post(f"{url}api/v1/metrics", json={"app.queue": 3}, timeout=5)
        assert answer.status_code == 202, answer.text
        app.wait_for(lambda: db.read("SELECT count(*) FROM series_points") == [(1,)],
                     timeout=10, what="the value written")
    finally:
        app.stop(proc, signal.SIGINT)  # its writer's last batch at the stop
        output.join()
    assert proc.returncode == 0, output.dump()
    assert meta(db, "rolled_until") == [str(mark)]
    assert db.read(f"SELECT count(*) FROM aggregates WHERE span = {HOUR}") == [(hours,)]
    # The owner's writer (the monitor's) rolls them up.
    owner = db.make()
    try:
        assert owner.flush()
    finally:
        owner.close()
    assert int(float(meta(db, "rolled_until")[0])) > mark


def test_a_purge_beside_the_monitor_does_not_roll_up(backend: Backend) -> None:
    db = backend
    mark, hours = _file_with_hours_due(db)
    purge(db.where, 365)
    assert meta(db, "rolled_until") == [str(mark)]
    assert db.read(f"SELECT count(*) FROM aggregates WHERE span = {HOUR}") == [(hours,)]
