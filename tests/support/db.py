"""The database as a test reads it. Through the store's reader (`reading`, `outbox`) unless
the file itself is under test: `query` reads the two tables promised to outside readers
(website_monitoring, website_alerts, which keep their columns for them) and the file
(PRAGMA integrity_check), and the tests of the storage format read their tables with it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.store.api import DeliveryState
from monitor.store.sqlite.queries import SqliteReader, open_reader


def query(db: str | Path, sql: str, *params: Any) -> list[tuple]:
    """The rows of `sql`, on a read-only connection: the test's look at the file neither
    checkpoints the WAL nor takes a write lock nor writes to a full disk."""
    conn = sqlite3.connect(Path(db).absolute().as_uri() + "?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def count_checks(db: str | Path, url: str | None = None) -> int:
    """The rows of website_monitoring (of the target `url`); 0 while -m has not made the file
    or its tables yet."""
    if not Path(db).exists():
        return 0
    try:
        if url is None:
            return query(db, "SELECT count(*) FROM website_monitoring")[0][0]
        return query(db, "SELECT count(*) FROM website_monitoring WHERE host=?", url)[0][0]
    except sqlite3.Error:
        return 0


@contextmanager
def reading(db: str | Path) -> Iterator[SqliteReader]:
    """The store's reader on `db`, closed at the end of the `with`."""
    reader = open_reader(db)
    try:
        yield reader
    finally:
        reader.close()


def outbox(db: str | Path) -> dict[str, DeliveryState]:
    """The messages of every alert by their key ("<alert id>:<provider>"), in the order they
    were written, as the store's reader gives them."""
    with reading(db) as reader:
        found = reader.deliveries([alert_id for alert_id, _ in reader.alerts_after()])
    return {f"{alert_id}:{state.provider}": state
            for alert_id, states in found.items() for state in states}
