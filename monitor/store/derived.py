"""What both stores' batches (sqlite/batch.py, postgres/batch.py) do alike with the rows
derived from the raw ones: the folds (aggregates and states), the metric figures, the
series rollups and the hour rollups, written when due, recovered at a start, dropped or
forgotten when a transaction rolls back. Each store's Batches gives its connection, its
errors and its caches; the raw rows' statements stay its own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar, Protocol

from monitor.core.model import CheckResult
from monitor.store.folds import Folds
from monitor.store.ranges import Connection
from monitor.store.work import Work


class Metrics(Protocol):
    """The metric figures held until written (each store's aggregates.MetricFigures)."""

    def recover(self, conn: Connection) -> int: ...

    def write(self, conn: Connection, force: bool = False, stopping: bool = False) -> None: ...

    def committed(self, checks: list[CheckResult]) -> None: ...

    def drop(self) -> None: ...

    def rolled_back(self) -> None: ...


class Series(Protocol):
    """The series rollups held until written (each store's SeriesWrites)."""

    def write_rollups(self, conn: Connection, force: bool) -> None: ...

    def committed(self) -> None: ...

    def drop(self) -> None: ...

    def clear(self) -> None: ...


class Rollups(Protocol):
    """When the hours are rolled up, and the rolling (sqlite/rollups.py)."""

    def load(self, conn: Connection) -> None: ...

    def due(self) -> bool: ...

    def rolling_until(self) -> float: ...

    def roll(self, conn: Connection) -> int: ...

    def failed(self) -> int: ...


class Forgetting(Protocol):
    def forget_rollups(self) -> None: ...


class Derived:
    """The derived rows' part of a store's Batches, on the writer thread. The subclass sets
    the caches in its __init__ and gives ERROR (its database's errors), `connected` and
    `rollback_transaction`."""

    ERROR: ClassVar[type[Exception]]
    _conn: Connection
    _path: object
    folds: Folds
    aggregates: Forgetting
    _metrics: Metrics
    _series: Series
    _rollups: Rollups
    _say: Callable[[str], None]
    _recovered: bool = False

    def connected(self) -> Connection:
        """The connection (opened again where the database can drop it)."""
        return self._conn

    def usable(self) -> bool:
        """The connection can take statements (not dropped by a server)."""
        return True

    def rollback_transaction(self) -> None:
        """Roll back the transaction in progress, if any; never raises."""
        with contextlib.suppress(self.ERROR):
            self._conn.execute("ROLLBACK")

    def committed(self, conn: Connection, work: Work) -> None:
        """The batch's transaction is committed: what it derives, into the caches."""
        if work.checks:
            self.folds.committed(conn, work.checks)
            self._metrics.committed(work.checks)
        if work.series:
            self._series.committed()

    def _recover(self) -> None:
        """What a crash or a quick stop left underived, before any other row (once): a
        routine part of a start, said nowhere."""
        if not self._recovered:
            self.folds.recover(self._conn)
            self._metrics.recover(self._conn)
            self._recovered = True

    def write_folds(self, force: bool) -> None:
        """The aggregates and states the checks changed, when due (see folds.py). Kept for
        the next time if the database refuses them: the checks' own writes say why."""
        try:
            conn = self.connected()
            self._rollups.load(conn)
            self._recover()
            self.folds.write(conn, force)
        except self.ERROR:
            self.rollback_transaction()

    def write_metrics(self, force: bool, stopping: bool = False) -> None:
        """The held metric values into their rows, when due (see MetricFigures.write)."""
        if self.usable():
            self._metrics.write(self._conn, force, stopping)

    def write_series(self, force: bool) -> None:
        """The held series values into their rollups, when due."""
        if self.usable():
            self._series.write_rollups(self._conn, force)

    def drop_metrics(self) -> None:
        self._metrics.drop()

    def drop_series(self) -> None:
        self._series.drop()

    def roll_up(self) -> None:
        """Roll the hours that have ended into the hour and day tiers, when one is due. A
        failure is retried a minute later, and said if the retry fails too: what makes
        the checks' own writes fail (a full disk, a lock, damage) is theirs to say."""
        try:
            conn = self.connected()
            self._rollups.load(conn)
            if self._rollups.due():
                self.folds.write_before(conn, self._rollups.rolling_until())
                self._rollups.roll(conn)
                self.aggregates.forget_rollups()
        except Exception as exc:  # noqa: BLE001 - a bug too: retried a minute later
            self.rollback()
            if self._rollups.failed() == 2:
                self._say(f"{self._path}: rolling up the hours failed: {exc}; retrying"
                          " every minute")

    def rollback(self) -> None:
        """The transaction in progress rolled back, and what it would have derived."""
        self.rollback_transaction()
        self.folds.rolled_back()
        self._metrics.rolled_back()
        self._series.clear()
