"""The one place that turns a `-db` value into a store: a path is an SQLite file, a
`postgresql://` (or `postgres://`) URL a PostgreSQL database. Every command opens its
writer (`open_store`) and its readers (`open_reader`) here, and says the database by
`shown`, which masks a URL's password (libpq may also take it from PGPASSWORD or
~/.pgpass, then it is in no URL at all).

The PostgreSQL modules (and psycopg) are imported only for a URL: an SQLite run pays
nothing for them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from monitor.store.api import Reader

if TYPE_CHECKING:
    from monitor.store.postgres.leases import Leases
    from monitor.store.postgres.writer import Store as PostgresStore
    from monitor.store.sqlite.writer import Store as SqliteStore

    AnyStore: TypeAlias = SqliteStore | PostgresStore
else:
    AnyStore = object  # (annotations only)

Database: TypeAlias = "str | Path"
SCHEMES = ("postgresql://", "postgres://")


def database(value: str | Path) -> Database:
    """A `-db` value as the store functions take it: a URL stays text (a Path would fold
    its `//`), a file becomes a Path."""
    return str(value) if is_postgres(str(value)) else Path(value)


def is_postgres(database: object) -> bool:
    """Whether `database` (a `-db` value, or a store) names a PostgreSQL database."""
    if isinstance(database, str):
        return database.startswith(SCHEMES)
    return hasattr(database, "url")  # the PostgreSQL writer keeps its URL; SQLite's a path


def shown(database: Database | AnyStore) -> str:
    """The database as messages may show it: a URL's password masked."""
    if not isinstance(database, str | Path):
        return str(database.path)  # a store's path is already what may be shown
    if is_postgres(database):
        from monitor.core.secrets import display_url

        return display_url(str(database))
    return str(database)


def database_of(store: AnyStore) -> Database:
    """What a store writes to, as `open_reader` takes it (the URL with its password: a
    store's `path` is the masked one)."""
    return store.url if is_postgres(store) else store.path  # type: ignore[union-attr]


def open_store(database: Database, on_error: Callable[[str], None] | None = None,
               clock: Callable[[], float] = time.time, rollups: bool = True) -> AnyStore:
    """The writer of `database` (not started). Raises StoreError when it cannot be used:
    a PostgreSQL server that does not answer is said in one line, its password masked."""
    if is_postgres(database):
        from monitor.store.postgres.writer import Store as PostgresStore

        # (`rollups`: a monitor, one of several that may share the database.)
        return PostgresStore(str(database), on_error=on_error, clock=clock, rollups=rollups,
                             shared=rollups)
    from monitor.store.sqlite.writer import Store as SqliteStore

    return SqliteStore(database, on_error=on_error, clock=clock, rollups=rollups)


def open_reader(database: Database | AnyStore) -> Reader:
    """A reader for one reading thread of `database` (or of what a store writes to)."""
    if not isinstance(database, str | Path):
        database = database_of(database)
    if is_postgres(database):
        from monitor.store.postgres.queries import open_reader as open_postgres

        return open_postgres(str(database))
    from monitor.store.sqlite.queries import open_reader as open_sqlite

    return open_sqlite(database)


def max_queued(store: AnyStore) -> int:
    """How many checks the writer holds before it refuses more (both stores' writer:
    monitor.store.writing)."""
    from monitor.store.writing import MAX_QUEUED

    return MAX_QUEUED


def open_leases(store: AnyStore, on_error: Callable[[str], None] | None = None,
                ) -> Leases | None:
    """The leases of a monitor on a PostgreSQL database, which several monitors may share
    (store/postgres/leases.py); None on an SQLite file (one monitor owns it)."""
    if not is_postgres(store):
        return None
    from monitor.store.postgres.leases import Leases

    return Leases(store.url, on_error=on_error)  # type: ignore[union-attr]
