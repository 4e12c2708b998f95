"""The pushes of push monitors in SQLite: written by the writer in its batches, read back
after an id (all monitors', or one monitor's, by the index on (monitor, id)), each
monitor's latest run end and start, and purged with the raw checks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable

from monitor.core.push import MAX_MESSAGE, Latest, Push
from monitor.store.api import RecordPush
from monitor.store.sqlite.sql import items

_COLUMNS = "id, monitor, timestamp, event, status, message, value"
# One statement per batch, its rows as one JSON array, as the checks are written.
_INSERT = ("INSERT INTO pushes (monitor, timestamp, event, status, message, value)"
           f" SELECT {items(6)} FROM json_each(?)")


def write(conn: sqlite3.Connection, pushes: Iterable[RecordPush]) -> None:
    """Insert `pushes` (in the writer's open transaction)."""
    conn.execute(_INSERT, (json.dumps(
        [(p.monitor_id, p.timestamp, p.event, p.status, p.message[:MAX_MESSAGE] or None,
          p.value) for p in pushes]),))


def purge(conn: sqlite3.Connection, before: float) -> int:
    """Delete the pushes received before `before` but each monitor's latest start and
    latest run end (what a restart needs to judge a job that pushes less often than the
    retention); the count deleted. Ids grow with time, so the cut is found by walking the
    oldest rows only, and the delete is a range of ids: no index on the time is needed."""
    row = conn.execute("SELECT id FROM pushes WHERE timestamp >= ? ORDER BY id LIMIT 1",
                       (before,)).fetchone()
    cut = row[0] if row is not None else (conn.execute(
        "SELECT max(id) FROM pushes").fetchone()[0] or 0) + 1
    return conn.execute(
        "DELETE FROM pushes WHERE id < :cut AND id NOT IN (SELECT max(id) FROM pushes"
        " WHERE id < :cut GROUP BY monitor, event = 'start')", {"cut": cut}).rowcount


def _push(row: tuple) -> Push:
    ident, monitor, timestamp, event, status, message, value = row
    return Push(monitor, timestamp, event, status, message or "", value, ident)


def after(conn: sqlite3.Connection, after_id: int, monitor_id: str | None,
          limit: int) -> list[Push]:
    """The pushes after `after_id`, oldest first, at most `limit`: of one monitor, or of
    all."""
    if monitor_id is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM pushes WHERE id > ? ORDER BY id"
                            " LIMIT ?", (after_id, limit))
    else:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM pushes WHERE monitor = ? AND id > ?"
                            " ORDER BY id LIMIT ?", (monitor_id, after_id, limit))
    return [_push(row) for row in rows]


def latest(conn: sqlite3.Connection, monitor_ids: Collection[str],
           upto: int | None) -> dict[str, Latest]:
    """Each monitor's latest run end and latest start with an id up to `upto` (None: the
    newest), by two seeks on the index each; monitors with no push are left out."""
    found: dict[str, Latest] = {}
    bound = upto if upto is not None else 2 ** 63 - 1
    for monitor_id in monitor_ids:
        done, start = (conn.execute(
            f"SELECT {_COLUMNS} FROM pushes WHERE monitor = ? AND id <= ? AND {test}"
            " ORDER BY id DESC LIMIT 1", (monitor_id, bound)).fetchone()
            for test in ("event <> 'start'", "event = 'start'"))
        if done is not None or start is not None:
            found[monitor_id] = Latest(_push(done) if done else None,
                                       _push(start) if start else None)
    return found


def last_id(conn: sqlite3.Connection) -> int:
    """The id of the newest push, 0 when there is none."""
    return int(conn.execute("SELECT max(id) FROM pushes").fetchone()[0] or 0)
