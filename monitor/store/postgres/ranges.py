"""The ranges of raw rows not yet derived (monitor/store/ranges.py), in PostgreSQL's
statements: a batch's rows by the ids the insert drew, which may have another writer's
between them."""

from __future__ import annotations

import psycopg

from monitor.store import ranges
from monitor.store.ranges import RAW_COLUMNS, runs

UPSERT_META = ("INSERT INTO meta (key, value) VALUES (%s, %s)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


class RowRanges(ranges.RowRanges):
    READ = "SELECT value FROM meta WHERE key = %s"
    UPSERT = UPSERT_META
    DELETE = "DELETE FROM meta WHERE key = %s"
    RAW = (f"SELECT {RAW_COLUMNS} FROM website_monitoring WHERE id > %s AND id <= %s"
           " ORDER BY id LIMIT %s")

    def extend(self, conn: psycopg.Connection, ids: list[int]) -> None:
        """The batch's rows, by their ids (in its transaction, not committed)."""
        self.add(conn, runs(ids))
