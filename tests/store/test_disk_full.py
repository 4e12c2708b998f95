"""The database on a full disk: a clear message, checks and alerting go on, writing resumes
when space returns; nothing recorded before is damaged.

The real program in a real process, its database on a small tmpfs that a filler file fills
to the last block. Needs root (for mount): where tmpfs cannot be mounted it fails rather
than pass unproven.
"""
# SQLite only: a full disk under its file.

import contextlib
import errno
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from monitor.cli.selftest import LocalServer
from monitor.store.api import parse_iso
from tests.support.app import Output, run_app, start, wait_for
from tests.support.db import count_checks, query
from tests.support.stall import StallMeter

DISK_SIZE = "4m"
INTERVALS = {"steady": 0.1, "redirect": 0.2, "falls": 0.1}
GAP_SLACK = 0.5  # seconds a check may start late on a busy 2-core machine


@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB tmpfs in tmp_path, unmounted afterwards whatever happened."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700",
                           "tmpfs", str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (this test needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


class FileSizes:
    """Samples the size of the WAL in the background: the report wants how big it got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(OSError):
                self.largest = max(self.largest, self.path.stat().st_size)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def fill(path: Path) -> int:
    """Write to `path` until the filesystem refuses with ENOSPC; returns the bytes written."""
    chunk = b"\xa5" * 65536
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, chunk)  # a short write first, then ENOSPC
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    return written


def test_full_disk_warns_once_keeps_checking_and_alerting_then_resumes(
        hostile, small_disk, tmp_path):
    server = LocalServer()  # the site that goes down while the disk is full
    server.start()
    urls = {"steady": hostile.base + "/ok", "redirect": hostile.base + "/redirect-ok",
            "falls": server.url}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "websites": [{"URL": urls[k], "checkInterval": INTERVALS[k], "timeout": 0.5}
                     for k in urls],
        "alertWindow": 2,
    }))
    db = small_disk / "m.db"
    wal = FileSizes(Path(str(db) + "-wal"))
    filler = small_disk / "filler"
    proc = None
    with StallMeter() as stall:  # the machine's own stalls, for the gaps below
        try:
            proc = start(["-m", "-c", str(config), "-db", str(db)], tmp_path)
            output = Output(proc, stderr=True)
            wait_for(lambda: all(count_checks(db, url) >= 5 for url in urls.values()), 15,
                     "five stored checks of every site", output.dump)

            # What was recorded before the disk filled up.
            before = query(db, "SELECT * FROM website_monitoring ORDER BY id")
            alerts_before = query(db, "SELECT * FROM website_alerts ORDER BY id")
            wal_at_fill = os.path.getsize(str(db) + "-wal")

            full_from = time.time()
            filled = fill(filler)
            free_blocks = os.statvfs(small_disk).f_bavail
            cannot_write = wait_for(
                lambda: Output.find(output.err, r"cannot write"), 10,
                "the 'cannot write' message", output.dump)

            # While the disk is full, a site goes down: the alert must still be raised and
            # printed. The disk stays full until the periodic stats (every 10 s) have been
            # printed too, so the writer retries many times over.
            server.stop()
            alert_lines = wait_for(
                lambda: Output.find(output.out, "^ALERT: Website " + re.escape(urls["falls"])
                                    + " is down"),
                10, "the alert while the disk is full", output.dump)
            stats_lines = wait_for(
                lambda: [x for x in Output.find(output.out,
                                                r"^== .* UTC: past 10m00s \(since \d\d:\d\d\) ==$")
                         if x[0] > cannot_write[0][0]],
                15, "the periodic stats while the disk is full", output.dump)
            resumed_while_full = Output.find(output.err, "writing resumed")

            filler.unlink()
            freed_at = time.time()
            freed_mono = time.monotonic()
            wait_for(lambda: Output.find(output.err, "writing resumed"), 10,
                     "'writing resumed' after the space came back", output.dump)
            resumed_at = time.time()
            # Run a little longer: every site has checks stored from after the resumption.
            wait_for(lambda: all(query(db, "SELECT max(timestamp) FROM website_monitoring"
                                               " WHERE host=?", url)[0][0] > resumed_at + 0.5
                                 for url in (urls["steady"], urls["redirect"])),
                     10, "checks stored after writing resumed", output.dump)
            wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE host=?"
                                           " AND timestamp > ?", urls["falls"],
                                       resumed_at + 0.5)[0][0],
                     10, "checks of the fallen site stored after writing resumed", output.dump)

            proc.terminate()  # SIGTERM
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pytest.fail("the monitor did not stop within 10 s of SIGTERM")
            output.join()
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            wal.stop()
            server.stop()
            with contextlib.suppress(FileNotFoundError):
                filler.unlink()

    stdout = "\n".join(line for _, line in output.out)
    stderr = "\n".join(line for _, line in output.err)
    print(f"\nfilled {filled} bytes ({free_blocks} blocks left); full for"
          f" {freed_at - full_from:.1f} s; WAL {wal_at_fill} bytes at the fill,"
          f" {wal.largest} at most\n{stderr}")

    # The process: a clean exit, no traceback.
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{stderr}"
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    assert free_blocks == 0, "the filler did not fill the disk"

    # One clear message when writing fails, one when it resumes; nothing else on stderr.
    failed = Output.find(output.err, r"cannot write")
    resumed = Output.find(output.err, r"writing resumed")
    assert len(failed) == 1, f"{len(failed)} 'cannot write' messages:\n{stderr}"
    assert re.fullmatch(
        rf"Warning: {re.escape(str(db))}: cannot write \(database or disk is full\); "
        r"keeping checks in memory and retrying", failed[0][1]), failed[0][1]
    assert len(resumed) == 1, f"{len(resumed)} 'writing resumed' messages:\n{stderr}"
    assert resumed[0][1] == f"Warning: {db}: writing resumed"
    assert resumed_while_full == [], "'writing resumed' while the disk was still full"
    assert resumed[0][0] > freed_mono
    assert [line for _, line in output.err] == [failed[0][1], resumed[0][1]], stderr

    # The alert was printed while the disk was full, and the stats went on being printed.
    assert len(alert_lines) == 1
    assert cannot_write[0][0] < alert_lines[0][0] < freed_mono
    assert cannot_write[0][0] < stats_lines[0][0] < freed_mono
    assert len(Output.find(output.out, "^ALERT: ")) == 1, stdout

    # Nothing recorded before is damaged.
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    last_id = before[-1][0]
    assert query(db, "SELECT * FROM website_monitoring WHERE id <= ? ORDER BY id",
                     last_id) == before
    assert query(db, "SELECT * FROM website_alerts WHERE id <= ? ORDER BY id",
                     alerts_before[-1][0] if alerts_before else 0) == alerts_before

    # The checks made while the disk was full were written once space came back: no gap in
    # any site's checks, and every check the monitor counted is in the database.
    for key, url in urls.items():
        times = [t for (t,) in query(
            db, "SELECT timestamp FROM website_monitoring WHERE host=? ORDER BY timestamp",
            url)]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        print(f"{url}: {len(times)} checks, largest gap {max(gaps):.3f} s")
        assert max(gaps) <= 2 * INTERVALS[key] + GAP_SLACK + stall.worst_ms / 1000, (
            f"{url}: a gap of {max(gaps):.2f} s in its checks (the machine itself stalled up"
            f" to {stall.worst_ms:.0f} ms)")
        during = sum(full_from <= t <= freed_at for t in times)
        assert during >= (freed_at - full_from) / INTERVALS[key] / 2, (
            f"{url}: only {during} checks stored from the time the disk was full")
    stopped = re.search(r"^Stopped; (\d+) checks recorded in ", stdout, re.M)
    assert stopped, stdout
    assert query(db, "SELECT count(*) FROM website_monitoring")[0][0] == int(
        stopped.group(1))

    # The alert raised while the disk was full is in the database, as printed.
    rows = query(db, "SELECT type, timestamp, message FROM website_alerts")
    assert [(kind, message) for kind, _, message in rows] == [
        ("alert", alert_lines[0][1].removeprefix("ALERT: "))]
    assert full_from <= parse_iso(rows[0][1]) <= freed_at


def clean_up(procs, server, filler) -> None:
    """Whatever happened: no process left, the server stopped, the disk freed."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    server.stop()
    with contextlib.suppress(FileNotFoundError):
        filler.unlink()


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_a_restart_on_a_full_disk_keeps_checking_and_alerting(small_disk, tmp_path, stop):
    # Opening the database once wrote to it (PRAGMA user_version), and after a clean stop
    # SQLite had deleted its -shm file, which a full disk cannot give back: the monitor
    # then refused to start ("database or disk is full", "disk I/O error") and so did -r.
    server = LocalServer()
    server.start()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "websites": [{"URL": server.url, "checkInterval": 0.1, "timeout": 0.5}],
        "alertWindow": 2}))
    db = small_disk / "m.db"
    filler = small_disk / "filler"
    command = ["-m", "-c", str(config), "-db", str(db)]
    procs = []
    try:
        first = start(command, tmp_path, stdout=subprocess.DEVNULL)
        procs.append(first)
        wait_for(lambda: count_checks(db, server.url) >= 5, 15, "five stored checks")
        if stop == "kill -9":
            first.kill()
        else:
            first.terminate()
        first.wait(10)
        stored = count_checks(db, server.url)
        fill(filler)
        assert os.statvfs(small_disk).f_bavail == 0

        report = run_app(["-r", "--once", "-db", str(db)], tmp_path, timeout=30)
        assert report.returncode == 0, report.stderr
        assert "past 10m00s" in report.stdout

        second = start(command, tmp_path)
        procs.append(second)
        output = Output(second, stderr=True)
        wait_for(lambda: Output.find(output.err, "cannot write"), 10,
                 "the 'cannot write' message", output.dump)
        server.stop()
        wait_for(lambda: Output.find(output.out, "^ALERT: Website "), 10,
                 "the alert while the disk is full", output.dump)
        filler.unlink()
        wait_for(lambda: Output.find(output.err, "writing resumed"), 10,
                 "'writing resumed' after the space came back", output.dump)
        second.terminate()
        assert second.wait(10) == 0, output.dump()
        output.join()
    finally:
        clean_up(procs, server, filler)
    assert not Output.find(output.err, "Error|Traceback"), output.dump()
    assert count_checks(db, server.url) > stored + 5
    assert [kind for (kind,) in query(db, "SELECT type FROM website_alerts")] == ["alert"]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_stop_while_the_disk_is_full_names_what_it_could_not_write(small_disk, tmp_path):
    server = LocalServer()
    server.start()
    config = tmp_path / "config.json"
    # A timeout past the interval: on a loaded machine a check cut at 0.1 s could fail and
    # raise an alert, which the line the test reads would count.
    config.write_text(json.dumps({"websites": [{"URL": server.url, "checkInterval": 0.1,
                                                "timeout": 2}]}))
    db = small_disk / "m.db"
    filler = small_disk / "filler"
    command = ["-m", "-c", str(config), "-db", str(db)]
    proc = start(command, tmp_path)
    try:
        output = Output(proc, stderr=True)
        wait_for(lambda: count_checks(db, server.url) >= 5, 15, "five stored checks",
                 output.dump)
        fill(filler)
        wait_for(lambda: Output.find(output.err, "cannot write"), 10,
                 "the 'cannot write' message", output.dump)
        time.sleep(0.5)  # more checks held in memory
        proc.terminate()
        assert proc.wait(10) == 0, output.dump()
        output.join()
    finally:
        clean_up([proc], server, filler)
    lost = Output.find(output.err, "could not be written")
    assert len(lost) == 1, output.dump()
    found = re.fullmatch(
        rf"Warning: {re.escape(str(db))}: (\d+) checks and 0 alerts could not be written before"
        r" stopping \(database or disk is full\); they are lost", lost[0][1])
    assert found and int(found.group(1)) >= 3, lost[0][1]
    stopped = Output.find(output.out, r"^Stopped; (\d+) checks recorded in ")
    assert stopped, output.dump()
    recorded = int(re.search(r"\d+", stopped[0][1]).group())
    assert recorded == count_checks(db, server.url)
