"""Folding the checks written into each monitor's aggregate rows and state row.

The monitor that owns the file (the writer with rollups) writes a batch's raw rows in one
transaction and, once it is committed, adds them to the aggregate rows and states it caches
(`fold`); the rows and states they changed go to the database every FOLD_EVERY seconds, at
a flush, before a rollup and at the stop (`write`), in a transaction of their own. So a
monitor checked every second costs a row write per span and a state write every few
seconds, not with each batch: the writer's time per check no longer grows with the number
of monitors a batch touches.

Nothing is lost or counted twice by a crash between the two: each batch's transaction
records the ids of its raw rows in meta (`unfolded`, ranges of ids), and the fold's write
empties it. The next start folds the rows the ranges name before anything else.

A writer beside the owner (`serve`, `logs`) folds and writes in the batch's own transaction,
as before: two writers must not share the meta key.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable

from monitor.core.model import CheckResult
from monitor.store.sqlite.aggregates import CheckAggregates
from monitor.store.sqlite.ranges import RowRanges, check_of
from monitor.store.sqlite.rollups import Rollups
from monitor.store.sqlite.sql import commit_all
from monitor.store.sqlite.state import MonitorStates

FOLD_EVERY = 2.0  # seconds between writes of the folded rows (monotonic clock)
_KEY = "unfolded"


class Folds:
    """The aggregates and states of the checks written. `deferred`: the owner's way (fold
    after the commit, write every FOLD_EVERY); else folded and written in the batch."""

    def __init__(self, clock: Callable[[], float], rollups: Rollups, deferred: bool,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.aggregates = CheckAggregates(clock, rollups)
        self.states = MonitorStates()
        self.deferred = deferred
        self._monotonic = monotonic
        self._written_at = -math.inf  # the first batch's folds are written at once
        # Committed raw rows not yet in the written aggregates.
        self._ranges = RowRanges(_KEY)
        self.oldest = math.inf  # the oldest check folded since the last write

    # -- in the batch's transaction ----------------------------------------------------
    def batch(self, conn: sqlite3.Connection, checks: list[CheckResult], last_id: int) -> None:
        """The batch's raw rows, ids up to `last_id`, are written (not committed yet)."""
        if not self.deferred:
            self.fold(conn, checks)
            self.write_in(conn)
            return
        self._ranges.extend(conn, len(checks), last_id)

    def committed(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        """The batch is committed: its checks into the cached rows (the owner's way)."""
        if self.deferred:
            self._ranges.committed()
            self.fold(conn, checks)
            if self.states.urgent and not self.due():
                # A monitor went down or up: the live views see it now, not a few
                # seconds later (written whole again with the others: no count in it).
                commit_all(conn, lambda: self.states.write_urgent(conn))
                self.states.urgent.clear()
        else:
            self.written()

    def rolled_back(self) -> None:
        """The batch's transaction was rolled back."""
        self._ranges.rolled_back()
        if not self.deferred:  # its checks were folded already: read the rows again
            self.aggregates.clear()
            self.states.clear()

    # -- the folds -------------------------------------------------------------------
    def fold(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        self.aggregates.fold(conn, checks)
        self.states.fold(conn, checks)
        self.oldest = min(self.oldest, min(c.timestamp for c in checks))

    def write_before(self, conn: sqlite3.Connection, until: float) -> None:
        """Write the changed rows now if some are of a time before `until`: a rollup of
        the hours before it is about to read them."""
        if self.oldest < until:
            self.write(conn, force=True)

    def due(self) -> bool:
        return bool(self.aggregates.dirty or self.states.dirty) and (
            self._monotonic() - self._written_at >= FOLD_EVERY)

    def write(self, conn: sqlite3.Connection, force: bool = False) -> None:
        """Write the changed rows and states, when due or `force`d, in a transaction of
        their own; raises what the database raised (the caller rolls back; they stay
        changed, for the next time)."""
        if not self.deferred or not (force or self.due()):
            return
        if not (self.aggregates.dirty or self.states.dirty or self._ranges):
            return  # (and the first checks after a quiet spell are written at once)
        conn.execute("BEGIN")
        self.write_in(conn)
        self._ranges.clear(conn)
        conn.execute("COMMIT")
        self._ranges.cleared()
        self.written()
        self.aggregates.evict()

    def write_in(self, conn: sqlite3.Connection) -> None:
        self.aggregates.write(conn)
        self.states.write(conn)

    def written(self) -> None:
        self._written_at = self._monotonic()
        self.oldest = math.inf
        self.aggregates.written()
        self.states.written()

    # -- after a crash ------------------------------------------------------------------
    def recover(self, conn: sqlite3.Connection) -> int:
        """Fold the raw rows a crash left unfolded (named in meta), and write them: the
        rows folded."""
        if not self.deferred:
            return 0
        folded = 0
        for rows in self._ranges.rows(conn):
            self.fold(conn, [check_of(row) for row in rows])
            folded += len(rows)
        if folded:
            self.write(conn, force=True)
        return folded
