"""Schema 9 on real older files: tests/data/schema8.db, written by `-m` of its time (see
tests/data/make_schema8.py), and a schema-4 file written by the schema-4 store
(tests/legacy). Both migrate with every row, the alert state a restart restores, the
outbox and the stats a report shows unchanged; the plugged monitor "<site>//tls" goes on
as "<site>/tls"; and `-r` and `-a`, as real processes, read either file before any `-m`
has migrated it and print what they print after."""
# SQLite only: migrations of its files' schema (8 and 4 to 9).

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.stats import window_stats
from monitor.store.api import iso_utc, parse_iso
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store
from tests.data.make_schema8 import READ_OLD
from tests.store.test_migration import v4_file
from tests.support.app import ROOT, run_app, start, stop, wait_for, write
from tests.support.pages import PageServer

DATA = ROOT / "tests" / "data"
ROOT = DATA.parent.parent
OLD = json.loads((DATA / "schema8.json").read_text())  # what the readers of 1341ce7 said


def renamed(monitor_id: str) -> str:
    """The id schema 9 gives a monitor: one slash between a site and its plugin's kind."""
    if monitor_id.endswith("//tls") and not monitor_id.endswith("://tls"):
        return monitor_id.removesuffix("//tls") + "/tls"
    return monitor_id


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def with_ids(found: list[tuple], *columns: int) -> list[tuple]:
    """The rows with the ids in `columns` as schema 9 names them."""
    return [tuple(renamed(v) if i in columns else v for i, v in enumerate(row))
            for row in found]


def schema_8_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of a schema-8 file, in schema 9's columns: the monitor id where schema 8
    left it NULL (the target), the target of `sites` where NULL (the id)."""
    return {
        "website_monitoring": with_ids(rows(path, (
            "SELECT id, timestamp, host, available, status, responseTime, reason, detail,"
            " lateness, coalesce(monitor, host), metrics, warning FROM website_monitoring"
            " ORDER BY id")), 9),
        "website_alerts": with_ids(rows(path, (
            "SELECT id, timestamp, host, type, startDate, endDate, availability, message,"
            " coalesce(monitor, host) FROM website_alerts ORDER BY id")), 8),
        "outbox": rows(path, "SELECT * FROM outbox ORDER BY id"),
        "aggregates": sorted(with_ids(rows(path, "SELECT * FROM aggregates"), 0)),
        "metric_aggs": sorted(with_ids(rows(path, "SELECT * FROM metric_aggs"), 0)),
        "monitor_state": sorted(with_ids(rows(path, "SELECT * FROM site_state"), 0)),
        "monitors": with_ids(rows(path, (
            "SELECT host, name, interval, active, kind, coalesce(target, host) FROM sites"
            " ORDER BY rowid")), 0),
        "maintenance": sorted(with_ids(rows(path, "SELECT * FROM maintenance"), 0)),
        "meta": rows(path, "SELECT * FROM meta ORDER BY key"),
    }


# What schema 10 added: tables, hour and day rollups, the last result in monitor_state.
SCHEMA_10_TABLES = {"series", "series_points", "series_aggs", "pushes", "acks", "uptime_days"}
SCHEMA_11_TABLES = {"agents", "agent_seen"}
SCHEMA_9_SPANS = "span IN (60, 600)"


def schema_9_rows(path: Path) -> dict[str, list[tuple]]:
    """A file's rows in schema 9's columns (a file migrated further has more)."""
    return {
        "website_monitoring": rows(path, (
            "SELECT id, timestamp, host, available, status, responseTime, reason, detail,"
            " lateness, monitor, metrics, warning FROM website_monitoring ORDER BY id")),
        "website_alerts": rows(path, "SELECT * FROM website_alerts ORDER BY id"),
        "outbox": rows(path, "SELECT * FROM outbox ORDER BY id"),
        "aggregates": sorted(rows(path, f"SELECT * FROM aggregates WHERE {SCHEMA_9_SPANS}")),
        "metric_aggs": sorted(rows(path, f"SELECT * FROM metric_aggs WHERE {SCHEMA_9_SPANS}")),
        "monitor_state": sorted(rows(path, "SELECT monitor, last_check, last_ok, last_failure,"
                                           " down_since, warning, maintenance"
                                           " FROM monitor_state")),
        "monitors": rows(path, "SELECT * FROM monitors ORDER BY rowid"),
        "maintenance": sorted(rows(path, "SELECT * FROM maintenance")),
        "meta": rows(path, "SELECT * FROM meta WHERE key <> 'rolled_until' ORDER BY key"),
    }


def table_counts(path: Path) -> dict[str, int]:
    """The rows of each table of schema 9 (aggregates: of its spans)."""
    names = [name for (name,) in rows(path, "SELECT name FROM sqlite_master WHERE"
                                            " type = 'table' ORDER BY name")]
    spans = {"aggregates": f" WHERE {SCHEMA_9_SPANS}", "metric_aggs": f" WHERE {SCHEMA_9_SPANS}",
             "meta": " WHERE key <> 'rolled_until'"}
    return {name: rows(path, f"SELECT count(*) FROM {name}{spans.get(name, '')}")[0][0]
            for name in names if name not in SCHEMA_10_TABLES | SCHEMA_11_TABLES}


def ids_of(value: Any) -> Any:
    """A reader's answer (as JSON) with every monitor id renamed, in keys and values."""
    if isinstance(value, dict):
        return {renamed(k): ids_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [ids_of(v) for v in value]
    return renamed(value) if isinstance(value, str) else value


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.fixture
def schema8(tmp_path: Path) -> Path:
    path = tmp_path / "monitoring.db"
    shutil.copyfile(DATA / "schema8.db", path)
    assert rows(path, "PRAGMA user_version") == [(8,)]
    return path


def test_the_schema_8_file_migrates_with_every_row_unchanged(schema8: Path) -> None:
    before, counts = schema_8_rows(schema8), table_counts(schema8)
    [(plugged,)] = rows(schema8, "SELECT host FROM sites WHERE kind = 'tls'")
    assert plugged.endswith(":" + plugged.split(":")[-1]) and plugged.endswith("//tls")
    checks = rows(schema8, f"SELECT count(*) FROM website_monitoring WHERE monitor = '{plugged}'")
    Store(schema8).close()  # the migration, as -m makes it at its start
    assert rows(schema8, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(11,)]
    names = {"site_state": "monitor_state", "sites": "monitors"}
    assert table_counts(schema8) == {names.get(t, t): n for t, n in counts.items()}
    assert schema_9_rows(schema8) == before
    assert rows(schema8, "PRAGMA integrity_check") == [("ok",)]
    # Nothing left of the id with two slashes: the plugged monitor's history goes on under
    # the id the code gives it now, in every table that holds ids.
    assert "//tls" not in repr(schema_9_rows(schema8))
    new = plugged.removesuffix("//tls") + "/tls"
    assert rows(schema8, "SELECT monitor FROM monitors WHERE kind = 'tls'") == [(new,)]
    assert rows(schema8, f"SELECT count(*) FROM website_monitoring WHERE monitor = '{new}'"
                ) == checks != [(0,)]
    for table in ("website_alerts", "aggregates", "metric_aggs", "monitor_state",
                  "maintenance"):
        assert rows(schema8, f"SELECT count(*) FROM {table} WHERE monitor = '{new}'"
                    ) != [(0,)], table


def test_the_readers_answer_on_the_migrated_file_what_they_answered_on_schema_8(
        schema8: Path) -> None:
    # The same questions as make_schema8.py asked the readers of 1341ce7 (the stats of
    # whole and partial windows, `-r`'s tables at the same time, the alert state a restart
    # restores, the outbox, `-a`'s output), asked of today's: the reader migrates the file.
    done = subprocess.run([sys.executable, "-c", READ_OLD, str(schema8), str(OLD["now"])],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)
    assert rows(schema8, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert new.keys() == OLD.keys()
    for (lo, hi), old, found in zip(OLD["windows"], OLD["stats"], new["stats"], strict=True):
        # Field by field: `host` is `monitor_id` now, in the same place.
        assert {k: list(s.values()) for k, s in found.items()} == {
            renamed(k): [renamed(s["host"]), *list(s.values())[1:]]
            for k, s in old.items()}, (lo, hi)
    for key in OLD.keys() - {"stats"}:
        expected = ids_of(OLD[key])
        if key == "report":  # the tables' first column is called "monitor" since (48564dd)
            expected = [re.sub(r"^site   ", "monitor", table, flags=re.M) for table in expected]
        assert new[key] == expected, key
    # What the file holds: an alert still open, warnings, a monitor in maintenance.
    assert len(new["open_alerts"]) == 1 and len(new["warnings"]) == 2
    assert len(new["maintenance"]) == 2 and new["deliveries"]


def test_the_name_of_a_nameless_site_s_plugged_monitor_loses_its_slash_too(
        schema8: Path) -> None:
    # A site without a name is labelled by its URL: schema 8's code named its tls monitor
    # "<URL>//tls" as well, and that name is shown by -r; today's code names it "<URL>/tls".
    conn = sqlite3.connect(schema8)
    [(site, plugged)] = conn.execute("SELECT s.host, p.host FROM sites s JOIN sites p"
                                     " ON p.host = s.host || '/tls'").fetchall()
    conn.execute("UPDATE sites SET name = '' WHERE host = ?", (site,))
    conn.execute("UPDATE sites SET name = host WHERE host = ?", (plugged,))
    conn.commit()
    conn.close()
    Store(schema8).close()
    assert rows(schema8, "SELECT monitor, name FROM monitors WHERE kind = 'tls'") == [
        (renamed(plugged), renamed(plugged))]
    assert renamed(plugged) == site + "tls"


def test_a_plugged_monitor_stored_under_both_ids_is_merged(schema8: Path) -> None:
    # Code from afa1a1e to cbd4236 (schema 8 still) gave the plugged monitor its new id:
    # a file checked by it and by older code holds both. Here the new id checked it once
    # more in the same minutes, and later: one history, every figure counted once per row.
    conn = sqlite3.connect(schema8)
    [(old,)] = conn.execute("SELECT host FROM sites WHERE kind = 'tls'").fetchall()
    new = renamed(old)
    conn.execute("UPDATE sites SET active = 0 WHERE host = ?", (old,))
    copies = {
        "sites": "?, name, interval, 1, kind, target FROM sites WHERE host = ?",
        "website_monitoring": "NULL, timestamp, host, available, status, responseTime,"
                              " reason, detail, lateness, ?, metrics, warning FROM"
                              " website_monitoring WHERE monitor = ?",
        "website_alerts": "NULL, timestamp, host, type, startDate, endDate, availability,"
                          " message, ? FROM website_alerts WHERE monitor = ?",
        "aggregates": "?, span, start, checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                      " outcomes FROM aggregates WHERE host = ?",
        "metric_aggs": "?, span, start, metric, count, sum, min, max, hist FROM metric_aggs"
                       " WHERE monitor = ?",
        "site_state": "?, last_check + 1, last_ok + 1, last_failure, down_since, warning,"
                      " maintenance FROM site_state WHERE host = ?",
        "maintenance": "?, since + 1, until FROM maintenance WHERE monitor = ?",
    }
    for table, select in copies.items():
        conn.execute(f"INSERT INTO {table} SELECT {select}", (new, old))
    state = conn.execute("SELECT * FROM site_state WHERE host = ?", (new,)).fetchone()
    conn.commit()
    conn.close()

    reader = open_reader(schema8)
    try:
        for (lo, hi), before in zip(OLD["windows"], OLD["stats"], strict=True):
            was, now = before[old], window_stats(reader, lo, hi)[new]
            assert old not in window_stats(reader, lo, hi)
            assert now.checks == 2 * was["checks"]
            assert (now.availability, now.rt_min, now.rt_max, now.p50, now.p90, now.p99) == (
                was["availability"], was["rt_min"], was["rt_max"], was["p50"], was["p90"],
                was["p99"])
            assert now.rt_avg == pytest.approx(was["rt_avg"])
            assert now.statuses == {k: 2 * n for k, n in was["statuses"].items()}
            assert as_json(now.phases) == was["phases"]
        assert reader.alert_types(new) == ["warning", "warning"]
    finally:
        reader.close()
    assert rows(schema8, "SELECT monitor, last_check, last_ok, last_failure, down_since,"
                         " warning, maintenance FROM monitor_state WHERE monitor LIKE"
                         " '%/tls'") == [(new, *state[1:])]
    assert rows(schema8, "SELECT monitor, active FROM monitors WHERE kind = 'tls'") == [
        (new, 1)]
    assert rows(schema8, "SELECT monitor, since - 1 FROM maintenance WHERE monitor LIKE"
                         " '%/tls'") == [(new, OLD["maintenance"][old][0])]
    assert rows(schema8, "SELECT count(*) FROM aggregates GROUP BY monitor, span, start"
                         " HAVING count(*) > 1") == []


# -- the same through the real command line, before and after the migration -------------

# The columns of `-r`'s tables that depend on when it runs: left out of the comparison.
NOW_COLUMNS = ("down for", "last failure")


def report_figures(output: str) -> list[list[list[str]]]:
    """`-r --once`'s tables, their titles (the time) and the columns of durations up to now
    left out: each a list of rows of cells, its header first."""
    tables: list[list[list[str]]] = []
    lines = output.splitlines()
    for index, line in enumerate(lines[:-1]):
        rule = lines[index + 1]
        if not line.strip() or "-" not in rule or not set(rule) <= {"-", " "}:
            continue
        spans = [m.span() for m in re.finditer(r"-+", rule)]
        header = [line[a:b].strip() for a, b in spans]
        keep = [i for i, title in enumerate(header) if title not in NOW_COLUMNS]
        table = [[header[i] for i in keep]]
        for row in lines[index + 2:]:
            if not row.strip() or row.startswith("=="):
                break
            cells = [row[a:b].strip() for a, b in spans]
            table.append([cells[i] for i in keep])
        tables.append(table)
    return tables


def run(args: list[str], db: Path) -> str:
    # Wide: every column of the tables, whatever the width of the terminal running pytest.
    done = run_app([*args, "-db", str(db)], db.parent, timeout=120, env={"COLUMNS": "1000"})
    assert (done.returncode, done.stderr) == (0, ""), args
    return done.stdout


def shift_history(path: Path, seconds: int) -> None:
    """Move every time in the file (schema 4 to 8) by `seconds`, a multiple of 600 (the
    aggregates stay on their minutes and blocks): so that a report of the past hour, which
    reads the clock, sees the history in it."""
    assert seconds % 600 == 0
    conn = sqlite3.connect(path)
    conn.create_function("shift_iso", 1, lambda text: text and iso_utc(parse_iso(text)
                                                                       + seconds))
    columns = {table: {c for _, c, *_ in conn.execute(f"PRAGMA table_info({table})")}
               for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE"
                                            " type = 'table'").fetchall()}
    times = {"website_monitoring": ["timestamp"], "aggregates": ["start"],
             "metric_aggs": ["start"], "maintenance": ["since", "until"],
             "site_state": ["last_check", "last_ok", "last_failure", "down_since",
                            "maintenance"],
             "outbox": ["created", "retry_at", "sent", "failed"]}
    for table, names in times.items():
        for name in set(names) & columns.get(table, set()):
            conn.execute(f"UPDATE {table} SET {name} = {name} + ?", (seconds,))
    for name in ("timestamp", "startDate", "endDate"):
        conn.execute(f"UPDATE website_alerts SET {name} = shift_iso({name})")
    conn.execute("UPDATE meta SET value = value + ? WHERE key = 'blocks_since' AND value > 0",
                 (seconds // 600,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [4, 8])
def test_r_and_a_print_on_an_unmigrated_file_what_they_print_after_the_migration(
        tmp_path: Path, version: int) -> None:
    now = time.time()
    # The history ends 12 to 22 minutes ago: in the past hour, out of the past 10 minutes,
    # in both runs whatever minute each starts in.
    if version == 4:
        original = v4_file(tmp_path / "v4.db", now - 1320 - random.uniform(0, 600), 600)
    else:
        original = tmp_path / "v8.db"
        shutil.copyfile(DATA / "schema8.db", original)
        end = rows(original, "SELECT max(timestamp) FROM website_monitoring")[0][0]
        shift_history(original, int((now - 720 - end) // 600) * 600)
    copies = {}
    for name in ("r", "a", "migrated"):
        copies[name] = tmp_path / name / "monitoring.db"
        copies[name].parent.mkdir()
        shutil.copyfile(original, copies[name])
    Store(copies["migrated"]).close()

    report_before = run(["-r", "--once"], copies["r"])
    alerts_before = run(["-a", "--no-follow"], copies["a"])
    for path in copies.values():
        assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    report_after = run(["-r", "--once"], copies["migrated"])
    alerts_after = run(["-a", "--no-follow"], copies["migrated"])

    assert alerts_before == alerts_after
    assert report_figures(report_before) == report_figures(report_after)
    _minutes, hour = report_figures(report_after)
    assert len(hour) == 1 + (3 if version == 4 else 5)
    assert all(row[hour[0].index("checks")] != "0" for row in hour[1:])
    if version == 8:  # and as the code of its time printed it
        assert alerts_after == OLD["alerts_output"]


def test_a_monitor_migrating_a_schema_8_file_holds_it_against_a_second_one(
        schema8: Path) -> None:
    # The owner's lock is taken before the migration: a second -m is refused at once,
    # while a reader reads the migrated file beside the first.
    with PageServer() as pages:
        config = schema8.parent / "config.json"
        write(config, {"websites": [{"URL": pages.set("/", "ok"), "checkInterval": 0.2}]})
        first = start(["-m", "-s", "-c", str(config), "-db", str(schema8)], schema8.parent)
        try:
            wait_for(lambda: rows(schema8, "PRAGMA user_version") == [(SCHEMA_VERSION,)],
                     30, "the migration")
            second = run_app(["-m", "-c", str(config), "-db", str(schema8)], schema8.parent,
                             timeout=30)
            assert second.returncode == 1
            assert "is in use by another monitor" in second.stderr
            assert "past 1h00m00s" in run(["-r", "--once"], schema8)
        finally:
            _elapsed, _out, err = stop(first, signal.SIGINT)
    assert first.returncode == 0, err


def test_no_reader_upgrades_a_file_an_older_running_monitor_writes(schema8: Path) -> None:
    # An older -m still running after an upgrade writes the schema-8 tables: a reader that
    # renamed them under it would make it drop every check. The older monitor is stood in
    # for by a process holding the owner's lock, as the monitor of cbd4236 does.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time;"
         " fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600);"
         " fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242\\n');"
         " print('held', flush=True); time.sleep(60)", f"{schema8}.lock"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for args in (["-r", "--once"], ["-a", "--no-follow"]):
            done = run_app([*args, "-db", str(schema8)], schema8.parent, timeout=60)
            assert (done.returncode, done.stdout) == (1, ""), args
            assert done.stderr == (
                f"Error: {schema8}: schema 8, written by a monitor of an older version (pid"
                " 4242); restart that monitor with this version (it upgrades the file as it"
                " starts), then try again\n"), args
        with sqlite3.connect(schema8) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 8
    finally:
        holder.kill()
        holder.wait()
    assert "past 1h00m00s" in run(["-r", "--once"], schema8)  # the monitor gone: upgraded
    with sqlite3.connect(schema8) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
