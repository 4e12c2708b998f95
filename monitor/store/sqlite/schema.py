"""The SQLite schema, version 11, as a new database gets it.

`website_monitoring` and `website_alerts` keep their names and their columns of schema 4
(other programs read them): `host` is what was checked (the target), `monitor` the
monitor's id, always filled since schema 9. Schemas 5 to 8 added columns and tables;
schema 9 named the internal tables and columns for what they hold (`monitors`,
`monitor_state`, a `monitor` column for the id everywhere). Schema 10 added the hour and
day rollups (and days' uptime packed in `uptime_days`), each monitor's last result and its
day's counts in `monitor_state`, the pushed metric series, the pushes of push monitors and
acknowledged alerts. Schema 11 added each check's location (its agent's; NULL: this
server's own, "local"), the agents' marks (`agents`) and when each agent was last heard
(`agent_seen`).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 11

SCHEMA = """
CREATE TABLE IF NOT EXISTS website_monitoring (
    id INTEGER PRIMARY KEY,
    timestamp REAL NOT NULL,          -- UTC, epoch seconds
    host TEXT NOT NULL,               -- the monitor's target (http: its URL), secrets masked
    available INTEGER,                -- 1 up, 0 down, NULL unknown (the monitor was offline)
    status INTEGER,                   -- HTTP status, or the kind's answer code
    responseTime REAL NOT NULL,       -- milliseconds
    reason TEXT,
    detail TEXT,
    lateness REAL,                    -- milliseconds after the scheduled start
    monitor TEXT NOT NULL,            -- the monitor's id
    metrics TEXT,                     -- JSON of the kind's measurements, NULL when none
    -- (No comma in a comment before the last column: SQLite's DROP COLUMN would stop there.)
    warning INTEGER,                  -- 1: up but warning (reason and detail say why)
    -- Where it ran: an agent's location; NULL for this server's own ("local")
    location TEXT
);
-- Only the time is indexed: an index leading with the monitor would turn every insert into
-- a random B-tree write. Per-monitor reads go to aggregates instead.
CREATE INDEX IF NOT EXISTS website_monitoring_time ON website_monitoring(timestamp);

CREATE TABLE IF NOT EXISTS website_alerts (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,          -- UTC, ISO-8601 with Z
    host TEXT NOT NULL,               -- the monitor's target, as in website_monitoring
    -- alert/recovery open and close an alert; reminder: it is still open; warning/cleared
    -- a warning; flapping/settled the holding of alerts while a monitor flaps.
    type TEXT NOT NULL CHECK (type IN ('alert', 'recovery', 'reminder', 'warning', 'cleared',
                                       'flapping', 'settled')),
    startDate TEXT NOT NULL,          -- when what it is about began
    endDate TEXT,                     -- when it ended (recovery, cleared, settled)
    availability REAL NOT NULL,
    message TEXT NOT NULL,
    monitor TEXT NOT NULL             -- the monitor's id
);
-- By target for the programs that read it so (since schema 4); by monitor for ours.
CREATE INDEX IF NOT EXISTS website_alerts_host ON website_alerts(host, id);
CREATE INDEX IF NOT EXISTS website_alerts_monitor ON website_alerts(monitor, id);

-- Per monitor, the checks of each minute (span 60), 10 minutes (600), hour (3600) and UTC
-- day (86400), kept up to date by the writer: counts, sums, extremes, and the
-- response-time histogram. Keyed by monitor first, so that a report reads each monitor's
-- few rows in one seek per span, in order, with no sort. Blocks of 10 minutes before meta's
-- blocks_since (a database older than them) are not filled in; hours and days older than
-- schema 10 were rolled up from the 10-minute blocks (or minutes) the file held then.
CREATE TABLE IF NOT EXISTS aggregates (
    monitor TEXT NOT NULL,            -- the monitor's id
    span INTEGER NOT NULL,            -- seconds: 60, 600, 3600 or 86400
    start INTEGER NOT NULL,           -- epoch seconds, a multiple of span
    checks INTEGER NOT NULL,
    up INTEGER NOT NULL,
    rt_count INTEGER NOT NULL,        -- checks that got an answer with a code (timed ones)
    rt_sum REAL NOT NULL,
    rt_min REAL,
    rt_max REAL,
    hist TEXT NOT NULL,               -- response-time histogram (codec.HIST_DIGIT)
    -- codes, then reasons, warnings' after a "~": "200:58,503:2,http_status:2,~tls_expiry:58"
    outcomes TEXT NOT NULL,
    PRIMARY KEY (monitor, span, start)
) WITHOUT ROWID;

-- The kinds' measurements (http: dns, connect, tls, ttfb, total in ms) the same way, one
-- row per monitor, span, start and metric: keyed by monitor first like `aggregates`.
CREATE TABLE IF NOT EXISTS metric_aggs (
    monitor TEXT NOT NULL,
    span INTEGER NOT NULL,
    start INTEGER NOT NULL,
    metric TEXT NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL,
    max REAL,
    hist TEXT NOT NULL,
    PRIMARY KEY (monitor, span, start, metric)
) WITHOUT ROWID;

-- Notifications to send, written in the same transaction as the alert row they are about:
-- at least once, across kill -9, a full disk and restarts. `key` is the same for every
-- attempt ("<alert id>:<provider>"), so that a receiver can tell a retry. The provider is
-- named, never its URL (a secret).
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    alert INTEGER NOT NULL,           -- website_alerts.id
    key TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,              -- alert, recovery, warning, reminder, flapping
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,            -- epoch seconds
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL,                    -- the next attempt, after a failed one
    sent REAL,                        -- when it was delivered
    failed REAL,                      -- when it was given up (notifyRetryFor)
    error TEXT                        -- the last attempt's error, secrets masked
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(provider, id)
    WHERE sent IS NULL AND failed IS NULL;
CREATE INDEX IF NOT EXISTS outbox_alert ON outbox(alert);

-- Monitors put in maintenance from the command line (`maintenance on NAME`): their checks
-- are recorded as unknown (reason "maintenance") and raise nothing until `until` or `off`.
CREATE TABLE IF NOT EXISTS maintenance (
    monitor TEXT PRIMARY KEY,         -- the monitor id
    since REAL NOT NULL,              -- epoch seconds
    until REAL                        -- epoch seconds; NULL: until `maintenance off`
);

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
);

-- Each monitor's state, kept up to date by the writer with every check it writes. Every
-- monitor with aggregates has a row: reports and purges go through it monitor by monitor.
CREATE TABLE IF NOT EXISTS monitor_state (
    monitor TEXT PRIMARY KEY,         -- the monitor's id
    last_check REAL NOT NULL,
    last_ok REAL,
    last_failure REAL,
    down_since REAL,
    warning TEXT,                     -- the warning now ("reason: detail"), NULL if none
    maintenance REAL,                 -- its checks are in maintenance since; NULL if not
    -- The newest check's result, as in website_monitoring (NULL before the first one).
    last_available INTEGER,           -- 1 up, 0 down, NULL unknown
    last_status INTEGER,
    last_response REAL,               -- milliseconds
    last_reason TEXT,
    last_detail TEXT,
    last_metrics TEXT,                -- JSON, as website_monitoring.metrics
    -- The known checks of the UTC day of the newest one (unknown ones aside, as the
    -- aggregates count them), and those up: today's uptime without reading today's rows.
    day_start INTEGER,                -- epoch seconds of that day's 00:00 UTC
    day_checks INTEGER,
    day_up INTEGER
);

-- Each monitor's checks and checks up per whole UTC day, as its day rows of `aggregates`
-- have them, packed 32 days a row: 90 days of 5,000 monitors are 20,000 short rows, not
-- 450,000 wide ones. Written when a day is rolled up whole (and when a late check changes
-- it); days without checks are zeros.
-- Keyed by time first: the last 90 days of every monitor are 3 or 4 runs of rows.
CREATE TABLE IF NOT EXISTS uptime_days (
    start INTEGER NOT NULL,           -- epoch seconds, a multiple of 32 days
    monitor TEXT NOT NULL,
    counts BLOB NOT NULL,             -- 32 pairs (checks, up), unsigned 32-bit little-endian
    PRIMARY KEY (start, monitor)
) WITHOUT ROWID;

-- The monitors the writing process configured, in their order (rowid), and those it no
-- longer has (active 0): readers label and list them from here.
CREATE TABLE IF NOT EXISTS monitors (
    monitor TEXT PRIMARY KEY,         -- the monitor's id
    name TEXT NOT NULL,               -- its display name; '' when it has none
    interval REAL NOT NULL,           -- seconds between checks
    active INTEGER NOT NULL,          -- 1: in the writing process's config now
    kind TEXT NOT NULL,
    target TEXT NOT NULL              -- what it checks, as stored in website_monitoring.host
);

-- The metric series pushed to the server (POST /api/v1/metrics), by dotted path.
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,        -- "web.frontend.latency"
    first REAL NOT NULL,              -- epoch seconds of its first value
    last REAL NOT NULL,               -- and of its latest
    last_value REAL
);
-- Their raw values.
CREATE TABLE IF NOT EXISTS series_points (
    series INTEGER NOT NULL,          -- series.id
    timestamp REAL NOT NULL,          -- epoch seconds
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS series_points_at ON series_points(series, timestamp);
-- Their rollups, spans 60, 600, 3600 and 86400, histograms as in metric_aggs.
CREATE TABLE IF NOT EXISTS series_aggs (
    series INTEGER NOT NULL,
    span INTEGER NOT NULL,
    start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL,
    max REAL,
    hist TEXT NOT NULL,
    PRIMARY KEY (series, span, start)
) WITHOUT ROWID;

-- What push monitors received (/api/v1/push/{token}): a ping, a job's start or failure.
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,
    monitor TEXT NOT NULL,            -- the monitor's id
    timestamp REAL NOT NULL,          -- epoch seconds
    event TEXT NOT NULL CHECK (event IN ('ping', 'start', 'fail')),
    status TEXT,                      -- "up" or "down" as pushed, NULL if not said
    message TEXT,
    value REAL
);
CREATE INDEX IF NOT EXISTS pushes_monitor ON pushes(monitor, id);

-- Per agent and instance (the uuid of its local database), the highest local row id of its
-- checks stored: written in the same transaction as those rows, so that a resent batch
-- (after a lost answer, a crash of either side) stores nothing twice.
CREATE TABLE IF NOT EXISTS agents (
    name TEXT NOT NULL,               -- the agent's name in the config
    instance TEXT NOT NULL,
    upto INTEGER NOT NULL,            -- never decreases
    location TEXT NOT NULL,           -- the agent's location when it last sent
    PRIMARY KEY (name, instance)
) WITHOUT ROWID;

-- Per agent, its latest request heard by any monitor process sharing the database (each
-- hears only the agents that talk to it): what the process that judges agents lost reads.
CREATE TABLE IF NOT EXISTS agent_seen (
    name TEXT PRIMARY KEY,            -- the agent's name in the config
    location TEXT NOT NULL,           -- its location when last heard
    seen REAL NOT NULL                -- epoch seconds; never decreases
) WITHOUT ROWID;

-- Acknowledged alerts: no reminders for them.
CREATE TABLE IF NOT EXISTS acks (
    alert INTEGER PRIMARY KEY,        -- website_alerts.id of the 'alert' row
    monitor TEXT NOT NULL,
    at REAL NOT NULL,                 -- epoch seconds
    by TEXT NOT NULL                  -- who acknowledged it (an API token's name, a user)
);
"""

# The alert rows' types by what they are about: an alert (its reminders, its recovery), a
# warning, a flapping. Each monitor's latest row of each is the state a restart restores.
TYPE_GROUP = ("CASE WHEN type IN ('warning', 'cleared') THEN 'warning' WHEN type IN"
              " ('flapping', 'settled') THEN 'flapping' ELSE 'alert' END")


def statements(script: str) -> list[str]:
    """The statements of a script, to run one by one inside a transaction (executescript
    would commit first)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        code = line.split("--", 1)[0]
        current += code
        if code.strip().endswith(";") and sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
