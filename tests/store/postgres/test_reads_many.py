"""Many monitors of every state, response times of any float (as
tests/store/test_summaries_read.py draws them): the summaries of a report, every monitor's
counts and the stats are the same from the PostgreSQL reader as from SQLite's, written by
each store's own writer or copied."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.core.model import CheckResult
from monitor.render.summary import summarize
from monitor.stats import window_pieces, window_start, window_stats, window_totals
from monitor.store.api import MonitorRow
from monitor.store.postgres.queries import PostgresReader, open_reader
from monitor.store.sqlite.queries import SqliteReader
from monitor.store.sqlite.queries import open_reader as open_sqlite_reader
from monitor.store.sqlite.writer import Store
from tests.store.postgres.test_reads import copy_to_postgres, same
from tests.support.postgres import PostgresServer

NOW = 1_800_000_000.0
MONITORS = 60
IDS = [f"http://m{i:02d}.test/" for i in range(MONITORS)]


def _write(make: Callable[..., Any]) -> None:
    """60 monitors over 90 minutes (a check a minute, more for some), of every state: up,
    failing now and then, down now, warning, in maintenance, not checked in the window,
    configured and never checked, no longer configured."""
    rng = random.Random(7)
    store = make(clock=lambda: NOW)
    try:
        store.set_monitors([MonitorRow(m, "http", m, "", 60.0) for m in IDS]
                           + [MonitorRow("http://gone.test/", "http", "http://gone.test/")])
        for minute in range(90, 0, -1):
            at = NOW - minute * 60 + 5
            batch = []
            for i, monitor in enumerate(IDS[:-1]):
                if i % 20 == 19 and minute < 30:
                    continue  # not checked in the last half hour
                for extra in range(1 + (i % 7 == 0) * 3):  # some checked every 15 s
                    ts = at + extra * 15
                    ms = rng.lognormvariate(4, 0.6 + (i % 5) / 4)
                    if i % 11 == 3 and minute <= 3 + i % 4:  # down now
                        batch.append(CheckResult(monitor, ts, False, None, ms, "timeout"))
                    elif i % 13 == 5:  # in maintenance
                        batch.append(CheckResult(monitor, ts, None, None, 0.0, "maintenance"))
                    elif i % 9 == 4:  # warning, failing now and then
                        up = rng.random() > 0.1
                        batch.append(CheckResult(monitor, ts, up, 200 if up else 503, ms,
                                                 "tls_expiry" if up else "http_status",
                                                 warning=up, metrics={"ttfb": ms / 3}))
                    else:
                        up = rng.random() > (i % 4) * 0.03
                        batch.append(CheckResult(monitor, ts, up, 200 if up else 503, ms,
                                                 None if up else "http_status",
                                                 metrics={"ttfb": ms / 2, "dns": 1.5}))
            batch.append(CheckResult("http://gone.test/", at, True, 200, 5.0))
            store.put_checks(batch)
        assert store.flush()
        store.set_monitors([MonitorRow(m, "http", m, "", 60.0) for m in IDS])
        assert store.flush()
    finally:
        store.close()


@pytest.fixture(scope="module")
def many_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monitors as SQLite's writer stored them, once for both ways into PostgreSQL."""
    db = tmp_path_factory.mktemp("many") / "m.db"
    _write(functools.partial(Store, db))
    return db


@pytest.fixture(scope="module", params=["copied", "written"])
def readers(request: pytest.FixtureRequest, many_db: Path,
            postgres_server: PostgresServer) -> Iterator[tuple[SqliteReader, PostgresReader]]:
    db = many_db
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    if request.param == "copied":
        copy_to_postgres(db, url)
    else:
        from monitor.store.postgres.writer import Store as PostgresStore

        _write(functools.partial(PostgresStore, url))
    sqlite_reader, pg_reader = open_sqlite_reader(db), open_reader(url)
    try:
        yield sqlite_reader, pg_reader
    finally:
        sqlite_reader.close()
        pg_reader.close()
        postgres_server.drop_database(name)


SPANS = [(window_start(end, seconds), end) for end in (NOW, NOW - 1234.5, NOW + 90)
         for seconds in (600, 3600, 5400)]


@pytest.mark.parametrize("limits", [(3, 5, 7), (10, 100, 100), (1, 1, 1)])
def test_the_summaries_of_a_report(readers, limits) -> None:
    sqlite_reader, pg_reader = readers
    for end in (NOW, NOW - 1234.5):
        spans = [(window_start(end, seconds), end) for seconds in (600, 3600, 5400)]
        windows = [window_pieces(sqlite_reader, *span)[0] for span in spans]
        found = pg_reader.window_summaries(windows, *limits, special=True)
        same(found, sqlite_reader.window_summaries(windows, *limits, special=True))
        if end != NOW:
            continue  # (the summaries read whole minutes: raw pieces are not in them)
        # And what every monitor's counts say, summed in Python, from PostgreSQL alone.
        for span, summary in zip(spans, found, strict=True):
            each, slow, worst = limits
            expected = summarize(window_totals(pg_reader, *span), each, slow, worst,
                                 special=True)
            same(summary.counts, expected.counts)
            for part in ("down", "lowest", "slowest", "worst", "special"):
                assert [t.monitor_id for t in getattr(summary, part)] == [
                    t.monitor_id for t in getattr(expected, part)], part
        assert {"down", "warning", "unstable", "up", "maintenance", "idle"} <= set(
            found[0].counts)


def test_every_monitor_s_counts_rows_and_stats(readers) -> None:
    sqlite_reader, pg_reader = readers
    for span in SPANS:
        ranges, raws = window_pieces(sqlite_reader, *span)
        for method, args in (("window_totals", ()), ("window_rows", ()),
                             ("window_rows", (IDS[::7],)), ("metric_rows", ()),
                             ("metric_rows", (IDS[3:9],))):
            same(getattr(pg_reader, method)(ranges, raws, *args),
                 getattr(sqlite_reader, method)(ranges, raws, *args), method)
        same(window_stats(pg_reader, *span), window_stats(sqlite_reader, *span))


def test_states(readers) -> None:
    sqlite_reader, pg_reader = readers
    for method in ("down_now", "warnings", "in_maintenance", "ever_up", "active_monitors",
                   "monitor_states", "monitor_summaries", "event_states"):
        same(getattr(pg_reader, method)(), getattr(sqlite_reader, method)(), method)
    for since in (NOW - 600, NOW - 3600):
        same(pg_reader.recent_verdicts(since, NOW), sqlite_reader.recent_verdicts(since, NOW))
        same(pg_reader.failure_causes(since, NOW), sqlite_reader.failure_causes(since, NOW))
