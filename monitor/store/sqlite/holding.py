"""Which of SQLite's errors the writer holds its rows through (monitor/store/holding.py: the
policy): a lock, a full disk, an I/O error, a read-only remount refuse whatever the rows
and are retried; a file that is not (or no longer) a sound database is fatal; any other
error (a constraint, malformed JSON from a NaN) is a row's, dropped alone."""

from __future__ import annotations

import sqlite3

# SQLite's primary result codes for a file that is not (or no longer) a sound database:
# retrying cannot help, unlike a full disk or a lock.
_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
# The database refusing for now, whatever the rows. Held and retried.
_REFUSALS = (5, 6, 7, 8, 10, 13, 14, 15)  # BUSY LOCKED NOMEM READONLY IOERR FULL CANTOPEN
#                                          PROTOCOL


def _code(exc: BaseException) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


class SqliteFaults:
    """SQLite's errors, told apart by their primary result code (holding.Faults)."""

    def damaged(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error) and _code(exc) in _DAMAGED

    def refused(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error) and _code(exc) in _REFUSALS + _DAMAGED

    def said(self, exc: BaseException) -> str:
        return str(exc)

    def of_row(self, exc: BaseException) -> str:
        return repr(exc)
