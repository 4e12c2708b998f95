"""Check kinds from other packages: installed with an entry point in the group
`uptime_monitor.checks`, found by the config, run by `-m` in this process and in probe
processes, stored and alerted on like the built-in kinds. The kind here is installed for
real: a module and its dist-info (what pip writes) on the path of the monitor's process."""

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from monitor.checks import registry
from tests.support.app import run_app, start, stop, wait_for
from tests.support.db import query, reading
from tests.support.pages import PageServer

KIND = '''
from pathlib import Path
from monitor.core.kind import Kind, Parsed
from monitor.core.model import CheckResult
import time


def parse(fields, entry, path, defaults):
    if not isinstance(entry.get("path"), str):
        raise fields.fail(f"{path}.path", "must be the path of a file")
    return Parsed(spec=entry["path"], target=f"file:{entry['path']}")


def run(monitor, deadline):
    started = time.time()
    there = Path(monitor.spec).exists()
    return CheckResult(monitor.id, started, there, None, (time.time() - started) * 1000,
                       None if there else "missing", "" if there else "no such file",
                       metrics={"size": Path(monitor.spec).stat().st_size} if there else {})


KIND = Kind(name="file", keys=("path",), parse=parse, reasons=("missing",), run=run,
            network=False)
'''
# README's second example: a kind that runs on every site, lending the http kind's parts.
ROBOTS_KIND = '''
import dataclasses
from urllib.parse import urljoin

from monitor.checks.http.kind import KIND as HTTP
from monitor.core.kind import Kind, Parsed


def plugin(site, defaults):
    spec = dataclasses.replace(site.spec, url=urljoin(site.spec.url, "/robots.txt"),
                               expect=None)
    return Parsed(spec=spec, target=urljoin(site.target, "/robots.txt"))


KIND = Kind(name="robots", keys=HTTP.keys, parse=HTTP.parse, reasons=HTTP.reasons,
            run=HTTP.run, loop=HTTP.loop, network_reasons=HTTP.network_reasons,
            plugin=plugin)
'''
ENTRY_POINTS = ("[uptime_monitor.checks]\nfile = file_kind:KIND\nbroken = broken_kind:KIND\n"
                "robots = robots_kind:KIND\n")


@pytest.fixture()
def installed(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that has the `file` kind installed."""
    site = tmp_path / "site-packages"
    dist = site / "file_kind-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "file_kind.py").write_text(KIND)
    (site / "broken_kind.py").write_text("raise ImportError('needs libfoo')\n")
    (site / "robots_kind.py").write_text(ROBOTS_KIND)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: file-kind\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return {"PYTHONPATH": str(site)}


def test_an_installed_kind_validates_and_a_missing_one_is_named(tmp_path, installed):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [{"type": "file", "path": "x"}]}))
    done = run_app(["--validate", "-c", str(config)], tmp_path, env=installed)
    assert (done.returncode, done.stdout.strip()) == (0, f"{config}: OK, 1 monitor(s)")
    bad = run_app(["--validate", "-c", str(config)], tmp_path, env={})
    # The kinds built in, whichever they are: `file` is not among them.
    assert (bad.returncode, bad.stderr.strip()) == (
        2, f"Error: {config}: websites[0].type: must be one of: {', '.join(registry.names())}")
    config.write_text(json.dumps({"websites": [{"type": "file"}]}))
    done = run_app(["--validate", "-c", str(config)], tmp_path, env=installed)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"Error: {config}: websites[0].path: must be the path of a file")
    config.write_text(json.dumps({"websites": [{"type": "file", "path": "x", "URL": "y"}]}))
    done = run_app(["--validate", "-c", str(config)], tmp_path, env=installed)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"Error: {config}: websites[0].URL: unknown key")


def test_a_kind_that_cannot_load_is_one_line_naming_it(tmp_path, installed):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [{"type": "broken"}]}))
    done = run_app(["--validate", "-c", str(config)], tmp_path, env=installed)
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: check kind 'broken' (broken_kind:KIND) cannot be"
                                   " loaded: ImportError: needs libfoo")


@pytest.mark.parametrize("processes", [1, 2])
def test_an_installed_kind_runs_is_stored_and_alerts(tmp_path, installed, processes):
    watched = tmp_path / "flag"
    watched.write_text("hello")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"processes": processes, "websites": [
        {"type": "file", "path": str(watched), "name": "flag file", "checkInterval": 0.1,
         "alertWindow": 1}]}))
    db = tmp_path / "m.db"
    proc = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path, env=installed)
    target = f"file:{watched}"

    def rows(available: int) -> int:
        if not db.exists():
            return 0
        with contextlib.suppress(sqlite3.OperationalError):  # tables not made yet
            return query(db, "SELECT count(*) FROM website_monitoring WHERE host LIKE ? AND"
                         " available = ?", f"%{target}", available)[0][0]
        return 0

    try:
        wait_for(lambda: rows(1) >= 3, 20, "checks of the file kind stored as up")
        watched.unlink()
        wait_for(lambda: rows(0) >= 3, 10, "checks stored as down once the file is gone")
        wait_for(lambda: query(db, "SELECT type FROM website_alerts"), 10, "an alert")
    finally:
        _, out, err = stop(proc)
    assert query(db, "SELECT DISTINCT reason FROM website_monitoring WHERE available = 0"
                 ) == [("missing",)]
    assert query(db, "SELECT type FROM website_alerts")[0] == ("alert",), err


@pytest.mark.parametrize("processes", [1, 2])
def test_an_installed_kind_runs_on_every_site(tmp_path, installed, processes):
    """`plugins` names an outside kind: loaded, it makes a monitor of every http site."""
    with PageServer() as pages:
        pages.set("/robots.txt", "User-agent: *\n", headers={"Content-Type": "text/plain"})
        good = pages.set("/", "<p>home</p>")
        bad = pages.url("/shop/")  # 404 for the page; its /robots.txt is the same one
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"processes": processes, "plugins": ["robots"],
                                      "websites": [
            {"URL": good, "checkInterval": 0.2},
            {"URL": bad, "checkInterval": 0.2, "plugins": []},
            {"type": "file", "path": str(tmp_path), "checkInterval": 0.2}]}))
        db = tmp_path / "m.db"
        proc = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path, env=installed)

        def counts() -> dict[str, tuple[int, int]]:
            with contextlib.suppress(sqlite3.OperationalError):  # tables not made yet
                return {m: (n, up) for m, n, up in query(
                    db, "SELECT monitor, count(*), sum(available)"
                        " FROM website_monitoring GROUP BY 1")}
            return {}

        robots = good.removesuffix("/") + "/robots"  # one slash (issue 22, 8)
        try:
            wait_for(lambda: db.exists() and counts().get(robots, (0, 0))[0] >= 3, 20,
                     "checks of the robots plugin stored")
        finally:
            _, out, err = stop(proc)
    found = counts()
    assert found[robots][0] == found[robots][1]  # every check of /robots.txt up
    assert set(found) == {good, bad, robots, f"file:file:{tmp_path}"}, err  # none for `bad`
    with reading(db) as reader:
        assert [(m.kind, m.target) for m in reader.active_monitors() if m.id == robots
                ] == [("robots", pages.url("/robots.txt"))]
