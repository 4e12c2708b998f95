"""Per-minute aggregates and window statistics, checked against brute force over the same
checks: counts, availability and extremes exactly, percentiles within the histogram's 2.5%."""

from __future__ import annotations

import math
import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from monitor import stats as stats_mod
from monitor.core.model import CheckResult
from monitor.stats import MonitorStats, window_stats
from monitor.store.codec import (
    HIST_MIN_MS,
    HIST_RATIO,
    MinuteAgg,
    bucket_of,
    bucket_value,
    decode_counts_into,
    decode_hist_into,
)
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store

BASE = 1_700_000_040.0  # a whole minute
A = "https://a.example/"
B = "https://b.example/api?q=1"
C = "https://c.example/"  # never answers
D = "https://d.example/"  # never checked
PERCENTILES = (50, 90, 99)


def dyadic_ms(rng: random.Random, low: float = 0.2, high: float = 60_000.0) -> float:
    """A log-uniform response time in eighths of a millisecond: sums of such values are
    exact in floating point whatever the order, so averages can be compared with ==."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    return max(0.25, round(value * 8) / 8)


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p * n / 100), in integers
    return ordered[int(rank) - 1]


def agg_of(checks: list[CheckResult]) -> MinuteAgg:
    agg = MinuteAgg()
    for c in checks:
        agg.add(c.response_ms, c.available, c.code, c.reason)
    return agg


def random_check(rng: random.Random, url: str, ts: float) -> CheckResult:
    roll = rng.random()
    if url == C or roll < 0.12:
        reason = rng.choice(("timeout", "connect", "dns"))
        # No HTTP answer: its time must not count in the response-time stats.
        return CheckResult(url, ts, False, None, rng.choice((10_000.0, 0.5, 3.0)), reason)
    if roll < 0.25:
        return CheckResult(url, ts, False, rng.choice((500, 503)), dyadic_ms(rng),
                           "http_status", "HTTP error")
    if roll < 0.30:
        return CheckResult(url, ts, True, 301, dyadic_ms(rng))
    ms = dyadic_ms(rng, 50, 400) if roll < 0.8 else dyadic_ms(rng)
    return CheckResult(url, ts, True, 200, ms, lateness_ms=1.5)


# -- histogram buckets -----------------------------------------------------------------------

def test_buckets_are_monotonic_and_within_2_5_percent() -> None:
    value, previous = 0.2, -1
    while value <= 60_000.0:
        index = bucket_of(value)
        assert index >= previous
        assert abs(bucket_value(index) - value) <= 0.025 * value, value
        previous, value = index, value * 1.0007
    assert bucket_of(60_000.0) >= previous


def test_bucket_bounds() -> None:
    assert bucket_of(0.0) == bucket_of(-1.0) == bucket_of(HIST_MIN_MS) == 0
    values = [bucket_value(i) for i in range(400)]
    assert values == sorted(set(values))
    for i in range(1, 300):
        upper = HIST_MIN_MS * HIST_RATIO ** i  # a bucket's upper bound belongs to it
        assert bucket_of(upper) == i
        assert bucket_of(upper * 1.0001) == i + 1
        assert abs(bucket_value(i) - upper) <= 0.025 * upper


# -- MinuteAgg -------------------------------------------------------------------------------

def test_add_counts_response_times_only_for_http_answers() -> None:
    agg = agg_of([
        CheckResult(A, BASE, True, 200, 100.0),
        CheckResult(A, BASE, False, 503, 20.0, "http_status"),
        CheckResult(A, BASE, False, None, 10_000.0, "timeout"),
        CheckResult(A, BASE, False, None, 1.0, "connect"),
    ])
    assert (agg.checks, agg.up, agg.rt_count, agg.rt_sum) == (4, 1, 2, 120.0)
    assert (agg.rt_min, agg.rt_max) == (20.0, 100.0)
    assert agg.statuses == {"200": 1, "503": 1}
    assert agg.reasons == {"http_status": 1, "timeout": 1, "connect": 1}
    assert sum(agg.hist.values()) == 2


@pytest.mark.parametrize("seed", range(5))
def test_merge_equals_aggregate_of_the_union(seed: int) -> None:
    rng = random.Random(seed)
    left = [random_check(rng, A, BASE + i) for i in range(rng.randint(0, 60))]
    right = [random_check(rng, A, BASE + i) for i in range(rng.randint(0, 60))]
    merged = MinuteAgg()
    merged.merge_row(agg_of(left).to_row())
    merged.merge_row(agg_of(right).to_row())
    assert merged == agg_of(left + right)
    # merging into a non-empty agg too
    into = agg_of(left)
    into.merge_row(agg_of(right).to_row())
    assert into == agg_of(left + right)


@pytest.mark.parametrize("seed", range(3))
def test_row_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    agg = agg_of([random_check(rng, rng.choice((A, C)), BASE) for _ in range(80)])
    assert MinuteAgg.from_row(agg.to_row()) == agg
    assert MinuteAgg.from_row(MinuteAgg().to_row()) == MinuteAgg()


def test_row_text_format() -> None:
    agg = agg_of([CheckResult(A, BASE, True, 200, 100.0), CheckResult(A, BASE, True, 200, 100.0),
                  CheckResult(A, BASE, False, None, 5.0, "timeout")])
    checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes = agg.to_row()
    assert (checks, up, rt_count, rt_sum, rt_min, rt_max) == (3, 2, 2, 200.0, 100.0, 100.0)
    # Three characters per bucket, the base-64 digits of bucket * 512 + count, from "0".
    value = bucket_of(100.0) * 512 + 2
    assert hist == "".join(chr(48 + value // 64 ** k % 64) for k in (2, 1, 0))
    big = MinuteAgg(hist={3: 1000, 511: 7})
    # 1000 = 511 + 489, two entries of bucket 3: 3 * 512 + 511 = 2047 is (0, 31, 63) in
    # digits, 3 * 512 + 489 = 2025 is (0, 31, 41); 511 * 512 + 7 is (63, 56, 7).
    assert big.to_row()[6] == "0Oo" + "0OY" + "oh7"
    assert MinuteAgg.from_row(big.to_row()) == big
    assert bucket_of(1e300) == 511  # the top bucket holds everything above it
    assert outcomes == "200:2,timeout:1"  # status codes, then reasons
    failed = agg_of([CheckResult(A, BASE, False, 503, 9.0, "http_status")])
    assert failed.to_row()[7] == "503:1,http_status:1"
    assert MinuteAgg.from_row(failed.to_row()) == failed
    assert MinuteAgg().to_row() == (0, 0, 0, 0.0, None, None, "", "")


def test_percentiles_of_nothing_are_none() -> None:
    assert MinuteAgg().percentile(50) is None
    only_failures = agg_of([CheckResult(A, BASE, False, None, 10_000.0, "timeout")])
    assert only_failures.percentile(99) is None


def test_percentiles_are_clamped_to_the_exact_extremes() -> None:
    one = agg_of([CheckResult(A, BASE, True, 200, 123.4)])
    assert [one.percentile(p) for p in (0, 50, 100)] == [123.4, 123.4, 123.4]
    two = agg_of([CheckResult(A, BASE, True, 200, 10.0), CheckResult(A, BASE, True, 200, 20.0)])
    assert two.percentile(50) == pytest.approx(10.0, rel=0.025)
    assert two.percentile(100) == pytest.approx(20.0, rel=0.025)
    assert 10.0 <= two.percentile(1) <= two.percentile(99) <= 20.0


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_within_2_5_percent_of_nearest_rank(seed: int) -> None:
    rng = random.Random(seed)
    checks = [random_check(rng, A, BASE) for _ in range(rng.randint(1, 700))]
    times = [c.response_ms for c in checks if c.code is not None]
    agg = agg_of(checks)
    for p in (1, 10, 25, 50, 75, 90, 95, 99, 100):
        if not times:
            assert agg.percentile(p) is None
            continue
        exact = nearest_rank(times, p)
        assert abs(agg.percentile(p) - exact) <= 0.025 * exact, (p, exact)


# -- window_stats against brute force ---------------------------------------------------------

def make_checks() -> list[CheckResult]:
    rng = random.Random(2024)
    checks = [random_check(rng, rng.choice((A, A, B, C)), BASE + rng.uniform(0, 330))
              for _ in range(420)]
    # Checks exactly on minute boundaries and on the window edges used below.
    for offset in (0.0, 60.0, 90.5, 120.0, 125.25, 150.0, 170.75, 180.0, 200.25, 240.0, 300.0):
        for url in (A, B, C):
            checks.append(random_check(rng, url, BASE + offset))
    rng.shuffle(checks)  # checks finish out of order
    return checks


WINDOWS = [
    pytest.param(60, 240, id="aligned"),
    pytest.param(60, 120, id="one-aligned-minute"),
    pytest.param(0, 330, id="aligned-start-end-after-all-checks"),
    pytest.param(90.5, 330, id="unaligned-start"),
    pytest.param(90.5, 200.25, id="unaligned-both"),
    pytest.param(60, 200.25, id="aligned-start-unaligned-end"),
    pytest.param(125.25, 170.75, id="inside-one-minute"),
    pytest.param(120, 150, id="aligned-start-inside-one-minute"),
    pytest.param(150, 200, id="two-partial-minutes"),
    pytest.param(179.5, 180.5, id="across-a-boundary"),
    pytest.param(-600, 10_000, id="everything"),
    pytest.param(1000, 2000, id="empty"),
]


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory) -> tuple[Path, list[CheckResult]]:
    path = tmp_path_factory.mktemp("stats") / "monitor.db"
    checks = make_checks()
    store = Store(path).start()
    try:
        for i, c in enumerate(checks):
            store.put_check(c)
            if i % 50 == 0:
                store.flush()  # several batches, minutes continued across them
    finally:
        store.close()
    return path, checks


def assert_matches(stats: MonitorStats, monitor_id: str, selected: list[CheckResult]) -> None:
    assert stats.monitor_id == monitor_id
    assert stats.checks == len(selected)
    if not selected:
        assert stats.availability is None
    else:
        assert stats.availability == sum(c.available for c in selected) / len(selected)
    times = sorted(c.response_ms for c in selected if c.code is not None)
    if not times:
        assert (stats.rt_min, stats.rt_avg, stats.rt_max) == (None, None, None)
        assert (stats.p50, stats.p90, stats.p99) == (None, None, None)
    else:
        assert (stats.rt_min, stats.rt_max) == (times[0], times[-1])
        assert stats.rt_avg == sum(times) / len(times)
        for p, value in zip(PERCENTILES, (stats.p50, stats.p90, stats.p99), strict=True):
            exact = nearest_rank(times, p)
            assert abs(value - exact) <= 0.05 * exact, (p, value, exact)
            assert abs(value - exact) <= 0.025 * exact, (p, value, exact)  # the promise
    assert stats.statuses == Counter(str(c.code) for c in selected if c.code is not None)
    assert list(stats.statuses) == sorted(stats.statuses)
    assert stats.reasons == Counter(c.reason for c in selected if c.reason)
    counts = list(stats.reasons.values())
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_window_stats_equal_brute_force(filled_db, start: float, end: float) -> None:
    path, checks = filled_db
    conn = open_reader(path)
    try:
        stats = window_stats(conn, BASE + start, BASE + end, [A, B, C, D])
        default = window_stats(conn, BASE + start, BASE + end)
    finally:
        conn.close()
    assert list(stats) == [A, B, C, D]
    for monitor_id in (A, B, C, D):
        selected = [c for c in checks
                    if c.monitor_id == monitor_id and BASE + start <= c.timestamp <= BASE + end]
        assert_matches(stats[monitor_id], monitor_id, selected)
    # Without a list of ids: the monitors that have checks in the window, sorted.
    assert list(default) == sorted({c.monitor_id for c in checks
                                    if BASE + start <= c.timestamp <= BASE + end})
    for monitor_id, found in default.items():
        assert found == stats[monitor_id]


def test_window_stats_on_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    Store(path).close()
    conn = open_reader(path)
    try:
        assert window_stats(conn, BASE, BASE + 600) == {}
        empty = window_stats(conn, BASE, BASE + 600, [A])[A]
    finally:
        conn.close()
    assert (empty.checks, empty.availability, empty.p50, empty.statuses) == (0, None, None, {})
    assert (empty.down_for, empty.since_failure) == (None, None)


# -- current state: down_for and since_failure ------------------------------------------------

def test_down_for_and_since_failure(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    store = Store(path)  # synchronous: every flush commits
    conn = None

    def state(monitor_id: str, end: float) -> tuple[float | None, float | None]:
        stats = window_stats(conn, BASE, BASE + end, [monitor_id])[monitor_id]
        return stats.down_for, stats.since_failure

    def put(*checks: CheckResult) -> None:
        for c in checks:
            store.put_check(c)
        store.flush()

    try:
        put(CheckResult(A, BASE + 10, True, 200, 5.0, mono=10))
        conn = open_reader(path)
        assert state(A, 100) == (None, None)  # never failed
        assert state(D, 100) == (None, None)  # never checked

        put(CheckResult(A, BASE + 20, False, None, 5.0, "connect", mono=20),
            CheckResult(A, BASE + 30, False, 503, 5.0, "http_status", mono=30))
        assert state(A, 100) == (80.0, 70.0)  # down since the first failure after an OK
        assert state(A, 15) == (0.0, 0.0)  # never negative

        # A slow OK check that started before the failures finishes now: still down.
        put(CheckResult(A, BASE + 15, True, 200, 9000.0, mono=15))
        assert state(A, 100) == (80.0, 70.0)

        put(CheckResult(A, BASE + 40, True, 200, 5.0, mono=40))
        assert state(A, 100) == (None, 70.0)  # up again; the failure is history

        # A slow failing check that started before the recovery: history, not the present.
        put(CheckResult(A, BASE + 35, False, None, 10_000.0, "timeout", mono=35))
        assert state(A, 100) == (None, 65.0)

        # Down from its very first check.
        put(CheckResult(B, BASE + 50, False, None, 1.0, "dns", mono=50))
        assert state(B, 100) == (50.0, 50.0)
        store.close()

        # The state survives a restart: the down period continues.
        store = Store(path)
        put(CheckResult(B, BASE + 60, False, None, 1.0, "dns", mono=60))
        assert state(B, 100) == (50.0, 40.0)
    finally:
        if conn is not None:
            conn.close()
        store.close()


def write(path: Path, checks: list[CheckResult]) -> None:
    """The checks through a writer of its own, committed and closed."""
    store = Store(path)
    for c in checks:
        store.put_check(c)
    store.flush()
    store.close()


def write_v4(path: Path, checks: list[CheckResult]) -> None:
    """The same through the store of schema 4 (tests/legacy), for `downgrade`."""
    from tests.legacy import store_v4

    store = store_v4.Store(path)
    for c in checks:
        store.put_check(c)
    store.flush()
    store.close()


def test_unknown_checks_count_only_as_a_reason_in_whole_and_partial_minutes(
        tmp_path: Path) -> None:
    # Checks recorded while the monitor was offline (available None) are not checks of the
    # site: the same whether a window reads them from the aggregates or from raw rows.
    path = tmp_path / "m.db"
    checks = [CheckResult(A, BASE + s, s % 3 != 0, 200, 10.0 + s) for s in range(0, 180, 2)]
    checks += [CheckResult(A, BASE + s, None, None, 0.0, "offline") for s in range(1, 180, 4)]
    write(path, checks)
    conn = open_reader(path)
    try:
        for start, end in ((0, 179), (30, 150), (61, 119), (5, 50)):
            known = [c for c in checks if c.available is not None
                     and BASE + start <= c.timestamp <= BASE + end]
            unknown = [c for c in checks if c.available is None
                       and BASE + start <= c.timestamp <= BASE + end]
            stats = window_stats(conn, BASE + start, BASE + end, [A])[A]
            assert stats.checks == len(known), (start, end)
            assert stats.availability == sum(c.available for c in known) / len(known)
            assert stats.reasons == {"offline": len(unknown)}
            assert stats.statuses == {"200": len(known)}
    finally:
        conn.close()


def test_a_reason_the_stats_do_not_know_is_counted_apart_from_the_status_codes(
        tmp_path: Path) -> None:
    # Aggregates keep codes and reasons in one text; a report parses the names it knows as
    # numbers and any other (a check kind's own) by the slower path, with the same result.
    path = tmp_path / "m.db"
    checks = [CheckResult(A, BASE + s, s % 5 != 0, 200 if s % 5 else 404, 10.0,
                          None if s % 5 else "keyword_missing") for s in range(0, 180, 2)]
    checks += [CheckResult(B, BASE + s, False, 503, 5.0, "http_status") for s in range(0, 90, 3)]
    checks += [CheckResult(B, BASE + s, False, None, 1.0, "connect") for s in range(1, 90, 7)]
    write(path, checks)
    conn = open_reader(path)
    try:
        for start, end in ((0, 179), (61, 119), (5, 50)):
            stats = window_stats(conn, BASE + start, BASE + end, [A, B])
            for monitor_id in (A, B):
                selected = [c for c in checks if c.monitor_id == monitor_id
                            and BASE + start <= c.timestamp <= BASE + end]
                assert_matches(stats[monitor_id], monitor_id, selected)
            assert stats[A].reasons == {"keyword_missing": stats[A].statuses["404"]}
    finally:
        conn.close()


# -- 10-minute blocks --------------------------------------------------------------------------

BLOCK = 1_700_000_400.0 - BASE  # the first 10-minute boundary after BASE: BASE + 360 s
LONG_WINDOWS = [
    pytest.param(0, 2400, id="blocks-inside"),
    pytest.param(BLOCK, BLOCK + 1200, id="two-whole-blocks"),
    pytest.param(BLOCK - 59.5, BLOCK + 1230.25, id="unaligned-around-blocks"),
    pytest.param(BLOCK + 60, BLOCK + 600, id="minutes-only"),
    pytest.param(0, 1700, id="ends-inside-a-block"),
    pytest.param(30.5, 1900.75, id="unaligned-ends-inside-a-block"),
    pytest.param(120, 10_000, id="live-to-the-end"),
    pytest.param(BLOCK + 600, 10_000, id="live-from-a-block"),
]


@pytest.fixture(scope="module")
def long_db(tmp_path_factory) -> tuple[Path, list[CheckResult]]:
    path = tmp_path_factory.mktemp("blocks") / "monitor.db"
    rng = random.Random(7)
    checks = [random_check(rng, rng.choice((A, B, C)), BASE + rng.uniform(0, 2100))
              for _ in range(1500)]
    checks += [random_check(rng, A, BASE + BLOCK + k * 600.0) for k in range(3)]
    rng.shuffle(checks)
    store = Store(path).start()
    try:
        for i, c in enumerate(checks):
            store.put_check(c)
            if i % 200 == 0:
                store.flush()
    finally:
        store.close()
    return path, checks


def uses_blocks(conn, start: float, end: float) -> bool:
    ranges, _raws = stats_mod._window(conn, start, end)
    return any(span == 600 for span, _lo, _hi in ranges)


def downgrade(path: Path, version: int) -> None:
    """Rewrite a database of schema 4 in the aggregate tables of an older one (2: minutes only,
    3: minutes and blocks), keyed by time first, histograms as "bucket:count,...", statuses
    and reasons in two columns, as they were."""
    def old_hist(text: str) -> str:
        hist: dict[int, int] = {}
        decode_hist_into(text, hist)
        return ",".join(f"{bucket}:{count}" for bucket, count in hist.items())

    def old_counts(outcomes: str, names: int) -> str:
        codes: dict[str, int] = {}
        reasons: dict[str, int] = {}
        decode_counts_into(outcomes, codes, reasons)
        return ",".join(f"{k}:{n}" for k, n in (reasons if names else codes).items())

    conn = sqlite3.connect(path)
    conn.create_function("old_hist", 1, old_hist)
    conn.create_function("old_counts", 2, old_counts)
    levels = [("minute_stats", "minute", 60)] + ([("block_stats", "block", 600)]
                                                  if version == 3 else [])
    for table, column, span in levels:
        conn.execute(f"CREATE TABLE {table} (host TEXT NOT NULL, {column} INTEGER NOT NULL,"
                     " checks INTEGER NOT NULL, up INTEGER NOT NULL, rt_count INTEGER NOT NULL,"
                     " rt_sum REAL NOT NULL, rt_min REAL, rt_max REAL, hist TEXT NOT NULL,"
                     " statuses TEXT NOT NULL, reasons TEXT NOT NULL,"
                     f" PRIMARY KEY ({column}, host)) WITHOUT ROWID")
        conn.execute(f"INSERT INTO {table} SELECT host, start / {span}, checks, up, rt_count,"
                     " rt_sum, rt_min, rt_max, old_hist(hist), old_counts(outcomes, 0),"
                     " old_counts(outcomes, 1) FROM aggregates"
                     f" WHERE span = {span}")
    conn.execute("DROP TABLE aggregates")
    if version == 2:
        conn.execute("DELETE FROM meta")
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("start", "end"), LONG_WINDOWS)
def test_windows_over_10_minute_blocks_equal_brute_force(long_db, start, end) -> None:
    path, checks = long_db
    conn = open_reader(path)
    try:
        assert uses_blocks(conn, BASE + start, BASE + end) == (
            end - start >= 1200 or end == 10_000)
        stats = window_stats(conn, BASE + start, BASE + end, [A, B, C])
    finally:
        conn.close()
    for monitor_id in (A, B, C):
        selected = [c for c in checks
                    if c.monitor_id == monitor_id and BASE + start <= c.timestamp <= BASE + end]
        assert_matches(stats[monitor_id], monitor_id, selected)


def test_history_from_before_the_blocks_is_read_from_its_minutes(tmp_path: Path) -> None:
    # A database from before schema 3 has minutes but no blocks for its history: the
    # writer starts the blocks after it, and reports read the old part from minutes.
    path = tmp_path / "monitor.db"
    rng = random.Random(11)
    old = [random_check(rng, A, BASE + s) for s in range(0, 1500, 3)]
    new = [random_check(rng, A, BASE + s) for s in range(1500, 3000, 3)]
    write_v4(path, old)
    downgrade(path, 2)
    write(path, new)  # the upgrade to schema 4, through 3's blocks_since
    conn = open_reader(path)
    try:
        since = conn.blocks_since()
        assert since == (int(BASE + 1497) // 60) // 10 + 1
        blocks = [b // 600 for (b,) in conn.conn.execute(
            "SELECT DISTINCT start FROM aggregates WHERE span = 600")]
        assert min(blocks) < since <= max(blocks)  # the one partial block is not used
        assert uses_blocks(conn, BASE, BASE + 3000)
        stats = window_stats(conn, BASE, BASE + 3000, [A])[A]
    finally:
        conn.close()
    assert_matches(stats, A, old + new)


def test_a_schema_3_database_is_upgraded_with_its_aggregates(tmp_path: Path) -> None:
    # Schema 3 kept minutes and blocks in two tables keyed by time: the upgrade moves their
    # rows, and a report over the old history then reads them from `aggregates`.
    path = tmp_path / "monitor.db"
    rng = random.Random(5)
    old = [random_check(rng, monitor_id, BASE + s)
           for s in range(0, 2400, 4) for monitor_id in (A, B)]
    new = [random_check(rng, A, BASE + s) for s in range(2400, 3000, 4)]
    write_v4(path, old)
    before = sqlite3.connect(path).execute(
        "SELECT host, span, start, checks, hist FROM aggregates ORDER BY 1, 2, 3").fetchall()
    downgrade(path, 3)
    write(path, new)
    conn = open_reader(path)
    try:
        tables = {r[0] for r in conn.conn.execute("SELECT name FROM sqlite_master")}
        assert "minute_stats" not in tables and "block_stats" not in tables
        assert conn.conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        after = conn.conn.execute("SELECT monitor, span, start, checks, hist FROM aggregates"
                             " WHERE start < ? AND span IN (60, 600) ORDER BY 1, 2, 3",
                             (int(BASE + 2400) // 600 * 600,)).fetchall()
        assert after == [row for row in before if row[2] < int(BASE + 2400) // 600 * 600]
        assert uses_blocks(conn, BASE, BASE + 3000)
        stats = window_stats(conn, BASE, BASE + 3000, [A, B])
    finally:
        conn.close()
    assert_matches(stats[A], A, [c for c in old + new if c.monitor_id == A])
    assert_matches(stats[B], B, [c for c in old if c.monitor_id == B])


def test_a_report_that_loaded_no_kind_counts_every_kinds_reasons(
        filled_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A report (-r) imports no check kind: the reasons of the kinds it has not loaded are
    # counted all the same, those of equal counts in the order of their names.
    from monitor.checks import registry

    monkeypatch.setattr(registry, "_KINDS", {})
    path, checks = filled_db
    conn = open_reader(path)
    try:
        stats = window_stats(conn, BASE, BASE + 3600, [A, B, C, D])
    finally:
        conn.close()
    for monitor_id in (A, B, C, D):
        selected = [c for c in checks
                    if c.monitor_id == monitor_id and BASE <= c.timestamp <= BASE + 3600]
        assert_matches(stats[monitor_id], monitor_id, selected)
    tied = tmp_path / "tied.db"
    write(tied, [CheckResult(A, BASE + s, False, None, 1.0, reason)
                 for s, reason in enumerate(("tls", "dns", "connect", "tls", "dns", "connect"))])
    conn = open_reader(tied)
    try:
        assert list(window_stats(conn, BASE, BASE + 59, [A])[A].reasons) == ["connect", "dns",
                                                                          "tls"]
    finally:
        conn.close()
