"""A damaged database, with the real `-m`: reported, not retried forever like a full disk.
A damage met at start-up is one line and exit 1; one met while monitoring stops the
monitor, with exit 1, instead of holding checks in memory for ever."""
# SQLite only: a damaged file.

import json
import sqlite3

from monitor.cli.selftest import LocalServer
from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from tests.support.app import run_app

OLD = 1_700_000_000.0  # long before now: start-up reads none of these rows


def damaged_database(path, tables):
    """A monitoring database with old checks whose pages of `tables` are garbage."""
    store = Store(path)
    for i in range(3000):
        store.put_check(CheckResult(f"https://s{i % 50}.example/", OLD + i / 10, True, 200,
                                    5.0))
    store.close()
    conn = sqlite3.connect(path)
    pages = [p for (p,) in conn.execute(
        f"SELECT pageno FROM dbstat WHERE name IN ({','.join('?' * len(tables))})", tables)]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as file:
        for page in pages:
            file.seek((page - 1) * size)
            file.write(bytes(range(256)) * (size // 256))
    return len(pages)


def run(tmp_path, db, seconds=20):
    server = LocalServer()
    server.start()
    config = tmp_path / "config.json"
    # A timeout past the interval: on a loaded machine a check cut at 0.1 s could fail
    # and raise an alert, which the counts the tests read would include.
    config.write_text(json.dumps({"websites": [{"URL": server.url, "checkInterval": 0.1,
                                                "timeout": 2}]}))
    try:
        return run_app(["-m", "-c", str(config), "-db", str(db)], tmp_path, timeout=seconds)
    finally:
        server.stop()


def test_damage_met_while_monitoring_stops_the_monitor(tmp_path):
    db = tmp_path / "m.db"
    # The aggregates: start-up never reads them, the writer's first batch does.
    assert damaged_database(db, ["aggregates"]) > 3
    done = run(tmp_path, db)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"Warning: {db}: cannot write: the database is damaged (")
    assert lines[-1].startswith(f"Error: {db}: cannot write: the database is damaged (")
    assert lines[-1].endswith("; monitoring stopped")
    assert "retrying" not in done.stderr and "Traceback" not in done.stderr
    # The checks it held are named, not hidden.
    assert any(" checks and 0 alerts could not be written before stopping (database disk"
               " image is malformed); they are lost" in line for line in lines)


def test_damage_met_at_start_up_is_one_line(tmp_path):
    db = tmp_path / "m.db"
    damaged_database(db, ["website_monitoring_time"])
    done = run(tmp_path, db)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr == (f"Error: {db}: cannot read the database: database disk image is"
                           " malformed\n")


def test_damage_met_by_a_purge_is_fatal_as_in_a_write(tmp_path):
    # The purge at start-up may meet the damage before the first batch of checks does: the
    # same one line and the same stop, never a "purge failed" warning and monitoring on.
    db = tmp_path / "m.db"
    damaged_database(db, ["aggregates"])
    said: list[str] = []
    store = Store(db, on_error=said.append).start()
    try:
        store.purge(OLD + 3600)
        store.flush(10)
        assert store.fatal is not None
        assert said == [str(store.fatal)]
        assert said[0].startswith(f"{db}: cannot write: the database is damaged (")
    finally:
        store.close()
