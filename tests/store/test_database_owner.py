"""One monitor per database: a second `-m` on it is refused at once, naming the first; the
claim ends with the first, however it ends (a clean stop or kill -9)."""
# SQLite only: the owner's lock on its file (PostgreSQL's monitors share a database).

import signal

from tests.support.app import run_app, start, stop, wait_for, write
from tests.support.db import count_checks


def test_a_second_monitor_on_one_database_exits_at_once_naming_the_first(hostile, tmp_path):
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": hostile.base + "/ok", "checkInterval": 0.2}]})
    db = str(tmp_path / "m.db")
    first = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    try:
        wait_for(lambda: count_checks(db) >= 2, 15, "the first monitor's checks")
        second = run_app(["-m", "-c", str(config), "-db", db], tmp_path, timeout=30)
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr == (f"Error: {db} is in use by another monitor (pid"
                                 f" {first.pid}); stop it first or give this one another"
                                 " -db\n")
        assert first.poll() is None  # the first one goes on
    finally:
        _elapsed, _out, err = stop(first)
    assert first.returncode == 0 and err == ""

    # Stopped cleanly: the database is free again; killed: the kernel frees it too.
    again = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    before = count_checks(db)
    wait_for(lambda: count_checks(db) > before, 15, "checks of the restarted monitor")
    again.send_signal(signal.SIGKILL)
    again.wait(10)
    third = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    before = count_checks(db)
    wait_for(lambda: count_checks(db) > before, 15, "checks after a kill -9")
    stop(third)
    assert third.returncode == 0
    assert (tmp_path / "m.db.lock").stat().st_mode & 0o077 == 0
