"""Raw rows written but not yet counted in what is derived from them (the aggregates, the
metric figures), kept in meta under a key of their own, as in SQLite (sqlite/ranges.py):
written with each batch's rows, emptied with the derived rows' write, read by the next start
to derive what a crash or a quick stop left underived.

PostgreSQL may give the ids of one statement's rows with another writer's between them:
the ranges are made from the ids the insert returned, never assumed contiguous, so that a
range never names another writer's rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import psycopg

from monitor.core.model import LOCAL, CheckResult

Range = tuple[int, int]  # raw row ids: (after, up to)
_RAW = ("SELECT id, monitor, timestamp, available, status, responseTime, reason, detail,"
        " lateness, metrics, warning, location FROM website_monitoring"
        " WHERE id > %s AND id <= %s ORDER BY id LIMIT %s")
CHUNK = 20_000  # raw rows read at once
UPSERT_META = ("INSERT INTO meta (key, value) VALUES (%s, %s)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value")


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
    def __init__(self, key: str) -> None:
        self._key = key
        self._ranges: list[Range] | None = None  # committed (None: not read yet)
        self._pending: list[Range] | None = None  # what the transaction in progress leaves

    def extend(self, conn: psycopg.Connection, ids: list[int]) -> None:
        """The batch's rows, by their ids (in its transaction, not committed)."""
        ranges = list(self.read(conn))
        for after, upto in runs(ids):
            if ranges and ranges[-1][1] == after:  # no other writer's rows between: one
                ranges[-1] = (ranges[-1][0], upto)
            else:
                ranges.append((after, upto))
        conn.execute(UPSERT_META, (self._key, json.dumps(ranges)))
        self._pending = ranges

    def committed(self) -> None:
        if self._pending is not None:
            self._ranges, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._pending = None

    def clear(self, conn: psycopg.Connection) -> None:
        """Everything derived (in the caller's transaction): `cleared` once committed."""
        conn.execute("DELETE FROM meta WHERE key = %s", (self._key,))

    def cleared(self) -> None:
        self._ranges = []

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def read(self, conn: psycopg.Connection) -> list[Range]:
        if self._ranges is None:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (self._key,)).fetchone()
            self._ranges = [] if row is None else [(lo, hi) for lo, hi in json.loads(row[0])]
        return self._ranges

    def rows(self, conn: psycopg.Connection) -> Iterator[list[tuple]]:
        """The raw rows the ranges name, in chunks, each as check_of takes it."""
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
     metrics, warning, location) = row
    return CheckResult(monitor_id, timestamp, None if available is None else bool(available),
                       status, response_ms, reason, detail or "", lateness or 0.0, 0.0,
                       metrics=json.loads(metrics) if metrics else {}, warning=bool(warning),
                       location=location or LOCAL)
