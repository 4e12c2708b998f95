"""The policy for rows the PostgreSQL server refuses, as SQLite's (sqlite/holding.py): a
refusal for now (the server away or restarting, the connection lost, a full disk, a lock
or a deadlock, a read-only standby) holds every row in memory, MAX_PENDING checks at most,
and retries them once a RETRY_DELAY (the writer connects again first); a row that can never
be written (a value out of range, a bug in what made it) is found, dropped alone and named;
a damaged table is fatal."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from psycopg import errors

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
from monitor.store.postgres.batch import flatten, sort

RETRY_DELAY = 1.0
MAX_PENDING = 500_000


def damaged(exc: BaseException) -> bool:
    return isinstance(exc, errors.DataCorrupted | errors.IndexCorrupted)


def refused(exc: BaseException) -> bool:
    """The server refuses whatever it is given for now (held and retried), or its data is
    damaged. Any other error (a value out of range, one psycopg cannot send) is a row's."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError
                      | errors.ReadOnlySqlTransaction | errors.InFailedSqlTransaction
                      ) or damaged(exc)


class Holding:
    """Writes batches through `write` (one transaction each), and holds what the server
    refuses. `rollback` undoes a failed transaction; `discard(checks, alerts)` counts rows
    dropped for good; `say` tells the owner what happened."""

    def __init__(self, path: str, write: Callable[[list[Command]], None],
                 rollback: Callable[[], None], discard: Callable[[int, int], None],
                 say: Callable[[str], None], explain: Callable[[BaseException], str]) -> None:
        self._path = path
        self._write = write
        self._rollback = rollback
        self._discard = discard
        self._say = say
        self._explain = explain  # an error's text, the URL's secrets masked
        self.rows: list[Command] = []
        self.retry_at = 0.0
        self.failing_since: float | None = None
        self.last_error = ""
        self.fatal: StoreError | None = None

    def waiting(self) -> bool:
        return bool(self.rows) and time.monotonic() < self.retry_at

    def write_all(self, work: list[Command]) -> None:
        if self.fatal is not None:
            self.hold(work)
            return
        try:
            self._write(work)
        except Exception as exc:  # noqa: BLE001 - sorted below: a refusal, or a bad row
            if refused(exc):
                self._keep(work, exc)
            else:
                self._rollback()
                self._write_each(work)
            return
        self._written()

    def _write_each(self, work: list[Command]) -> None:
        """A row that can never be written costs that row alone: one at a time."""
        bad: list[str] = []
        work = flatten(work, split=True)
        for index, entry in enumerate(work):
            try:
                self._write([entry])
            except Exception as error:  # noqa: BLE001 - a refusal, or this row is the one
                if refused(error):
                    self._keep(work[index:], error)
                    break
                self._rollback()
                match entry:
                    case CheckResult(monitor_id=name):
                        self._discard(1, 0)
                        what = f"a check of {name}"
                    case CheckBatch(mark=mark) if mark is not None:
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
                bad.append(f"{what} ({_short(error)})")
        else:
            self._written()
        if bad:
            more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
            self._say(f"{self._path}: could not write {bad[0]}{more}; dropped")

    def _written(self) -> None:
        self.rows = []
        if self.failing_since is not None:
            self.failing_since = None
            self._say(f"{self._path}: writing resumed")

    def _keep(self, work: list[Command], exc: BaseException) -> None:
        self._rollback()
        self.last_error = self._explain(exc)
        self.retry_at = time.monotonic() + RETRY_DELAY
        self.hold(work)
        if damaged(exc):
            self.fatal = StoreError(f"{self._path}: cannot write: the database is damaged"
                                    f" ({self.last_error})")
            self._say(str(self.fatal))
        elif self.failing_since is None:
            self.failing_since = time.monotonic()
            self._say(f"{self._path}: cannot write ({self.last_error}); keeping checks in"
                      " memory and retrying")

    def hold(self, work: list[Command]) -> None:
        """Keep `work` to retry: all of it but the oldest checks beyond MAX_PENDING (an
        agent's batch whole or not at all: it resends)."""
        work = flatten(work)
        checks = sort(work).checks
        if len(checks) > MAX_PENDING:
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


def _short(error: BaseException) -> str:
    """An error as a message names it: its type and first line (the server's texts run on
    over several lines: DETAIL, CONTEXT)."""
    first = str(error).strip().splitlines()
    return f"{type(error).__name__}({first[0]!r})" if first else repr(error)
