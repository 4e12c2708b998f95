"""Schema 10 on the real schema-8 file (8 -> 9 -> 10) and on a new database: the same
tables, columns, types, constraints and indexes either way; the rows of schema 9 kept."""
# SQLite only: migrations of its files' schema (to 10) and PRAGMA.

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store
from tests.store.test_schema9 import DATA, rows, schema_8_rows, schema_9_rows, with_ids


def shape(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, default, key) and indexes (columns,
    unique, partial), by name."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found: dict[str, object] = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            found[table] = [tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({table})")]
            for _seq, index, unique, _origin, partial in conn.execute(
                    f"PRAGMA index_list({table})"):
                found[index] = (table, unique, partial, [
                    c[2] for c in conn.execute(f"PRAGMA index_info({index})")])
        return found
    finally:
        conn.close()


def test_the_schema_8_file_and_a_new_one_have_the_same_schema_10(tmp_path: Path) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    shutil.copyfile(DATA / "schema8.db", old)
    before = schema_8_rows(old)
    Store(old).close()
    Store(new).close()
    assert rows(old, "PRAGMA user_version") == rows(new, "PRAGMA user_version") == [(11,)]
    assert SCHEMA_VERSION == 11
    assert shape(old) == shape(new)
    assert {"series", "series_points", "series_aggs", "pushes", "acks", "series_points_at",
            "pushes_monitor", "uptime_days"} <= shape(new).keys()
    assert schema_9_rows(old) == before
    assert rows(old, "PRAGMA integrity_check") == [("ok",)]
    # No check since the migration: no last result yet; the counts of the day of the last
    # check, from its minute.
    assert rows(old, "SELECT count(*), count(last_available), count(last_status),"
                     " count(last_response), count(last_reason), count(last_detail),"
                     " count(last_metrics) FROM monitor_state") == [
        (len(before["monitor_state"]), 0, 0, 0, 0, 0, 0)]
    assert sorted(rows(old, "SELECT monitor, day_start, day_checks, day_up FROM"
                            " monitor_state")) == sorted(rows(
        old, "SELECT s.monitor, CAST(s.last_check / 86400 AS INTEGER) * 86400,"
             " coalesce(sum(a.checks), 0),"
             " coalesce(sum(a.up), 0) FROM monitor_state s LEFT JOIN aggregates a ON"
             " a.monitor = s.monitor AND a.span = 60 GROUP BY s.monitor"))


def test_the_new_tables_take_what_they_are_for(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO series (path, first, last, last_value) VALUES ('a.b', 1, 2, 3)")
    conn.execute("INSERT INTO series_points VALUES (1, 1.5, 12.5)")
    conn.execute("INSERT INTO series_aggs VALUES (1, 60, 0, 1, 12.5, 12.5, 12.5, '')")
    conn.execute("INSERT INTO pushes (monitor, timestamp, event) VALUES ('m', 1, 'start')")
    conn.execute("INSERT INTO acks VALUES (7, 'm', 1, 'ci')")
    for bad in ("INSERT INTO pushes (monitor, timestamp, event) VALUES ('m', 1, 'other')",
                "INSERT INTO series (path, first, last) VALUES ('a.b', 1, 2)",
                "INSERT INTO series_aggs VALUES (1, 60, 0, 1, 1, 1, 1, '')"):
        try:
            conn.execute(bad)
        except sqlite3.IntegrityError:
            continue
        raise AssertionError(bad)
    conn.commit()
    conn.close()
    assert with_ids(rows(db, "SELECT * FROM acks")) == [(7, "m", 1.0, "ci")]
