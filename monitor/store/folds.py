"""Folding the checks written into each monitor's aggregate rows and state row, for both
stores' writers (each gives its aggregates, states, ranges and transaction: batch.py).

The monitor that owns the database (the writer with rollups) writes a batch's raw rows in
one transaction and, once it is committed, adds them to the aggregate rows and states it
caches (`fold`); the rows and states they changed go to the database every FOLD_EVERY
seconds, at an urgent flush, before a rollup and at the stop (`write`), in a transaction of
their own. So a monitor checked every second costs a row write per span and a state write
every few seconds, not with each batch: the writer's time per check no longer grows with
the number of monitors a batch touches.

Nothing is lost or counted twice by a crash between the two: each batch's transaction
records the ids of its raw rows in meta (`unfolded`, ranges of ids: ranges.py), and the
fold's write empties it. The next start folds the rows the ranges name before anything
else.

A writer beside the owner (`serve`, `logs`), or one of several monitors sharing a
PostgreSQL database, folds and writes in the batch's own transaction (not `deferred`): two
writers must not share the meta key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from typing import Protocol

from monitor.core.model import CheckResult
from monitor.store.ranges import Connection, Range, RowRanges, check_of

FOLD_EVERY = 2.0  # seconds between writes of the folded rows (monotonic clock)
KEY = "unfolded"  # the meta key of the ranges


class Folding(Protocol):
    """What the folds keep up to date: the aggregate rows, or the state rows."""

    @property
    def dirty(self) -> Collection[object]:
        """What changed since the last write."""

    def fold(self, conn: Connection, checks: list[CheckResult]) -> None: ...

    def write(self, conn: Connection) -> None:
        """The changed rows, in the caller's transaction; `written` once committed."""

    def written(self) -> None: ...

    def clear(self) -> None:
        """Forget what is cached (folded again from the raw rows)."""


class Aggregates(Folding, Protocol):
    def evict(self) -> None:
        """Forget the written rows that are done with."""


class States(Folding, Protocol):
    # Monitors that went down or up since the last write: the live views see it now.
    urgent: set[str]

    def write_urgent(self, conn: Connection) -> None: ...


class Folds:
    """The aggregates and states of the checks written. `deferred`: the owner's way (fold
    after the commit, write every FOLD_EVERY); else folded and written in the batch.
    `commit_all(conn, work)` runs `work` in a transaction of its own (False: refused)."""

    def __init__(self, aggregates: Aggregates, states: States, ranges: RowRanges,
                 commit_all: Callable[[Connection, Callable[[], object]], bool],
                 deferred: bool, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.aggregates = aggregates
        self.states = states
        self.deferred = deferred
        self._commit_all = commit_all
        self._monotonic = monotonic
        self._written_at = -math.inf  # the first batch's folds are written at once
        # Committed raw rows not yet in the written aggregates.
        self._ranges = ranges
        self.oldest = math.inf  # the oldest check folded since the last write

    # -- in the batch's transaction ----------------------------------------------------
    def batch(self, conn: Connection, checks: list[CheckResult], ids: list[Range]) -> None:
        """The batch's raw rows, ids in the ranges `ids`, are written (not committed)."""
        if not self.deferred:
            self.fold(conn, checks)
            self.write_in(conn)
            return
        self._ranges.add(conn, ids)

    def committed(self, conn: Connection, checks: list[CheckResult]) -> None:
        """The batch is committed: its checks into the cached rows (the owner's way)."""
        if self.deferred:
            self._ranges.committed()
            self.fold(conn, checks)
            if self.states.urgent and not self.due():
                # A monitor went down or up: the live views see it now, not a few
                # seconds later (written whole again with the others: no count in it).
                self._commit_all(conn, lambda: self.states.write_urgent(conn))
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
    def fold(self, conn: Connection, checks: list[CheckResult]) -> None:
        self.aggregates.fold(conn, checks)
        self.states.fold(conn, checks)
        self.oldest = min(self.oldest, min(c.timestamp for c in checks))

    def write_before(self, conn: Connection, until: float) -> None:
        """Write the changed rows now if some are of a time before `until`: a rollup of
        the hours before it is about to read them."""
        if self.oldest < until:
            self.write(conn, force=True)

    def due(self) -> bool:
        return bool(self.aggregates.dirty or self.states.dirty) and (
            self._monotonic() - self._written_at >= FOLD_EVERY)

    def write(self, conn: Connection, force: bool = False) -> None:
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

    def write_in(self, conn: Connection) -> None:
        self.aggregates.write(conn)
        self.states.write(conn)

    def written(self) -> None:
        self._written_at = self._monotonic()
        self.oldest = math.inf
        self.aggregates.written()
        self.states.written()

    # -- after a crash ------------------------------------------------------------------
    def recover(self, conn: Connection) -> int:
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
