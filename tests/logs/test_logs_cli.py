"""The `logs` command in a real process: --replay of a finished log, a live run following
a file a writer appends to (the same tables and alerts as the replay), stdin, the alerts
stored, and errors in one line."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from monitor.logs.formats import make
from monitor.logs.window import LogWindows, Report
from monitor.render.logs import report_text
from tests.support.access_logs import T0, combined, traffic
from tests.support.app import Live, Ran, run_app, start, wait_for
from tests.support.db import query


def logs(*args: str, cwd: Path, stdin: bytes | None = None) -> Ran:
    return run_app(["logs", *args], cwd, input=stdin, text=False, timeout=120)


def expected(lines: list[str], threshold: float = 10.0, flush: bool = True) -> list[str]:
    """What the library says of these lines: the printed text, item by item."""
    windows = LogWindows(threshold)
    parser = make("combined")
    for line in lines:
        hit = parser.parse(line.encode())
        assert hit is not None
        windows.add(hit)  # type: ignore[arg-type]
    if flush:
        windows.flush()
    return [report_text(item) if isinstance(item, Report) else item.message
            for item in windows.take()]


def test_replay_prints_the_tables_and_the_alert_and_recovery(tmp_path):
    lines = traffic(T0, 900, spike=(300, 420, 25))
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.splitlines() == "\n".join(expected(lines)).splitlines()
    alerts = [line for line in out.splitlines() if line.startswith("High traffic")]
    assert len(alerts) == 2
    assert alerts[0].startswith("High traffic generated an alert - hits = ")
    assert alerts[1].startswith("High traffic alert recovered - hits = ")
    assert out.count("== 2027-01-15 ") == 90  # a table per 10 s of the 900 s
    assert done.stderr.decode().splitlines() == ["format: combined"]
    assert not (tmp_path / "monitoring.db").exists()  # a replay stores nothing


def test_live_prints_what_the_replay_prints_and_stores_the_alerts(tmp_path):
    lines = traffic(T0, 600, spike=(200, 330, 30), seed=3)
    log = tmp_path / "access.log"
    log.write_text("")
    with Live(log, tmp_path) as live:
        # A writer appending in bursts of uneven size, some lines split across two writes.
        with open(log, "a", encoding="utf-8") as file:
            for i in range(0, len(lines), 97):
                chunk = "\n".join(lines[i:i + 97]) + "\n"
                cut = len(chunk) // 3
                file.write(chunk[:cut])
                file.flush()
                file.write(chunk[cut:])
                file.flush()
        want = expected(lines, flush=False)
        wait_for(lambda: live.printed() >= len("\n".join(want).splitlines()), 30,
                 "every table of the log")
    assert live.proc.returncode == 0, live.err
    printed = live.text()
    assert printed.splitlines() == "\n".join(want).splitlines()
    # The replay of the same file prints the same, then the last period (cut at its
    # last line), which the live run had not closed yet.
    replayed = logs("--replay", str(log), cwd=tmp_path).stdout.decode()
    assert replayed.startswith(printed)
    assert replayed[len(printed):].count("== ") == 1
    rows = query(tmp_path / "monitoring.db",
                 "SELECT type, host, message FROM website_alerts ORDER BY id")
    assert [(kind, host) for kind, host, _ in rows] == [
        ("alert", f"log:{log}"), ("recovery", f"log:{log}")]
    assert rows[0][2].startswith("High traffic generated an alert - hits = ")
    assert os.stat(tmp_path / "monitoring.db").st_mode & 0o077 == 0


def test_stdin_to_its_end(tmp_path):
    lines = traffic(T0, 60)
    done = logs("-", cwd=tmp_path, stdin=("\n".join(lines) + "\n").encode())
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == "\n".join(expected(lines)).splitlines()


def test_malformed_lines_are_counted_and_skipped(tmp_path):
    lines = traffic(T0, 30)
    lines[5:5] = ["garbage", "\x16\x03\x01 tls bytes", ""]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 0
    good = [line for line in lines if line.startswith("10.")]
    assert done.stdout.decode().splitlines() == "\n".join(expected(good)).splitlines()
    # As a live run says it, with a sample.
    assert "2 malformed line(s) skipped (2 in all), e.g. 'garbage'" in done.stderr.decode()


def test_errors_are_one_line(tmp_path):
    done = logs("--replay", str(tmp_path / "nope.log"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.decode().strip().startswith("Error: ")
    assert len(done.stderr.decode().strip().splitlines()) == 1
    (tmp_path / "odd.log").write_text("what is this\n" * 300)
    done = logs("--replay", str(tmp_path / "odd.log"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.decode().startswith("Error: cannot tell the format")
    done = logs("--replay", str(tmp_path / "odd.log"), "x", cwd=tmp_path)
    assert done.returncode == 2


def test_top_and_threshold_options(tmp_path):
    lines = [combined(T0 + i / 10, f"10.0.0.{i % 7}", f"/s{i % 5}/x") for i in range(300)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    done = logs("--replay", str(log), "--top", "2", "--threshold", "0.2", cwd=tmp_path)
    out = done.stdout.decode()
    first = out.split("== ")[1]
    assert len([row for row in first.splitlines() if row.startswith("/s")]) == 2
    # 10 a second: the window passes 24 (0.2 x 120) when its third second is final.
    assert "High traffic generated an alert - hits = 30, " in out


def test_live_through_a_rename_rotation_and_a_copytruncate(tmp_path):
    lines = traffic(T0, 300, spike=(60, 200, 20), seed=5)
    log = tmp_path / "access.log"
    log.write_text("")
    thirds = [lines[:len(lines) // 3], lines[len(lines) // 3:2 * len(lines) // 3],
              lines[2 * len(lines) // 3:]]
    want = expected(lines, flush=False)
    with Live(log, tmp_path) as live:
        printed = live.printed
        with open(log, "a", encoding="utf-8") as file:
            file.write("\n".join(thirds[0]) + "\n")
        wait_for(lambda: printed() > 0, 20, "the first tables")
        # logrotate's default: rename, then the server writes to a new file.
        log.rename(tmp_path / "access.log.1")
        with open(log, "w", encoding="utf-8") as file:
            file.write("\n".join(thirds[1]) + "\n")
        # Once the tables of the first two thirds are out, the poll that gave them read
        # the new file whole (it was written whole before): nothing is left to lose.
        two_thirds = len("\n".join(expected(thirds[0] + thirds[1], flush=False)).splitlines())
        wait_for(lambda: printed() >= two_thirds, 20, "the tables of the new file")
        # copytruncate: the file is copied away, emptied in place, and written on.
        (tmp_path / "access.log.2").write_bytes(log.read_bytes())
        with open(log, "r+", encoding="utf-8") as file:
            file.truncate(0)
        with open(log, "a", encoding="utf-8") as file:
            file.write("\n".join(thirds[2]) + "\n")
        wait_for(lambda: printed() >= len("\n".join(want).splitlines()), 30,
                 "every table of the log")
    assert live.proc.returncode == 0, live.err
    assert live.text().splitlines() == "\n".join(want).splitlines()
    assert "rotated (renamed)" in live.err and "truncated (copytruncate)" in live.err


@pytest.mark.parametrize("name", ["common", "combined", "w3c", "csv"])
def test_replay_tells_each_format_and_alerts(tmp_path, name):
    from itertools import islice

    from bench.logs import Model, combined_lines, common_lines, csv_lines, w3c_lines

    makers = {"common": common_lines, "combined": combined_lines, "w3c": w3c_lines,
              "csv": csv_lines}
    log = tmp_path / "access.log"
    # About 200 requests a second: above the default 10/s once 1,200 are in 2 minutes.
    log.write_text("\n".join(islice(makers[name](Model()), 30_000)) + "\n")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines()[0] == f"format: {name}"
    out = done.stdout.decode()
    assert out.count("High traffic generated an alert - hits = ") == 1
    assert out.count("== ") >= 14  # 30,000 lines at ~200/s: 150 s of log


def test_an_alert_at_the_end_of_stdin_is_stored(tmp_path):
    # 63 s at 2 a second with --threshold 1: the alert comes from the final flush.
    lines = [combined(T0 + i / 2, "10.0.0.1", "/a") for i in range(126)]
    done = logs("-", "--threshold", "1", "-db", "m.db", cwd=tmp_path,
                stdin=("\n".join(lines) + "\n").encode())
    assert "High traffic generated an alert" in done.stdout.decode()
    assert query(tmp_path / "m.db", "SELECT type FROM website_alerts") == [("alert",)]


def test_replay_counts_every_line_of_a_sparse_log(tmp_path):
    # 3 lines, 70 s of quiet, then one line every 35 s: all 15 counted, nothing dropped.
    lines = [combined(T0 + i, "10.0.0.1", "/a") for i in range(3)]
    lines += [combined(T0 + 72 + 35 * k, "10.0.0.2", "/b", 500) for k in range(12)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    done = logs("--replay", str(log), "--max-error-rate", "0.5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    last_table = [line for line in out.splitlines() if line.startswith("== ")][-1]
    assert "(15 in total)" in last_table and "High error rate generated an alert" in out
    assert "dropped" not in done.stderr.decode()


def test_a_line_from_a_wrong_clock_is_dropped_and_said_in_a_replay_and_live(tmp_path):
    lines = traffic(T0, 120, seed=9)
    wrong = combined(T0 + 365 * 86400, "10.9.9.9", "/x")
    lines.insert(20, wrong)
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    good = [line for line in lines if line != wrong]
    assert done.stdout.decode().splitlines() == "\n".join(expected(good)).splitlines()
    said = "1 line(s) dated far from the log's time dropped (1 in all)"
    assert said in done.stderr.decode()
    live_log = tmp_path / "live.log"
    live_log.write_text("")
    with Live(live_log, tmp_path) as live:
        with open(live_log, "a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
        want = expected(good, flush=False)
        wait_for(lambda: live.printed() >= len("\n".join(want).splitlines()), 30,
                 "every table of the log")
    assert live.text().splitlines() == "\n".join(want).splitlines()
    assert said in live.err


def test_replay_reads_a_gzipped_rotated_log(tmp_path):
    import gzip

    lines = traffic(T0, 300, spike=(60, 200, 20), seed=11)
    text = ("\n".join(lines) + "\n").encode()
    (tmp_path / "access.log.1").write_bytes(text)
    # logrotate's `compress`: access.log.2.gz; the name does not matter, the bytes do.
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(text))
    (tmp_path / "rotated").write_bytes(gzip.compress(text[:len(text) // 2])
                                       + gzip.compress(text[len(text) // 2:]))
    plain = logs("--replay", str(tmp_path / "access.log.1"), cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout.count(b"== ") == 30
    for name in ("access.log.2.gz", "rotated"):
        done = logs("--replay", str(tmp_path / name), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == plain.stdout
        assert done.stderr.decode().splitlines() == ["format: combined"]


def test_replay_of_a_damaged_gzip_file_is_an_error(tmp_path):
    import gzip

    data = gzip.compress(("\n".join(traffic(T0, 300)) + "\n").encode())
    log = tmp_path / "access.log.2.gz"
    log.write_bytes(data[:len(data) // 2])  # cut short
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 1
    err = done.stderr.decode().strip().splitlines()
    assert err[-1] == (f"Error: cannot read {log}: gzip data cut short (the file ends"
                       " before its compressed data does)")
    log.write_bytes(b"\x1f\x8b" + b"x" * 100)  # a gzip header, then garbage
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.decode().strip().splitlines()[-1].startswith(
        f"Error: cannot read {log}: gzip data damaged (")


@pytest.mark.parametrize("data", [b"hello\nworld\n", b"\x00\x01binary\xff\xfe", b"\n\n  \n",
                                  b"GET / HTTP/1.1\nHost: x\n\n"])
def test_replay_of_a_short_file_of_no_format_is_an_error(tmp_path, data):
    log = tmp_path / "odd.log"
    log.write_bytes(data)
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    err = done.stderr.decode().strip()
    assert err.startswith("Error: cannot tell the format of the log from its first ")
    assert len(err.splitlines()) == 1 and done.stdout == b""
    # The same on stdin, which ends as a replay does.
    done = logs("-", cwd=tmp_path, stdin=data)
    assert done.returncode == 1
    assert done.stderr.decode().strip().splitlines()[-1].startswith(
        "Error: cannot tell the format of the log from its first ")


def test_replay_of_an_empty_log_says_so(tmp_path):
    log = tmp_path / "access.log.1"
    log.write_bytes(b"")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, b"")
    assert done.stderr.decode().splitlines() == [f"{log}: empty, no request in it"]


def test_replay_says_a_line_too_long_was_skipped_as_a_live_run_does(tmp_path):
    lines = traffic(T0, 60, seed=4)
    log = tmp_path / "access.log"
    with open(log, "w", encoding="utf-8") as file:
        file.write("\n".join(lines[:50]) + "\n" + "x" * (10 << 20) + "\n"
                   + "\n".join(lines[50:]) + "\n")
    done = logs("--replay", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == "\n".join(expected(lines)).splitlines()
    said = "line over 1048576 bytes skipped"
    assert said in done.stderr.decode().splitlines()
    live_log = tmp_path / "live.log"
    live_log.write_text("")
    with Live(live_log, tmp_path) as live:
        live_log.write_bytes(log.read_bytes())
        want = expected(lines, flush=False)
        wait_for(lambda: live.printed() >= len("\n".join(want).splitlines()), 30,
                 "every table of the log")
    assert said in live.err.splitlines()


def test_following_a_gzipped_log_says_to_replay_it(tmp_path):
    import gzip

    log = tmp_path / "access.log.2.gz"
    log.write_bytes(gzip.compress(("\n".join(traffic(T0, 30)) + "\n").encode()))
    for extra in ((), ("--from-start",)):
        done = logs(str(log), *extra, cwd=tmp_path)
        assert done.returncode == 1
        assert done.stderr.decode().strip().splitlines()[-1] == (
            f"Error: {log} is compressed (gzip): a finished log; read it with --replay")


def w3c_log(start: float, seconds: int, per_second: int) -> list[str]:
    return [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + s))
            + f" 10.0.0.5 GET /api/{k} - 443 - 10.0.1.{k % 9} Mozilla/5.0 - 200 0 0 512 15"
            for s in range(seconds) for k in range(per_second)]


W3C_HEADER = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
              "#Date: 2027-01-15 08:00:00",
              "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username"
              " c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status"
              " sc-bytes time-taken"]


@pytest.mark.parametrize("fmt", ["w3c", "auto"])
def test_an_iis_log_followed_from_its_end_is_read(tmp_path, fmt):
    log = tmp_path / "u_ex270115.log"
    log.write_text("\n".join(W3C_HEADER + w3c_log(T0, 60, 2)) + "\n")
    proc = start(["logs", str(log), "--format", fmt], tmp_path, text=False)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        # Written once the command has opened the log at its end (its first line says so).
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith(b"Watching ")
        with open(log, "a", encoding="utf-8") as file:
            file.write("\n".join(w3c_log(T0 + 60, 60, 3)) + "\n")
        wait_for(lambda: b"".join(out).count(b"== ") >= 5, 20, "the tables of the new lines")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
        reader.join(5)
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err
    tables = b"".join(out).decode()
    assert "== 2027-01-15 08:01:00-08:01:10 UTC: 30 hits, 3.0 req/s" in tables
    assert "malformed" not in err
    if fmt == "auto":
        assert "format: w3c" in err


def test_a_live_run_says_what_the_minute_held_back_when_it_stops(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("")
    with Live(log, tmp_path) as live:
        with open(log, "a", encoding="utf-8") as file:
            file.write("\n".join(traffic(T0, 30)) + "\ngarbage one\n")
        wait_for(lambda: "malformed" in b"".join(live._err).decode(), 20, "the warning")
        with open(log, "a", encoding="utf-8") as file:  # within the minute: held back
            file.write("garbage two\n" + "\n".join(traffic(T0 + 30, 30)) + "\n")
        wait_for(lambda: "== 2027-01-15 08:00:40-08:00:50 " in live.text(), 20,
                 "the tables of the new lines")
    assert live.err.count("malformed line(s) skipped") == 2, live.err
    assert "1 malformed line(s) skipped (2 in all), e.g. 'garbage two'" in live.err
