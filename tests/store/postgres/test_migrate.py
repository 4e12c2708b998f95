"""`migrate` (monitor/store/migrate.py) on a real SQLite history into a real PostgreSQL: ten
days of checks written by SQLite's writer and rolled up into hours and days, checks from
agents' locations, alerts of every type with their notifications (sent, retried, given
up) and acks, pushes, metric series, maintenance, agents' marks (tests/store/postgres/
test_reads.py's history). After the copy both stores' readers give the same answers (the
report's windows, the alerts and checks pages, the notifications, the dashboard), the ids
are kept and PostgreSQL's next ids follow them; refusals write nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest

from monitor.core.model import CheckResult
from monitor.stats import window_pieces, window_start
from monitor.store.api import AlertRecord, Delivery, iso_utc
from monitor.store.migrate import MigrateError, compare, meta_text, migrate
from monitor.store.postgres.queries import PostgresReader, open_reader
from monitor.store.postgres.schema import TABLES
from monitor.store.postgres.writer import Store as PostgresStore
from monitor.store.sqlite.queries import SqliteReader
from monitor.store.sqlite.queries import open_reader as open_sqlite_reader
from monitor.store.sqlite.writer import Store
from monitor.store.tiers import DAY, HOUR
from tests.store.postgres.test_reads import GONE, NEVER, WINDOWS, both, sqlite_history
from tests.store.test_rollups import DAY0, MONITORS
from tests.support.postgres import PostgresServer


class Migrated(NamedTuple):
    sqlite: SqliteReader
    postgres: PostgresReader
    last: float
    written: bool  # (as test_reads' `both` takes it: copied, not written by PG's writer)
    db: Path
    url: str
    lines: list[str]  # the progress lines


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The SQLite history (test_reads.py's, written once for the run), the module's copy."""
    return sqlite_history(tmp_path_factory)


@pytest.fixture(scope="module")
def migrated(history_db: tuple[Path, float], postgres_server: PostgresServer,
             ) -> Iterator[Migrated]:
    db, last = history_db
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    lines: list[str] = []
    migrate(db, url, progress=lines.append)
    sqlite_reader, pg_reader = open_sqlite_reader(db), open_reader(url)
    try:
        yield Migrated(sqlite_reader, pg_reader, last, False, db, url, lines)
    finally:
        sqlite_reader.close()
        pg_reader.close()
        postgres_server.drop_database(name)


def _stores(m: Migrated) -> tuple:
    return (m.sqlite, m.postgres, m.last, m.written)


def _pg(url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()


def _sqlite(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# -- the copy ------------------------------------------------------------------------------

def test_every_table_is_copied_row_for_row_with_its_ids(migrated: Migrated) -> None:
    db, url = migrated.db, migrated.url
    for table in TABLES:
        columns = [row[1] for row in _sqlite(db, f"PRAGMA table_info({table})")]
        if table == "monitors":
            columns.append("rowid")
        order = ", ".join(columns)
        mine = _sqlite(db, f"SELECT {order} FROM {table} ORDER BY {order}")
        assert mine, f"the history has no {table} rows"
        theirs = _pg(url, f"SELECT {order} FROM {table}"
                          + (" WHERE key <> 'schema_version'" if table == "meta" else ""))
        if table == "meta":
            mine = [(key, meta_text(value)) for key, value in mine]
        theirs = sorted(theirs, key=lambda row: [(x is None, x) for x in row])
        mine = sorted(mine, key=lambda row: [(x is None, x) for x in row])
        assert len(theirs) == len(mine), table
        for a, b in zip(mine, theirs, strict=True):
            assert a == b, (table, a, b)  # floats exactly: COPY carries their shortest repr


def test_the_check_after_the_copy_finds_every_table_the_same(migrated: Migrated) -> None:
    counts, checked = compare(migrated.db, migrated.url)
    assert [c.table for c in counts] == list(TABLES)
    assert all(c.same and c.source > 0 for c in counts), counts
    assert "checks and checks up per monitor and span (aggregates)" in checked
    assert not any(what.startswith("differ") for what in checked), checked


def test_new_rows_in_postgresql_take_ids_after_the_copied_ones(
        history_db: tuple[Path, float], postgres_url: str) -> None:
    db, last = history_db
    migrate(db, postgres_url)
    before = {table: _pg(postgres_url, f"SELECT max(id) FROM {table}")[0][0]
              for table in ("website_monitoring", "website_alerts", "outbox")}
    store = PostgresStore(postgres_url, clock=lambda: last + 60)
    try:
        store.put_check(CheckResult(MONITORS[0], last + 30, True, 200, 12.5))
        store.put_alert(AlertRecord(iso_utc(last + 30), MONITORS[0], "alert",
                                    iso_utc(last + 30), None, 0.5, "down again",
                                    deliveries=(Delivery("slack", "alert", "t", "b"),)))
        assert store.flush()
    finally:
        store.close()
    for table, top in before.items():
        assert _pg(postgres_url, f"SELECT max(id) FROM {table}")[0][0] == top + 1, table
    rowid = _pg(postgres_url, "SELECT max(rowid) FROM monitors")[0][0]
    assert rowid == _sqlite(db, "SELECT max(rowid) FROM monitors")[0][0]


# -- the same answers from both readers ----------------------------------------------------

def _spans(last: float) -> list[tuple[float, float]]:
    spans = []
    for end in (last, last + 0.5, last - 5000.25, last - 3 * DAY + 17):
        spans += [(window_start(end, seconds), end) for seconds in WINDOWS]
    return spans


def test_the_reports_windows_are_the_same(migrated: Migrated) -> None:
    stores = _stores(migrated)
    for start, end in _spans(migrated.last):
        ranges, raws = window_pieces(migrated.sqlite, start, end)
        both(stores, "window_rows", ranges, raws)
        both(stores, "metric_rows", ranges, raws)
        both(stores, "window_totals", ranges, raws)
    both(stores, "monitor_states")
    both(stores, "monitor_summaries")
    assert both(stores, "rolled_until") > DAY0 + 8 * DAY
    for days in (1, 7, 30):
        both(stores, "uptime_by_day", None, days, migrated.last)
    end = migrated.last + 1.0
    starts = [int(window_start(end, seconds)) for seconds in (HOUR, DAY, 7 * DAY)]
    both(stores, "dashboard", starts, end)


def test_the_alerts_notifications_and_checks_pages_are_the_same(migrated: Migrated) -> None:
    stores = _stores(migrated)
    alerts = both(stores, "alerts_after")
    entries = both(stores, "alert_entries", None, None, 0, None, 100)
    assert {entry.type for entry in entries} >= {"alert", "recovery", "reminder", "warning",
                                                 "cleared", "flapping", "settled"}
    both(stores, "alerts_after", 3, 4)
    both(stores, "open_alerts")
    both(stores, "latest_alert_rows")
    both(stores, "deliveries", [row[0] for row in alerts])
    for provider in ("slack", "mail"):
        both(stores, "pending_deliveries", provider, migrated.last + 10_000)
    both(stores, "notifications_waiting")
    both(stores, "acked_starts", list(MONITORS))
    both(stores, "maintenance")
    both(stores, "agent_marks")
    both(stores, "agents_seen")
    for who in MONITORS:
        both(stores, "alert_entries", who, None, 0, None, 50)
        both(stores, "alert_entries", who, "warning", 0, None, 50)
    for monitor in (*MONITORS, GONE, NEVER):
        for since, until in ((migrated.last - HOUR, migrated.last + 1),
                             (DAY0, DAY0 + DAY)):
            for location in (None, "local", "eu"):
                page = both(stores, "checks_page", monitor, since, until, 100, location)
                assert page is not None
    both(stores, "pushes_after", 0, None, 100)
    both(stores, "event_states")


def test_long_copies_say_their_progress(history_db: tuple[Path, float], postgres_url: str,
                                        ) -> None:
    ticks = iter(range(0, 10_000, 2))  # a clock two seconds on at each reading
    lines: list[str] = []
    done = migrate(history_db[0], postgres_url, progress=lines.append,
                   clock=lambda: float(next(ticks)))
    assert lines and all(" rows/s" in line for line in lines), lines
    assert lines[0].startswith("copying website_monitoring: 5,000 of ")
    assert done.rows == sum(c.source for c in done.counts) > 5000


# -- refusals: nothing written -------------------------------------------------------------

def _tables(url: str) -> list[str]:
    return [name for (name,) in _pg(url, "SELECT tablename FROM pg_tables WHERE schemaname"
                                         " = current_schema()")]


def test_a_target_holding_history_is_refused(history_db: tuple[Path, float],
                                             postgres_url: str) -> None:
    db, last = history_db
    store = PostgresStore(postgres_url, clock=lambda: last)
    try:
        store.put_check(CheckResult("https://other.example/", last, True, 200, 5.0))
        assert store.flush()
    finally:
        store.close()
    with pytest.raises(MigrateError, match=r"already holds history \(website_monitoring,"
                                           r" aggregates, monitor_state\): migrate"
                                           r" into an empty database"):
        migrate(db, postgres_url)
    assert _pg(postgres_url, "SELECT count(*) FROM website_monitoring") == [(1,)]
    assert _pg(postgres_url, "SELECT count(*) FROM website_alerts") == [(0,)]


def test_a_target_with_our_empty_tables_is_taken(history_db: tuple[Path, float],
                                                 postgres_url: str) -> None:
    PostgresStore(postgres_url).close()  # a monitor started on it, never checked
    assert _pg(postgres_url, "SELECT key FROM meta ORDER BY key") == [
        ("rolled_until",), ("schema_version",)]  # its marks, replaced by the copy's
    done = migrate(history_db[0], postgres_url)
    assert all(c.same for c in done.counts)
    assert _pg(postgres_url, "SELECT value FROM meta WHERE key = 'rolled_until'") == _sqlite(
        history_db[0], "SELECT CAST(value AS TEXT) FROM meta WHERE key = 'rolled_until'")


def test_a_failed_copy_leaves_the_target_as_it_was(tmp_path: Path, postgres_url: str) -> None:
    db = tmp_path / "m.db"
    store = Store(db)
    store.put_check(CheckResult(MONITORS[0], DAY0, True, 200, 5.0))
    store.close()
    conn = sqlite3.connect(db)
    with conn:  # (not from our writer, which cuts a text at a NUL: from another program)
        conn.execute("INSERT INTO website_monitoring (timestamp, host, responseTime, detail,"
                     " monitor) VALUES (?, 'x', 1.0, 'bad ' || char(0) || ' byte', 'x')",
                     (DAY0 + 60,))  # PostgreSQL's text cannot hold a NUL
    conn.close()
    with pytest.raises(MigrateError, match=r"the copy failed \(website_monitoring\),"
                                           r" nothing was written"):
        migrate(db, postgres_url)
    assert _tables(postgres_url) == []  # not even the schema


def test_a_source_missing_or_of_a_newer_version_is_refused(tmp_path: Path,
                                                          postgres_url: str) -> None:
    with pytest.raises(MigrateError, match="no such database file"):
        migrate(tmp_path / "none.db", postgres_url)
    assert not (tmp_path / "none.db").exists()
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(MigrateError, match=r"newer version \(schema 99"):
        migrate(newer, postgres_url)
    assert _tables(postgres_url) == []


def test_a_difference_after_the_copy_is_found(history_db: tuple[Path, float],
                                              postgres_url: str) -> None:
    migrate(history_db[0], postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE aggregates SET up = up - 1 WHERE ctid = (SELECT ctid FROM"
                     " aggregates WHERE up > 0 LIMIT 1)")
    counts, checked = compare(history_db[0], postgres_url)
    assert all(c.same for c in counts)  # the rows are all there ...
    assert checked[-1] == "differ: checks and checks up per monitor and span (aggregates)"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM website_alerts WHERE id = 2")
    counts, _checked = compare(history_db[0], postgres_url)
    assert [c.table for c in counts if not c.same] == ["website_alerts"]


def test_underived_rows_are_carried_and_derived_by_postgresql_s_monitor(
        tmp_path: Path, postgres_url: str) -> None:
    """A monitor stopped before it counted its last rows in the aggregates (meta names
    them): the copy keeps the names, and the PostgreSQL monitor counts them at its start."""
    db = tmp_path / "m.db"
    store = Store(db, clock=lambda: DAY0 + 300)
    store.put_checks([CheckResult(MONITORS[0], DAY0 + i, True, 200, 5.0) for i in range(10)])
    assert store.flush()
    store.close()
    # As a crash leaves it: the last 4 rows written, their minute not counted for them.
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE aggregates SET checks = checks - 4, up = up - 4, rt_count ="
                     " rt_count - 4")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('unfolded', ?)", (json.dumps([[6, 10]]),))
    conn.close()
    done = migrate(db, postgres_url)
    assert done.underived == 4
    assert _pg(postgres_url, "SELECT value FROM meta WHERE key = 'unfolded'") == [("[[6, 10]]",)]
    PostgresStore(postgres_url, clock=lambda: DAY0 + 300).close()  # the monitor's start
    assert _pg(postgres_url, "SELECT checks FROM aggregates WHERE span = 60") == [(10,)]
    assert _pg(postgres_url, "SELECT count(*) FROM meta WHERE key = 'unfolded'") == [(0,)]
