"""Config keys spelled the old way (issue 22, 1), through the real program: a dns monitor's
`name` as the name asked for, a process monitor's `name` as the process name. Each is read
as before, with the id its history has in the database, and said in one warning line per
monitor, once per run: by `validate`, `monitors`, and `-m` across its reloads."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest

from monitor.stats import window_stats
from monitor.store.sqlite.queries import open_reader
from tests.support.app import run_app, start, stop, wait_for
from tests.support.dns_server import DnsServer

DNS_WARNING = ('dns: "name" as the name to query is deprecated; put it in "host" ("name" is'
               " then only the label)")
PROCESS_WARNING = ('process: "name" as the process name to match is deprecated; put it in'
                   ' "process" ("name" is then only the label)')


@pytest.fixture(scope="module")
def server():
    with DnsServer({"www.example.com": {"A": ["192.0.2.1"]}}) as running:
        yield running


def old_entries(server: DnsServer, process: str, interval: float) -> list[dict]:
    return [{"type": "dns", "name": "www.example.com", "server": "127.0.0.1",
             "port": server.port, "checkInterval": interval},
            {"type": "process", "name": process, "max": 0, "checkInterval": interval}]


def warnings(config: Path, key: str = "websites") -> str:
    return (f"Warning: {config}: {key}[0]: {DNS_WARNING}\n"
            f"Warning: {config}: {key}[1]: {PROCESS_WARNING}\n")


def test_validate_and_monitors_say_each_old_spelling_once(server, tmp_path):
    config = tmp_path / "config.json"
    process = f"hk-{uuid.uuid4().hex[:8]}"
    config.write_text(json.dumps({"websites": old_entries(server, process, 5)}))
    done = run_app(["validate", "-c", str(config)], tmp_path)
    assert (done.returncode, done.stderr) == (0, warnings(config))
    assert done.stdout.startswith(f"{config}: OK, 2 ")
    done = run_app(["monitors", "--json", "-c", str(config)], tmp_path)
    assert (done.returncode, done.stderr) == (0, warnings(config))
    old = [(row["id"], row["name"]) for row in json.loads(done.stdout)]
    dns_id = f"dns:A www.example.com @127.0.0.1:{server.port}"
    assert old == [(dns_id, "www.example.com"), (f"process:{process}", process)]
    # Written the new way, with labels of their own: the same ids, no warning.
    config.write_text(json.dumps({"monitors": [
        {"type": "dns", "host": "www.example.com", "name": "web", "server": "127.0.0.1",
         "port": server.port},
        {"type": "process", "process": process, "name": "sleeper", "max": 0}]}))
    done = run_app(["monitors", "--json", "-c", str(config)], tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert [(row["id"], row["name"]) for row in json.loads(done.stdout)] == [
        (dns_id, "web"), (f"process:{process}", "sleeper")]


def checks(db: Path) -> dict[str, int]:
    """Checks recorded per monitor id, through the store's reader."""
    if not db.exists():
        return {}
    try:
        reader = open_reader(db)
    except Exception:  # noqa: BLE001 - the monitor has not made the database yet
        return {}
    try:
        return {key: s.checks for key, s in window_stats(reader, 0, time.time() + 1).items()}
    finally:
        reader.close()


def test_monitoring_says_them_once_across_reloads_and_keeps_the_ids(server, tmp_path):
    config = tmp_path / "config.json"
    db = tmp_path / "m.db"
    process = f"hk-{uuid.uuid4().hex[:8]}"
    dns_id, process_id = f"dns:A www.example.com @127.0.0.1:{server.port}", f"process:{process}"
    config.write_text(json.dumps({"websites": old_entries(server, process, 0.2)}))
    proc = start(["-m", "--plain", "-c", str(config), "-db", str(db)], tmp_path)
    try:
        wait_for(lambda: min(checks(db).get(k, 0) for k in (dns_id, process_id)) >= 3, 15,
                 "checks of both monitors")
        # A change of the file, then SIGHUP: each re-reads it (still the old spelling).
        config.write_text(json.dumps({"websites": old_entries(server, process, 0.25)}))
        time.sleep(1.0)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        # The new spelling, labels of their own: the same monitors, their history goes on.
        config.write_text(json.dumps({"monitors": [
            {"type": "dns", "host": "www.example.com", "name": "web", "server": "127.0.0.1",
             "port": server.port, "checkInterval": 0.2},
            {"type": "process", "process": process, "name": "sleeper", "max": 0,
             "checkInterval": 0.2}]}))
        time.sleep(1.0)
        before = checks(db)
        wait_for(lambda: all(checks(db).get(k, 0) >= before[k] + 3
                             for k in (dns_id, process_id)), 15, "checks after the reloads")
    finally:
        _, out, err = stop(proc)
    assert proc.returncode == 0, err
    assert set(checks(db)) == {dns_id, process_id}  # no monitor under another id
    assert out.count(f"Reloaded {config}: 2 monitor(s).") == 2, out
    assert err == warnings(config), err
