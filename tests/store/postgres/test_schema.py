"""The PostgreSQL schema: SQLite's tables and columns, made on the first start, its version
in meta, a newer one refused, and the URL's password never in a message."""

from __future__ import annotations

import psycopg
import pytest

from monitor.core.errors import StoreError
from monitor.store.postgres.connection import connect, open_writer_connection
from monitor.store.postgres.schema import SCHEMA_VERSION, TABLES
from monitor.store.sqlite.connection import open_writer_connection as open_sqlite


def pg_columns(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position").fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_the_tables_and_columns_are_sqlites(postgres_url: str, tmp_path) -> None:
    open_writer_connection(postgres_url).close()
    columns = pg_columns(postgres_url)
    sqlite = open_sqlite(tmp_path / "m.db")
    try:
        for table in TABLES:
            if table == "agents" and not sqlite.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'agents'").fetchone():
                continue  # (SQLite's schema 11 not there yet)
            expected = [row[1].lower() for row in sqlite.execute(f"PRAGMA table_info({table})")]
            if table == "monitors":
                expected.append("rowid")  # SQLite's implicit one, made a column
            if table == "website_monitoring" and "location" not in expected:
                expected.append("location")
            assert columns[table] == expected, table
    finally:
        sqlite.close()
    assert sorted(columns) == sorted(TABLES)


def test_the_version_is_in_meta_and_a_second_start_keeps_the_rows(postgres_url: str) -> None:
    conn = open_writer_connection(postgres_url)
    conn.execute("INSERT INTO maintenance (monitor, since) VALUES ('a', 1)")
    conn.close()
    conn = open_writer_connection(postgres_url)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchall() == [(str(SCHEMA_VERSION),)]
        assert conn.execute("SELECT monitor FROM maintenance").fetchall() == [("a",)]
    finally:
        conn.close()


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    conn = open_writer_connection(postgres_url)
    conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(StoreError, match="newer version"):
        open_writer_connection(postgres_url)


def test_a_refused_connection_names_the_url_without_its_password(postgres_server) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(StoreError) as info:
        connect(url)
    text = str(info.value)
    assert "hunter2" not in text
    assert "no_such_db" in text and "cannot connect" in text
