"""Helpers the writer's statements share."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable


def items(count: int) -> str:
    """The first `count` items of each JSON array of a json_each(?) parameter, as columns
    (json_extract rather than ->>, which needs SQLite 3.38)."""
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(count))


def commit_all(conn: sqlite3.Connection, work: Callable[[], object]) -> bool:
    """Run `work`'s statements in a transaction of their own: True once committed, False
    when the database refused them (rolled back: the caller keeps what it meant to write,
    for the next time)."""
    try:
        conn.execute("BEGIN")
        work()
        conn.execute("COMMIT")
    except sqlite3.Error:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        return False
    return True
