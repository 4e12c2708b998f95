"""Ranges of raw rows written but not yet counted in what is derived from them (the
aggregates, the metric figures), kept in meta under a key of their own: written with each
batch's rows, emptied with the derived rows' write, read by the next start to derive what
a crash or a quick stop left underived. Only the owner of the file keeps them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from monitor.core.model import CheckResult

Range = tuple[int, int]  # raw row ids: (after, up to)
_RAW = ("SELECT id, monitor, timestamp, available, status, responseTime, reason, detail,"
        " lateness, metrics, warning FROM website_monitoring WHERE id > ? AND id <= ?"
        " ORDER BY id LIMIT ?")
CHUNK = 20_000  # raw rows read at once


class RowRanges:
    def __init__(self, key: str) -> None:
        self._key = key
        self._ranges: list[Range] | None = None  # committed (None: not read yet)
        self._pending: list[Range] | None = None  # what the transaction in progress leaves

    def extend(self, conn: sqlite3.Connection, count: int, last_id: int) -> None:
        """The batch's `count` rows up to `last_id` (in its transaction, not committed)."""
        ranges = list(self.read(conn))
        first = last_id - count
        if ranges and ranges[-1][1] == first:  # no other writer's rows between: one range
            ranges[-1] = (ranges[-1][0], last_id)
        else:
            ranges.append((first, last_id))
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (self._key, json.dumps(ranges)))
        self._pending = ranges

    def committed(self) -> None:
        if self._pending is not None:
            self._ranges, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._pending = None

    def clear(self, conn: sqlite3.Connection) -> None:
        """Everything derived (in the caller's transaction): `cleared` once committed."""
        conn.execute("DELETE FROM meta WHERE key = ?", (self._key,))

    def cleared(self) -> None:
        self._ranges = []

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def read(self, conn: sqlite3.Connection) -> list[Range]:
        if self._ranges is None:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (self._key,)).fetchone()
            self._ranges = [] if row is None else [(lo, hi) for lo, hi in json.loads(row[0])]
        return self._ranges

    def rows(self, conn: sqlite3.Connection) -> Iterator[list[tuple]]:
        """The raw rows the ranges name, in chunks, each row as (monitor, timestamp,
        available, status, responseTime, reason, detail, lateness, metrics, warning)."""
        for after, until in list(self.read(conn)):
            while True:
                rows = conn.execute(_RAW, (after, until, CHUNK)).fetchall()
                if rows:
                    yield [row[1:] for row in rows]
                    after = rows[-1][0]
                if len(rows) < CHUNK:
                    break


def check_of(row: tuple) -> CheckResult:
    """A raw row as the check it was written from (mono 0: in the order of the rows)."""
    (monitor_id, timestamp, available, status, response_ms, reason, detail, lateness,
     metrics, warning) = row
    return CheckResult(monitor_id, timestamp, None if available is None else bool(available),
                       status, response_ms, reason, detail or "", lateness or 0.0, 0.0,
                       metrics=json.loads(metrics) if metrics else {}, warning=bool(warning))
