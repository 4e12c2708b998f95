"""Metric series through the real writer of both stores (the `backend` fixture): a series
on its first
value, raw points, the minute, 10-minute, hour and day rollups (on an injected clock), and
the reads (paths by pattern, the tree, a query's steps from the tiers and the raw points,
a window); purge by tier."""

from __future__ import annotations

import math
import random

import pytest

from monitor.metrics.paths import compile_pattern
from monitor.store.api import RecordSeries, SeriesInfo, SeriesNode
from monitor.store.codec import bucket_of, bucket_value, decode_hist_into
from monitor.store.writing import MAX_SERIES_QUEUED
from tests.store.conftest import Backend, reading

T = 1_700_006_400.0  # a day's start (UTC), 00:00
HOUR, DAY = 3600, 86400


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write(db: Backend, *commands: RecordSeries, clock=None, urgent: bool = True) -> None:
    store = db.make(clock=clock or Clock(T)).start()
    try:
        for command in commands:
            assert store.put_series(command)
        assert store.flush(urgent=urgent)
    finally:
        store.close()


def test_a_series_is_made_on_its_first_value_and_keeps_its_latest(backend):
    db = backend
    write(db, RecordSeries((("web.a.latency", T + 5, 12.5), ("web.a.latency", T + 1, 10.0),
                            ("cpu.user", T + 2, 40.0))))
    write(db, RecordSeries((("web.a.latency", T + 3, 11.0),)))  # older than its latest
    with reading(db) as reader:
        info = reader.series_info("web.a.latency")
        assert info is not None
        assert (info.path, info.first, info.last, info.last_value) == (
            "web.a.latency", T + 1, T + 5, 12.5)
        assert reader.series_info("web.b.latency") is None
    assert sorted(db.read("SELECT s.path, p.timestamp, p.value FROM series_points p"
                            " JOIN series s ON s.id = p.series")) == [
        ("cpu.user", T + 2, 40.0), ("web.a.latency", T + 1, 10.0),
        ("web.a.latency", T + 3, 11.0), ("web.a.latency", T + 5, 12.5)]


def aggs(db, path: str) -> dict[tuple[int, int], tuple]:
    rows = db.read("SELECT span, start, count, sum, min, max, hist FROM series_aggs"
                   " WHERE series = (SELECT id FROM series WHERE path = ?)", path)
    found = {}
    for span, start, count, total, low, high, text in rows:
        hist: dict[int, int] = {}
        decode_hist_into(text, hist)
        assert len(text) == 3 * len(hist)  # one entry per bucket: merged, not appended
        found[span, start] = (count, total, low, high, hist)
    return found


def test_rollups_of_every_tier_once_a_minute(backend):
    db = backend
    clock = Clock(T + 30)
    store = db.make(clock=clock).start()
    try:
        store.put_series(RecordSeries((("q.depth", T + 10, 4.0), ("q.depth", T + 20, 8.0))))
        assert store.flush(urgent=False)
        assert aggs(db, "q.depth") == {}  # within the minute: held, not yet summed
        clock.now = T + 61  # the next minute: the held values go to every tier
        assert store.flush(urgent=False)
        rows = aggs(db, "q.depth")
        hist = {bucket_of(4.0): 1, bucket_of(8.0): 1}
        for span in (60, 600, HOUR, DAY):
            assert rows[span, int(T)] == (2, 12.0, 4.0, 8.0, hist), span
        assert len(rows) == 4
        store.put_series(RecordSeries((("q.depth", T + 70, 1000.0),)))
        assert store.flush(urgent=False)
        assert len(aggs(db, "q.depth")) == 4
        clock.now = T + 125
        assert store.flush(urgent=False)
        rows = aggs(db, "q.depth")
        assert rows[60, int(T) + 60] == (1, 1000.0, 1000.0, 1000.0, {bucket_of(1000.0): 1})
        hist[bucket_of(1000.0)] = 1
        for span in (600, HOUR, DAY):
            assert rows[span, int(T)] == (3, 1012.0, 4.0, 1000.0, hist), span
    finally:
        store.close()


def test_late_values_and_a_restart_add_to_the_rows(backend):
    db = backend
    write(db, RecordSeries((("a", T + 5, 2.0), ("a", T + 700, 3.0))))
    # Another process (a restart): the same series and rows, added to, not replaced.
    write(db, RecordSeries((("a", T + 6, 2.0), ("a", T + 4000, 5.0))))
    rows = aggs(db, "a")
    assert rows[60, int(T)] == (2, 4.0, 2.0, 2.0, {bucket_of(2.0): 2})
    assert rows[600, int(T) + 600] == (1, 3.0, 3.0, 3.0, {bucket_of(3.0): 1})
    assert rows[HOUR, int(T)][:4] == (3, 7.0, 2.0, 3.0)
    assert rows[HOUR, int(T) + HOUR][:4] == (1, 5.0, 5.0, 5.0)
    assert rows[DAY, int(T)] == (4, 12.0, 2.0, 5.0,
                                 {bucket_of(2.0): 2, bucket_of(3.0): 1, bucket_of(5.0): 1})
    assert db.read("SELECT count(*) FROM series") == [(1,)]


def test_a_bad_value_costs_only_its_own_command(backend):
    db = backend
    said: list[str] = []
    store = db.make(on_error=said.append, clock=Clock(T)).start()
    try:
        store.put_series(RecordSeries((("good", T, 1.0),)))
        store.put_series(RecordSeries((("bad", T, math.nan),)))
        store.put_series(RecordSeries((("good", T + 1, 2.0),)))
        store.flush()
    finally:
        store.close()
    assert db.read("SELECT path FROM series") == [("good",)]
    assert db.read("SELECT count(*) FROM series_points") == [(2,)]
    assert any("could not write 1 values of metric series" in line for line in said), said


PATHS = ["app.queue.depth", "cpu.system", "cpu.user", "web.a.latency", "web.a.errors",
         "web.b.latency", "web.b.c.latency", "web"]


def test_paths_by_pattern_and_the_tree(backend):
    db = backend
    write(db, RecordSeries(tuple((path, T, 1.0) for path in PATHS)))
    with reading(db) as reader:
        def paths(pattern: str, limit: int = 100) -> list[str]:
            return [s.path for s in reader.series_matching(compile_pattern(pattern), limit)]

        assert paths("web.*.latency") == ["web.a.latency", "web.b.latency"]
        assert paths("web.**") == ["web.a.errors", "web.a.latency", "web.b.c.latency",
                                   "web.b.latency"]
        assert paths("cpu*") == []
        assert paths("cpu.*", limit=1) == ["cpu.system"]
        assert paths("web") == ["web"]
        found = reader.series_matching(compile_pattern("app.queue.depth"), 10)
        assert found == [SeriesInfo(found[0].id, "app.queue.depth", T, T, 1.0)]
        assert reader.series_tree("", 100) == [
            SeriesNode("app", "app", 1, False), SeriesNode("cpu", "cpu", 2, False),
            SeriesNode("web", "web", 5, True)]
        assert reader.series_tree("web", 100) == [
            SeriesNode("a", "web.a", 2, False), SeriesNode("b", "web.b", 2, False)]
        assert reader.series_tree("web.b", 100) == [
            SeriesNode("c", "web.b.c", 1, False), SeriesNode("latency", "web.b.latency", 1,
                                                              True)]
        assert reader.series_tree("web.a.latency", 100) == []
        assert reader.series_tree("nothing", 100) == []
        assert len(reader.series_tree("", 2)) == 2


def brute(values: list[tuple[float, float]], step: int) -> dict[int, tuple]:
    """Per step: count, sum, min, max of the values."""
    found: dict[int, list[float]] = {}
    for timestamp, value in values:
        found.setdefault(int(timestamp // step), []).append(value)
    return {index: (len(v), sum(v), min(v), max(v)) for index, v in found.items()}


@pytest.mark.parametrize("step", [7, 10, 60, 300, 600, 1800, HOUR, 7200, DAY])
def test_steps_agree_with_the_values_whatever_the_tier(backend, step):
    """Two days of values, written as they come (the rollups once a minute); at `now` the
    last two minutes are not rolled up yet and come from the raw points."""
    db = backend
    rng = random.Random(step)
    values = {"a": [], "b": []}
    clock = Clock(T)
    store = db.make(clock=clock).start()
    try:
        for minute in range(0, 2 * 24 * 60, 7):  # a value every 7 minutes, and more
            for offset in (3.5, 41.0):
                timestamp = T + minute * 60 + offset
                for path in values:
                    value = round(rng.uniform(1, 1000), 3)
                    values[path].append((timestamp, value))
                    store.put_series(RecordSeries(((path, timestamp, value),)))
            clock.now = T + minute * 60 + 59
            assert store.flush(urgent=False)
        now = clock.now = T + 2 * DAY - 30
        # The last minutes: raw points only, their minute not yet over.
        for timestamp in (now - 100, now - 50, now - 5):
            values["a"].append((timestamp, 7.0))
            store.put_series(RecordSeries((("a", timestamp, 7.0),)))
        assert store.flush(urgent=False)
    finally:
        store.close()  # its rollups of the last minutes are not read: not yet complete at now
    first, last = int((T + 3 * HOUR) // step), int(now // step) + 1
    with reading(db) as reader:
        ids = {reader.series_info(path).id: path for path in values}  # type: ignore[union-attr]
        found = reader.series_steps(list(ids), first, last, step, now)
    for series, path in ids.items():
        expected = {index: figures for index, figures in brute(values[path], step).items()
                    if first <= index < last}
        got = {index: (f.count, f.total, f.low, f.high) for index, f in found[series].items()}
        assert got.keys() == expected.keys()
        for index, (count, total, low, high) in expected.items():
            assert got[index][0] == count
            assert math.isclose(got[index][1], total, rel_tol=1e-9)
            assert got[index][2:] == (low, high)
        for figures in found[series].values():
            assert sum(figures.hist.values()) == figures.count


def test_a_window_of_raw_points(backend):
    db = backend
    write(db, RecordSeries(tuple(("a", T + i, float(i)) for i in range(1, 101))))
    with reading(db) as reader:
        series = reader.series_info("a").id  # type: ignore[union-attr]
        figures = reader.series_window(series, T + 51, T + 100)
        assert (figures.count, figures.total, figures.low, figures.high) == (
            50, sum(range(51, 101)), 51.0, 100.0)
        assert figures.percentile(50) == pytest.approx(75.0, rel=0.025)
        assert math.isclose(bucket_value(bucket_of(75.0)), figures.percentile(50))
        empty = reader.series_window(series, T + 200, T + 300)
        assert (empty.count, empty.low) == (0, None)
        assert reader.series_raw_count([series], T + 51, T + 100) == 49  # [since, until)
        assert reader.series_raw_count([series, 999], T, T + 1000) == 100


def test_purge_by_tier_and_series_left_with_nothing(backend):
    db = backend
    write(db, RecordSeries((("old", T, 1.0), ("kept", T, 1.0), ("kept", T + 3 * DAY, 2.0))))
    store = db.make(clock=Clock(T + 4 * DAY)).start()
    try:
        store.purge(T + DAY)  # every tier with the raw points
        assert store.flush()
    finally:
        store.close()
    assert db.read("SELECT path FROM series") == [("kept",)]
    assert db.read("SELECT timestamp FROM series_points") == [(T + 3 * DAY,)]
    assert {row[0] for row in db.read("SELECT start FROM series_aggs")} == {
        int(T + 3 * DAY)}


def test_purge_keeps_each_tier_for_its_own_time(backend):
    db = backend
    write(db, RecordSeries(tuple(("a", T + i * 7200.0, 1.0) for i in range(36))))  # 3 days
    store = db.make(clock=Clock(T + 4 * DAY)).start()
    try:
        # Raw points and minutes a day, 10 minutes two, hours and days kept.
        store.purge(T + 2 * DAY, {60: T + 2 * DAY, 600: T + DAY, 3600: None, DAY: None})
        assert store.flush()
    finally:
        store.close()
    assert db.read("SELECT min(timestamp), count(*) FROM series_points") == [
        (T + 2 * DAY, 12)]
    spans = dict(db.read("SELECT span, count(*) FROM series_aggs GROUP BY span"))
    assert spans == {60: 12, 600: 24, 3600: 36, DAY: 3}
    # A series with its raw points gone but rollups kept is still a series.
    store = db.make(clock=Clock(T + 9 * DAY)).start()
    try:
        store.purge(T + 8 * DAY, {60: T + 8 * DAY, 600: T + 8 * DAY, 3600: None, DAY: None})
        assert store.flush()
    finally:
        store.close()
    assert db.read("SELECT path FROM series") == [("a",)]
    assert db.read("SELECT count(*) FROM series_points") == [(0,)]


def test_values_beyond_what_may_wait_are_refused_until_written(backend):
    db = backend
    queued = MAX_SERIES_QUEUED
    store = db.make(clock=Clock(T))  # not started: nothing is written until a flush
    try:
        command = RecordSeries(tuple(("a", T + i, 1.0) for i in range(queued // 5)))
        assert all(store.put_series(command) for _ in range(5))
        assert not store.put_series(RecordSeries((("a", T, 1.0),)))
        assert store.flush()
        assert store.put_series(RecordSeries((("a", T, 1.0),)))
    finally:
        store.close()
    assert db.read("SELECT count(*) FROM series_points") == [(queued + 1,)]
    # Closed: refused, not queued for a writer that is gone.
    assert not store.put_series(RecordSeries((("a", T, 1.0),)))
