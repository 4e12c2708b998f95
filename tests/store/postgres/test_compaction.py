"""The PostgreSQL writer adds each batch's aggregates in SQL (several writers share the
database), appending the histogram and outcomes to the row's; every COMPACT_EVERY seconds
the rows it added to are summed and written whole again (monitor/store/postgres/
aggregates.py). PostgreSQL only: SQLite's single writer writes its rows whole. On a real
server; COMPACT_EVERY turned up or down, never waited for."""

from __future__ import annotations

import pytest

from monitor.core.model import CheckResult
from monitor.store.codec import MinuteAgg
from monitor.store.postgres import aggregates
from tests.store.conftest import postgres_backend

BASE = 1_700_000_040.0  # 14 minutes into its hour: the writer's clock rolls nothing up
CLOCK = BASE + 30


def check(ts: float, up: bool = True) -> CheckResult:
    return CheckResult("a", ts, up, 200 if up else 503, 12.0, mono=ts - BASE)


def minute_row(backend) -> tuple:
    (row,) = backend.read("SELECT checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                          " outcomes FROM aggregates WHERE monitor = 'a' AND span = 60")
    return tuple(row)


def test_rows_added_to_by_batches_are_compacted_every_so_often(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = postgres_backend(postgres_url)
    monkeypatch.setattr(aggregates, "COMPACT_EVERY", 3600.0)  # not due during the batches
    store = backend.make(clock=lambda: CLOCK, shared=True).start()
    try:
        for i in range(5):  # a batch each: five additions to the minute's row
            store.put_check(check(BASE + i, up=i != 2))
            assert store.flush(30)
        row = minute_row(backend)
        assert row[:2] == (5, 4)
        assert len(row[6]) == 5 * 3  # five entries of the same bucket, one a batch
        assert row[7].count(",") == 4  # "200:1,200:1,503:1,..."
        grown = MinuteAgg.from_row(row)
        monkeypatch.setattr(aggregates, "COMPACT_EVERY", 0.0)  # due at the next write
        store.put_check(check(BASE + 5))
        assert store.flush(30)
        row = minute_row(backend)
        # Summed whole, then the new batch's addition: two entries, two outcome lists.
        assert len(row[6]) == 2 * 3
        assert row[7] == "200:4,503:1,200:1"
        after = MinuteAgg.from_row(row)
        grown.add(12.0, True, 200, None)
        assert (after.checks, after.up, after.statuses) == (6, 5, {"200": 5, "503": 1})
        assert after.hist == grown.hist and sum(after.hist.values()) == 6
    finally:
        store.close()
        backend.close()


def test_two_writers_adding_to_the_same_rows_count_every_check_once(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two monitors sharing the database, their batches of the same 40 monitors' minutes
    # interleaved, one compacting at each write: no count lost or doubled, no deadlock.
    backend = postgres_backend(postgres_url)
    monkeypatch.setattr(aggregates, "COMPACT_EVERY", 0.0)
    stores = [backend.make(clock=lambda: CLOCK, shared=True).start() for _ in range(2)]
    try:
        for step in range(30):
            for n, store in enumerate(stores):
                store.put_checks([CheckResult(f"m{i}", BASE + step + n / 2, i % 7 != step % 7,
                                              200 if i % 7 != step % 7 else 503,
                                              5.0 + i + step, mono=step)
                                  for i in range(40)])
        assert all(store.flush(60) for store in stores)
        raw = dict(backend.read("SELECT monitor, count(*) FROM website_monitoring"
                                " GROUP BY monitor"))
        for span in (60, 600):
            rows: dict[str, MinuteAgg] = {}
            for monitor_id, *row in backend.read(
                    "SELECT monitor, checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                    " outcomes FROM aggregates WHERE span = ?", span):
                rows.setdefault(monitor_id, MinuteAgg()).merge_row(row)
            assert {m: agg.checks for m, agg in rows.items()} == raw == {
                f"m{i}": 60 for i in range(40)}
            assert all(sum(agg.hist.values()) == agg.rt_count == 60 for agg in rows.values())
            assert all(sum(agg.statuses.values()) == 60 for agg in rows.values())
    finally:
        for store in stores:
            store.close()
        backend.close()
