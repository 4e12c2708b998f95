"""`monitoringApp.py migrate --to postgresql://...` as a user runs it: the history a real
`-m` wrote while a site went down and came back (checks, the alert and its recovery, their
notifications delivered to a real webhook, the rollups' marks) copied into a real
PostgreSQL, then read through both stores' readers alike; the refusals (a running monitor,
a target with history, a URL that is not PostgreSQL's, a server that is not there) as one
`Error:` line, never a traceback, never the URL's password."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from monitor.stats import window_pieces, window_start
from monitor.store.postgres.queries import open_reader
from monitor.store.postgres.schema import TABLES
from monitor.store.sqlite.queries import open_reader as open_sqlite_reader
from tests.store.postgres.test_reads import same
from tests.support import postgres as pg
from tests.support.app import run_app, start, stop, wait_for
from tests.support.db import count_checks
from tests.support.pages import PageServer
from tests.support.postgres import _free_port
from tests.support.receivers import WebhookReceiver

# The real PostgreSQL server's fixtures (tests/support/postgres.py), for this module.
postgres_server = pg.postgres_server
postgres_url = pg.postgres_url

PASSWORD = "s3cret-Pa55"  # in the URL: trust authentication ignores it; never printed


def _with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


def _tables(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with the monitoring.db of a real `-m`: two sites every 0.2 s, one down
    for a while then back (an alert and a recovery, each sent to a real webhook)."""
    folder = tmp_path_factory.mktemp("monitored")
    with PageServer() as pages, WebhookReceiver() as hook:
        ok = pages.set("/ok", "fine")
        flaky = pages.set("/flaky", "down", status=503)
        (folder / "config.json").write_text(json.dumps({
            "websites": [{"URL": ok, "name": "fine", "checkInterval": 0.2},
                         {"URL": flaky, "name": "shop", "checkInterval": 0.2,
                          "alertWindow": 1}],
            "notify": [{"name": "hook", "url": hook.url("json")}]}))
        proc = start(["-m", "-s"], folder)
        try:
            hook.wait_for(1, 30)  # the alert, delivered
            pages.set("/flaky", "back")
            hook.wait_for(2, 30)  # its recovery
            time.sleep(0.5)
        finally:
            _, _out, err = stop(proc)
    assert proc.returncode == 0, err
    yield folder


def test_a_real_history_is_copied_and_read_alike(monitored: Path, postgres_url: str) -> None:
    db = monitored / "monitoring.db"
    done = run_app(["migrate", "--to", _with_password(postgres_url)], monitored, timeout=120)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    masked = postgres_url.replace("postgres@", "postgres:***@")
    assert lines[0].startswith(f"Copied monitoring.db into {masked} in "), lines[0]
    assert lines[1].split() == ["table", "SQLite", "PostgreSQL"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:2 + len(TABLES) + 1]}
    assert list(rows) == [*TABLES, "total"]
    assert all(len(counts) == 2 and counts[0] == counts[1] for counts in rows.values()), rows
    for table in ("website_monitoring", "website_alerts", "aggregates", "outbox",
                  "monitor_state", "monitors"):
        assert rows[table][0] != "0", table
    assert lines[2 + len(TABLES) + 1].startswith("Checked, the same on both sides: rows of"
                                                 " every table; ids of every table; ")
    sqlite_reader, pg_reader = open_sqlite_reader(db), open_reader(postgres_url)
    try:
        def alike(method: str, *args: object) -> Any:
            expected = getattr(sqlite_reader, method)(*args)
            same(getattr(pg_reader, method)(*args), expected, method)
            return expected

        alerts = alike("alerts_after")
        assert len(alerts) >= 2, alerts
        entries = alike("alert_entries", None, None, 0, None, 50)
        assert {entry.type for entry in entries} >= {"alert", "recovery"}
        deliveries = alike("deliveries", [row[0] for row in alerts])
        assert [state.state for states in deliveries.values() for state in states] == [
            "sent"] * len(alerts)
        alike("monitor_states")
        alike("active_monitors")
        last = alike("last_check_time")
        assert isinstance(last, float)
        for seconds in (60, 600, 3600):
            ranges, raws = window_pieces(sqlite_reader, window_start(last, seconds), last)
            alike("window_rows", ranges, raws)
            alike("window_totals", ranges, raws)
        for info in alike("active_monitors"):
            page = alike("checks_page", info.id, last - 3600, last + 1, 50)
            assert page.checks
            alike("checks_page", info.id, last - 3600, last + 1, 50, "local")
    finally:
        sqlite_reader.close()
        pg_reader.close()
    # Once more into the same database: refused, as it now holds history.
    again = run_app(["-db", str(db), "migrate", "--to", _with_password(postgres_url)],
                    monitored, timeout=60)
    assert again.returncode == 1
    assert again.stderr.startswith(f"Error: {postgres_url.replace('postgres@', 'postgres:***@')}"
                                   " already holds history (website_monitoring, ")
    assert "Traceback" not in again.stderr and PASSWORD not in again.stdout + again.stderr


def test_a_file_a_monitor_runs_on_is_refused(tmp_path: Path, postgres_url: str) -> None:
    with PageServer() as pages:
        (tmp_path / "config.json").write_text(json.dumps({
            "websites": [{"URL": pages.set("/", "ok"), "checkInterval": 0.2}]}))
        db = tmp_path / "m.db"
        proc = start(["-m", "-s", "-db", str(db)], tmp_path)
        try:
            wait_for(lambda: count_checks(db) >= 2, 30, "the monitor's first checks")
            done = run_app(["migrate", "-db", str(db), "--to", postgres_url], tmp_path)
        finally:
            stop(proc)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (f"Error: {db} is in use by a running monitor (pid {proc.pid}):"
                           " stop it first, so that no check is written after the copy\n")
    assert _tables(postgres_url) == []  # nothing written
    # Stopped: the same command goes through.
    assert run_app(["migrate", "-db", str(db), "--to", postgres_url], tmp_path).returncode == 0


@pytest.mark.parametrize("url, said", [
    ("mysql://user:" + PASSWORD + "@127.0.0.1/db", "must be a PostgreSQL URL, such as"
                                                   " postgresql://user@host/database"),
    ("postgresql://user:" + PASSWORD + "@127.0.0.1/db?nosuch=1", "not a valid PostgreSQL"
                                                                 " URL: invalid URI query"
                                                                 ' parameter: "nosuch"'),
    # (libpq's message quotes the URL: its password masked)
    ("postgresql://user:" + PASSWORD + "@[::1/db", "not a valid PostgreSQL URL: end of"
                                                   " string reached when looking for matching"
                                                   ' "]" in IPv6 host address in URI:'
                                                   ' "postgresql://user:***@[::1/db"'),
    ("postgres://user:" + PASSWORD + "@host:54x2/db", "not a valid PostgreSQL URL: the port"
                                                      " '54x2' is not a number from 1 to"
                                                      " 65535"),
])
def test_a_url_that_is_not_postgresql_s_is_a_usage_error(tmp_path: Path, url: str,
                                                         said: str) -> None:
    done = run_app(["migrate", "--to", url], tmp_path)
    assert done.returncode == 2
    assert "Invalid value for '--to': " + said in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_a_server_that_is_not_there_is_one_error_line(monitored: Path) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{_free_port()}/db"
    done = run_app(["migrate", "--to", url], monitored)
    assert done.returncode == 1
    shown = url.replace(PASSWORD, "***")
    assert done.stderr.startswith(f"Error: {shown}: cannot connect: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_missing_source_is_named(tmp_path: Path, postgres_url: str) -> None:
    done = run_app(["migrate", "--to", postgres_url], tmp_path)
    assert done.returncode == 1
    assert done.stderr == ("Error: monitoring.db: no such database file (name it with -db"
                           " FILE)\n")
    assert not (tmp_path / "monitoring.db").exists()
    assert _tables(postgres_url) == []
