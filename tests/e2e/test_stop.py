"""The stop writes everything measured, however long the writer takes, and says so; a second
signal forces the exit and names what was not written. The real program, its writer held up
by a real SQLite write lock that the test takes on the database."""

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.support.app import Output, start, wait_for, write
from tests.support.db import count_checks, query


def checking(hostile, tmp_path: Path) -> tuple[subprocess.Popen, Output, str]:
    """`-m` checking one site 20 times a second, once its first 20 checks are stored. Its
    timeout is longer than the interval: on a loaded machine a check of the healthy site
    cut at 50 ms would fail, and an alert would join the rows the tests count."""
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": hostile.base + "/ok", "checkInterval": 0.05,
                                 "timeout": 2}]})
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-c", str(config), "-db", db], tmp_path)
    output = Output(proc, stderr=True)
    wait_for(lambda: count_checks(db) >= 20, 15, "twenty checks", output.dump)
    return proc, output, db


def write_lock(db: str) -> sqlite3.Connection:
    """Another writer holding the database's write lock: the monitor's writes wait."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def stopped_count(output: Output) -> int:
    found = Output.find(output.out, r"^Stopped; (\d+) checks recorded in ")
    assert found, output.dump()
    return int(re.search(r"(\d+)", found[-1][1]).group(1))


def test_a_stop_writes_every_check_measured_while_the_writer_was_held_up(hostile, tmp_path):
    proc, output, db = checking(hostile, tmp_path)
    lock = write_lock(db)
    try:
        before = count_checks(db)
        time.sleep(0.5)  # checks measured now wait in the writer's queue
        proc.send_signal(signal.SIGTERM)
        time.sleep(3.0)  # longer than the old stop waited for the writer (1.5 s)
        assert proc.poll() is None, "exited before its checks were written" + output.dump()
    finally:
        lock.rollback()
        lock.close()
    proc.wait(30)
    output.join()
    assert proc.returncode == 0, output.dump()
    progress = Output.find(output.err, r"^Stopping: writing \d+ checks and \d+ alerts to ")
    assert len(progress) >= 2, output.dump()  # once a second while it waited
    assert not Output.find(output.err, "left to finish|not written|lost"), output.dump()
    rows = count_checks(db)
    # The last line counts the rows in the database, and those include the checks
    # measured while the writer was held up.
    assert stopped_count(output) == rows
    assert rows > before
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_second_signal_forces_the_exit_and_names_what_was_not_written(hostile, tmp_path):
    proc, output, db = checking(hostile, tmp_path)
    lock = write_lock(db)
    try:
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: Output.find(output.err, r"^Stopping: writing [1-9]\d* checks"), 10,
                 "a line saying what is left to write", output.dump)
        forced = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        took = time.monotonic() - forced
    finally:
        lock.rollback()
        lock.close()
    output.join()
    lost = Output.find(output.err, r"(\d+) checks and (\d+) alerts not written")
    assert lost, output.dump()
    checks, alerts = map(int, re.search(r"(\d+) checks and (\d+) alerts", lost[0][1]).groups())
    assert checks > 0 and alerts == 0
    assert took < 10, f"the forced exit took {took:.1f} s"
    # What the last line counts is what the database holds: the write cut short by the
    # exit rolled back whole.
    assert stopped_count(output) == count_checks(db)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_progress_line_that_cannot_be_printed_does_not_stop_the_writing(tmp_path):
    # `-m 2>&1 | head -1`: stderr gone while the stop waits for the writer. Saying what is
    # left raises; the waiting and the writing go on.
    import threading

    from monitor.core.model import CheckResult
    from monitor.store.sqlite.writer import Store

    db = tmp_path / "m.db"
    store = Store(db).start()
    lock = write_lock(str(db))
    now = time.time()
    for i in range(50):
        store.put_check(CheckResult("http://a.test/", now + i / 100, True, 200, 1.0,
                                    mono=float(i)))
    said: list[str] = []

    def progress(text: str) -> None:
        said.append(text)
        raise BrokenPipeError(32, "the reader went away")

    # The lock is let go once the stop has tried to say what is left, twice.
    def release() -> None:
        wait_for(lambda: len(said) >= 2, 30, "two progress lines")
        lock.rollback()
        lock.close()

    releaser = threading.Thread(target=release)
    releaser.start()
    store.close(progress=progress)
    releaser.join()
    assert store.written[0] == 50 and store.left() == (0, 0)
    assert count_checks(str(db)) == 50
