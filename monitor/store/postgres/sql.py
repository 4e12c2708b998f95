"""Helpers the PostgreSQL writer's statements share: rows sent as one array per column
(`unnest`), where SQLite's writer sends one JSON array (`json_each`), and the transaction
of a step of its own."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Sequence

import psycopg


def unnest(*types: str) -> str:
    """`unnest(%s::T1[], %s::T2[], ...)`: a set of rows from one array per column, so that a
    batch is one statement and one round trip, whatever its size."""
    return "unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"


def columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    """Rows as `width` column lists, unnest's parameters."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def commit_all(conn: psycopg.Connection, work: Callable[[], object]) -> bool:
    """Run `work`'s statements in a transaction of their own: True once committed, False
    when the database refused them (rolled back: the caller keeps what it meant to write,
    for the next time)."""
    try:
        conn.execute("BEGIN")
        work()
        conn.execute("COMMIT")
    except psycopg.Error:
        rollback(conn)
        return False
    return True


def rollback(conn: psycopg.Connection) -> None:
    """Roll back the transaction in progress, if any (and if the connection still
    works)."""
    with contextlib.suppress(psycopg.Error):
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")


# The staging tables made on each connection so far (temporary: one per connection).
_STAGED: weakref.WeakKeyDictionary[psycopg.Connection, set[str]] = weakref.WeakKeyDictionary()


def stage(conn: psycopg.Connection, name: str, types: Sequence[str],
          rows: Iterable[Sequence[object]]) -> str:
    """Copy `rows` into the temporary table `name` (columns c0, c1... of `types`), within
    the caller's transaction, and return its name for an INSERT ... SELECT: COPY formats
    rows in C, where arrays of parameters (unnest) are built value by value in Python, half
    of the writer's time. The table is made once per connection and emptied at each
    commit."""
    made = _STAGED.setdefault(conn, set())
    if name not in made:
        conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {name} ("
            + ", ".join(f"c{i} {t}" for i, t in enumerate(types)) + ") ON COMMIT DELETE ROWS")
        made.add(name)
    with conn.cursor().copy(f"COPY {name} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return name
