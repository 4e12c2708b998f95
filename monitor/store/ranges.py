"""Ranges of raw rows written but not yet counted in what is derived from them (the
aggregates, the metric figures), for both stores' writers: kept in meta under a key of their
own, written with each batch's rows, emptied with the derived rows' write, read by the next
start to derive what a crash or a quick stop left underived. Only the owner of the database
keeps them. The statements are each store's (sqlite/ranges.py, postgres/ranges.py).

A range is made from the ids a batch's rows were given, never assumed contiguous across
batches: on a database several writers share, ids of one batch may have another writer's
between them, and a range must never name another writer's rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from monitor.core.model import LOCAL, CheckResult

Range = tuple[int, int]  # raw row ids: (after, up to)
CHUNK = 20_000  # raw rows read at once
# The raw rows' columns as check_of takes them, after their id.
RAW_COLUMNS = ("id, monitor, timestamp, available, status, responseTime, reason, detail,"
               " lateness, metrics, warning, location")

# A store's connection (sqlite3's or psycopg's): only its execute(sql, params) is called.
Connection = Any


def runs(ids: Iterable[int]) -> list[Range]:
    """Ids as ranges (after, up to) of consecutive ids."""
    out: list[Range] = []
    for ident in sorted(ids):
        if out and out[-1][1] == ident - 1:
            out[-1] = (out[-1][0], ident)
        else:
            out.append((ident - 1, ident))
    return out


class RowRanges:
    """The ranges under one meta key. A store's subclass gives its statements: READ (the
    key -> its value), UPSERT (key, value), DELETE (key), RAW (after, up to, limit -> rows
    of RAW_COLUMNS, by id)."""

    READ: ClassVar[str]
    UPSERT: ClassVar[str]
    DELETE: ClassVar[str]
    RAW: ClassVar[str]

    def __init__(self, key: str) -> None:
        self._key = key
        self._ranges: list[Range] | None = None  # committed (None: not read yet)
        self._pending: list[Range] | None = None  # what the transaction in progress leaves

    def add(self, conn: Connection, written: Iterable[Range]) -> None:
        """A batch's rows, as ranges of their ids (in its transaction, not committed)."""
        ranges = list(self.read(conn))
        for after, upto in written:
            if ranges and ranges[-1][1] == after:  # no other writer's rows between: one
                ranges[-1] = (ranges[-1][0], upto)
            else:
                ranges.append((after, upto))
        conn.execute(self.UPSERT, (self._key, json.dumps(ranges)))
        self._pending = ranges

    def committed(self) -> None:
        if self._pending is not None:
            self._ranges, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._pending = None

    def clear(self, conn: Connection) -> None:
        """Everything derived (in the caller's transaction): `cleared` once committed."""
        conn.execute(self.DELETE, (self._key,))

    def cleared(self) -> None:
        self._ranges = []

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def read(self, conn: Connection) -> list[Range]:
        if self._ranges is None:
            row = conn.execute(self.READ, (self._key,)).fetchone()
            self._ranges = [] if row is None else [(lo, hi) for lo, hi in json.loads(row[0])]
        return self._ranges

    def rows(self, conn: Connection) -> Iterator[list[tuple]]:
        """The raw rows the ranges name, in chunks, each row as check_of takes it."""
        for after, until in list(self.read(conn)):
            while True:
                rows = conn.execute(self.RAW, (after, until, CHUNK)).fetchall()
                if rows:
                    yield [row[1:] for row in rows]
                    after = rows[-1][0]
                if len(rows) < CHUNK:
                    break


def check_of(row: tuple) -> CheckResult:
    """A raw row as the check it was written from (mono 0: in the order of the rows)."""
    (monitor_id, timestamp, available, status, response_ms, reason, detail, lateness,
     metrics, warning, location) = row
    return CheckResult(monitor_id, timestamp, None if available is None else bool(available),
                       status, response_ms, reason, detail or "", lateness or 0.0, 0.0,
                       metrics=json.loads(metrics) if metrics else {}, warning=bool(warning),
                       location=location or LOCAL)
