"""Folding the checks written into each monitor's aggregate rows and state row, as SQLite's
writer does (sqlite/folds.py): the owner writes a batch's raw rows in one transaction, folds
them in memory once it is committed, and writes the rows and states they changed every
FOLD_EVERY seconds, at a flush, before a rollup and at the stop, in a transaction of their
own. Each batch's transaction records its raw rows' ids in meta (`unfolded`) and the fold's
write empties it, so that the next start folds what a crash left. A writer beside the owner
folds and writes in the batch's own transaction."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import psycopg

from monitor.core.model import CheckResult
from monitor.store.postgres.aggregates import Aggregates
from monitor.store.postgres.ranges import RowRanges, check_of
from monitor.store.postgres.rollups import PgRollups
from monitor.store.postgres.sql import commit_all
from monitor.store.postgres.state import States

FOLD_EVERY = 2.0  # seconds between writes of the folded rows (monotonic clock)
_KEY = "unfolded"


class Folds:
    def __init__(self, clock: Callable[[], float], rollups: PgRollups, deferred: bool,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.aggregates = Aggregates(clock, rollups)
        self.states = States()
        self.deferred = deferred
        self._monotonic = monotonic
        self._written_at = -math.inf
        self._ranges = RowRanges(_KEY)
        self.oldest = math.inf

    def batch(self, conn: psycopg.Connection, checks: list[CheckResult], ids: list[int]) -> None:
        """The batch's raw rows are written (not committed yet)."""
        if not self.deferred:
            self.fold(conn, checks)
            self.write_in(conn)
            return
        self._ranges.extend(conn, ids)

    def committed(self, conn: psycopg.Connection, checks: list[CheckResult]) -> None:
        if self.deferred:
            self._ranges.committed()
            self.fold(conn, checks)
            if self.states.urgent and not self.due():
                # A monitor went down or up: the live views see it now.
                commit_all(conn, lambda: self.states.write_urgent(conn))
                self.states.urgent.clear()
        else:
            self.written()

    def rolled_back(self) -> None:
        self._ranges.rolled_back()
        if not self.deferred:
            self.aggregates.clear()
            self.states.clear()

    def fold(self, conn: psycopg.Connection, checks: list[CheckResult]) -> None:
        self.aggregates.fold(conn, checks)  # type: ignore[arg-type]
        self.states.fold(conn, checks)  # type: ignore[arg-type]
        self.oldest = min(self.oldest, min(c.timestamp for c in checks))

    def write_before(self, conn: psycopg.Connection, until: float) -> None:
        if self.oldest < until:
            self.write(conn, force=True)

    def due(self) -> bool:
        return bool(self.aggregates.dirty or self.states.dirty) and (
            self._monotonic() - self._written_at >= FOLD_EVERY)

    def write(self, conn: psycopg.Connection, force: bool = False) -> None:
        """The changed rows and states, when due or `force`d, in a transaction of their
        own; raises what the database raised (the caller rolls back)."""
        if not self.deferred or not (force or self.due()):
            return
        if not (self.aggregates.dirty or self.states.dirty or self._ranges):
            return
        conn.execute("BEGIN")
        self.write_in(conn)
        self._ranges.clear(conn)
        conn.execute("COMMIT")
        self._ranges.cleared()
        self.written()
        self.aggregates.evict()

    def write_in(self, conn: psycopg.Connection) -> None:
        self.aggregates.write(conn)
        self.states.write(conn)

    def written(self) -> None:
        self._written_at = self._monotonic()
        self.oldest = math.inf
        self.aggregates.written()
        self.states.written()

    def recover(self, conn: psycopg.Connection) -> int:
        """Fold the raw rows a crash left unfolded (named in meta), and write them."""
        if not self.deferred:
            return 0
        folded = 0
        for rows in self._ranges.rows(conn):
            self.fold(conn, [check_of(row) for row in rows])
            folded += len(rows)
        if folded:
            self.write(conn, force=True)
        return folded
