"""Schema 11 on both stores (the `backend` fixture): each check's location (NULL for
"local"), read back by the history, the event stream and the restore reads; agents' marks
written in the same transaction as their rows (a resend stores nothing twice, a crash never
leaves rows without their mark nor a mark without its rows, upto never decreases); and,
SQLite's alone, the migration from schema 10, which keeps every row and rewrites none."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from monitor.core.model import LOCAL, CheckResult
from monitor.store.api import AgentMark
from monitor.store.codec import MinuteAgg
from monitor.store.events import Position
from monitor.store.history import END_OF_TIME
from monitor.store.sqlite.schema import SCHEMA_VERSION
from tests.store.conftest import Backend, as_backend
from tests.store.test_schema10 import shape

T = 1_790_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def check(monitor: str, at: float, location: str = LOCAL, ident: int = 0,
          up: bool = True) -> CheckResult:
    # The agent's row id in `detail`: what a test counts rows by.
    return CheckResult(monitor, at, up, 200 if up else 503, 12.5, None if up else "http_status",
                       str(ident), location=location)


def rows(db: Backend | Path, sql: str, args: tuple = ()) -> list[tuple]:
    return as_backend(db).read(sql, *args)


def written(db: Backend | Path, *batches: tuple[list[CheckResult], AgentMark | None]) -> None:
    store = as_backend(db).make().start()
    try:
        for results, mark in batches:
            assert store.put_checks(results, mark)
        assert store.flush(30)
    finally:
        store.close()


def mark(upto: int, ids: tuple[int, ...] = (), instance: str = "i-1",
         name: str = "eu-1", location: str = "eu") -> AgentMark:
    return AgentMark(name, instance, upto, location, ids)


def agent_rows(ids: range | list[int], location: str = "eu") -> list[CheckResult]:
    return [check("web", T + i, location, i) for i in ids]


# -- location ---------------------------------------------------------------------------------

def test_a_location_round_trips_and_local_is_stored_as_null(backend: Backend) -> None:
    db = backend
    written(db, ([check("web", T), check("web", T + 1, "eu"), check("web", T + 2, "us"),
                  check("other", T + 3)], None))
    assert rows(db, "SELECT monitor, location FROM website_monitoring ORDER BY id") == [
        ("web", None), ("web", "eu"), ("web", "us"), ("other", None)]
    reader = db.reader()
    try:
        page = reader.checks_page("web", 0, END_OF_TIME, 10)
        assert [(c.timestamp, c.location) for c in page.checks] == [
            (T + 2, "us"), (T + 1, "eu"), (T, LOCAL)]
        assert [c.timestamp for c in reader.checks_page(
            "web", 0, END_OF_TIME, 10, location="eu").checks] == [T + 1]
        assert [c.timestamp for c in reader.checks_page(
            "web", 0, END_OF_TIME, 10, location=LOCAL).checks] == [T]
        assert reader.checks_page("web", 0, END_OF_TIME, 10, location="asia").checks == []
        tail = reader.events_after(Position(0, 0), None, 10)
        assert [(c.monitor_id, c.location) for c in tail.checks] == [
            ("web", LOCAL), ("web", "eu"), ("web", "us"), ("other", LOCAL)]
        assert reader.recent_verdicts(T, T + 10, location="eu") == {"web": [(T + 1, True)]}
        assert reader.recent_verdicts(T, T + 10, location=LOCAL) == {
            "web": [(T, True)], "other": [(T + 3, True)]}
        assert len(reader.recent_verdicts(T, T + 10)["web"]) == 3
    finally:
        reader.close()
    # The aggregates stay per monitor, over every location.
    assert rows(db, "SELECT sum(checks) FROM aggregates WHERE monitor = 'web' AND span = 60"
                ) == [(3,)]


def test_a_page_cut_at_an_instant_two_locations_share_skips_none(backend: Backend) -> None:
    db = backend
    # Every instant checked from three locations: pages of 2 must still give each row once.
    results = [check("web", T + i, where, i) for i in range(5) for where in ("local", "eu",
                                                                                  "us")]
    written(db, (results, None))
    reader = db.reader()
    try:
        seen, until = [], END_OF_TIME
        while True:
            page = reader.checks_page("web", 0, until, 2)
            seen += [(c.timestamp, c.location) for c in page.checks]
            if page.next_until is None:
                break
            until = page.next_until
    finally:
        reader.close()
    assert sorted(seen) == sorted((c.timestamp, c.location) for c in results)
    assert len(seen) == len(results)


def test_the_present_and_the_lateness_are_this_machines_own(backend: Backend) -> None:
    db = backend
    local = CheckResult("web", T, True, 200, 1.0, lateness_ms=3.0)
    # An agent whose clock runs a day ahead, and late by its own machine's load.
    ahead = CheckResult("web", T + 86400, True, 200, 1.0, lateness_ms=900.0, location="eu")
    written(db, ([local, ahead], None))
    reader = db.reader()
    try:
        assert reader.last_check_time() == T
        assert reader.last_check_time(("log",)) == T
        assert reader.recent_lateness(T - 1)[0] == [3.0]
    finally:
        reader.close()


# -- marks ------------------------------------------------------------------------------------

def test_a_resent_batch_stores_nothing_twice_and_upto_never_decreases(backend: Backend) -> None:
    db = backend
    first = list(range(1, 6))
    written(db, (agent_rows(first), mark(5, tuple(first))))
    assert db.reader().agent_marks() == {("eu-1", "i-1"): 5}
    # The same batch again (its answer was lost), then one overlapping it, then an older
    # mark arriving late, and a batch of another instance of the same agent.
    more = list(range(3, 9))
    written(db, (agent_rows(first), mark(5, tuple(first))),
            (agent_rows(more), mark(8, tuple(more))),
            ([], mark(2)),
            (agent_rows([1]), mark(1, (1,), instance="i-2")))
    assert rows(db, "SELECT detail, location FROM website_monitoring ORDER BY id") == [
        (str(i), "eu") for i in [1, 2, 3, 4, 5, 6, 7, 8, 1]]
    reader = db.reader()
    try:
        assert reader.agent_marks() == {("eu-1", "i-1"): 8, ("eu-1", "i-2"): 1}
    finally:
        reader.close()
    # The minute and its 10-minute block count each stored row once, none resent.
    once = MinuteAgg()
    for c in agent_rows([1, 2, 3, 4, 5, 6, 7, 8, 1]):
        once.add(c.response_ms, c.available, c.code, c.reason, c.warning)
    assert [(span, MinuteAgg.from_row(row)) for span, *row in rows(
        db, "SELECT span, checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
            " FROM aggregates WHERE span IN (60, 600) ORDER BY span")] == [(60, once),
                                                                          (600, once)]


def test_a_batch_without_ids_is_skipped_whole_when_its_upto_is_stored(backend: Backend) -> None:
    db = backend
    written(db, (agent_rows([1, 2]), mark(2)), (agent_rows([1, 2]), mark(2)),
            (agent_rows([3]), mark(3)))
    assert rows(db, "SELECT detail FROM website_monitoring ORDER BY id") == [
        ("1",), ("2",), ("3",)]
    assert rows(db, "SELECT * FROM agents") == [("eu-1", "i-1", 3, "eu")]


def test_the_count_of_rows_written_includes_those_resent(backend: Backend) -> None:
    db = backend
    store = db.make().start()
    try:
        for _ in range(3):
            assert store.put_checks(agent_rows([1, 2, 3]), mark(3, (1, 2, 3)))
        assert store.flush(30)
        assert store.written.checks == 9 and store.left().checks == 0
    finally:
        store.close()
    assert rows(db, "SELECT count(*) FROM website_monitoring") == [(3,)]


def test_ids_that_do_not_fit_the_rows_are_refused(backend: Backend) -> None:
    store = backend.make()
    try:
        for ids, upto in (((1,), 2), ((1, 2, 3), 3), ((2, 1), 2), ((1, 3), 2)):
            with pytest.raises(ValueError, match="ids of a batch"):
                store.put_checks(agent_rows([1, 2]), mark(upto, ids))
    finally:
        store.close()


def test_a_bad_row_in_an_agents_batch_costs_that_row_and_the_mark_goes_past(
        backend: Backend) -> None:
    db = backend
    said: list[str] = []
    # A None where a number belongs: the database refuses that row alone.
    bad = CheckResult("web", T + 2, True, 200, None, location="eu")  # type: ignore[arg-type]
    results = [check("web", T + 1, "eu", 1), bad, check("web", T + 3, "eu", 3)]
    store = db.make(on_error=said.append).start()
    try:
        assert store.put_checks(results, mark(3, (1, 2, 3)))
        store.flush(30)
    finally:
        store.close()
    assert rows(db, "SELECT detail FROM website_monitoring ORDER BY id") == [("1",), ("3",)]
    assert rows(db, "SELECT upto FROM agents") == [(3,)]
    assert any("a check of web from agent eu-1" in line for line in said), said


# Sends an agent's rows from after the stored upto, in marked batches of 50, for ever: the
# parent kills it at a random moment, as a crash would.
_SENDER = textwrap.dedent("""
    import sys
    from monitor.core.model import CheckResult
    from monitor.store.api import AgentMark
    import importlib
    db, package = sys.argv[1], sys.argv[2]
    Store = importlib.import_module(package + ".writer").Store
    open_reader = importlib.import_module(package + ".queries").open_reader
    store = Store(db).start()
    reader = open_reader(db)
    upto = reader.agent_marks().get(("eu-1", "i-1"), 0)
    reader.close()
    print(upto, flush=True)
    first = upto + 1
    while True:
        ids = tuple(range(first, first + 50))
        # Resent too, overlapping what is stored: an agent that lost the answers.
        for start in (ids[0], ids[0] + 25):
            batch = tuple(range(start, start + 50))
            store.put_checks([CheckResult("web", 1.79e9 + i, True, 200, 1.0, None, str(i),
                                          location="eu") for i in batch],
                             AgentMark("eu-1", "i-1", batch[-1], "eu", batch))
        first += 50
""")


def test_a_crash_never_leaves_rows_without_their_mark_nor_the_reverse(backend: Backend) -> None:
    db = backend
    db.make().close()
    ups: list[int] = []
    for round_ in range(4):
        sender = subprocess.Popen([sys.executable, "-c", _SENDER, db.where, db.package],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        assert sender.stdout is not None
        ups.append(int(sender.stdout.readline()))
        # Wait for some rows, then kill at a moment that moves from round to round.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            marks = rows(db, "SELECT upto FROM agents")
            if marks and marks[0][0] > ups[-1] + 200 * (round_ + 1):
                break
            time.sleep(0.01 * (round_ + 1))
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(10)
        assert sender.returncode == -signal.SIGKILL, sender.stderr.read()  # type: ignore
        (upto,) = rows(db, "SELECT upto FROM agents")[0]
        stored = [int(d) for (d,) in rows(db, "SELECT detail FROM website_monitoring"
                                              " ORDER BY id")]
        # Exactly the rows up to the mark, each once, in order.
        assert stored == list(range(1, upto + 1)), (round_, upto, len(stored))
    assert ups == sorted(ups) and ups[-1] > ups[0]  # the mark only ever went on


# -- the migration from schema 10 -------------------------------------------------------------

def as_schema_10(db: Path) -> None:
    """A file as schema 10 left it: no location column, no agents table, compacted."""
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE website_monitoring DROP COLUMN location")
    conn.execute("DROP TABLE agents")
    conn.execute("PRAGMA user_version=10")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()


# SQLite only: a migration of its files' schema (10 to 11).
def test_a_schema_10_file_is_migrated_in_place_keeping_every_row(tmp_path: Path) -> None:
    db, new = tmp_path / "old.db", tmp_path / "new.db"
    written(db, ([check("web", T + i, ident=i, up=i % 3 > 0) for i in range(2000)], None))
    conn = sqlite3.connect(db)
    # 200,000 more rows, straight in (as a long history would have them).
    conn.execute("INSERT INTO website_monitoring (timestamp, host, available, status,"
                 " responseTime, monitor) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                 " SELECT i + 1 FROM n WHERE i < 200000) SELECT 1.7e9 + i, 'x', 1, 200,"
                 " 1.0, 'bulk' FROM n")
    conn.commit()
    conn.close()
    as_schema_10(db)
    columns = ("id, timestamp, host, available, status, responseTime, reason, detail,"
               " lateness, monitor, metrics, warning")
    before = rows(db, f"SELECT {columns} FROM website_monitoring ORDER BY id")
    aggregates = rows(db, "SELECT * FROM aggregates ORDER BY monitor, span, start")
    (pages_before,) = rows(db, "PRAGMA page_count")[0]
    as_backend(db).make().close()  # the migration, as -m makes it at its start
    (pages_after,) = rows(db, "PRAGMA page_count")[0]
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(11,)]
    # No row rewritten: the new table's page and little else (of thousands).
    assert pages_before > 2500
    assert pages_after - pages_before <= 3, (pages_before, pages_after)
    assert rows(db, f"SELECT {columns} FROM website_monitoring ORDER BY id") == before
    assert rows(db, "SELECT count(*) FROM website_monitoring WHERE location IS NOT NULL"
                ) == [(0,)]
    assert rows(db, "SELECT * FROM aggregates ORDER BY monitor, span, start") == aggregates
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    # The same schema as a new file's.
    as_backend(new).make().close()
    assert shape(db) == shape(new)
    # And written as a new one is.
    written(db, (agent_rows([1]), mark(1, (1,))))
    reader = as_backend(db).reader()
    try:
        assert reader.agent_marks() == {("eu-1", "i-1"): 1}
        assert [c.location for c in reader.checks_page("web", 0, END_OF_TIME, 2).checks] == [
            LOCAL, LOCAL]
        assert sorted(c.location for c in reader.checks_page("web", T + 1, T + 2, 5).checks
                      ) == ["eu", LOCAL]
    finally:
        reader.close()
