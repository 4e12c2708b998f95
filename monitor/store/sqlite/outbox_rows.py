"""An agent's local database read as its outbox: the checks after the last id the server
acknowledged (`upto`), in id order, a batch at a time; how many wait; how far back a purge
may go without touching one of them; and the instance id that names this database to the
server.

Ids are what the server deduplicates by, so they must never be reused: SQLite gives a new
row max(id) + 1, and a purge that emptied the table would start them again at 1, below the
server's `upto` (every new row then skipped as a duplicate). `purge_before` therefore
always keeps the newest row.

Beside the store's Reader, not in it: only the agent reads its database this way.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from monitor.core.errors import StoreError
from monitor.store.sqlite.connection import explain

INSTANCE_KEY = "agent_instance"


class OutboxCheck(NamedTuple):
    """A stored check as the agent posts it."""

    id: int
    monitor_id: str
    timestamp: float
    available: bool | None
    code: int | None
    response_ms: float
    reason: str | None
    detail: str
    lateness_ms: float | None
    warning: bool
    metrics: str | None  # JSON text, as stored


_AFTER = (
    "SELECT id, monitor, timestamp, available, status, responseTime, reason, detail,"
    " lateness, warning, metrics FROM website_monitoring WHERE id > ? ORDER BY id LIMIT ?")


class OutboxReader:
    """A read-only connection to an agent's database, for the thread that sends its
    checks; SQLite's errors come out as StoreError."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # A URI with the path percent-encoded (a '#' or '?' in a folder name), read-only.
        try:
            self._conn = sqlite3.connect(self.path.absolute().as_uri() + "?mode=ro",
                                         uri=True, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the database:"
                             f" {explain(exc, self.path)}") from None

    def close(self) -> None:
        self._conn.close()

    def checks_after_id(self, upto: int, limit: int) -> list[OutboxCheck]:
        """The checks with an id above `upto`, oldest id first, at most `limit` (a walk of
        the primary key from `upto`, whatever the table's size)."""
        rows = self._read(_AFTER, (upto, limit))
        return [OutboxCheck(ident, monitor, ts, None if available is None else bool(available),
                            code, rt, reason, detail or "", lateness, bool(warning), metrics)
                for ident, monitor, ts, available, code, rt, reason, detail, lateness, warning,
                metrics in rows]

    def count_after_id(self, upto: int) -> int:
        """How many checks have an id above `upto` (not sent yet)."""
        return int(self._read("SELECT count(*) FROM website_monitoring WHERE id > ?",
                              (upto,))[0][0])

    def newest_id(self) -> int:
        """The highest check id stored (0 when none)."""
        return int(self._read("SELECT coalesce(max(id), 0) FROM website_monitoring")[0][0])

    def purge_before(self, upto: int, wanted: float) -> float | None:
        """The purge cut-off closest to `wanted` that deletes no check after `upto` and not
        the newest row (whose id the next ones follow); None when nothing may go."""
        oldest_unsent, newest = self._read(
            "SELECT (SELECT min(timestamp) FROM website_monitoring WHERE id > ?),"
            " (SELECT timestamp FROM website_monitoring ORDER BY id DESC LIMIT 1)",
            (upto,))[0]
        if newest is None:
            return None
        cutoff = min(wanted, newest)
        if oldest_unsent is not None:
            cutoff = min(cutoff, oldest_unsent)
        return float(cutoff)

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the database:"
                             f" {explain(exc, self.path)}") from None


def instance(path: str | Path) -> str:
    """This database's instance id (a UUID made at its first use as an agent's), kept in
    its `meta` table: a new database is a new instance, whose ids start again at 1. The
    writer must have made the schema."""
    try:
        conn = sqlite3.connect(Path(path), timeout=10.0)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {explain(exc, Path(path))}"
                         ) from None
    try:
        with conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                         (INSTANCE_KEY, str(uuid.uuid4())))
        return str(conn.execute("SELECT value FROM meta WHERE key = ?",
                                (INSTANCE_KEY,)).fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot write the database: {explain(exc, Path(path))}"
                         ) from None
    finally:
        conn.close()

