"""The PostgreSQL reader gives what the SQLite reader gives for the same rows: a history the
real SQLite writer stored (ten days of checks rolled up into hours and days, several
locations, alerts of every type with their notifications and acks, pushes, metric series,
maintenance, agents' marks, monitors configured, never checked and gone) is copied table
by table, column for column, into a real PostgreSQL database, and every Reader method is
asked the same questions of both, with the arguments the program itself makes (stats'
window plans, the dashboard's windows). Floats summed in another order may differ in their
last digits; histogram and outcome texts are compared by what they count (their order is
the database's)."""

from __future__ import annotations

import functools
import json
import math
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest

from monitor.core.errors import StoreError
from monitor.core.model import CheckResult
from monitor.metrics.paths import compile_pattern
from monitor.stats import slowest, trend, window_pieces, window_start, window_stats
from monitor.store.api import (
    Ack,
    AgentMark,
    AgentSeen,
    AlertRecord,
    Delivery,
    DeliveryDone,
    MetricRow,
    MonitorRow,
    RecordPush,
    RecordSeries,
    SetMaintenance,
    WindowRow,
    iso_utc,
)
from monitor.store.codec import decode_counts_into, decode_hist_into
from monitor.store.events import Position, Tail
from monitor.store.postgres.connection import open_writer_connection
from monitor.store.postgres.queries import PostgresReader, open_reader
from monitor.store.postgres.schema import TABLES
from monitor.store.sqlite.queries import SqliteReader
from monitor.store.sqlite.queries import open_reader as open_sqlite_reader
from monitor.store.sqlite.writer import Store
from monitor.store.summaries import TrendRow
from monitor.store.tiers import DAY, HOUR, cover
from tests.store.test_rollups import DAY0, MONITORS, history
from tests.support.postgres import PostgresServer
from tests.support.run_cache import made_once

END = DAY0 + 9 * DAY + 13 * HOUR + 1234  # the last check's time, about
NEVER = "https://never.example/"  # configured, never checked
GONE = "https://gone.example/"  # checked once, no longer configured
FAST = "https://fast.example/"  # answers within milliseconds, any float; down now
WINDOWS = (600, 3600, DAY, 7 * DAY)


def _feed(make: Callable[..., Any], checks: list[CheckResult]) -> None:
    """Write `checks` through a real writer (`make(clock=...)`), the clock following them
    a batch at a time (as tests/store/test_rollups.py's feed). 400 checks a batch (15
    hours): the rows are those of 40 a batch (checked: every table), written 4 times
    faster; the writers' stepping through the hours is test_rollups.py's, on both."""
    now = [0.0]
    store = make(clock=lambda: now[0])
    try:
        for i in range(0, len(checks), 400):
            part = checks[i:i + 400]
            now[0] = part[-1].timestamp + 1
            store.put_checks(part)
            assert store.flush()
    finally:
        store.close()


def _extras(make: Callable[..., Any], read: Callable[[], Any], last: float) -> None:
    """Everything but the checks' history, through a real writer (`make`; `read` opens
    its reader): the monitors' list, checks from agents' locations, alerts with their
    notifications and acks, pushes, series, maintenance."""
    rng = random.Random(3)
    now = [last + 5]
    store = make(clock=lambda: now[0])
    try:
        store.put_check(CheckResult(GONE, last - 3000, True, 200, 12.5))
        # Every 20 s for an hour: the sparkline's values below 10 and below 1 ms (ties of
        # their rounding too), raw pieces of any float; failing for the last 5 minutes.
        ties = [1.25, 0.125, 1.15, 2.675, 0.015, 9.95, 0.995]
        for k in range(180):
            ts = last - 3600 + k * 20 + 3.5
            ms = ties[k % 7] if k % 3 == 0 else rng.random() * (12 if k % 2 else 0.9)
            up = k < 165
            store.put_check(CheckResult(FAST, ts, up, 200 if up else None, ms,
                                        None if up else "connect", "refused" if not up else "",
                                        metrics={"connect": ms / 3}))
        assert store.flush()
        store.set_monitors([MonitorRow(m, "http" if m.startswith("http") else "tcp", m,
                                       f"name {i}", 420.0) for i, m in enumerate(MONITORS)]
                           + [MonitorRow(NEVER, "http", NEVER, "", 60.0),
                              MonitorRow(FAST, "http", FAST, "fast", 20.0)])
        # An agent's checks at the same instants as local ones, some failing.
        eu = []
        for k in range(12):
            ts = last - 2400 + k * 60
            up = k % 4 != 1
            eu.append(CheckResult(MONITORS[0], ts, up, 200 if up else None, 100.25 + k,
                                  None if up else "timeout", lateness_ms=3.0,
                                  metrics={"ttfb": 50.5 + k}, location="eu"))
        assert store.put_checks(eu, AgentMark("eu-1", "inst-1", 40, "eu"))
        assert store.put_checks([], AgentMark("us-1", "inst-2", 7, "us"))
        store.put_agent_seen(AgentSeen("eu-1", "eu", last - 1260.125))  # when last heard
        store.put_agent_seen(AgentSeen("us-1", "us", last - 30.5))
        for k in range(6):  # local checks at the agent's instants too
            store.put_check(CheckResult(MONITORS[0], last - 2400 + k * 60, k != 2,
                                        200 if k != 2 else 503, 70.75,
                                        None if k != 2 else "http_status", lateness_ms=1.5))
        assert store.flush()
        kinds = ["alert", "reminder", "recovery", "warning", "cleared", "alert", "flapping",
                 "settled", "alert"]
        for i, kind in enumerate(kinds):
            monitor = MONITORS[i % 2]
            start = iso_utc(last - 3600 + i * 60)
            store.put_alert(AlertRecord(
                iso_utc(last - 3000 + i * 60), monitor, kind, start,
                iso_utc(last - 2900 + i * 60) if kind in ("recovery", "cleared", "settled")
                else None, 0.5 + i / 100, f"{kind} of {monitor} #{i}",
                deliveries=(Delivery("slack", kind, f"t{i}", "body"),
                            Delivery("mail", kind, f"m{i}", "b"))))
        assert store.flush()
        reader = read()
        try:
            alerts = reader.alerts_after()
            rows = reader.pending_deliveries("slack", now[0]) + reader.pending_deliveries(
                "mail", now[0])
        finally:
            reader.close()
        assert alerts and rows
        store.put_delivery(DeliveryDone(rows[0].id, now[0], None))
        store.put_delivery(DeliveryDone(rows[1].id, now[0], "HTTP 500", retry_at=now[0] + 60))
        store.put_delivery(DeliveryDone(rows[-1].id, now[0], "gone", retry_at=None))
        store.put_ack(Ack(alerts[0][0], MONITORS[0], now[0], "ops"))
        for i in range(10):
            store.put_push(RecordPush(MONITORS[2], last - 900 + i * 60,
                                      ("start", "ping", "fail")[i % 3],
                                      "down" if i % 3 == 2 else None, f"job {i}" if i % 2
                                      else "", float(i) if i % 4 else None))
        store.put_push(RecordPush(MONITORS[1], last - 100, "ping"))
        paths = ["web.front.latency", "web.front.errors", "web.back.latency", "db.load",
                 "db.load.max"]
        for minute in range(150, 0, -1):
            now[0] = last - minute * 60 + 30
            store.put_series(RecordSeries(tuple(
                (path, last - minute * 60 + rng.random() * 50, rng.randrange(1, 4000) / 4)
                for path in paths for _ in range(2))))
            if minute % 30 == 0:
                assert store.flush()
        now[0] = last + 5
        store.set_maintenance(SetMaintenance(MONITORS[1], last - 60, last + 3600))
        assert store.flush()
    finally:
        store.close()


def copy_to_postgres(db: Path, url: str) -> None:
    """Every table of the SQLite file into the PostgreSQL database, column for column (the
    monitors' implicit rowid into their `rowid` column), identities moved past the ids."""
    import sqlite3

    open_writer_connection(url).close()  # the schema
    source = sqlite3.connect(db)
    try:
        with psycopg.connect(url) as conn:
            for table in TABLES:
                names = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
                if not names:
                    continue
                select = names + (["rowid"] if table == "monitors" else [])
                rows = source.execute(f"SELECT {', '.join(select)} FROM {table}").fetchall()
                if table == "meta":
                    conn.execute("DELETE FROM meta WHERE key <> 'schema_version'")
                    rows = [(k, str(v)) for k, v in rows if k != "schema_version"]
                with conn.cursor().copy(
                        f"COPY {table} ({', '.join(select)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if "id" in names:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                 f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
    finally:
        source.close()


class Stores(NamedTuple):
    sqlite: SqliteReader
    postgres: PostgresReader
    last: float  # the last check of the history
    written: bool  # by each store's writer (else copied)


def _write(make: Callable[..., Any], read: Callable[[], Any], checks: list[CheckResult],
           ) -> None:
    _feed(make, checks)
    _extras(make, read, checks[-1].timestamp)


def sqlite_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A copy of its own of the history as SQLite's writer wrote it (the same for every
    module that reads it: written once for the run, tests/support/run_cache.py), and the
    last check's time."""
    def write(folder: Path) -> None:
        db = folder / "monitoring.db"
        _write(functools.partial(Store, db), functools.partial(open_sqlite_reader, db),
               history(DAY0, END))
        # Closed cleanly, the writer left everything in the file itself: a copy of it is
        # the whole database.
        assert not db.with_name(db.name + "-wal").exists() or not db.with_name(
            db.name + "-wal").stat().st_size
    shared = made_once(tmp_path_factory, "postgres-reads-history", write)
    db = tmp_path_factory.mktemp("reads") / "monitoring.db"
    shutil.copyfile(shared / "monitoring.db", db)
    return db, history(DAY0, END)[-1].timestamp


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The module's copy of the history SQLite's writer wrote, and its last check's time."""
    return sqlite_history(tmp_path_factory)


@pytest.fixture(scope="module", params=["copied", "written"])
def stores(request: pytest.FixtureRequest, history_db: tuple[Path, float],
           postgres_server: PostgresServer,
           ) -> Iterator[Stores]:
    """The same history in both: written by SQLite's writer and copied table by table
    (the reads alone compared), or written by each store's own writer (the writers' rows
    as the readers see them)."""
    db, last = history_db
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    if request.param == "copied":
        copy_to_postgres(db, url)
    else:
        from monitor.store.postgres.writer import Store as PostgresStore

        _write(functools.partial(PostgresStore, url), functools.partial(open_reader, url),
               history(DAY0, END))
    sqlite_reader, pg_reader = open_sqlite_reader(db), open_reader(url)
    try:
        yield Stores(sqlite_reader, pg_reader, last, request.param == "written")
    finally:
        sqlite_reader.close()
        pg_reader.close()
        postgres_server.drop_database(name)


# -- equality ------------------------------------------------------------------------------

def _hist(text: bytes | str | None) -> dict[int, int]:
    found: dict[int, int] = {}
    if text:
        decode_hist_into(text.decode() if isinstance(text, bytes) else text, found)
    return found


def _counts(text: bytes | None) -> dict[str, int]:
    found: dict[str, int] = {}
    if text:
        decode_counts_into(text.decode(), found)
    return found


def _normal(value: Any) -> Any:
    """The texts whose order is the database's, as what they count."""
    if isinstance(value, WindowRow):
        return (*value[:7], _hist(value.hist), _counts(value.outcomes))
    if isinstance(value, (MetricRow, TrendRow)):
        return (*value[:-1], _hist(value.hist))
    return value


def same(x: Any, y: Any, path: str = "") -> None:
    """Assert equal, floats within their last digits (summed in another order)."""
    x, y = _normal(x), _normal(y)
    if isinstance(x, float) or isinstance(y, float):
        assert x is not None and y is not None, path
        assert x == pytest.approx(y, rel=1e-12, abs=1e-9), path
    elif isinstance(x, dict):
        assert isinstance(y, dict), path
        assert x.keys() == y.keys(), path
        for key in x:
            same(x[key], y[key], f"{path}[{key!r}]")
    elif isinstance(x, (tuple, list)):
        assert isinstance(y, (tuple, list)), path
        assert len(x) == len(y), (path, x, y)
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            same(a, b, f"{path}[{i}]")
    elif hasattr(x, "__dataclass_fields__"):
        assert type(x) is type(y), path
        for name in x.__dataclass_fields__:
            same(getattr(x, name), getattr(y, name), f"{path}.{name}")
    else:
        assert x == y, path
        assert type(x) is type(y) or x is None or y is None or {type(x), type(y)} <= {
            int, bool}, (path, type(x), type(y))


def both(stores: tuple, method: str, *args: Any, **kwargs: Any) -> Any:
    """Ask both readers; assert the same answer; give it."""
    sqlite_reader, pg_reader, _last, written = stores
    expected = getattr(sqlite_reader, method)(*args, **kwargs)
    found = getattr(pg_reader, method)(*args, **kwargs)
    if written and isinstance(found, Tail):
        # Each writer writes the metrics' JSON its way (spaces or none): the same JSON.
        same(_parsed(found), _parsed(expected), method)
    else:
        same(found, expected, method)
    return expected


def _parsed(tail: Tail) -> Tail:
    return tail._replace(checks=[check._replace(metrics=json.loads(check.metrics or "null"))
                                 for check in tail.checks])


def _spans(last: float) -> list[tuple[float, float]]:
    """Windows as the program asks for them: ending now, a while ago, past the history."""
    spans = []
    for end in (last, last + 0.5, last - 5000.25, last - 3 * DAY + 17, last + 3 * HOUR):
        spans += [(window_start(end, seconds), end) for seconds in WINDOWS]
    return spans


# -- the engine's restore and the reports --------------------------------------------------

def test_the_history_holds_every_kind_of_row(stores) -> None:
    sqlite_reader, pg_reader, _last, _written = stores
    with pg_reader.conn.cursor() as cur:
        for table in TABLES:
            count = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            expected = sqlite_reader.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            # (meta: PostgreSQL's schema_version too, SQLite's is its user_version)
            assert count == expected + (table == "meta"), table
            assert count > 0, table
    assert pg_reader.rolled_until() > DAY0 + 8 * DAY


def test_window_rows_metric_rows_and_totals(stores) -> None:
    sqlite_reader, _pg, last, _written = stores
    for start, end in _spans(last):
        ranges, raws = window_pieces(sqlite_reader, start, end)
        both(stores, "window_rows", ranges, raws)
        both(stores, "window_rows", ranges, raws, [MONITORS[2], MONITORS[0], "none"])
        both(stores, "metric_rows", ranges, raws)
        both(stores, "metric_rows", ranges, raws, [MONITORS[1], MONITORS[0]])
        both(stores, "window_totals", ranges, raws)
    both(stores, "window_totals", [], [])
    both(stores, "window_rows", [], [])


def test_window_stats_slowest_and_trend_are_the_same(stores) -> None:
    """The program's own figures, from either reader."""
    sqlite_reader, pg_reader, last, _written = stores
    for start, end in _spans(last):
        same(window_stats(pg_reader, start, end), window_stats(sqlite_reader, start, end),
             f"stats {start} {end}")
        totals = sqlite_reader.window_totals(*window_pieces(sqlite_reader, start, end))
        same(slowest(pg_reader, start, end, totals, 2),
             slowest(sqlite_reader, start, end, totals, 2))
    for since, step in ((last - DAY, 3600), (last - 7 * DAY, DAY), (last - 7200, 60)):
        for monitor in MONITORS:
            for metric in (None, "ttfb"):
                same(trend(pg_reader, monitor, since, last, step, metric),
                     trend(sqlite_reader, monitor, since, last, step, metric),
                     f"trend {monitor} {metric} {step}")


def test_window_summaries(stores) -> None:
    sqlite_reader, _pg, last, _written = stores
    for end in (last, last - 3 * DAY + 17):
        windows = [window_pieces(sqlite_reader, window_start(end, s), end)[0]
                   for s in WINDOWS]
        for limits in ((3, 5, 7), (1, 1, 1), (10, 100, 100)):
            found = both(stores, "window_summaries", windows, *limits, special=True)
            assert found[0].down and found[0].worst and found[0].special
            both(stores, "window_summaries", windows, *limits)
    both(stores, "window_summaries", [[]], 2, 2, 2, special=True)


def test_states_monitors_and_alerts(stores) -> None:
    _s, _p, last, _written = stores
    for method in ("down_now", "warnings", "in_maintenance", "ever_up", "active_monitors",
                   "open_alerts", "latest_alert_rows", "maintenance", "blocks_since",
                   "rolled_until", "agent_marks", "agents_seen", "notifications_waiting",
                   "event_span", "event_states", "last_push_id"):
        both(stores, method)
    both(stores, "monitor_states")
    both(stores, "monitor_states", [MONITORS[1], "none", GONE])
    both(stores, "monitors_of", [GONE, MONITORS[2], NEVER, "none", MONITORS[0]])
    assert both(stores, "alerts_after")
    both(stores, "alerts_after", 3)
    both(stores, "alerts_after", 0, 4)
    both(stores, "alerts_after", 2, 100)
    for monitor in (*MONITORS, "none"):
        both(stores, "alert_types", monitor)
        both(stores, "latest_alerts", monitor, 3)
        both(stores, "knows_monitor", monitor)
    both(stores, "knows_monitor", GONE)
    for since in (last - 600, last - 2 * DAY, last + 10):
        both(stores, "checks_after", since)
        both(stores, "recent_lateness", since)
    assert both(stores, "last_check_time")
    both(stores, "last_check_time", ["http"])
    both(stores, "last_check_time", ["tcp", "log"])
    for since, until in ((last - 3600, last), (last - DAY, last - 3600), (0, 1e15)):
        for location in (None, "local", "eu", "us"):
            both(stores, "failure_causes", since, until, location)
            both(stores, "recent_verdicts", since, until, location)


def test_notifications(stores) -> None:
    sqlite_reader, pg_reader, last, written = stores
    for provider in ("slack", "mail", "none"):
        for now in (last, last + 5, last + 3600):
            for limit in (100, 2):
                found, expected = (reader.pending_deliveries(provider, now, limit)
                                   for reader in (pg_reader, sqlite_reader))
                if written:  # created when written: on the machine's clock
                    found, expected = ([row._replace(created=0.0) for row in rows]
                                       for rows in (found, expected))
                same(found, expected)
    both(stores, "deliveries", list(range(0, 12)))
    both(stores, "deliveries", [])


# -- the REST API and the dashboard --------------------------------------------------------

def test_summaries_uptime_and_dashboard(stores) -> None:
    sqlite_reader, _p, last, _written = stores
    both(stores, "monitor_summaries")
    both(stores, "monitor_summaries", [MONITORS[1], GONE, "none"])
    for now in (last, last + 2 * HOUR, last - 2 * DAY - 5, last + 3 * DAY):
        for ids in (None, [MONITORS[0]], [*MONITORS, NEVER, GONE, "none"]):
            for days in (1, 7, 30, 90):
                both(stores, "uptime_by_day", ids, days, now)
                both(stores, "uptime_totals", ids, days, now)
    for later in (1.0, 400.0, 2 * HOUR + 17, -3 * HOUR - 5.5):
        end = last + later
        starts = [int(window_start(end, seconds)) for seconds in (DAY, 7 * DAY, 30 * DAY)]
        found = both(stores, "dashboard", starts, end)
        assert found.windows and found.failures
        if 0 < later < HOUR:  # the values of every size, rounded as SQLite rounds them
            values = found.sparks[FAST].values.split(",")
            assert any(len(v) == 4 and v.startswith("0.") for v in values), values
            assert any(len(v) == 3 and v[0] != "0" for v in values), values
    rolled, blocks = sqlite_reader.rolled_until(), sqlite_reader.blocks_since()
    for monitor in MONITORS:
        for lo, hi, step in ((last - DAY, last, 3600), (DAY0, last, DAY),
                             (last - 7200, last, 600)):
            lo, hi = int(lo // step * step), int(hi // 60 * 60)
            ranges = cover(lo, hi, rolled, blocks, coarsest=step)
            both(stores, "trend_rows", monitor, ranges, step)
            both(stores, "trend_rows", monitor, ranges, step, "ttfb")
            both(stores, "metric_sums", monitor, ranges, step, "total")
    both(stores, "trend_rows", MONITORS[0], [], 60)


def test_checks_pages_and_alert_entries(stores) -> None:
    _s, _p, last, _written = stores
    for monitor in (MONITORS[0], MONITORS[2]):
        for location in (None, "local", "eu"):
            for since, until, limit in ((0, 1e15, 10), (last - 3000, last, 5),
                                        (last - 2400, last - 2000, 3), (last - DAY, last, 500)):
                both(stores, "checks_page", monitor, since, until, limit, location)
    asked: list[tuple[str | None, str | None]] = [
        (None, None), (MONITORS[0], None), (None, "alert"), (MONITORS[1], "recovery")]
    for who, kind in asked:
        for after, before, limit in ((0, None, 50), (0, 6, 2), (2, None, 3), (3, 8, 10)):
            both(stores, "alert_entries", who, kind, after, before, limit)
    for alert in range(0, 12):
        both(stores, "alert_entry", alert)
    both(stores, "acked_starts", [*MONITORS, "none"])
    both(stores, "acked_starts", [])
    for day in (int(last // DAY * DAY), int(last // DAY * DAY) - DAY):
        both(stores, "day_counts", day)


def test_events(stores) -> None:
    sqlite_reader, _p, _last, _written = stores
    oldest, newest = sqlite_reader.event_span()
    for start, upto, limit in ((Position(0, 0), None, 100), (Position(oldest + 50, 3),
                                                             None, 1000),
                               (Position(newest.check - 20, 0), newest, 7),
                               (newest, None, 10)):
        both(stores, "events_after", start, upto, limit)


def test_pushes_and_series(stores) -> None:
    _s, _p, last, _written = stores
    for after, monitor, limit in ((0, None, 1000), (3, None, 4), (0, MONITORS[2], 5),
                                  (5, MONITORS[1], 10)):
        both(stores, "pushes_after", after, monitor, limit)
    for upto in (None, 4, 1, 0):
        both(stores, "latest_pushes", [*MONITORS, "none"], upto)
    for text in ("web.*.latency", "web.front.errors", "*", "db.**", "web.**"):
        both(stores, "series_matching", compile_pattern(text), 100)
        both(stores, "series_matching", compile_pattern(text), 1)
    for prefix in ("", "web", "web.front", "db", "db.load", "none"):
        both(stores, "series_tree", prefix, 100)
        both(stores, "series_tree", prefix, 1)
    for path in ("db.load", "none"):
        both(stores, "series_info", path)
    ids = [info.id for info in both(stores, "series_matching", compile_pattern("**"), 100)]
    assert ids
    for step in (60, 600, 3600, 90):
        first, count = int((last - 3 * HOUR) // step), int(3 * HOUR // step) + 2
        both(stores, "series_steps", ids, first, first + count, step, last + 30)
        both(stores, "series_steps", ids[:2], first, first + count, step, last - 3600)
    both(stores, "series_steps", [], 0, 10, 60, last)
    for since, until in ((last - 3600, last), (last - 200, last + 100), (0, 1e15)):
        both(stores, "series_window", ids[0], since, until)
        both(stores, "series_raw_count", ids, since, until)


# -- the reader itself ---------------------------------------------------------------------

def test_a_database_without_tables_is_refused(postgres_url: str) -> None:
    with pytest.raises(StoreError, match="not a monitoring database"):
        open_reader(postgres_url)


def test_an_error_names_the_database_without_its_password(postgres_server) -> None:
    url = postgres_server.url("nosuchdb").replace("postgres@", "postgres:s3cret-pw@")
    with pytest.raises(StoreError) as raised:
        open_reader(url)
    assert "s3cret-pw" not in str(raised.value)
    assert "nosuchdb" in str(raised.value)


def test_the_reader_cannot_write(stores) -> None:
    _s, pg_reader, _last, _written = stores
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        pg_reader.conn.execute("DELETE FROM meta")


def test_a_reader_survives_its_connection_dropped(stores, postgres_server) -> None:
    """A server restart (or an idle timeout) drops the connection: the next read opens a
    new one, the reading thread goes on."""
    _s, pg_reader, _last, _written = stores
    before = pg_reader.down_now()
    pid = pg_reader.conn.info.backend_pid
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert pg_reader.down_now() == before
    assert pg_reader.conn.info.backend_pid != pid


def test_float_buckets_are_python_s(stores) -> None:
    """The raw checks' histogram buckets in SQL are codec.bucket_of's, at every edge."""
    from monitor.store.codec import HIST_MIN_MS, HIST_RATIO, bucket_of
    from monitor.store.postgres.windows import bucket_sql

    _s, pg_reader, _last, _written = stores
    values = [0.0, HIST_MIN_MS, 0.1000001, 1e300, math.inf, -5.0, 12.5]
    values += [HIST_MIN_MS * HIST_RATIO ** k * f for k in range(0, 520, 7)
               for f in (0.999999, 1.0, 1.000001)]
    found = [row[0] for row in pg_reader.conn.execute(
        f"SELECT {bucket_sql('v')} FROM unnest(%s::float8[]) WITH ORDINALITY u(v, i)"
        " ORDER BY i", (values,))]
    assert found == [bucket_of(v) for v in values]


def test_huge_series_values_are_read_as_their_rollups_count_them(tmp_path, postgres_url,
                                                               ) -> None:
    """Raw points near the float's end (SQLite's sum says inf, PostgreSQL's would refuse
    to overflow): held within ±MAX_VALUE as the rollups hold them, so that the raw minutes
    and the rolled ones give the same figures."""
    from monitor.core.fields import MAX_VALUE
    from monitor.store.codec import HIST_TOP

    base = 1_700_000_040.0
    db = tmp_path / "m.db"
    store = Store(db, clock=lambda: base + 30)
    try:
        assert store.put_series(RecordSeries((("big.one", base + 1, 1e308),
                                              ("big.one", base + 2, 1e308),
                                              ("big.one", base + 3, -1e308))))
        assert store.flush()
    finally:
        store.close()
    copy_to_postgres(db, postgres_url)
    reader = open_reader(postgres_url)
    try:
        (info,) = reader.series_matching(compile_pattern("big.one"), 10)
        raw = reader.series_window(info.id, base, base + 60)
        steps = reader.series_steps([info.id], int(base // 60), int(base // 60) + 1, 60,
                                    base + 30)  # the minute not rolled up yet: raw
        rolled = reader.series_steps([info.id], int(base // 60), int(base // 60) + 1, 60,
                                     base + 600)
    finally:
        reader.close()
    assert (raw.count, raw.total, raw.low, raw.high) == (3, MAX_VALUE, -MAX_VALUE, MAX_VALUE)
    assert raw.hist == {0: 1, HIST_TOP: 2}
    assert steps[info.id][int(base // 60)] == raw == rolled[info.id][int(base // 60)]


def test_empty_lists_asked_for(stores) -> None:
    """No monitor, no id: nothing, as SQLite says it (not an error on an empty array)."""
    sqlite_reader, _pg, last, _written = stores
    ranges, raws = window_pieces(sqlite_reader, last - 3700, last)
    both(stores, "window_rows", ranges, raws, [])
    both(stores, "metric_rows", ranges, raws, [])
    both(stores, "monitor_states", [])
    both(stores, "monitors_of", [])
    both(stores, "monitor_summaries", [])
    both(stores, "uptime_by_day", [], 7, last)
    both(stores, "uptime_totals", [], 30, last)
    both(stores, "latest_pushes", [])
    both(stores, "series_raw_count", [], 0, 1e15)
    both(stores, "deliveries", [])


def test_a_database_of_another_collation_orders_as_sqlite(tmp_path, postgres_server,
                                                          ) -> None:
    """A database made with a language's collation (ICU's English: "a" before "B", "_"
    and "-" ignored at first) lists monitors and series in SQLite's order all the same
    (bytes), and a path's prefix is still a prefix."""
    ids = ["B", "a", "_z", "-y", "A.b", "b"]
    paths = ["Web.a", "web.b", "web_c.x", "web-d.x", "web.b.c", "webe"]
    base = 1_700_000_040.0
    db = tmp_path / "m.db"
    store = Store(db, clock=lambda: base + 400)
    try:
        store.set_monitors([MonitorRow(m, "http", m) for m in ids])
        store.put_checks([CheckResult(m, base + k * 60 + i, k % 3 != i % 3, 200, 10.0 + i,
                                      metrics={"x": 1.0, "X": 2.0, "_y": 3.0})
                          for k in range(6) for i, m in enumerate(ids)])
        store.put_series(RecordSeries(tuple((p, base + 5, 1.0) for p in paths)))
        assert store.flush()
    finally:
        store.close()
    name = f"icu_{postgres_server.port}"
    postgres_server.admin(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu"
                          " ICU_LOCALE 'en' LOCALE 'C'")
    url = postgres_server.url(name)
    try:
        copy_to_postgres(db, url)
        sqlite_reader, pg_reader = open_sqlite_reader(db), open_reader(url)
        try:
            with pg_reader.conn.cursor() as cur:  # (the database's own order is not bytes)
                assert [r[0] for r in cur.execute(
                    "SELECT monitor FROM monitors ORDER BY monitor")] != sorted(ids)
            stores = Stores(sqlite_reader, pg_reader, base + 400, False)
            for start, end in ((base, base + 400), (base - 30, base + 310.5)):
                ranges, raws = window_pieces(sqlite_reader, start, end)
                for method in ("window_rows", "metric_rows", "window_totals"):
                    assert both(stores, method, ranges, raws)
                both(stores, "window_summaries", [ranges], 10, 10, 10, special=True)
            for text in ("web.*", "*", "web.**", "**"):
                both(stores, "series_matching", compile_pattern(text), 100)
            for prefix in ("", "web", "web.b", "Web"):
                both(stores, "series_tree", prefix, 100)
        finally:
            sqlite_reader.close()
            pg_reader.close()
    finally:
        postgres_server.drop_database(name)
