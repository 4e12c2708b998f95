"""Which of PostgreSQL's errors the writer holds its rows through (monitor/store/holding.py:
the policy, as SQLite's): the server away or restarting, the connection lost, a full disk,
a lock or a deadlock, a read-only standby refuse whatever the rows and are retried (the
writer connects again first); damaged data is fatal; any other error (a value out of
range, one psycopg cannot send) is a row's, dropped alone. Said with the URL's secrets
masked."""

from __future__ import annotations

import psycopg
from psycopg import errors

from monitor.store.postgres.connection import say_error


def damaged(exc: BaseException) -> bool:
    return isinstance(exc, errors.DataCorrupted | errors.IndexCorrupted)


def refused(exc: BaseException) -> bool:
    """The server refuses whatever it is given for now (held and retried), or its data is
    damaged. Any other error (a value out of range, one psycopg cannot send) is a row's."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError
                      | errors.ReadOnlySqlTransaction | errors.InFailedSqlTransaction
                      ) or damaged(exc)


class PostgresFaults:
    """PostgreSQL's errors (holding.Faults), said without the secrets of `url`."""

    def __init__(self, url: str) -> None:
        self._url = url

    def damaged(self, exc: BaseException) -> bool:
        return damaged(exc)

    def refused(self, exc: BaseException) -> bool:
        return refused(exc)

    def said(self, exc: BaseException) -> str:
        return say_error(self._url, exc)

    def of_row(self, exc: BaseException) -> str:
        """Its type and first line (the server's texts run on over several lines: DETAIL,
        CONTEXT)."""
        first = str(exc).strip().splitlines()
        return f"{type(exc).__name__}({first[0]!r})" if first else repr(exc)
