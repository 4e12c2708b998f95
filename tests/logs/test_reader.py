"""One step of a log read (`LogReader.step`) and the watches of `-m` (`Watches.poll_all`),
driven with an injected clock: the format told from the first lines, malformed lines
warned of once a minute, a quiet log's time moved on with the clock, results and alerts
handed to the engine's callbacks."""

from __future__ import annotations

import json

import pytest

from monitor.config import parse_config
from monitor.core.model import Monitor
from monitor.logs.formats import LogFormatError
from monitor.logs.reader import DETECT_LINES, GIVE_UP_LINES, IDLE, LogReader
from monitor.logs.window import LogWindows, Report, TrafficEvent
from monitor.run.watches import Watches, scheduled, watched
from tests.support.access_logs import combined
from tests.support.db import query

T0 = 1_800_000_000


def lines(count: int, start: float = T0, per_second: int = 1) -> list[bytes]:
    return [combined(start + i / per_second, "10.0.0.1", "/a").encode() for i in range(count)]


def test_the_format_waits_for_enough_lines_unless_the_log_is_quiet():
    reader = LogReader(LogWindows())
    reader.step(lines(DETECT_LINES - 1), wall=0.0)
    assert reader.format is None and reader.windows.total == 0
    reader.step([], wall=0.25)  # quiet: told from what came
    assert reader.format is not None and reader.format.name == "combined"
    assert reader.windows.total == DETECT_LINES - 1 and reader.notes == ["format: combined"]


def test_a_log_no_format_fits_is_an_error_after_enough_lines():
    reader = LogReader(LogWindows())
    reader.step([b"what is this"] * (GIVE_UP_LINES - 1), wall=0.0)
    reader.step([], wall=0.25)  # quiet, but too few lines to give up on
    with pytest.raises(LogFormatError):
        reader.step([b"what is this"], wall=0.5)
    assert reader.malformed == GIVE_UP_LINES and reader._pending == []  # bounded
    # The next lines are tried afresh: a good log from here on is read.
    reader.step(lines(DETECT_LINES), wall=1.0)
    assert reader.format is not None and reader.windows.total == DETECT_LINES


def test_one_garbage_first_line_is_not_fatal():
    reader = LogReader(LogWindows())
    reader.step([b"this is not a request"], wall=0.0)
    reader.step([], wall=0.25)  # quiet: tried on one line, which fits no format: waits
    reader.step(lines(DETECT_LINES), wall=0.5)
    assert reader.format is not None and reader.format.name == "combined"
    assert (reader.windows.total, reader.malformed) == (DETECT_LINES, 1)


def test_malformed_lines_are_warned_of_once_a_minute_with_a_sample():
    reader = LogReader(LogWindows(), "combined")
    reader.step([*lines(5), b"garbage one", b"garbage two"], wall=100.0)
    assert reader.warnings(100.0) == [
        "2 malformed line(s) skipped (2 in all), e.g. 'garbage one'"]
    reader.step([b"garbage three"], wall=130.0)
    assert reader.warnings(130.0) == []  # within the minute
    assert reader.warnings(160.0) == [
        "1 malformed line(s) skipped (3 in all), e.g. 'garbage three'"]
    assert reader.warnings(300.0) == []  # nothing new


def test_a_quiet_log_has_its_time_moved_on_by_the_clock():
    reader = LogReader(LogWindows(threshold=1.0), "combined")
    items = reader.step(lines(400, per_second=2), wall=1000.0)  # 200 s at 2/s
    assert [e.type for e in items if isinstance(e, TrafficEvent)] == ["alert"]
    # The traffic stops. Before IDLE seconds nothing moves; after, log time follows the
    # clock: the window empties and the alert recovers.
    assert reader.step([], wall=1000.0 + IDLE - 0.5) == []
    items = reader.step([], wall=1000.0 + 200)
    assert [e.type for e in items if isinstance(e, TrafficEvent)] == ["recovery"]


def log_config(tmp_path, **keys) -> Monitor:
    log = tmp_path / "access.log"
    if not log.exists():
        log.write_text("")
    config = parse_config(json.dumps({"websites": [
        {"URL": "http://127.0.0.1:9/"},
        {"type": "log", "path": str(log), "name": "web", "fromStart": True, **keys}]}))
    return config.monitors


def test_watches_hand_results_events_warnings_and_notes_to_the_engine(tmp_path):
    monitors = log_config(tmp_path, maxRate=1)
    assert [m.kind for m in watched(monitors)] == ["log"]
    assert [m.kind for m in scheduled(monitors)] == ["http"]
    results, events, errors, notes = [], [], [], []
    wall = [2000.0]
    watches = Watches(results.extend, lambda m, e: events.append((m.id, e)), errors.append,
                      wall=lambda: wall[0], on_note=notes.append)
    watches.set(monitors)
    try:
        with open(tmp_path / "access.log", "ab") as file:
            file.write(b"\n".join(lines(300, per_second=2)) + b"\nnot a line\n")
        watches.poll_all()
    finally:
        watches.stop()
    assert [(e.type, e.message.split(" - ")[0]) for _, e in events] == [
        ("alert", "High traffic generated an alert")]
    assert events[0][0] == f"log:{tmp_path / 'access.log'}"
    # 10-second results: up, each period's rate as the value.
    assert len(results) == 14  # 150 s of log, the last 5 s (the lag) not final
    assert all(r.available and r.metrics["value"] == 2.0 for r in results)
    # The format told is a note, not a warning (issue 21, 14).
    assert notes == ["web: format: combined"]
    assert errors == ["web: 1 malformed line(s) skipped (1 in all), e.g. 'not a line'"]


def test_a_watch_that_fails_is_said_once_and_polled_again(tmp_path):
    monitors = log_config(tmp_path)
    errors: list[str] = []
    watches = Watches(lambda r: None, lambda m, e: None, errors.append, wall=lambda: 0.0,
                      on_note=errors.append)
    watches.set(monitors)
    try:
        log = tmp_path / "access.log"
        log.unlink()
        log.mkdir()  # the path turned into a directory: the follower cannot read it
        watches.poll_all()
        watches.poll_all()
        assert len(errors) == 1 and errors[0].startswith("web: LogReadError: ")
        log.rmdir()
        log.write_bytes(b"\n".join(lines(20)) + b"\n")
        watches.poll_all()
        watches.poll_all()
    finally:
        watches.stop()
    # Then it reads the new file: what the follower and the reader say of it.
    assert errors[1:] == ["web: rotated (renamed): reading the new file",
                          "web: format: combined"]


def test_a_reload_keeps_an_unchanged_watch_and_reopens_a_changed_one(tmp_path):
    monitors = log_config(tmp_path, maxRate=5)
    watches = Watches(lambda r: None, lambda m, e: None, lambda t: None, wall=lambda: 0.0)
    watches.set(monitors)
    try:
        first = dict(watches._open)
        watches.set(log_config(tmp_path, maxRate=5))
        assert watches._open == first  # the same watch object: its windows kept
        watches.set(log_config(tmp_path, maxRate=6))
        assert list(watches._open) == list(first) and watches._open != first
        watches.set(monitors[:1])
        assert watches._open == {}
    finally:
        watches.stop()


def log_engine(tmp_path, db, wall):
    """An engine over `db` with one log monitor, its state read back (a new process);
    its watches polled by the test."""
    from monitor.config import Config
    from monitor.engine import Engine
    from monitor.store.sqlite.writer import Store

    monitors = log_config(tmp_path, maxRate=1)
    config = Config(monitors=tuple(monitors))
    return Engine(config, Store(db), wall_clock=lambda: wall[0]).restore()


def alert_rows(db):
    return [(kind, message.split(" - ")[0]) for kind, message in query(
        db, "SELECT type, message FROM website_alerts ORDER BY id")]


def append(tmp_path, data: list[bytes]) -> None:
    with open(tmp_path / "access.log", "ab") as file:
        file.write(b"\n".join(data) + b"\n")


def test_a_log_alert_is_not_raised_again_after_a_restart_and_its_recovery_closes_it(
        tmp_path):
    db, wall = tmp_path / "m.db", [5000.0]
    engine = log_engine(tmp_path, db, wall)
    append(tmp_path, lines(400, per_second=2))  # 200 s at 2/s: above 1/s
    engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert")]
    # Restarted (from the log's start: fromStart): the same traffic again, still high,
    # then quiet. No second alert; one recovery.
    engine = log_engine(tmp_path, db, wall)
    engine.watches.poll_all()
    append(tmp_path, lines(60, start=T0 + 200, per_second=0.1))  # 600 s at 0.1/s
    engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert"),
                              ("recovery", "High traffic alert recovered")]


def test_no_log_alert_in_maintenance_and_a_fresh_one_after_it(tmp_path):
    from monitor.store.api import SetMaintenance
    from monitor.store.sqlite.writer import Store

    db, wall = tmp_path / "m.db", [5000.0]
    store = Store(db)
    store.set_maintenance(SetMaintenance(f"log:{tmp_path / 'access.log'}", 0.0, 6000.0))
    store.close()
    engine = log_engine(tmp_path, db, wall)
    append(tmp_path, lines(400, per_second=2))  # high traffic, in maintenance
    engine.watches.poll_all()
    engine.store.flush()
    assert alert_rows(db) == []
    wall[0] = 7000.0  # the maintenance is over, the traffic of its end still in the window
    append(tmp_path, lines(60, start=T0 + 200, per_second=0.1))
    engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert"),
                              ("recovery", "High traffic alert recovered")]


def test_two_open_rules_are_both_read_back_and_not_raised_again(tmp_path):
    from monitor.config import Config
    from monitor.engine import Engine
    from monitor.store.sqlite.writer import Store

    db, wall = tmp_path / "m.db", [5000.0]
    monitors = log_config(tmp_path, maxRate=1, maxErrorRate=0.3)
    config = Config(monitors=tuple(monitors))

    def engine_now() -> Engine:
        return Engine(config, Store(db), wall_clock=lambda: wall[0]).restore()

    engine = engine_now()
    errors = [combined(T0 + i / 2, "10.0.0.1", "/a", 503).encode() for i in range(400)]
    append(tmp_path, errors)  # high traffic, all 5xx: both rules
    engine.watches.poll_all()
    engine.stop()
    assert sorted(alert_rows(db)) == [("alert", "High error rate generated an alert"),
                                      ("alert", "High traffic generated an alert")]
    engine = engine_now()  # a restart: read on from the end, both alerts known open
    append(tmp_path, [combined(T0 + 200 + i / 2, "10.0.0.1", "/a", 503).encode()
                      for i in range(300)])
    engine.watches.poll_all()
    engine.stop()
    assert len(alert_rows(db)) == 2  # neither raised again


def test_from_start_reads_the_log_once_not_at_every_restart(tmp_path):
    db, wall = tmp_path / "m.db", [5000.0]
    engine = log_engine(tmp_path, db, wall)
    append(tmp_path, lines(100))
    engine.watches.poll_all()
    engine.stop()
    engine = log_engine(tmp_path, db, wall)  # a restart: fromStart is not applied again
    engine.watches.poll_all()
    engine.stop()
    assert query(db, "SELECT count(*) FROM website_monitoring") == [(9,)]


def test_an_alert_read_back_on_a_log_that_stays_quiet_recovers_with_the_clock(tmp_path):
    db, wall = tmp_path / "m.db", [5000.0]
    engine = log_engine(tmp_path, db, wall)
    append(tmp_path, lines(400, per_second=2))
    engine.watches.poll_all()
    engine.stop()
    engine = log_engine(tmp_path, db, wall)  # restarted; nobody writes the log any more
    for step in range(0, 200, 5):
        wall[0] = 5000.0 + step
        engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert"),
                              ("recovery", "High traffic alert recovered")]


def test_sparse_lines_after_a_quiet_spell_live_are_counted_and_the_tables_go_on():
    # `logs --max-error-rate 0.5` on a live log: 3 lines of 200, 70 s of quiet, then one
    # 500 every 35 s, each written when it is dated (the server's clock is ours). Stepped
    # every second of an injected clock, as the live loop does.
    reader = LogReader(LogWindows(max_error_rate=0.5), "combined")
    dated = [T0, T0 + 1, T0 + 2] + [T0 + 72 + 35 * k for k in range(12)]
    wall0 = 5000.0
    reports: list[tuple[float, Report]] = []
    events: list[TrafficEvent] = []
    for second in range(72 + 35 * 11 + 130):
        written = [combined(at, "10.0.0.1", "/a", 200 if at < T0 + 72 else 500).encode()
                   for at in dated if second <= at - T0 < second + 1]
        wall = wall0 + second + 0.5
        for item in reader.step(written, wall):
            if isinstance(item, Report):
                reports.append((wall, item))
            else:
                events.append(item)
    assert reader.windows.total == 15 and reader.windows.far_off == 0
    assert sum(report.hits for _, report in reports) == 15
    assert [(e.type, e.rule) for e in events] == [("alert", "errors"), ("recovery", "errors")]
    # A table for every 10 s of the log while traffic was seen, each out soon after its
    # period ended: the tables never freeze.
    delays = [wall - (wall0 + report.end - T0) for wall, report in reports]
    assert max(delays) <= IDLE + 10
    ends = [report.end for _, report in reports]
    assert all(b - a == 10 for a, b in zip(ends, ends[1:], strict=False))


def test_lines_dropped_as_far_off_are_warned_of_with_a_count():
    reader = LogReader(LogWindows(), "combined")
    wrong = combined(T0 + 365 * 86400, "10.9.9.9", "/x").encode()
    reader.step([*lines(10), wrong, *lines(60, start=T0 + 10)], wall=100.0)
    assert reader.warnings(100.0) == [
        "1 line(s) dated far from the log's time dropped (1 in all),"
        " e.g. one dated 2028-01-15T08:00:00Z"]
    assert reader.warnings(200.0) == []  # nothing new


def test_a_w3c_log_watched_from_its_end_is_read_with_its_fields(tmp_path):
    # The `log` kind without fromStart: the log is read from its end, its #Fields line
    # (written at its top) read all the same.
    log = tmp_path / "access.log"
    fields = (b"#Software: Microsoft Internet Information Services 10.0\n#Fields: date time"
              b" s-ip cs-method cs-uri-stem c-ip sc-status sc-bytes\n")

    def w3c(start: float, count: int) -> bytes:
        import time

        return b"".join(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + i)).encode()
                        + b" 10.0.0.5 GET /a 10.0.0.1 200 512\n" for i in range(count))

    log.write_bytes(fields + w3c(T0, 100))
    results, errors, notes = [], [], []
    watches = Watches(results.extend, lambda m, e: None, errors.append, wall=lambda: 0.0,
                      on_note=notes.append)
    watches.set(log_config(tmp_path, fromStart=False))
    try:
        watches.poll_all()
        append(tmp_path, [w3c(T0 + 100, 60).rstrip(b"\n")])
        watches.poll_all()
    finally:
        watches.stop()
    assert [r.metrics["hits"] for r in results] == [10.0] * 5  # 100-150 s; the lag
    assert (errors, notes) == ([], ["web: format: w3c"])


def test_no_log_recovery_in_maintenance_after_a_restart_and_one_after_it(tmp_path):
    from monitor.store.api import SetMaintenance
    from monitor.store.sqlite.writer import Store

    db, wall = tmp_path / "m.db", [5000.0]
    engine = log_engine(tmp_path, db, wall)
    append(tmp_path, lines(400, per_second=2))  # 200 s at 2/s: above 1/s
    engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert")]
    # `maintenance on`, then a restart, then the traffic falls: no recovery in it.
    store = Store(db)
    store.set_maintenance(SetMaintenance(f"log:{tmp_path / 'access.log'}", 5000.0, 6000.0))
    store.close()
    engine = log_engine(tmp_path, db, wall)
    engine.watches.poll_all()
    append(tmp_path, lines(60, start=T0 + 200, per_second=0.1))  # 600 s at 0.1/s
    engine.watches.poll_all()
    for step in range(0, 300, 5):  # and log time moves on with the clock
        wall[0] = 5000.0 + step
        engine.watches.poll_all()
    engine.store.flush()
    assert alert_rows(db) == [("alert", "High traffic generated an alert")]
    wall[0] = 6000.0  # the maintenance is over: the rule decides again
    engine.watches.poll_all()
    engine.stop()
    assert alert_rows(db) == [("alert", "High traffic generated an alert"),
                              ("recovery", "High traffic alert recovered")]


def test_what_the_minute_held_back_is_said_at_the_end():
    reader = LogReader(LogWindows(), "combined")
    reader.step([*lines(5), b"garbage one"], wall=100.0)
    assert len(reader.warnings(100.0)) == 1
    reader.step([b"garbage two"], wall=110.0)
    assert reader.warnings(110.0) == []  # within the minute
    assert reader.warnings(111.0, force=True) == [
        "1 malformed line(s) skipped (2 in all), e.g. 'garbage two'"]
