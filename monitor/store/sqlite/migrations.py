"""Migrations of older databases as numbered steps: STEPS[n - 1] takes schema n to n + 1,
each in a transaction of its own (with PRAGMA user_version), applied in order from the
file's user_version. A step stops at the first error and leaves its version as it was.

Each step carries the DDL of its own time: the schema of today (schema.SCHEMA) is only for
new databases.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from monitor.store.codec import MinuteAgg, upgrade_hist
from monitor.store.sqlite import uptime
from monitor.store.sqlite.rollups import due_until, roll_up
from monitor.store.sqlite.schema import SCHEMA, statements

# Schema 4, as it was: steps 1-3 create what it had (an older file lacks some tables).
SCHEMA_4 = """
CREATE TABLE IF NOT EXISTS website_monitoring (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,          -- UTC, epoch seconds
    host TEXT NOT NULL,               -- the site's URL, password and secret values masked
    available INTEGER,                -- 1 up, 0 down, NULL unknown (the monitor was offline)
    status INTEGER,
    responseTime REAL NOT NULL,       -- milliseconds
    reason TEXT,
    detail TEXT,
    lateness REAL                     -- milliseconds after the scheduled start
);
-- Only the time is indexed: an index leading with the site would turn every insert into
-- a random B-tree write. Per-site reads go to aggregates instead.
CREATE INDEX IF NOT EXISTS website_monitoring_time ON website_monitoring(timestamp);

CREATE TABLE IF NOT EXISTS website_alerts (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,          -- UTC, ISO-8601 with Z
    host TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('alert', 'recovery')),
    startDate TEXT NOT NULL,
    endDate TEXT,
    availability REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS website_alerts_host ON website_alerts(host, id);

-- Per site, the checks of each minute (span 60) and of each 10 minutes (span 600), kept up
-- to date by the writer: counts, sums, extremes, and the response-time histogram. Keyed by
-- site first, so that a report reads each site's few rows in one seek per span, in site
-- order, with no sort. Blocks of 10 minutes before meta's blocks_since (a database older
-- than them) are not filled in.
CREATE TABLE IF NOT EXISTS aggregates (
    host TEXT NOT NULL,
    span INTEGER NOT NULL,            -- seconds: 60 or 600
    start INTEGER NOT NULL,           -- epoch seconds, a multiple of span
    checks INTEGER NOT NULL,
    up INTEGER NOT NULL,
    rt_count INTEGER NOT NULL,        -- checks that got an HTTP answer (timed ones)
    rt_sum REAL NOT NULL,
    rt_min REAL,
    rt_max REAL,
    hist TEXT NOT NULL,               -- response-time histogram (stats.HIST_DIGIT)
    outcomes TEXT NOT NULL,           -- codes, then reasons: "200:58,503:2,http_status:2"
    PRIMARY KEY (host, span, start)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
);

CREATE TABLE IF NOT EXISTS site_state (
    host TEXT PRIMARY KEY,
    last_check REAL NOT NULL,
    last_ok REAL,
    last_failure REAL,
    down_since REAL
);

CREATE TABLE IF NOT EXISTS sites (
    host TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    interval REAL NOT NULL,
    active INTEGER NOT NULL
);
"""

_AGG_COLUMNS = "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
MIGRATION_WAIT_MS = 600_000  # how long a process waits for another's migration


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _create(conn: sqlite3.Connection, script: str, only: str | None = None) -> None:
    for statement in statements(script):
        if only is None or only in statement:
            conn.execute(statement)


def _1_to_2(conn: sqlite3.Connection) -> None:
    """Schema 1 had `available NOT NULL` (no "unknown") and hosts with passwords in them.
    SQLite cannot drop a NOT NULL, so the table is copied."""
    from monitor.core.secrets import display_url

    conn.create_function("display_url", 1, display_url, deterministic=True)
    conn.execute("ALTER TABLE website_monitoring RENAME TO website_monitoring_v1")
    conn.execute("DROP INDEX IF EXISTS website_monitoring_time")
    _create(conn, SCHEMA_4, only="website_monitoring")
    conn.execute("INSERT INTO website_monitoring SELECT id, timestamp, display_url(host),"
                 " available, status, responseTime, reason, detail, lateness"
                 " FROM website_monitoring_v1")
    conn.execute("DROP TABLE website_monitoring_v1")
    tables = _tables(conn)
    for table in ("website_alerts", "minute_stats", "site_state", "sites"):
        if table in tables:
            conn.execute(f"UPDATE OR REPLACE {table} SET host = display_url(host)"
                         " WHERE host LIKE '%@%' OR host LIKE '%?%'")


def _2_to_3(conn: sqlite3.Connection) -> None:
    """Schema 3 began the 10-minute blocks: older history has none, and reports read its
    minutes instead, up to meta's blocks_since."""
    _create(conn, SCHEMA_4, only="TABLE IF NOT EXISTS meta")
    last = (conn.execute("SELECT max(minute) FROM minute_stats").fetchone()[0]
            if "minute_stats" in _tables(conn) else None)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('blocks_since', ?)",
                 (0 if last is None else last // 10 + 1,))


def _3_to_4(conn: sqlite3.Connection) -> None:
    """Schemas 1-3 kept the aggregates in minute_stats (and, from 3, block_stats), keyed by
    time first, with histograms as "bucket:count,..." and statuses apart from reasons: they
    move into `aggregates`, in today's texts."""
    tables = _tables(conn)
    _create(conn, SCHEMA_4)
    conn.create_function("upgrade_hist", 1, upgrade_hist, deterministic=True)
    for table, span, column in (("minute_stats", 60, "minute"), ("block_stats", 600, "block")):
        if table in tables:
            conn.execute(f"INSERT OR REPLACE INTO aggregates (host, span, start,"
                         f" {_AGG_COLUMNS}) SELECT host, {span}, {column} * {span},"
                         " checks, up, rt_count, rt_sum, rt_min, rt_max,"
                         " upgrade_hist(hist), statuses || CASE WHEN statuses <> ''"
                         f" AND reasons <> '' THEN ',' ELSE '' END || reasons FROM {table}"
                         " ORDER BY host, 2, 3")
            conn.execute(f"DROP TABLE {table}")


def _4_to_5(conn: sqlite3.Connection) -> None:
    """Monitors of any kind: checks and alerts name their monitor id apart from the target
    (NULL: the same, which every older row is, so none is rewritten), checks keep their
    kind's metrics, which get aggregates of their own; `sites` learns kind and target."""
    _add_columns(conn, (("website_monitoring", "monitor", "TEXT"),
                        ("website_monitoring", "metrics", "TEXT"),
                        ("website_alerts", "monitor", "TEXT"),
                        ("sites", "kind", "TEXT NOT NULL DEFAULT 'http'"),
                        ("sites", "target", "TEXT")))
    _create(conn, SCHEMA, only="metric_aggs")


def _5_to_6(conn: sqlite3.Connection) -> None:
    """Results can warn: a check says so in `warning`, a monitor's state holds its warning
    now. Older rows are NULL there: none of them warned."""
    _add_columns(conn, (("website_monitoring", "warning", "INTEGER"),
                        ("site_state", "warning", "TEXT")))


def _6_to_7(conn: sqlite3.Connection) -> None:
    """Notifications: the outbox, filled with the alerts they are about."""
    _create(conn, SCHEMA, only="outbox")


# Schema 8's new tables, as they were (SCHEMA may change them later).
SCHEMA_8_TABLES = """
CREATE TABLE IF NOT EXISTS website_alerts (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    host TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('alert', 'recovery', 'reminder', 'warning', 'cleared',
                                       'flapping', 'settled')),
    startDate TEXT NOT NULL,
    endDate TEXT,
    availability REAL NOT NULL,
    message TEXT NOT NULL,
    monitor TEXT
);
CREATE INDEX IF NOT EXISTS website_alerts_host ON website_alerts(host, id);
CREATE TABLE IF NOT EXISTS maintenance (
    monitor TEXT PRIMARY KEY,
    since REAL NOT NULL,
    until REAL
);
"""


def _7_to_8(conn: sqlite3.Connection) -> None:
    """The alert rules: `website_alerts.type` takes their events (a CHECK constraint is
    changed only by copying the table, ids kept: the outbox points at them), and monitors
    can be put in maintenance from the command line."""
    conn.execute("ALTER TABLE website_alerts RENAME TO website_alerts_7")
    conn.execute("DROP INDEX IF EXISTS website_alerts_host")
    _create(conn, SCHEMA_8_TABLES, only="website_alerts")
    conn.execute("INSERT INTO website_alerts (id, timestamp, host, type, startDate, endDate,"
                 " availability, message, monitor) SELECT id, timestamp, host, type,"
                 " startDate, endDate, availability, message, monitor FROM website_alerts_7")
    conn.execute("DROP TABLE website_alerts_7")
    _create(conn, SCHEMA_8_TABLES, only="maintenance")
    _add_columns(conn, (("site_state", "maintenance", "REAL"),))


# Schema 9's tables made anew from schema 8's (SCHEMA may change them later); the alerts'
# is schema 8's with its monitor NOT NULL.
SCHEMA_9_TABLES = SCHEMA_8_TABLES.split("CREATE INDEX")[0].replace(
    "    monitor TEXT\n);", "    monitor TEXT NOT NULL\n);") + """
CREATE TABLE website_monitoring (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,
    host TEXT NOT NULL,
    available INTEGER,
    status INTEGER,
    responseTime REAL NOT NULL,
    reason TEXT,
    detail TEXT,
    lateness REAL,
    monitor TEXT NOT NULL,
    metrics TEXT,
    warning INTEGER
);
CREATE INDEX website_monitoring_time ON website_monitoring(timestamp);
CREATE INDEX website_alerts_host ON website_alerts(host, id);
CREATE INDEX website_alerts_monitor ON website_alerts(monitor, id);
CREATE TABLE monitors (
    monitor TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    interval REAL NOT NULL,
    active INTEGER NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL
);
"""
_CHECK_COLUMNS = ("id, timestamp, host, available, status, responseTime, reason, detail,"
                  " lateness, monitor, metrics, warning")
_ALERT_COLUMNS = "id, timestamp, host, type, startDate, endDate, availability, message, monitor"


def _8_to_9(conn: sqlite3.Connection) -> None:
    """Tables and columns named for what they hold: `sites` -> `monitors`, `site_state` ->
    `monitor_state`, their id column and aggregates' `host` -> `monitor`; the monitor id
    filled in every check and alert row (schema 5-8 left it NULL where it was the target)
    and in `monitors.target`, so no reader needs coalesce(). Filling a column in NOT NULL
    takes a copy of the table (ids kept: the outbox points at the alerts). And the plugged
    monitors of a site whose id ends in "/" ("https://h//tls") take the id the code gives
    them now ("https://h/tls"), so that their history goes on."""
    # The old tables' pages are freed, not zeroed: what they held is in the copies. Zeroed
    # (SQLite built with SECURE_DELETE, as Debian's is) they went through the WAL too: on 2
    # million checks 512 MB of it instead of 316, 6.4 s instead of 4.0 (bench/migration).
    secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete=FAST")
    try:
        _copy_with_monitors(conn)
    finally:
        conn.execute(f"PRAGMA secure_delete={int(secure)}")


def _copy_with_monitors(conn: sqlite3.Connection) -> None:
    renamed = _plugged_renames(conn)
    # The rows of those monitors (their target is never their id) name them in `monitor`.
    fill = "CASE WHEN monitor IS NULL THEN host" + "".join(
        " WHEN monitor = ? THEN ?" for _ in renamed) + " ELSE monitor END"
    pairs = [value for pair in renamed for value in pair]
    for table, columns in (("website_monitoring", _CHECK_COLUMNS),
                           ("website_alerts", _ALERT_COLUMNS)):
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_8")
        for (index,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                     " AND tbl_name = ? AND sql IS NOT NULL",
                                     (f"{table}_8",)).fetchall():
            conn.execute(f"DROP INDEX {index}")
        _create(conn, SCHEMA_9_TABLES, only=f" {table} (")
        filled = ", ".join(fill if c == "monitor" else c for c in columns.split(", "))
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {filled} FROM {table}_8", pairs)
        conn.execute(f"DROP TABLE {table}_8")
        _create(conn, SCHEMA_9_TABLES, only=f"ON {table}(")
    conn.execute("ALTER TABLE aggregates RENAME COLUMN host TO monitor")
    conn.execute("ALTER TABLE site_state RENAME TO monitor_state")
    conn.execute("ALTER TABLE monitor_state RENAME COLUMN host TO monitor")
    _create(conn, SCHEMA_9_TABLES, only=" monitors (")
    # The rowids kept: they are the monitors' order in the config.
    conn.execute("INSERT INTO monitors (rowid, monitor, name, interval, active, kind, target)"
                 " SELECT rowid, host, name, interval, active, kind, coalesce(target, host)"
                 " FROM sites ORDER BY rowid")
    conn.execute("DROP TABLE sites")
    for old, new in renamed:
        _rename_plugged(conn, old, new)


def _plugged_renames(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(old id, new id) of the plugged monitors of sites whose id ends in "/": those whose
    id and name are what the code of schema 8 made of their site's ("<site id>/<kind>",
    "<site label>/<kind>"), of any kind (an installed one's too), unless the new id is
    another kind's monitor."""
    return conn.execute(
        "SELECT p.host, substr(s.host, 1, length(s.host) - 1) || '/' || p.kind AS new"
        " FROM sites p JOIN sites s ON p.host = s.host || '/' || p.kind"
        " WHERE s.kind = 'http' AND p.kind <> 'http' AND substr(s.host, -1) = '/'"
        " AND p.name = coalesce(nullif(s.name, ''), s.target, s.host) || '/' || p.kind"
        " AND NOT EXISTS (SELECT 1 FROM sites o WHERE o.host = substr(s.host, 1,"
        " length(s.host) - 1) || '/' || p.kind AND o.kind <> p.kind) ORDER BY p.rowid",
    ).fetchall()


def _rename_plugged(conn: sqlite3.Connection, old: str, new: str) -> None:
    """Every row of the monitor `old` as `new`'s. Where `new` has rows too (the monitor ran
    under both ids: a database of schema 8 written by code that already made the new
    ids), its rows of the same key are merged: aggregates summed, the newer state kept."""
    key = (old, new)  # (the checks and alerts took the new id as they were copied)
    # Aggregates of a minute or block that both ids have: summed into the new one's row.
    for span, start, *row in conn.execute(
            f"SELECT span, start, {_AGG_COLUMNS} FROM aggregates o WHERE monitor = ? AND EXISTS"
            " (SELECT 1 FROM aggregates n WHERE n.monitor = ? AND n.span = o.span AND"
            " n.start = o.start)", key).fetchall():
        merged = MinuteAgg.from_row(conn.execute(
            f"SELECT {_AGG_COLUMNS} FROM aggregates WHERE monitor = ? AND span = ? AND start = ?",
            (new, span, start)).fetchone())
        merged.merge_row(row)
        conn.execute("UPDATE aggregates SET checks = ?, up = ?, rt_count = ?, rt_sum = ?,"
                     " rt_min = ?, rt_max = ?, hist = ?, outcomes = ? WHERE monitor = ? AND"
                     " span = ? AND start = ?", (*merged.to_row(), new, span, start))
        conn.execute("DELETE FROM aggregates WHERE monitor = ? AND span = ? AND start = ?",
                     (old, span, start))
    conn.execute("UPDATE aggregates SET monitor = ? WHERE monitor = ?", key[::-1])
    same = ("n.monitor = ? AND n.span = metric_aggs.span AND n.start = metric_aggs.start"
            " AND n.metric = metric_aggs.metric")
    conn.execute(  # metric rows add up as the writer's upsert adds them
        'UPDATE metric_aggs SET (count, sum, "min", "max", hist) = (SELECT metric_aggs.count'
        ' + n.count, metric_aggs.sum + n.sum, min(metric_aggs."min", n."min"),'
        ' max(metric_aggs."max", n."max"), metric_aggs.hist || n.hist FROM metric_aggs n'
        f" WHERE {same}) WHERE monitor = ? AND EXISTS (SELECT 1 FROM metric_aggs n WHERE"
        f" {same})", (new, old, new))
    conn.execute(f"DELETE FROM metric_aggs WHERE monitor = ? AND EXISTS (SELECT 1 FROM"
                 f" metric_aggs n WHERE {same})", (new, old))
    conn.execute("UPDATE metric_aggs SET monitor = ? WHERE monitor = ?", key[::-1])
    # The state of the id checked last; the latest success and failure of either.
    newest = conn.execute("SELECT monitor FROM monitor_state WHERE monitor IN (?, ?)"
                          " ORDER BY last_check DESC LIMIT 1", key).fetchone()
    if newest is not None:
        conn.execute("UPDATE monitor_state SET (last_ok, last_failure) = (SELECT max(last_ok),"
                     " max(last_failure) FROM monitor_state WHERE monitor IN (?, ?))"
                     " WHERE monitor = ?", (*key, *newest))
        conn.execute("DELETE FROM monitor_state WHERE monitor IN (?, ?) AND monitor <> ?",
                     (*key, *newest))
        conn.execute("UPDATE monitor_state SET monitor = ? WHERE monitor = ?",
                     (new, *newest))
    # A list of monitors and a maintenance set under both ids: the new one's is the latest.
    for table in ("monitors", "maintenance"):
        conn.execute(f"DELETE FROM {table} WHERE monitor = ? AND EXISTS (SELECT 1 FROM"
                     f" {table} n WHERE n.monitor = ?)", key)
    conn.execute("UPDATE monitors SET monitor = ?, name = CASE WHEN name LIKE '%//' || kind"
                 " THEN substr(name, 1, length(name) - length(kind) - 2) || '/' || kind"
                 " ELSE name END WHERE monitor = ?", key[::-1])
    conn.execute("UPDATE maintenance SET monitor = ? WHERE monitor = ?", key[::-1])


def _9_to_10(conn: sqlite3.Connection) -> None:
    """The server's schema: each monitor's last result in `monitor_state` (NULL until its
    next check), the pushed metric series and their rollups, push monitors' pushes,
    acknowledged alerts; and the hour and day rollups of the history the file holds,
    made from its blocks (minutes, before blocks existed) as the writer makes them, with
    the days' uptime packed and each monitor's counts of its last day."""
    _add_columns(conn, tuple(("monitor_state", column, kind) for column, kind in (
        ("last_available", "INTEGER"), ("last_status", "INTEGER"), ("last_response", "REAL"),
        ("last_reason", "TEXT"), ("last_detail", "TEXT"), ("last_metrics", "TEXT"),
        ("day_start", "INTEGER"), ("day_checks", "INTEGER"), ("day_up", "INTEGER"))))
    for table in ("uptime_days", "series", "series_points", "series_aggs", "pushes", "acks"):
        _create(conn, SCHEMA, only=f" {table} (")
        _create(conn, SCHEMA, only=f"ON {table}(")
    until = due_until(time.time())
    roll_up(conn, until)
    blocks = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    uptime.start_day_counts(conn, until, 0 if blocks is None else blocks[0])


def _add_columns(conn: sqlite3.Connection, columns: tuple[tuple[str, str, str], ...]) -> None:
    for table, column, kind in columns:
        # Only where missing: a file rewritten by hand to an older version may have some.
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _10_to_11(conn: sqlite3.Connection) -> None:
    """Each check's location (NULL: "local", every check stored so far), the agents'
    marks and when each was last heard. Adding a nullable column rewrites no row: quick
    however large the file."""
    _add_columns(conn, (("website_monitoring", "location", "TEXT"),))
    conn.execute("CREATE TABLE IF NOT EXISTS agents (name TEXT NOT NULL, instance TEXT NOT"
                 " NULL, upto INTEGER NOT NULL, location TEXT NOT NULL,"
                 " PRIMARY KEY (name, instance)) WITHOUT ROWID")
    conn.execute("CREATE TABLE IF NOT EXISTS agent_seen (name TEXT PRIMARY KEY, location"
                 " TEXT NOT NULL, seen REAL NOT NULL) WITHOUT ROWID")


STEPS: list[Callable[[sqlite3.Connection], None]] = [_1_to_2, _2_to_3, _3_to_4, _4_to_5,
                                                     _5_to_6, _6_to_7, _7_to_8, _8_to_9,
                                                     _9_to_10, _10_to_11]


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at schema `version` (1 or more) to len(STEPS) + 1, step by step."""
    # Another process may be taking a step that copies a big table (8 -> 9: 4 s per 2
    # million checks): wait for it rather than fail with "database is locked".
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={max(timeout, MIGRATION_WAIT_MS)}")
    try:
        for number in range(version, len(STEPS) + 1):
            _step(conn, number)
    finally:
        conn.execute(f"PRAGMA busy_timeout={timeout}")


def _step(conn: sqlite3.Connection, number: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process (a reader, a monitor starting)
        # may have taken this step since the version was read.
        if conn.execute("PRAGMA user_version").fetchone()[0] > number:
            conn.execute("COMMIT")
            return
        STEPS[number - 1](conn)
        conn.execute(f"PRAGMA user_version={number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
