"""`monitors`: the ids every other command takes, with their state from the database, and
the closest ones when a command is given a name no monitor has (issue 22, 8)."""

import json
import time

from monitor.cli.monitors import closest
from monitor.config import parse_config
from tests.cli.test_cli import seeded_db
from tests.support.app import run_app, write

CONFIG = {"websites": [{"URL": "http://a.test/", "name": "site A", "checkInterval": 1},
                       {"URL": "http://b.test/", "checkInterval": 90},
                       {"type": "disk", "path": "/"}]}


def test_monitors_lists_ids_without_a_database(tmp_path):
    write(tmp_path / "config.json", CONFIG)
    status, out, err = run_app(["monitors"], tmp_path)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "ID              NAME    KIND  TARGET          INTERVAL",
        "http://a.test/  site A  http  http://a.test/  1s",
        "http://b.test/  -       http  http://b.test/  90s",
        "disk:/          -       disk  disk:/          2s",
    ]


def test_monitors_shows_the_state_the_database_records(tmp_path):
    write(tmp_path / "config.json", CONFIG)
    db = seeded_db(tmp_path, time.time())  # a.test up, b.test down at its last check
    status, out, err = run_app(["monitors", "-db", db], tmp_path)
    assert (status, err) == (0, "")
    assert [line.split()[-1] for line in out.splitlines()] == ["STATE", "up", "down", "-"]
    status, out, err = run_app(["-db", db, "monitors", "--json"], tmp_path)
    assert (status, err) == (0, "")
    assert json.loads(out) == [
        {"id": "http://a.test/", "name": "site A", "kind": "http",
         "target": "http://a.test/", "interval": 1.0, "state": "up"},
        {"id": "http://b.test/", "name": "", "kind": "http", "target": "http://b.test/",
         "interval": 90.0, "state": "down"},
        {"id": "disk:/", "name": "", "kind": "disk", "target": "disk:/", "interval": 2.0,
         "state": None},
    ]


def test_a_paused_monitor_shows_paused(tmp_path):
    paused = {"websites": [dict(CONFIG["websites"][0], paused=True), *CONFIG["websites"][1:]]}
    write(tmp_path / "config.json", paused)
    db = seeded_db(tmp_path, time.time())  # a.test up at its last check
    status, out, err = run_app(["monitors", "-db", db, "--json"], tmp_path)
    assert (status, err) == (0, "")
    assert [row["state"] for row in json.loads(out)] == ["paused", "down", None]


def test_monitors_json_without_a_database_has_no_state(tmp_path):
    write(tmp_path / "config.json", CONFIG)
    status, out, _ = run_app(["monitors", "--json"], tmp_path)
    assert status == 0
    assert [sorted(row) for row in json.loads(out)][0] == [
        "id", "interval", "kind", "name", "target"]


def test_monitors_errors_are_one_line(tmp_path):
    status, out, err = run_app(["monitors"], tmp_path)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1].startswith("Error: config.json: file not found")
    write(tmp_path / "config.json", CONFIG)
    status, out, err = run_app(["monitors", "-db", "none.db"], tmp_path)  # named: must exist
    assert (status, out) == (1, "")
    assert err == "Error: none.db: database not found (start the monitor with -m first)\n"


def test_check_of_an_unknown_name_lists_the_closest(tmp_path):
    write(tmp_path / "config.json", CONFIG)
    status, out, err = run_app(["check", "disk"], tmp_path)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == (
        "Error: no monitor 'disk' in config.json: give a monitor's id, name or target, or an"
        " http(s) URL; closest: 'disk:/'")


def test_maintenance_of_an_unknown_name_lists_the_closest(tmp_path):
    write(tmp_path / "config.json", CONFIG)
    for command in ("on", "off"):
        status, out, err = run_app(["maintenance", command, "site a"], tmp_path)
        assert (status, out) == (2, "")
        assert err.splitlines()[-1] == (
            "Error: no monitor 'site a' in config.json: give a monitor's id, name or target;"
            " closest: 'site A'")


def test_closest_finds_ids_names_and_targets():
    monitors = parse_config(json.dumps({"websites": [
        {"URL": "https://shop.example.com/", "name": "shop"},
        {"type": "process", "name": "gunicorn: worker [app]"},
        {"type": "disk", "path": "/var"}]})).monitors
    ids = [m.id for m in monitors]
    assert closest("gunicorn", monitors) == [ids[1], "gunicorn: worker [app]"]
    assert closest("shpo", monitors) == ["shop"]
    assert closest("DISK", monitors) == ["disk:/var"]
    assert closest("zzz", monitors) == []
