"""The ranges of raw rows not yet derived (monitor/store/ranges.py), in SQLite's
statements: a batch's rows are the `count` rowids up to its last (one writer: no other
writer's rows between them)."""

from __future__ import annotations

import sqlite3

from monitor.store import ranges
from monitor.store.ranges import RAW_COLUMNS


class RowRanges(ranges.RowRanges):
    READ = "SELECT value FROM meta WHERE key = ?"
    UPSERT = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
    DELETE = "DELETE FROM meta WHERE key = ?"
    RAW = (f"SELECT {RAW_COLUMNS} FROM website_monitoring WHERE id > ? AND id <= ?"
           " ORDER BY id LIMIT ?")

    def extend(self, conn: sqlite3.Connection, count: int, last_id: int) -> None:
        """The batch's `count` rows up to `last_id` (in its transaction, not committed)."""
        self.add(conn, [(last_id - count, last_id)])
