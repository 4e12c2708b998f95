"""The database as a test looks at it without the store's reader: the two tables promised to
outside readers (website_monitoring, website_alerts, which keep their columns for them) and
the file itself (PRAGMA integrity_check). Everything else is read through
monitor.store.sqlite.queries.open_reader."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


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
