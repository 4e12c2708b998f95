"""The pushes of push monitors, read in PostgreSQL (as monitor.store.sqlite.pushes): after
an id (all monitors', or one monitor's, by the index on (monitor, id)), and each monitor's
latest run end and start."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from monitor.core.push import Latest, Push

_COLUMNS = "id, monitor, timestamp, event, status, message, value"


def _push(row: tuple) -> Push:
    ident, monitor, timestamp, event, status, message, value = row
    return Push(monitor, timestamp, event, status, message or "", value, ident)


def after(conn: Any, after_id: int, monitor_id: str | None, limit: int) -> list[Push]:
    if monitor_id is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM pushes WHERE id > %s ORDER BY id"
                            " LIMIT %s", (after_id, limit))
    else:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM pushes WHERE monitor = %s AND id > %s"
                            " ORDER BY id LIMIT %s", (monitor_id, after_id, limit))
    return [_push(row) for row in rows]


# Each monitor's latest run end and latest start up to an id: two seeks on the index each.
_LATEST = (
    f"SELECT m.monitor, d.*, s.* FROM unnest(%s::text[]) m(monitor)"
    f" LEFT JOIN LATERAL (SELECT {_COLUMNS} FROM pushes p WHERE p.monitor = m.monitor"
    " AND p.id <= %s AND p.event <> 'start' ORDER BY p.id DESC LIMIT 1) d ON true"
    f" LEFT JOIN LATERAL (SELECT {_COLUMNS} FROM pushes p WHERE p.monitor = m.monitor"
    " AND p.id <= %s AND p.event = 'start' ORDER BY p.id DESC LIMIT 1) s ON true")


def latest(conn: Any, monitor_ids: Collection[str], upto: int | None) -> dict[str, Latest]:
    """Each monitor's latest run end and latest start with an id up to `upto` (None: the
    newest); monitors with no push are left out."""
    found: dict[str, Latest] = {}
    bound = upto if upto is not None else 2 ** 63 - 1
    ids = list(dict.fromkeys(monitor_ids))
    for monitor_id, *row in conn.execute(_LATEST, (ids, bound, bound)):
        done, start = row[:7], row[7:]
        if done[0] is not None or start[0] is not None:
            found[monitor_id] = Latest(_push(tuple(done)) if done[0] is not None else None,
                                       _push(tuple(start)) if start[0] is not None else None)
    return found


def last_id(conn: Any) -> int:
    return int(conn.execute("SELECT max(id) FROM pushes").fetchone()[0] or 0)
