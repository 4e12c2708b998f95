"""The real program in a real process against real loopback servers, stopped by signals."""

import signal
import sqlite3
import time

from click.testing import CliRunner

from monitor.cli import main
from monitor.cli.selftest import LocalServer
from tests.support.app import start, stop, wait_for, write
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url


def test_hostile_sites_end_to_end(hostile, tmp_path):
    routes = {"/ok": (None,), "/500": ("http_status",), "/hang": ("timeout",),
              "/reset": ("connect",), "/redirect-loop": ("invalid_response",),
              "/endless": ("too_large",), "/garbage": ("invalid_response",)}
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": hostile.base + r, "checkInterval": 0.5, "timeout": 0.4,
                                 "maxBodyBytes": 200_000} for r in routes],
                   "alertWindow": 2})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: all(count_checks(db, hostile.base + r) >= 4 for r in routes), 15,
             "four checks of every site")
    elapsed, out, err = stop(proc)
    assert proc.returncode == 0, err
    assert elapsed < 2.0
    assert err == ""
    for route, reasons in routes.items():
        # (A slot a stalled machine made skip shares its check's verdict: not a reason.)
        rows = query(db, "SELECT DISTINCT reason FROM website_monitoring WHERE host=?"
                         " AND reason IS NOT 'skipped'", hostile.base + route)
        assert {r[0] for r in rows} == set(reasons), route
    # Every failing site raised exactly one alert; the healthy one none.
    alerts = dict(query(db, "SELECT host, count(*) FROM website_alerts GROUP BY host"))
    assert alerts == {hostile.base + r: 1 for r in routes if r != "/ok"}
    for route in routes:
        if route != "/ok":
            assert f"ALERT: Website {hostile.base}{route} is down." in out
    # The hanging site never delayed the others: lateness stays small for all.
    worst = query(db, "SELECT max(lateness) FROM website_monitoring")[0][0]
    assert worst < 100, f"worst lateness {worst} ms"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_sigterm_stops_within_two_seconds_while_a_check_hangs(hostile, tmp_path):
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": hostile.base + "/hang", "timeout": 30,
                                 "checkInterval": 60},
                                {"URL": hostile.base + "/ok", "checkInterval": 0.2}]})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: count_checks(db, hostile.base + "/ok") >= 5, 10, "checks of /ok")
    time.sleep(0.3)  # the /hang check is in flight by now
    elapsed, out, err = stop(proc)
    assert (proc.returncode, out, err) == (0, "", "")
    assert elapsed < 2.0
    # The aborted check is not recorded as a failure of the site.
    assert count_checks(db, hostile.base + "/hang") == 0


def test_ctrl_c_flushes_pending_checks(hostile, tmp_path):
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": hostile.base + "/ok", "checkInterval": 0.1}]})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: count_checks(db) >= 10, 10, "ten checks")
    elapsed, out, _err = stop(proc, signal.SIGINT)
    assert proc.returncode == 0 and elapsed < 2.0
    recorded = int(out.strip().splitlines()[-1].split()[1])  # "Stopped; N checks recorded"
    assert count_checks(db) == recorded


def test_restart_neither_repeats_an_alert_nor_loses_a_recovery(tmp_path):
    server = LocalServer()
    server.start()
    url = server.url
    server.stop()  # down from the start: the monitor must alert
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": url, "checkInterval": 0.1, "timeout": 0.5}],
                   "alertWindow": 2})
    db = str(tmp_path / "m.db")

    def alerts():
        try:
            return [r[0] for r in query(db, "SELECT type FROM website_alerts ORDER BY id")]
        except sqlite3.OperationalError:
            return []

    proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: alerts() == ["alert"], 10, "the alert")
    stop(proc)

    # Restarted while the site is still down: the open alert is restored, not repeated.
    proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    before = count_checks(db)
    wait_for(lambda: count_checks(db) >= before + 15, 10, "more checks")
    stop(proc)
    assert alerts() == ["alert"]

    # The site came back while the monitor was stopped: the recovery still comes.
    server.start()
    try:
        proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
        wait_for(lambda: alerts() == ["alert", "recovery"], 10, "the recovery")
        time.sleep(0.5)
        stop(proc)
    finally:
        server.stop()
    assert alerts() == ["alert", "recovery"]
    start_date, end_date = query(db, "SELECT startDate, endDate FROM website_alerts"
                                     " WHERE type='recovery'")[0]
    assert start_date == query(db, "SELECT startDate FROM website_alerts"
                                   " WHERE type='alert'")[0][0]
    assert end_date > start_date


def test_reload_on_sighup_and_on_file_change_keeps_a_bad_file_out(hostile, tmp_path):
    config = tmp_path / "config.json"
    first = hostile.base + "/ok"
    second = hostile.base + "/500"
    write(config, {"websites": [{"URL": first, "checkInterval": 0.2}]})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: count_checks(db, first) >= 3, 10, "checks of the first site")

    write(config, {"websites": [{"URL": first, "checkInterval": 0.2},
                                {"URL": second, "checkInterval": 0.2}]})
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: count_checks(db, second) >= 3, 10, "checks of the added site")

    config.write_text('{"websites": [{"URL": "ftp://nope"}]}')  # picked up by the file watch
    time.sleep(1.0)
    before = count_checks(db, second)
    wait_for(lambda: count_checks(db, second) >= before + 3, 10, "checks going on")

    write(config, {"websites": [{"URL": second, "checkInterval": 0.2}]})  # first removed
    time.sleep(1.0)
    removed_at = count_checks(db, first)
    time.sleep(0.6)
    assert count_checks(db, first) == removed_at
    elapsed, out, err = stop(proc)
    assert proc.returncode == 0
    assert f"Error: {config}: websites[0].URL: must be an http:// or https:// URL with a host" \
           " (still running the previous configuration)" in err
    assert f"Reloaded {config}: 2 monitor(s)." in out
    assert f"Reloaded {config}: 1 monitor(s)." in out
    # The alert of the 500 site was raised once, and its history survived the reloads.
    assert query(db, "SELECT count(*) FROM website_alerts WHERE host=?", second) == [(1,)]


def test_alert_history_follows_new_alerts(tmp_path):
    from monitor.store.api import AlertRecord
    from monitor.store.sqlite.writer import Store

    db = tmp_path / "m.db"
    store = Store(db)
    store.put_alert(AlertRecord("2026-01-01T00:00:00.000Z", "http://a.test/", "alert",
                                "2026-01-01T00:00:00.000Z", None, 0.5, "old message"))
    store.close()
    proc = start(["-a", "-db", str(db)], tmp_path)
    time.sleep(0.8)
    store = Store(db)
    store.put_alert(AlertRecord("2026-01-01T00:01:00.000Z", "http://a.test/", "recovery",
                                "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z", 1.0,
                                "new message"))
    store.close()
    time.sleep(1.0)
    elapsed, out, err = stop(proc, signal.SIGINT)
    assert (proc.returncode, err) == (0, "")
    assert out == "old message\nnew message\n"
    assert elapsed < 2.0


def test_selftest_passes():
    # `-t` is the `selftest` command (tests/cli/test_group.py: the same exit and output),
    # asserted to pass here, alone: it checks its own schedule on the real clock.
    result = CliRunner().invoke(main, ["-t"])
    assert result.exit_code == 0, result.output
    assert result.output.count("[ok]") == 6
    assert "FAIL" not in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("Self-test passed in ")


def test_refused_site_is_a_connect_failure_end_to_end(tmp_path):
    url = refused_url()
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": url, "checkInterval": 0.1}]})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: count_checks(db) >= 3, 10, "three checks")
    stop(proc)
    assert query(db, "SELECT DISTINCT reason, detail FROM website_monitoring") == [
        ("connect", "connection refused")]
