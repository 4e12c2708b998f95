"""The store's tests run on both stores: the `backend` fixture gives each test SQLite's file,
then a fresh database on a real PostgreSQL server (tests/support/postgres.py: one server per
worker), through the same calls: `make(**kwargs)` a writer, `reader()` the Reader,
`read(sql, *args)` rows (the statement written with `?` placeholders, as for SQLite), and
`module(name)` the store's own module of that name (monitor.store.sqlite.<name> or
monitor.store.postgres.<name>) for a constant a test turns down.

A test about SQLite's file alone (its modes, WAL, the owner's lock, a damaged file, a full
disk, its schema migrations) does not take `backend` and says why in a line."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

BACKENDS = ("sqlite", "postgresql")
_PACKAGES = {"sqlite": "monitor.store.sqlite", "postgresql": "monitor.store.postgres"}


@dataclass
class Backend:
    """One store under test: its name, where it writes, and how to make and read it."""

    name: str
    where: str  # the file's path, or the database's URL
    query: Callable[[str, tuple], list[tuple]]
    made: list[Any] = field(default_factory=list)
    server: Any = None  # PostgreSQL's server (tests/support/postgres.py)

    @property
    def package(self) -> str:
        """The store's package: the writer of a subprocess is imported from it."""
        return _PACKAGES[self.name]

    @property
    def shown(self) -> str:
        """How the writer's messages name the database."""
        return self.where

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def make(self, **kwargs: Any) -> Any:
        """A writer (not started), closed at the end of the test."""
        store = self.module("writer").Store(self.where, **kwargs)
        self.made.append(store)
        return store

    def reader(self) -> Any:
        """The store's Reader, closed at the end of the test."""
        reader = self.module("queries").open_reader(self.where)
        self.made.append(reader)
        return reader

    def read(self, sql: str, *args: Any) -> list[tuple]:
        return [tuple(row) for row in self.query(sql, args)]

    def execute(self, sql: str) -> None:
        """Run `sql` on a connection of its own, committed (a test's own change)."""
        if self.name == "sqlite":
            conn = sqlite3.connect(self.where)
            try:
                conn.executescript(sql)
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(self.where, autocommit=True) as pg:
                pg.execute(sql)

    def copy(self, folder: Path) -> Backend:
        """A copy of the database as it is now (every writer and reader of it closed), for a
        test to change; dropped with this one."""
        if self.name == "sqlite":
            path = folder / f"copy{next(_copies)}.db"
            path.write_bytes(Path(self.where).read_bytes())
            found = sqlite_backend(path)
        else:
            name = self.where.rsplit("/", 1)[1]
            copied = f"{name}_copy_{next(_copies)}"
            self.server.admin(f"CREATE DATABASE {copied} TEMPLATE {name}")
            found = postgres_backend(self.server.url(copied), self.server)
            found.made.append(_Dropped(self.server, copied))
        self.made.append(found)
        return found

    def close(self) -> None:
        for made in reversed(self.made):
            with contextlib.suppress(Exception):
                made.close()
        self.made.clear()


def postgres_bug(request: pytest.FixtureRequest, backend: Backend, bug: str) -> None:
    """The test fails on PostgreSQL because of `bug` in its store: expected to (strict, so
    that the fix is seen), on SQLite run as usual."""
    if backend.name == "postgresql":
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"postgresql: {bug}"))


@dataclass
class _Dropped:
    """A database dropped when the test's things are closed."""

    server: Any
    name: str

    def close(self) -> None:
        self.server.drop_database(self.name)


_copies = itertools.count(1)


def _sqlite_query(path: str) -> Callable[[str, tuple], list[tuple]]:
    def query(sql: str, args: tuple) -> list[tuple]:
        conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    return query


def _postgres_query(url: str) -> Callable[[str, tuple], list[tuple]]:
    import psycopg

    def query(sql: str, args: tuple) -> list[tuple]:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(sql.replace("?", "%s"), args).fetchall()
    return query


def sqlite_backend(path: Path) -> Backend:
    return Backend("sqlite", str(path), _sqlite_query(str(path)))


def as_backend(where: Backend | Path | str) -> Backend:
    """`where` itself, or SQLite's file at that path (for the helpers other tests call with
    a path)."""
    return where if isinstance(where, Backend) else sqlite_backend(Path(where))


def postgres_backend(url: str, server: Any = None) -> Backend:
    return Backend("postgresql", url, _postgres_query(url), server=server)


@contextlib.contextmanager
def reading(where: Any) -> Iterator[Any]:
    """The Reader of a file's path, a database's URL or what a writer writes to (as the
    program opens it: monitor/store/open.py), closed at the end of the `with`."""
    from monitor.store.open import database, open_reader

    if isinstance(where, Backend):
        where = where.where
    reader = open_reader(where if not isinstance(where, str | Path) else database(where))
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store in turn, a new database for the test; what was made through it closed at
    the end of the test."""
    if request.param == "sqlite":
        found = sqlite_backend(tmp_path / "monitor.db")
    else:
        found = postgres_backend(request.getfixturevalue("postgres_url"),
                                 request.getfixturevalue("postgres_server"))
    yield found
    found.close()


@contextlib.contextmanager
def module_backend(request: pytest.FixtureRequest, folder: Path) -> Iterator[Backend]:
    """The store `request.param` names, a database shared by a module's tests (its
    fixture is module-scoped and writes the rows once), dropped at the end."""
    if request.param == "sqlite":
        found = sqlite_backend(folder / "monitor.db")
        try:
            yield found
        finally:
            found.close()
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    found = postgres_backend(server.url(name), server)
    try:
        yield found
    finally:
        found.close()
        server.drop_database(name)
