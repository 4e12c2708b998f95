"""The hour and day rollups, through the real writer on both stores (the `backend`
fixture) with an injected clock: each hour rolled from its blocks once it has ended (and
LATE_HORIZON after), each day from its hours, a check written after its hour was rolled
added to both, across restarts; and, SQLite's alone, the migration to schema 10 making the
same rows from a file's existing blocks and minutes, and a pass a full disk refuses."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from monitor.core.model import CheckResult
from monitor.store.codec import (
    COUNT_MAX,
    HIST_WIDTH,
    MinuteAgg,
    bucket_of,
    decode_hist_into,
    encode_hist,
)
from monitor.store.sqlite.rollups import DAY, HOUR, LATE_HORIZON, compact_hists
from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store
from tests.store.conftest import Backend, as_backend
from tests.store.test_disk_full import fill
from tests.store.test_disk_full import small_disk as small_disk_fixture  # noqa: F401
from tests.store.test_schema9 import rows

DAY0 = 1_790_035_200  # 2026-09-22T00:00:00Z, a whole day
MONITORS = ("https://a.example/", "tcp:b.example:25", "https://c.example/")
AggKey = tuple[str, int]


def history(start: float, end: float, seed: int = 7) -> list[CheckResult]:
    """Checks of every monitor every 7 minutes from `start` to `end`: up, down, warning,
    unknown (in maintenance), with and without a code; response times and metrics in
    quarters of a millisecond, so that every sum is exact whatever its order."""
    rng = random.Random(seed)
    checks = []
    t = start
    while t < end:
        for i, monitor_id in enumerate(MONITORS):
            roll = rng.random()
            ts = t + i * 11.5
            ms = rng.randrange(4, 40_000) / 4
            if roll < 0.05:
                checks.append(CheckResult(monitor_id, ts, None, None, 0.0, "maintenance"))
            elif roll < 0.15:
                checks.append(CheckResult(monitor_id, ts, False, None, ms, "timeout"))
            elif roll < 0.25:
                checks.append(CheckResult(monitor_id, ts, False, 503, ms, "http_status",
                                          metrics={"ttfb": ms}))
            else:
                checks.append(CheckResult(monitor_id, ts, True, 200, ms,
                                          "tls_expiry" if roll > 0.9 else None,
                                          warning=roll > 0.9,
                                          metrics={"ttfb": ms / 2, "total": ms}))
        t += 420
    return checks


def expected(checks: Iterable[CheckResult], span: int, before: float,
             ) -> dict[AggKey, MinuteAgg]:
    """The aggregate row of each (monitor, start) of `span` before `before`."""
    out: dict[AggKey, MinuteAgg] = {}
    for c in checks:
        start = int(c.timestamp // span * span)
        if start + span <= before:
            out.setdefault((c.monitor_id, start), MinuteAgg()).add(
                c.response_ms, c.available, c.code, c.reason, c.warning)
    return out


def stored(where: Backend | Path, span: int) -> dict[AggKey, MinuteAgg]:
    return {(monitor_id, start): MinuteAgg.from_row(row) for monitor_id, start, *row
            in as_backend(where).read(
                "SELECT monitor, start, checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                f" outcomes FROM aggregates WHERE span = {span}")}


def expected_metrics(checks: Iterable[CheckResult], span: int, before: float,
                     ) -> dict[tuple[str, int, str], tuple]:
    values: dict[tuple[str, int, str], list[float]] = {}
    for c in checks:
        start = int(c.timestamp // span * span)
        if start + span <= before and c.available is not None:
            for name, value in c.metrics.items():
                values.setdefault((c.monitor_id, start, name), []).append(value)
    out = {}
    for key, found in values.items():
        hist: dict[int, int] = {}
        for value in found:
            hist[bucket_of(value)] = hist.get(bucket_of(value), 0) + 1
        out[key] = (len(found), sum(found), min(found), max(found), hist)
    return out


def stored_metrics(where: Backend | Path, span: int) -> dict[tuple[str, int, str], tuple]:
    out = {}
    for monitor_id, start, metric, count, total, low, high, text in as_backend(where).read(
            "SELECT monitor, start, metric, count, sum, min, max, hist FROM metric_aggs"
            f" WHERE span = {span}"):
        hist: dict[int, int] = {}
        decode_hist_into(text, hist)
        out[(monitor_id, start, metric)] = (count, total, low, high, hist)
    return out


def feed(db: Backend | Path, checks: list[CheckResult], now: list[float],
         restart_at: Iterable[float] = (), batch: int = 40) -> None:
    """Write `checks` through real writers, the clock following them `batch` at a time
    (40: a flush every 1.5 hours of three monitors' checks, the rollups stepping through
    them; a test about reading a long history may take bigger ones, the rows are the
    same); a new writer (a restart) at each time of `restart_at`."""
    restarts = sorted(restart_at)
    backend = as_backend(db)
    store = backend.make(clock=lambda: now[0])
    try:
        for i in range(0, len(checks), batch):
            part = checks[i:i + batch]
            if restarts and part[0].timestamp >= restarts[0]:
                restarts.pop(0)
                store.close()
                store = backend.make(clock=lambda: now[0])
            now[0] = part[-1].timestamp + 1
            for c in part:
                store.put_check(c)
            assert store.flush()
    finally:
        store.close()


def flush_at(db: Backend | Path, when: float,
             put: Callable[[Any], None] = lambda s: None) -> None:
    store = as_backend(db).make(clock=lambda: when)
    try:
        put(store)
        assert store.flush()
    finally:
        store.close()


def meta(backend: Backend, key: str) -> list[str]:
    """meta's value of `key` (SQLite keeps a number as a number, PostgreSQL as text)."""
    return [str(value) for (value,) in backend.read("SELECT value FROM meta WHERE key = ?",
                                                    key)]


def test_the_writer_rolls_hours_from_blocks_and_days_from_hours(backend: Backend) -> None:
    db = backend
    checks = history(DAY0 - 5 * HOUR, DAY0 + 2 * DAY + 3 * HOUR)
    now = [0.0]
    # Restarts in the middle of an hour and of a day: the day row goes on adding hours.
    feed(db, checks, now, restart_at=(DAY0 + 7.5 * HOUR, DAY0 + DAY + 13 * HOUR))
    end = checks[-1].timestamp + 1
    rolled = int((end - LATE_HORIZON) // HOUR * HOUR)
    assert meta(backend, "rolled_until") == [str(rolled)]
    hours = stored(db, HOUR)
    assert hours == expected(checks, HOUR, rolled)
    assert len(hours) == 3 * (rolled - (DAY0 - 5 * HOUR)) // HOUR
    # Days: whole ones, and the day in progress as far as its hours are rolled.
    days = stored(db, DAY)
    assert days == {key: agg for key, agg in expected(
        [c for c in checks if c.timestamp < rolled], DAY, DAY0 + 3 * DAY).items()}
    assert sorted({start for _m, start in days}) == [DAY0 - DAY, DAY0, DAY0 + DAY,
                                                     DAY0 + 2 * DAY]
    assert stored_metrics(db, HOUR) == expected_metrics(checks, HOUR, rolled)
    assert stored_metrics(db, DAY) == expected_metrics(
        [c for c in checks if c.timestamp < rolled], DAY, DAY0 + 3 * DAY)
    # A day rolled up whole has its uptime packed.
    (counts,) = backend.read("SELECT counts FROM uptime_days WHERE monitor = ?",
                             checks[0].monitor_id)[0]
    assert bytes(counts) != bytes(256)
    # The hour that ended LATE_HORIZON ago and a second is rolled; the one still within
    # its late horizon is not, until the clock says so.
    last = rolled
    flush_at(db, last + HOUR + LATE_HORIZON - 1)
    assert backend.read(f"SELECT count(*) FROM aggregates WHERE span = {HOUR}"
                        f" AND start = {last}") == [(0,)]
    flush_at(db, last + HOUR + LATE_HORIZON + 1)
    assert stored(db, HOUR) == expected(checks, HOUR, last + HOUR)


def test_a_check_written_after_its_hour_was_rolled_counts_in_hour_and_day(
        backend: Backend) -> None:
    db = backend
    checks = history(DAY0, DAY0 + 5 * HOUR)
    feed(db, checks, [0.0])
    later = DAY0 + 5 * HOUR + 2 * LATE_HORIZON
    flush_at(db, later)
    # Held back by a refusing disk, say: a check and its metrics of the second hour, and
    # one of the day before (whose day row is whole), written now by a new writer.
    late = [CheckResult(MONITORS[0], DAY0 + HOUR + 30, False, 500, 12.25, "http_status",
                        metrics={"ttfb": 3.5}),
            CheckResult(MONITORS[1], DAY0 + 2 * HOUR + 5, True, 0, 2.5,
                        metrics={"ttfb": 1.25})]
    flush_at(db, later, lambda store: [store.put_check(c) for c in late])
    every = checks + late
    assert stored(db, HOUR) == expected(every, HOUR, DAY0 + 5 * HOUR)
    assert stored(db, DAY) == expected(every, DAY, DAY0 + DAY)
    assert stored(db, 600) == expected(every, 600, DAY0 + 5 * HOUR)
    assert stored_metrics(db, HOUR) == expected_metrics(every, HOUR, DAY0 + 5 * HOUR)
    assert stored_metrics(db, DAY) == expected_metrics(every, DAY, DAY0 + DAY)


def as_schema_9(db: Path, blocks_from: int | None = None) -> None:
    """The file as schema 9's writer left it: no hour or day rows; with `blocks_from`, a
    file older than blocks before then (its minutes only, meta's blocks_since)."""
    conn = sqlite3.connect(db)
    for table in ("aggregates", "metric_aggs"):
        conn.execute(f"DELETE FROM {table} WHERE span IN ({HOUR}, {DAY})")
    conn.execute("DELETE FROM meta WHERE key = 'rolled_until'")
    if blocks_from is not None:
        conn.execute(f"DELETE FROM aggregates WHERE span = 600 AND start < {blocks_from}")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('blocks_since', ?)",
                     (blocks_from // 600,))
    conn.execute("PRAGMA user_version=9")
    conn.commit()
    conn.close()


# SQLite only: a migration of its files' schema (9 to 10).
def test_the_migration_rolls_up_the_blocks_and_minutes_a_file_holds(tmp_path: Path) -> None:
    db = tmp_path / "monitoring.db"
    checks = history(DAY0 - 3 * HOUR, DAY0 + DAY + 4 * HOUR)
    end = checks[-1].timestamp + 1
    feed(db, checks, [0.0])
    # Blocks from 5:20 of the first day: its hours before then come from minutes.
    as_schema_9(db, blocks_from=DAY0 + 5 * HOUR + 1200)
    assert rows(db, f"SELECT count(*) FROM aggregates WHERE span = {HOUR}") == [(0,)]
    flush_at(db, end)  # the migration, at the start of a writer
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    # Every hour and day of the history has ended (the migration rolls by the real clock).
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'")[0][0] > end
    assert stored(db, HOUR) == expected(checks, HOUR, end + HOUR)
    assert stored(db, DAY) == expected(checks, DAY, end + DAY)
    assert stored_metrics(db, HOUR) == expected_metrics(checks, HOUR, end + HOUR)
    assert stored_metrics(db, DAY) == expected_metrics(checks, DAY, end + DAY)
    assert len(stored(db, HOUR)) == 3 * 31


def test_histograms_joined_from_rows_are_compacted_to_an_entry_per_bucket() -> None:
    # Texts joined from several rows (a bucket in several of them, counts above what one
    # entry holds), thousands at once: the same counts, an entry per bucket (and per
    # COUNT_MAX of its count).
    rng = random.Random(1)
    texts, expected = [], []
    for _ in range(3000):
        parts = [{rng.randrange(512): rng.randrange(1, 2000) for _ in range(rng.randrange(5))}
                 for _ in range(rng.randrange(4))]
        texts.append("".join(encode_hist(part) for part in parts).encode())
        total: dict[int, int] = {}
        for part in parts:
            for bucket, count in part.items():
                total[bucket] = total.get(bucket, 0) + count
        expected.append(total)
    for text, total in zip(compact_hists(texts), expected, strict=True):
        found: dict[int, int] = {}
        decode_hist_into(text, found)
        assert found == total
        assert len(text) == HIST_WIDTH * sum(-(-n // COUNT_MAX) for n in total.values())
    assert compact_hists([]) == [] and compact_hists([b"", None]) == ["", ""]


def test_a_pass_in_chunks_goes_on_after_a_restart_with_late_checks_counted_once(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    # A monitor per transaction: the pass of the last hours is cut by a restart after two
    # monitors; checks of those hours written then count in the hour rows of the monitors
    # done (directly) and of the one not done yet (through its blocks), once each.
    monkeypatch.setattr(backend.module("rollups"), "PASS_MONITORS", 1)
    db = backend
    checks = history(DAY0 + 20 * HOUR, DAY0 + 26 * HOUR)
    cut = DAY0 + 24 * HOUR  # the pass that rolls the last hours up to the next day
    feed(db, [c for c in checks if c.timestamp < cut - HOUR], [0.0])
    rest = [c for c in checks if c.timestamp >= cut - HOUR]
    flush_at(db, cut - 60, lambda store: [store.put_check(c) for c in rest])
    while meta(backend, "rolling"):
        flush_at(db, cut - 60)  # the passes before: two chunks a writer (flush and close)
    assert meta(backend, "rolled_until") == [str(cut - HOUR)]
    flush_at(db, cut + LATE_HORIZON + 1)  # two chunks: the first two monitors
    first, second, third = sorted(MONITORS)
    assert meta(backend, "rolling") == [f'[{int(cut)}, "{second}"]']
    assert meta(backend, "rolled_until") == [str(cut - HOUR)]
    late = [CheckResult(first, cut - 100, False, 500, 7.5, "http_status"),
            CheckResult(third, cut - 90, True, 200, 2.25)]
    flush_at(db, cut + LATE_HORIZON + 2, lambda store: [store.put_check(c) for c in late])
    assert meta(backend, "rolling") == []
    assert meta(backend, "rolled_until") == [str(cut)]
    every = checks + late
    assert stored(db, HOUR) == expected(every, HOUR, cut)
    assert stored(db, DAY) == expected(every, DAY, cut)
    # The day is whole: its uptime packed, the late checks in it.
    days = backend.reader().uptime_by_day(None, 2, cut)
    for monitor_id, agg in expected(every, DAY, cut).items():
        assert (days[monitor_id[0]].checks[0], days[monitor_id[0]].up[0]) == (
            agg.checks, agg.up)


# SQLite only: a full disk under its file.
def test_a_pass_the_full_disk_refuses_is_retried_each_minute_and_said_once(
        request: pytest.FixtureRequest) -> None:
    small_disk = request.getfixturevalue("small_disk_fixture")  # a 4 MB tmpfs (root)
    db = small_disk / "monitoring.db"
    checks = history(DAY0, DAY0 + 2 * HOUR)
    feed(db, checks, [0.0])
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [(DAY0 + HOUR,)]
    filler = small_disk / "filler"
    fill(filler)
    clock = [DAY0 + 2 * HOUR + LATE_HORIZON + 1]
    said: list[str] = []
    store = Store(db, on_error=said.append, clock=lambda: clock[0])
    try:
        for _ in range(3):  # a batch after another: tried once, and not said yet
            store.flush()
        assert said == []
        clock[0] += 61  # a minute later, the disk still full: said, once
        for _ in range(3):
            store.flush()
        clock[0] += 61
        store.flush()
        assert said == [f"{db}: rolling up the hours failed: database or disk is full;"
                        " retrying every minute"]
        filler.unlink()
        clock[0] += 59
        store.flush()
        assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [
            (DAY0 + HOUR,)]
        clock[0] += 2  # a minute after the last failure
        store.flush()
    finally:
        store.close()
    assert len(said) == 1
    assert rows(db, "SELECT value FROM meta WHERE key = 'rolled_until'") == [
        (DAY0 + 2 * HOUR,)]
    assert stored(db, HOUR) == expected(checks, HOUR, DAY0 + 2 * HOUR)
