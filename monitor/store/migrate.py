"""`migrate --to postgresql://...`: an SQLite history copied into an empty PostgreSQL
database, every table the two schemas share column for column, ids kept (and the identity
sequences moved past them), then checked: rows per table, ids, and the checks counted per
monitor in the raw rows and in the aggregates, equal on both sides.

Decisions, and why:
- One PostgreSQL transaction for everything (the schema too, when the database has none):
  all or nothing. A copy cut short (an error, Ctrl-C, a lost connection) leaves the target
  as it was, so running the command again is the way to resume; a resumable copy would
  have to tell a half-copied table from one another writer had begun to fill.
- The source is read in one read transaction (a consistent snapshot, beside a `maintenance
  on` or a purge), and refused while a monitor (-m) runs on it: its checks after the
  snapshot would be lost when the monitor moves to PostgreSQL. The owner's lock is held
  for the copy, so that no monitor starts on the file meanwhile.
- A target that holds any row of ours is refused (there is no --append): merging two
  histories would mix ids, monitor states and the rollups' marks.
- Rows not yet counted in the aggregates (meta's `unfolded` and `unsummed` ranges of ids,
  left by a quick stop or a crash) are carried over as they are: the ids are kept, so
  they name the same rows in PostgreSQL, whose monitor derives them at its first start as
  SQLite's would have.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from monitor.core.errors import StoreError
from monitor.store.postgres.connection import connect, ensure_schema, say_error, shown
from monitor.store.postgres.connection import schema_version as pg_schema_version
from monitor.store.postgres.schema import TABLES
from monitor.store.sqlite.connection import open_writer_connection as open_sqlite_writer
from monitor.store.sqlite.owner import DatabaseOwner, other_owner
from monitor.store.sqlite.schema import SCHEMA_VERSION as SQLITE_VERSION

BATCH = 5000  # rows read from SQLite at once
PROGRESS_EVERY = 1.0  # seconds between the progress lines of a long copy
LOCK_WAIT = "10s"  # how long the copy waits for a writer's lock on the target's tables


class MigrateError(StoreError):
    """The copy was refused or failed; the target is left as it was. `counts`: the rows of
    each table on both sides, when the check after the copy found them different."""

    def __init__(self, message: str, counts: list[TableCount] | None = None) -> None:
        super().__init__(message)
        self.counts = counts or []


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int  # rows in SQLite (meta: without the schema version, kept by PRAGMA there)
    target: int  # rows in PostgreSQL (meta: without its `schema_version` row)

    @property
    def same(self) -> bool:
        return self.source == self.target


@dataclass
class Migrated:
    source: str
    target: str  # the URL, its password masked
    counts: list[TableCount] = field(default_factory=list)
    seconds: float = 0.0
    underived: int = 0  # raw rows carried over not yet in the aggregates
    checked: list[str] = field(default_factory=list)  # what the check compared, in words

    @property
    def rows(self) -> int:
        return sum(count.source for count in self.counts)


Progress = Callable[[str], None]


def migrate(source: str | Path, url: str, progress: Progress = lambda line: None,
            clock: Callable[[], float] = time.monotonic) -> Migrated:
    """Copy the SQLite file `source` into the PostgreSQL database `url` (see the module's
    doc). Raises MigrateError (a StoreError) when refused or failed, with nothing written
    to the target."""
    path = Path(source)
    if not path.is_file():
        raise MigrateError(f"{path}: no such database file (name it with -db FILE)")
    owner = other_owner(path)
    if owner is not None:
        raise MigrateError(f"{path} is in use by a running monitor ({owner}): stop it"
                           " first, so that no check is written after the copy")
    version = _sqlite_version(path)
    if version > SQLITE_VERSION:
        raise MigrateError(f"{path}: written by a newer version (schema {version}, this"
                           f" program knows {SQLITE_VERSION})")
    conn = _connect(url)
    try:
        _refuse_history(conn, url)  # before anything is written, to either side
        if version < SQLITE_VERSION:
            progress(f"{path}: schema {version}, upgraded to {SQLITE_VERSION} first")
            open_sqlite_writer(path).close()
        lock = DatabaseOwner(path)  # no monitor starts on the file during the copy
        try:
            return _copy(path, conn, url, progress, clock)
        finally:
            lock.release()
    finally:
        conn.close()


def _connect(url: str) -> psycopg.Connection:
    try:
        return connect(url, application="uptime-monitor migrate")
    except StoreError as exc:
        # libpq's hint on a line of its own ("\tIs the server running on that host ..."):
        # one line, as every error of the command line.
        raise MigrateError(_one_line(str(exc))) from None


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _sqlite_version(path: Path) -> int:
    try:
        conn = _read_only(path)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise MigrateError(f"{path}: cannot read the database: {exc}") from None


def _read_only(path: Path) -> sqlite3.Connection:
    # A URI with the path percent-encoded (as the readers open it): read-only, never made.
    conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                           isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _refuse_history(conn: psycopg.Connection, url: str) -> None:
    """Refuse a target that holds a row of ours. meta aside: a monitor started on an empty
    database marks it (rolled_until) before any check; the copy replaces those marks."""
    try:
        if pg_schema_version(conn) == 0:
            return  # no tables of ours: the copy makes them
        held = [table for table in TABLES if table != "meta" and _has_rows(conn, table)]
    except psycopg.Error as exc:
        raise MigrateError(f"{shown(url)}: cannot read the database: {say_error(url, exc)}"
                           ) from None
    if held:
        raise MigrateError(
            f"{shown(url)} already holds history ({', '.join(held)}): migrate into an empty"
            " database (createdb a new one), so that no row is mixed with or overwrites"
            " another")


def _has_rows(conn: psycopg.Connection, table: str) -> bool:
    missing = conn.execute("SELECT to_regclass(%s) IS NULL", (table,)).fetchone()
    if missing is None or missing[0]:
        return False
    row = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()
    return bool(row and row[0])


def _copy(path: Path, conn: psycopg.Connection, url: str, progress: Progress,
          clock: Callable[[], float]) -> Migrated:
    done = Migrated(str(path), shown(url))
    started = clock()
    try:
        source = _read_only(path)
    except sqlite3.Error as exc:
        raise MigrateError(f"{path}: cannot open the database: {exc}") from None
    table = ""
    try:
        source.execute("BEGIN")  # one snapshot for the copy and the check
        sizes = {table: _count(source, table, path) for table in TABLES}
        total = sum(sizes.values())
        copier = _Copier(progress, clock, total)
        with conn.transaction():
            ensure_schema(conn, url)  # in this transaction: undone with the copy
            # Writers (a monitor started on the target meanwhile) wait for the commit.
            conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            conn.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
            conn.execute("SET LOCAL lock_timeout = 0")
            _refuse_history(conn, url)  # again, under the lock
            conn.execute("DELETE FROM meta WHERE key <> 'schema_version'")
            for table in TABLES:
                copier.table(source, conn, table, _columns(source, conn, table))
            table = ""
            _move_identities(conn)
            done.counts, done.checked = _check(source, conn, sizes)
            done.underived = _underived(source)
            if not all(count.same for count in done.counts):
                wrong = [c.table for c in done.counts if not c.same] or ["checked sums"]
                raise MigrateError(
                    f"the copy in {shown(url)} differs from {path} ({', '.join(wrong)}):"
                    " nothing was written", done.counts)
            if done.checked and done.checked[-1].startswith("differ"):
                raise MigrateError(f"the copy in {shown(url)} differs from {path}:"
                                   f" {done.checked[-1]}; nothing was written", done.counts)
    except sqlite3.Error as exc:
        raise MigrateError(f"{path}: cannot read the database: {exc}") from None
    except psycopg.Error as exc:
        where = f" ({table})" if table else ""
        raise MigrateError(f"{shown(url)}: the copy failed{where}, nothing was written:"
                           f" {_one_line(say_error(url, exc))}") from None
    finally:
        source.close()
    done.seconds = clock() - started
    return done


def _count(source: sqlite3.Connection, table: str, path: Path) -> int:
    if not _sqlite_columns(source, table):
        raise MigrateError(f"{path}: no table {table}, which schema {SQLITE_VERSION} has:"
                           " a damaged database, or not the monitor's")
    return int(source.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _sqlite_columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in source.execute(f"PRAGMA table_info({table})")]


def _columns(source: sqlite3.Connection, conn: psycopg.Connection, table: str) -> list[str]:
    """The columns to copy, as SQLite names them: both schemas must have the same ones
    (PostgreSQL's names are lower case; `monitors` keeps SQLite's implicit rowid)."""
    mine = _sqlite_columns(source, table)
    theirs = {name for (name,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = %s", (table,))}
    if table == "monitors":
        mine.append("rowid")
    if {name.lower() for name in mine} != theirs:
        raise MigrateError(f"{table}: the columns differ between the schemas (SQLite:"
                           f" {', '.join(sorted(mine))}; PostgreSQL:"
                           f" {', '.join(sorted(theirs))})")
    return mine


class _Copier:
    """Each table through COPY, in batches, with a progress line a second."""

    def __init__(self, progress: Progress, clock: Callable[[], float], total: int) -> None:
        self._progress = progress
        self._clock = clock
        self._total = total
        self._copied = 0
        self._started = clock()
        self._said = self._started

    def table(self, source: sqlite3.Connection, conn: psycopg.Connection, table: str,
              columns: list[str]) -> None:
        rows = _rows(source, table, columns)
        with conn.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for batch in rows:
                for row in batch:
                    copy.write_row(row)
                self._copied += len(batch)
                now = self._clock()
                if now - self._said >= PROGRESS_EVERY:
                    self._said = now
                    rate = self._copied / max(now - self._started, 1e-9)
                    self._progress(f"copying {table}: {self._copied:,} of {self._total:,}"
                                   f" rows ({100 * self._copied / self._total:.0f}%),"
                                   f" {rate:,.0f} rows/s")


def _rows(source: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[list[Any]]:
    """The table's rows in batches, meta's values as PostgreSQL's text column holds them."""
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    while batch := cursor.fetchmany(BATCH):
        if table == "meta":
            yield [(key, meta_text(value)) for key, value in batch
                   if key != "schema_version"]
        else:
            yield batch


def meta_text(value: object) -> str | None:
    """An untyped meta value of SQLite as the text PostgreSQL's meta keeps: whole numbers
    without a ".0" (the readers take `int()` of rolled_until), others as Python writes them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _move_identities(conn: psycopg.Connection) -> None:
    """Each identity column's sequence past the ids copied: new rows never collide."""
    found = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema"
        " = current_schema() AND is_identity = 'YES'").fetchall()
    for table, column in found:
        if table not in TABLES:
            continue
        conn.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), greatest(coalesce(max("
                     f"{column}), 0), 1), max({column}) IS NOT NULL) FROM {table}",
                     (table, column))


# -- the check ----------------------------------------------------------------------------

def compare(source: str | Path, url: str) -> tuple[list[TableCount], list[str]]:
    """The check of a copy made before, read-only on both sides: the rows of each table,
    and what was compared (its last entry starts with "differ" when a sum differs)."""
    path = Path(source)
    conn = _connect(url)
    try:
        db = _read_only(path)
        try:
            db.execute("BEGIN")
            return _check(db, conn, {table: _count(db, table, path) for table in TABLES})
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise MigrateError(f"{path}: cannot read the database: {exc}") from None
    except psycopg.Error as exc:
        raise MigrateError(f"{shown(url)}: cannot read the database: {say_error(url, exc)}"
                           ) from None
    finally:
        conn.close()


# Figures both sides must give alike, each query written for both: (what it compares, the
# statement). Whole numbers only: float sums may differ in their last digit by their order.
_SUMS = (
    ("ids of every table", None),
    ("checks and checks up per monitor (raw rows)",
     "SELECT monitor, count(*), sum(available), count(location) FROM website_monitoring"
     " GROUP BY monitor"),
    ("checks and checks up per monitor and span (aggregates)",
     "SELECT monitor, span, count(*), sum(checks), sum(up), sum(rt_count) FROM aggregates"
     " GROUP BY monitor, span"),
    ("measurements per monitor, span and metric (metric aggregates)",
     "SELECT monitor, span, metric, count(*), sum(count) FROM metric_aggs"
     " GROUP BY monitor, span, metric"),
    ("alerts per monitor and type",
     "SELECT monitor, type, count(*), sum(id) FROM website_alerts GROUP BY monitor, type"),
    ("notifications per alert, provider and state",
     "SELECT provider, count(*), sum(alert), count(sent), count(failed), sum(attempts)"
     " FROM outbox GROUP BY provider"),
    ("agents' marks", "SELECT name, instance, upto, location FROM agents"),
    ("agents last heard", "SELECT name, location, seen FROM agent_seen"),
    ("meta", "SELECT key, value FROM meta WHERE key <> 'schema_version'"),
)
_IDS = {"website_monitoring": "id", "website_alerts": "id", "outbox": "id", "series": "id",
        "pushes": "id", "acks": "alert", "monitors": "rowid", "series_points": "series"}


def _check(source: sqlite3.Connection, conn: psycopg.Connection, sizes: dict[str, int],
           ) -> tuple[list[TableCount], list[str]]:
    """Rows per table on both sides, and the sums of _SUMS: the last entry of the words
    starts with "differ" when a sum differs."""
    counts = []
    for table in TABLES:
        where = " WHERE key <> 'schema_version'" if table == "meta" else ""
        found = conn.execute(f"SELECT count(*) FROM {table}{where}").fetchone()
        rows = sizes[table] - (_has_key(source, "schema_version") if table == "meta" else 0)
        counts.append(TableCount(table, rows, int(found[0]) if found else -1))
    checked = ["rows of every table"]
    for what, sql in _SUMS:
        if sql is None:
            ids = [f"SELECT '{table}', count(*), coalesce(sum({column}), 0),"
                   f" coalesce(max({column}), 0) FROM {table}" for table, column in _IDS.items()]
            sql = " UNION ALL ".join(ids)
        mine = _normal(source.execute(sql).fetchall(), meta=what == "meta")
        theirs = _normal(conn.execute(sql).fetchall(), meta=False)
        if mine != theirs:
            return counts, [*checked, f"differ: {what}"]
        checked.append(what)
    return counts, checked


def _has_key(source: sqlite3.Connection, key: str) -> int:
    return int(source.execute("SELECT count(*) FROM meta WHERE key = ?", (key,)).fetchone()[0])


def _normal(rows: list[Any], meta: bool) -> list[tuple[Any, ...]]:
    """Rows to compare: numbers as ints (PostgreSQL's sums are numeric), sorted in Python
    (the databases order texts each their way)."""
    out = []
    for row in rows:
        if meta:
            row = (row[0], meta_text(row[1]))
        out.append(tuple(_number(v) for v in row))
    return sorted(out, key=repr)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    return value


def _underived(source: sqlite3.Connection) -> int:
    """Raw rows meta names as not yet counted in the aggregates (`unfolded`; `unsummed`,
    their metric figures, may name rows without metrics, which stay named)."""
    row = source.execute("SELECT value FROM meta WHERE key = 'unfolded'").fetchone()
    try:
        return sum(int(hi) - int(lo) for lo, hi in json.loads(row[0])) if row else 0
    except (TypeError, ValueError):
        return 0
