"""The PostgreSQL store's tests: a real server per worker, a fresh database per test, and a
`backend` fixture that runs a test on both stores (SQLite's file, PostgreSQL's database)
through the same calls: `make(**kwargs)` a writer, `read(sql, *args)` rows (the statement
written with `?` placeholders, as for SQLite)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


@dataclass
class Backend:
    """One store under test: its name, where it writes, and how to make and read it."""

    name: str
    where: str  # the file's path, or the database's URL
    make_store: Callable[..., Any]
    query: Callable[[str, tuple], list[tuple]]
    made: list[Any] = field(default_factory=list)

    @property
    def shown(self) -> str:
        """How the writer's messages name the database."""
        return self.where

    def make(self, **kwargs: Any) -> Any:
        store = self.make_store(self.where, **kwargs)
        self.made.append(store)
        return store

    def read(self, sql: str, *args: Any) -> list[tuple]:
        return [tuple(row) for row in self.query(sql, args)]


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
            return conn.execute(sql.replace("?", "%s"), args).fetchall()  # type: ignore[arg-type]
    return query


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store in turn; the writers made through it closed at the end of the test."""
    if request.param == "sqlite":
        from monitor.store.sqlite.writer import Store as SqliteStore

        path = str(tmp_path / "monitor.db")
        found = Backend("sqlite", path, SqliteStore, _sqlite_query(path))
    else:
        from monitor.store.postgres.writer import Store as PostgresStore

        url = request.getfixturevalue("postgres_url")
        found = Backend("postgresql", url, PostgresStore, _postgres_query(url))
    yield found
    for store in found.made:
        with contextlib.suppress(Exception):
            store.close()
