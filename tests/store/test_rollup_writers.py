"""Two writers on one database and the hour and day rollups: only the monitor that owns the
file rolls up (`serve`, purge and the other writers beside it do not), and two that would
both roll never add an hour twice to the day rows, each reading meta's mark and pass in
progress again under the write lock. Real files, real writer threads, injected clocks; and
the real `serve` process beside a file whose hours are due."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from monitor.cli.modes import purge
from monitor.store.sqlite import rollups
from monitor.store.sqlite.rollups import DAY, HOUR, LATE_HORIZON
from monitor.store.sqlite.writer import Store
from tests.store.test_rollups import DAY0, MONITORS, expected, history, stored
from tests.store.test_schema9 import rows
from tests.support import app
from tests.support.app import Output

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Store, Store, list[float], list[str]]]:
    """Two writers on one file, both rolling up, on one clock."""
    now = [0.0]
    said: list[str] = []
    db = tmp_path / "monitoring.db"
    first = Store(db, on_error=said.append, clock=lambda: now[0])
    second = Store(db, on_error=said.append, clock=lambda: now[0])
    yield first, second, now, said
    first.close()
    second.close()


def test_two_rolling_writers_never_count_an_hour_twice(two) -> None:
    first, second, now, said = two
    db = first.path
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
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [(end,)]
    assert stored(db, HOUR) == expected(checks, HOUR, end)
    assert stored(db, DAY) == expected(checks, DAY, DAY0 + DAY)
    assert said == []


def test_a_pass_in_chunks_goes_on_across_writers(two, monkeypatch) -> None:
    # A monitor per transaction: each writer goes on with the pass the other began (read
    # from meta), rather than beginning its own from its stale mark.
    monkeypatch.setattr(rollups, "PASS_MONITORS", 1)
    first, second, now, _said = two
    db = first.path
    checks = history(DAY0 + HOUR, DAY0 + 3 * HOUR)
    for c in checks:
        first.put_check(c)
    now[0] = checks[-1].timestamp + 1
    assert first.flush() and second.flush()  # both have read meta's mark
    assert [m for (m,) in rows(db, "SELECT monitor FROM monitor_state")] == sorted(MONITORS)
    end = DAY0 + 3 * HOUR
    now[0] = end + LATE_HORIZON + 1
    for writer in (first, second, first, second, first, second):  # a chunk a flush
        assert writer.flush()
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [(end,)]
    assert stored(db, HOUR) == expected(checks, HOUR, end)
    assert stored(db, DAY) == expected(checks, DAY, DAY0 + DAY)


def _file_with_hours_due(db: Path) -> tuple[int, int]:
    """A file whose writer stopped three hours ago: the hours since its mark are due by the
    real clock. Returns its mark and its hour rows."""
    start = (time.time() // HOUR - 4) * HOUR
    checks = history(start, start + 2 * HOUR)
    store = Store(db, clock=lambda: start + HOUR + 60)  # the first hour still in its horizon
    try:
        for c in checks:
            store.put_check(c)
        assert store.flush()
    finally:
        store.close()
    mark = rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'")[0][0]
    hours = rows(db, f"SELECT count(*) FROM aggregates WHERE span = {HOUR}")[0][0]
    assert mark < time.time() - 2 * HOUR
    return mark, hours


def test_serve_beside_the_monitor_does_not_roll_up(tmp_path: Path) -> None:
    db = tmp_path / "monitoring.db"
    mark, hours = _file_with_hours_due(db)
    app.write(tmp_path / "config.json", {"monitors": [
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "closed"}]})
    proc = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
    output = Output(proc, stderr=True)
    try:
        line = app.wait_for(lambda: next((text for text in output.lines
                                          if SERVING.search(text)), None),
                            timeout=20, what="the Serving line", detail=output.dump)
        url = SERVING.search(line).group(1)  # type: ignore[union-attr]
        # A batch of serve's writer: series values, written before it answers the query.
        answer = requests.post(f"{url}api/v1/metrics", json={"app.queue": 3}, timeout=5)
        assert answer.status_code == 202, answer.text
        app.wait_for(lambda: rows(db, "SELECT count(*) FROM series_points") == [(1,)],
                     timeout=10, what="the value written")
    finally:
        app.stop(proc, signal.SIGINT)  # its writer's last batch at the stop
        output.join()
    assert proc.returncode == 0, output.dump()
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [(mark,)]
    assert rows(db, f"SELECT count(*) FROM aggregates WHERE span = {HOUR}") == [(hours,)]
    # The owner's writer (the monitor's) rolls them up.
    owner = Store(db)
    try:
        assert owner.flush()
    finally:
        owner.close()
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'")[0][0] > mark


def test_a_purge_beside_the_monitor_does_not_roll_up(tmp_path: Path) -> None:
    db = tmp_path / "monitoring.db"
    mark, hours = _file_with_hours_due(db)
    purge(str(db), 365)
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [(mark,)]
    assert rows(db, f"SELECT count(*) FROM aggregates WHERE span = {HOUR}") == [(hours,)]
