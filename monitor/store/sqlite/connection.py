"""The writing connection: the file created private, its schema brought up to date, and
closed so that its -wal and -shm files stay for the next start."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from monitor.core.errors import StoreError, UpgradeRefused
from monitor.store.sqlite.migrations import migrate
from monitor.store.sqlite.owner import other_owner
from monitor.store.sqlite.schema import SCHEMA, SCHEMA_VERSION


def _create_private(path: Path) -> None:
    # The database holds URLs that may carry credentials: readable by its owner only, also
    # when the file was made beforehand (`touch`) with the umask's 0644.
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(name.stat().st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)


def explain(exc: sqlite3.Error, path: Path) -> str:
    """SQLite says "disk I/O error" when it cannot even make its shared-memory file on a full
    disk: say that the disk is full."""
    text = str(exc)
    if "disk I/O error" in text:
        with contextlib.suppress(OSError):
            if os.statvfs(path.absolute().parent).f_bavail == 0:
                return f"{text} (the disk is full)"
    return text


def open_writer_connection(path: str | Path) -> sqlite3.Connection:
    """The writing connection, the file created private and its schema brought up to date."""
    path = Path(path)
    try:
        _create_private(path)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path}: written by a newer version (schema {version}, "
                             f"this program knows {SCHEMA_VERSION})")
        # Nothing is written to a database already at this version: the monitor must start
        # on a full disk too, holding its checks in memory until space comes back.
        if version == 0:
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version < SCHEMA_VERSION:
            other = other_owner(path)
            if other is not None:
                conn.close()
                raise UpgradeRefused(
                    f"{path}: schema {version}, written by a monitor of an older version"
                    f" ({other}); restart that monitor with this version (it upgrades the"
                    " file as it starts), then try again")
            migrate(conn, version)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {explain(exc, path)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database: {exc.strerror}") from None
    return conn


def close_keeping_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Close the writing connection but leave the -wal and -shm files in place (the WAL
    emptied into the database first): SQLite deletes them when the last connection closes,
    and then the next start, or a reader, cannot make them again on a full disk ("disk I/O
    error"). A read-only connection closed last cannot delete them."""
    keeper = None
    with contextlib.suppress(sqlite3.Error):
        keeper = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
        keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with contextlib.suppress(sqlite3.Error):
        conn.close()
    if keeper is not None:
        with contextlib.suppress(sqlite3.Error):
            keeper.close()


