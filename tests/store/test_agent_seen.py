"""When each agent was last heard (`agent_seen`, `AgentSeen`, `Reader.agents_seen`) on both
stores: the latest of what any writer heard is kept, never an earlier one (two processes
sharing one database each hear some requests, in any order); and, SQLite's alone, the
migration from schema 10 makes the table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.store.api import AgentSeen
from monitor.store.sqlite.queries import open_reader as open_sqlite_reader
from monitor.store.sqlite.writer import Store as SqliteStore
from tests.store.conftest import Backend

T = 1_790_000_000.0


def test_the_latest_heard_is_kept_and_read_back(backend: Backend) -> None:
    store = backend.make().start()
    assert backend.reader().agents_seen() == {}
    store.put_agent_seen(AgentSeen("eu-1", "eu", T + 10))
    store.put_agent_seen(AgentSeen("eu-1", "eu", T + 5))  # a late, older one: no change
    store.put_agent_seen(AgentSeen("us-1", "us", T + 1.25))
    assert store.flush()
    assert backend.reader().agents_seen() == {"eu-1": T + 10, "us-1": T + 1.25}
    store.put_agent_seen(AgentSeen("eu-1", "eu", T + 2))  # older, in a batch of its own
    assert store.flush()
    assert backend.reader().agents_seen()["eu-1"] == T + 10
    store.put_agent_seen(AgentSeen("eu-1", "west", T + 20))  # moved to another location
    store.put_agent_seen(AgentSeen("eu-1", "east", T + 15))  # older: its location neither
    assert store.flush()
    assert backend.read("SELECT name, location, seen FROM agent_seen ORDER BY name") == [
        ("eu-1", "west", T + 20), ("us-1", "us", T + 1.25)]


def test_two_writers_on_one_database_keep_the_latest_either_heard(backend: Backend) -> None:
    # On SQLite one monitor owns the file: the second writer is the `logs` command's kind,
    # beside it. On PostgreSQL, two monitors.
    first = backend.make().start()
    second = (backend.make(shared=True) if backend.name == "postgresql"
              else backend.make(rollups=False)).start()
    for k in range(50):
        (first if k % 2 else second).put_agent_seen(AgentSeen("eu-1", "eu", T + k))
        (second if k % 3 else first).put_agent_seen(AgentSeen("us-1", "us", T + 100 - k))
    assert first.flush() and second.flush()
    assert backend.reader().agents_seen() == {"eu-1": T + 49, "us-1": T + 100}


def test_a_schema_10_file_gets_the_table(tmp_path: Path) -> None:
    # SQLite only: a migration of its files' schema (10 to 11).
    db = tmp_path / "m.db"
    SqliteStore(db).start().close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE website_monitoring DROP COLUMN location")
    conn.execute("DROP TABLE agents")
    conn.execute("DROP TABLE agent_seen")
    conn.execute("PRAGMA user_version=10")
    conn.commit()
    conn.close()
    store = SqliteStore(db).start()
    try:
        store.put_agent_seen(AgentSeen("eu-1", "eu", T))
        assert store.flush()
    finally:
        store.close()
    reader = open_sqlite_reader(db)
    try:
        assert reader.agents_seen() == {"eu-1": T}
    finally:
        reader.close()
