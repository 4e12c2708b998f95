"""Connections to a PostgreSQL database (psycopg 3): opened by URL, the schema made on the
first start, and errors said with the URL's password masked."""

from __future__ import annotations

import psycopg

from monitor.core.errors import StoreError
from monitor.core.secrets import display_url, url_secrets
from monitor.store.postgres.schema import SCHEMA, SCHEMA_VERSION

# Held while the schema is made: two monitors starting together on an empty database must
# not both create it.
_SCHEMA_LOCK = 0x6D6F6E69746F72  # "monitor"
CONNECT_TIMEOUT = 10  # seconds


def is_url(database: str) -> bool:
    """Whether `-db` names a PostgreSQL database rather than an SQLite file."""
    return database.startswith(("postgresql://", "postgres://"))


def shown(url: str) -> str:
    """The URL as messages may show it: its password masked."""
    return display_url(url)


def say_error(url: str, exc: BaseException) -> str:
    """An error's text without the URL's secrets (libpq may repeat the connection string)."""
    # One line: libpq's hints ("Is the server running on that host...") come on the next.
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def connect(url: str, *, application: str = "uptime-monitor") -> psycopg.Connection:
    """A connection in autocommit mode: the callers open their transactions (BEGIN) as
    SQLite's writer does."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name=application)
    except psycopg.Error as exc:
        raise StoreError(f"{shown(url)}: cannot connect: {say_error(url, exc)}") from None


def reconnect(url: str) -> psycopg.Connection:
    """The writer's connection again, after the server dropped it (its tables are made):
    raises psycopg's error, a refusal the writer holds its rows through and retries."""
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                           application_name="uptime-monitor writer")


def schema_version(conn: psycopg.Connection) -> int:
    """meta's schema_version; 0 for a database without our tables."""
    found = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def ensure_schema(conn: psycopg.Connection, url: str) -> None:
    """Make the tables if the database has none; refuse one of a newer version."""
    try:
        version = schema_version(conn)
        if version == 0:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                if schema_version(conn) == 0:
                    conn.execute(SCHEMA)  # (a constant: no parameters)
                    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                 (str(SCHEMA_VERSION),))
            version = SCHEMA_VERSION
    except psycopg.Error as exc:
        raise StoreError(f"{shown(url)}: cannot make the tables: {say_error(url, exc)}"
                         ) from None
    if version > SCHEMA_VERSION:
        raise StoreError(f"{shown(url)}: written by a newer version (schema {version}, this"
                         f" program knows {SCHEMA_VERSION})")
    if version < SCHEMA_VERSION:
        raise StoreError(f"{shown(url)}: schema {version} is older than this program's"
                         f" ({SCHEMA_VERSION}) and cannot be upgraded in place")


def open_writer_connection(url: str) -> psycopg.Connection:
    """The writing connection, its schema made if the database has none."""
    conn = connect(url, application="uptime-monitor writer")
    try:
        ensure_schema(conn, url)
    except BaseException:
        conn.close()
        raise
    return conn
