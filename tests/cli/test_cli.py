"""The command line through click's CliRunner: modes, usage errors, exact messages."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import __version__
from monitor.cli import main
from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, MonitorRow
from monitor.store.sqlite.writer import Store
from tests.support.app import APP
from tests.support.config import DURATION


def write_config(path, document):
    path.write_text(json.dumps(document))
    return str(path)


def test_version_names_the_program_as_typed(tmp_path):
    # Issue 22, 8: `uptime-monitor --version` printed "monitoringApp".
    scripts = Path(sys.executable).parent
    for program, name in ((APP, "monitoringApp.py"), (scripts / "uptime-monitor", "uptime-monitor"),
                          (scripts / "monitoringApp", "monitoringApp")):
        done = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                              cwd=tmp_path, timeout=30)
        assert (done.returncode, done.stdout, done.stderr) == (
            0, f"{name}, version {__version__}\n", "")


def test_help_lists_the_original_flags(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for flag in ("-m, --monitor", "-a, --alerts", "-t, --selftest", "-r, --report",
                 "-c, --config FILE", "-db, --database FILE", "-s, --silent", "--purge DAYS"):
        assert flag in result.output


@pytest.mark.parametrize(("args", "message"), [
    ([], "Error: choose exactly one mode of -m, -a, -t, -r, --purge, --validate (got none)"),
    (["-m", "-a"], "Error: choose exactly one mode of -m, -a, -t, -r, --purge, --validate "
                   "(got -m, -a)"),
    (["-a", "-s"], "Error: -s only goes with -m"),
    (["-m", "--once"], "Error: --once only goes with -r"),
    (["-r", "--no-follow"], "Error: --no-follow only goes with -a"),
    (["-a", "--plain"], "Error: --plain only goes with -m or -r"),
    (["-t", "-db", "x.db"], "Error: selftest (-t) uses a throwaway database; -db does not "
                            "apply"),
    (["-t", "-c", "x.json"], "Error: -c does not apply to selftest (-t)"),
    (["--purge", "0"], "Error: Invalid value for '--purge': '0' is not a number of days "
                       "greater than 0 and at most 36500"),
    # nan and inf pass a plain range check; 1e300 days overflows any date
    *[(["--purge", days], f"Error: Invalid value for '--purge': '{days}' is not a number of "
                          "days greater than 0 and at most 36500")
      for days in ("nan", "inf", "-inf", "1e300", "36500.5", "-1", "ten")],
])
def test_usage_errors_exit_2(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message


def test_config_error_is_one_line_with_path_and_exit_2(runner, tmp_path):
    path = write_config(tmp_path / "c.json",
                        {"websites": [{"URL": "http://a.test/", "checkInterval": 0}]})
    result = runner.invoke(main, ["-m", "-c", path, "-db", str(tmp_path / "m.db")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}: websites[0].checkInterval: {DURATION}\n")
    assert result.stdout == ""
    assert not (tmp_path / "m.db").exists()  # refused before anything was created


def test_invalid_json_names_line_and_column(runner, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{\n  "websites": [\n    {"URL": "http://a.test/",}\n  ]\n}\n')
    result = runner.invoke(main, ["--validate", "-c", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {path}: invalid JSON at line 3, column 30: "
                             "Expecting property name enclosed in double quotes\n")


def test_missing_config_file(runner, tmp_path):
    result = runner.invoke(main, ["-m", "-c", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {tmp_path / 'none.json'}: file not found (name another"
                             " with -c FILE, or write an example one with"
                             f" `main init -c {tmp_path / 'none.json'}`)\n")


def test_validate_ok(runner, tmp_path):
    path = write_config(tmp_path / "c.json", {"websites": [{"URL": "http://a.test/"}]})
    result = runner.invoke(main, ["--validate", "-c", path])
    assert result.exit_code == 0
    assert result.output == f"{path}: OK, 1 monitor(s)\n"


def test_shipped_config_is_valid(runner):
    result = runner.invoke(main, ["--validate"])
    assert result.exit_code == 0, result.output


def seeded_db(tmp_path, now):
    db = tmp_path / "m.db"
    store = Store(db)
    store.set_monitors([MonitorRow("http://a.test/", "http", "http://a.test/", "site A", 1.0),
                        MonitorRow("http://b.test/", "http", "http://b.test/", "", 1.0)])
    for i in range(30):
        store.put_check(CheckResult("http://a.test/", now - 300 + i, True, 200, 10.0 + i))
        store.put_check(CheckResult("http://b.test/", now - 300 + i, i % 2 == 0,
                                    200 if i % 2 == 0 else None, 5.0,
                                    None if i % 2 == 0 else "timeout"))
    store.put_alert(AlertRecord("2026-01-01T00:00:00.000Z", "http://b.test/", "alert",
                                "2026-01-01T00:00:00.000Z", None, 0.5, "first message"))
    store.put_alert(AlertRecord("2026-01-01T00:05:00.000Z", "http://b.test/", "recovery",
                                "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z", 0.9,
                                "second message"))
    store.close()
    return str(db)


def test_alert_history_oldest_first(runner, tmp_path):
    import time

    db = seeded_db(tmp_path, time.time())
    result = runner.invoke(main, ["-a", "--no-follow", "-db", db])
    assert result.exit_code == 0
    assert result.output == "first message\nsecond message\n"


def test_alert_history_of_a_missing_database(runner, tmp_path):
    result = runner.invoke(main, ["-a", "--no-follow", "-db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'none.db'}: database not found "
                             "(start the monitor with -m first)\n")


def test_report_once_prints_both_windows_and_recent_alerts(runner, tmp_path):
    import time

    db = seeded_db(tmp_path, time.time())
    result = runner.invoke(main, ["-r", "--once", "-db", db])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "past 10m00s" in out and "past 1h00m00s" in out
    # Columns are separated by two spaces or more, so found by their headers.
    rows = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    header = next(row for row in rows if row[0] == "monitor")
    site_a = dict(zip(header, next(row for row in rows if row[0] == "site A"), strict=True))
    assert (site_a["avail"], site_a["checks"], site_a["min ms"]) == ("100.0%", "30", "10.0")
    site_b = dict(zip(header, next(row for row in rows if row[0] == "http://b.test/"), strict=True))
    assert (site_b["avail"], site_b["checks"], site_b["failures"]) == ("50.0%", "30",
                                                                     "timeout:15")
    assert out.rstrip().endswith("Recent alerts:\n  first message\n  second message")


def test_purge(runner, tmp_path):
    import time

    db = seeded_db(tmp_path, time.time() - 3 * 86400)
    result = runner.invoke(main, ["--purge", "2", "-db", db])
    assert result.exit_code == 0
    # Both alerts are older than 2 days, but the latest one of the site is the state a
    # restart needs: it stays.
    assert result.output == f"Purged 60 check(s) and 1 alert(s) older than 2 day(s) from {db}.\n"


def test_unreadable_database_is_a_clean_error(runner, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    result = runner.invoke(main, ["-r", "--once", "-db", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: ")
    assert "Traceback" not in result.output + result.stderr


def test_purge_as_far_back_as_allowed(runner, tmp_path):
    import time

    db = seeded_db(tmp_path, time.time())
    result = runner.invoke(main, ["--purge", "36500", "-db", db])
    assert result.exit_code == 0, result.output
    assert result.output == (f"Purged 0 check(s) and 0 alert(s) older than 36500 day(s) "
                             f"from {db}.\n")


@pytest.mark.parametrize("args", [["-r", "--once"], ["-a", "--no-follow"], ["--purge", "2"]])
def test_readers_accept_the_config_flag_of_the_monitor(runner, tmp_path, args):
    """-r, -a and --purge read the database: given the flags of the -m that writes it,
    they ignore -c (even a file they could not read)."""
    import time

    db = seeded_db(tmp_path, time.time())
    result = runner.invoke(main, [*args, "-c", str(tmp_path / "sites.json"), "-db", db])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_purge_refuses_another_programs_database_and_leaves_it_untouched(runner, tmp_path):
    import sqlite3

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = _snapshot(tmp_path)
    result = runner.invoke(main, ["--purge", "1", "-db", str(other)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {other}: not a monitoring database\n"
    assert _snapshot(tmp_path) == before  # same bytes, same mtime, no -wal or -shm added


@pytest.mark.parametrize("content", [b"", b"this is not a database" * 100])
def test_purge_refuses_a_file_that_is_not_a_database(runner, tmp_path, content):
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    before = _snapshot(tmp_path)
    result = runner.invoke(main, ["--purge", "1", "-db", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: ")
    assert "monitoring database" in result.stderr or "cannot read" in result.stderr
    assert _snapshot(tmp_path) == before


def test_purge_of_a_missing_database(runner, tmp_path):
    result = runner.invoke(main, ["--purge", "1", "-db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {tmp_path / 'none.db'}: database not found "
                             "(start the monitor with -m first)\n")
    assert list(tmp_path.iterdir()) == []
