"""The policy for rows the database refuses, for both stores' writers. A refusal for now
(a lock, a full disk, a read-only remount; a PostgreSQL server away or restarting) holds
every row in memory, MAX_PENDING checks at most, and retries them once a RETRY_DELAY; a row
that can never be written (a bug in what made it) is found, dropped alone and named; a
damaged database is fatal: its rows are kept for the stop to count, never retried. Which
errors are which is each database's (its Faults: sqlite/holding.py, postgres/holding.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from monitor.core.errors import StoreError
from monitor.core.model import CheckResult
from monitor.store.api import (
    AlertRecord,
    CheckBatch,
    Command,
    DeliveryDone,
    RecordPush,
    RecordSeries,
)
from monitor.store.work import flatten, sort

RETRY_DELAY = 1.0
MAX_PENDING = 500_000  # rows kept in memory while the database refuses writes


class Faults(Protocol):
    """How a database's errors are told apart and said."""

    def refused(self, exc: BaseException) -> bool:
        """The database refuses whatever it is given for now (held and retried), or is
        damaged; any other error is a row's."""

    def damaged(self, exc: BaseException) -> bool:
        """Retrying cannot help: the owner must stop."""

    def said(self, exc: BaseException) -> str:
        """The error as the messages say why writing stopped (no secret in it)."""

    def of_row(self, exc: BaseException) -> str:
        """The error as the message naming a row dropped for it says it."""


class Holding:
    """Writes batches through `write` (one transaction each), and holds what the database
    refuses. `rollback` undoes a failed transaction; `discard(checks, alerts)` counts rows
    dropped for good; `say` tells the owner what happened."""

    def __init__(self, path: object, write: Callable[[list[Command]], None],
                 rollback: Callable[[], None], discard: Callable[[int, int], None],
                 say: Callable[[str], None], faults: Faults) -> None:
        self._path = path
        self._write = write
        self._rollback = rollback
        self._discard = discard
        self._say = say
        self._faults = faults
        self.rows: list[Command] = []  # held: refused by the database, to be retried
        self.retry_at = 0.0  # when the held rows are next tried (on the monotonic clock)
        self.failing_since: float | None = None  # set while the database refuses
        self.last_error = ""
        # Set when the database turns out damaged: retrying cannot help, the owner must stop.
        self.fatal: StoreError | None = None

    def waiting(self) -> bool:
        """Rows are held and their retry is not yet due."""
        return bool(self.rows) and time.monotonic() < self.retry_at

    def write_all(self, work: list[Command]) -> None:
        """Write `work` in one transaction; hold it for a retry if the database refuses
        (a full disk, a lock); on any other error, find the rows that cannot be written."""
        if self.fatal is not None:
            self.hold(work)  # a damaged database: kept for close() to count, not retried
            return
        try:
            self._write(work)
        except Exception as exc:  # noqa: BLE001 - sorted below: a refusal, or a bad row
            if self._faults.refused(exc):
                self._keep(work, exc)
            else:
                self._rollback()
                self._write_each(work)
            return
        self._written()

    def _write_each(self, work: list[Command]) -> None:
        """A row that can never be written (a bug in what made it: a NaN, a None where a
        number belongs) must cost that row alone, never the alerts and checks beside it:
        write them one at a time."""
        bad: list[str] = []
        work = flatten(work, split=True)
        for index, entry in enumerate(work):
            try:
                self._write([entry])
            except Exception as error:  # noqa: BLE001 - a refusal, or this row is the one
                if self._faults.refused(error):
                    self._keep(work[index:], error)
                    break
                self._rollback()
                match entry:
                    case CheckResult(monitor_id=name):
                        self._discard(1, 0)
                        what = f"a check of {name}"
                    case CheckBatch(mark=mark) if mark is not None:  # one row, or none
                        self._discard(len(entry), 0)
                        what = (f"a check of {entry[0].monitor_id} from agent {mark.name}"
                                if entry else f"the mark of agent {mark.name}")
                    case AlertRecord(monitor_id=name):
                        self._discard(0, 1)
                        what = f"an alert of {name}"
                    case DeliveryDone(id=row):
                        what = f"the outcome of notification {row}"
                    case RecordPush(monitor_id=name):
                        what = f"a push to {name}"
                    case RecordSeries(points=points):
                        what = f"{len(points)} values of metric series"
                    case _:
                        what = "the list of monitors"
                bad.append(f"{what} ({self._faults.of_row(error)})")
        else:
            self._written()
        if bad:  # one message, however many: a bug that spoils every row must not flood
            more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
            self._say(f"{self._path}: could not write {bad[0]}{more}; dropped")

    def _written(self) -> None:
        """Everything held has been written."""
        self.rows = []
        if self.failing_since is not None:
            self.failing_since = None
            self._say(f"{self._path}: writing resumed")

    def _keep(self, work: list[Command], exc: BaseException) -> None:
        self._rollback()
        self.last_error = self._faults.said(exc)
        self.retry_at = time.monotonic() + RETRY_DELAY
        self.hold(work)
        if self.damaged_by(exc):
            return
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            self._say(f"{self._path}: cannot write ({self.last_error}); keeping checks in"
                      " memory and retrying")

    def damaged_by(self, exc: BaseException) -> bool:
        """Whether `exc` says the database is damaged: then fatal (the owner stops), said
        once, whichever write met it first (rows, or a purge)."""
        if not self._faults.damaged(exc):
            return False
        if self.fatal is None:
            self.fatal = StoreError(f"{self._path}: cannot write: the database is damaged"
                                    f" ({self._faults.said(exc)})")
            self._say(str(self.fatal))
        return True

    def hold(self, work: list[Command]) -> None:
        """Keep `work` to retry: all of it but the oldest checks beyond MAX_PENDING."""
        work = flatten(work)
        checks = sort(work).checks
        if len(checks) > MAX_PENDING:
            # Only checks are dropped, oldest first: alerts and monitor lists are kept. An
            # agent's batch goes whole or not at all (its mark with its rows): it resends.
            oldest = {id(e) for e in checks[:len(checks) - MAX_PENDING]}
            kept: list[Command] = []
            dropped = 0
            for entry in work:
                rows = entry if isinstance(entry, CheckBatch) else (entry,)
                if any(id(row) in oldest for row in rows):
                    dropped += len(rows)
                else:
                    kept.append(entry)
            self._discard(dropped, 0)
            work = kept
        self.rows = work
