"""`init` and the error of a missing config (issue 22, 8): a first run without a config
says how to name one or make one; `init` writes an example that is valid as written,
readable by its owner only, and never overwrites a file."""

import ipaddress
import json
import stat
from urllib.parse import urlsplit

from monitor.config.example import EXAMPLE
from tests.support.app import run_app

HINT = " (name another with -c FILE, or write an example one with `monitoringApp.py init`)"


def test_monitor_without_a_config_points_to_c_and_init(tmp_path):
    for args in (["-m"], ["monitor"], ["--validate"], ["monitors"]):
        status, out, err = run_app(args, tmp_path)
        assert (status, out, err) == (2, "", f"Error: config.json: file not found{HINT}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database made either


def test_a_missing_named_config_points_to_init_with_its_name(tmp_path):
    # `init` writes config.json unless told -c: the hint names the file the user named.
    status, out, err = run_app(["-m", "-c", "other conf.json"], tmp_path)
    assert (status, out) == (2, "")
    assert err.endswith("`monitoringApp.py init -c 'other conf.json'`)\n"), err
    assert run_app(["init", "-c", "other conf.json"], tmp_path)[0] == 0
    assert run_app(["--validate", "-c", "other conf.json"], tmp_path)[0] == 0


def test_init_writes_a_valid_example_for_the_owner_only(tmp_path):
    status, out, err = run_app(["init"], tmp_path)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "Wrote config.json: 9 example monitors, one of each common kind, on this machine or"
        " example.com. Edit it, then:",
        "  monitoringApp.py monitors   the monitors and their ids",
        "  monitoringApp.py check      check each one once, now",
        "  monitoringApp.py -m         monitor them",
    ]
    path = tmp_path / "config.json"
    assert path.read_text() == EXAMPLE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run_app(["--validate"], tmp_path) == (0, "config.json: OK, 9 monitor(s)\n", "")
    status, out, _ = run_app(["monitors", "--json"], tmp_path)
    assert status == 0
    kinds = [row["kind"] for row in json.loads(out)]
    assert set(kinds) >= {"http", "tcp", "tls", "dns", "disk", "cpu", "memory", "process"}


def test_init_refuses_to_overwrite(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("mine")
    status, out, err = run_app(["init"], tmp_path)
    assert (status, out) == (2, "")
    assert err == ("Error: config.json: already exists, and init never overwrites a file"
                   " (name a new one with -c FILE)\n")
    assert path.read_text() == "mine"


def test_init_with_c_writes_there(tmp_path):
    for args in (["init", "-c", "a.json"], ["-c", "b.json", "init"]):
        status, out, err = run_app(args, tmp_path)
        assert (status, err) == (0, "")
        name = args[args.index("-c") + 1]
        assert f"  monitoringApp.py -m -c {name}" in out
        assert run_app(["validate", "-c", name], tmp_path)[0] == 0


def test_the_example_checks_only_loopback_and_example_names():
    for monitor in json.loads(EXAMPLE)["monitors"]:
        host = urlsplit(monitor["URL"]).hostname if "URL" in monitor else monitor.get("host")
        if host is None:
            continue  # a check of this machine: disk, memory, cpu, process
        if host.endswith(("example.com", "example")):
            continue
        assert ipaddress.ip_address(host).is_loopback, monitor
