"""The reads of long history from the rollups, on real rows written by the real writer: the
uptime per day agrees with the stats the terminal shows for that day, whatever tier holds
it (packed whole days, a day not rolled up yet, today's counts); trends by day, by hour and
by any whole number of minutes agree with the checks they hold; every monitor's state and
last result in one read; and the purge of each tier by its own retention. On both stores
(the `backend` fixture; the five days written once a module on each)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.core.model import CheckResult
from monitor.stats import trend, window_stats
from monitor.store.codec import MinuteAgg
from monitor.store.sqlite.rollups import DAY, HOUR, LATE_HORIZON
from tests.store.conftest import BACKENDS, Backend, module_backend, reading
from tests.store.test_rollups import DAY0, MONITORS, feed, flush_at, history

END = DAY0 + 4 * DAY + 13 * HOUR + 1234  # "now": the afternoon of the fifth day


@pytest.fixture(scope="module", params=BACKENDS)
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[tuple[Backend, list[CheckResult]]]:
    """Five days of three monitors (from 5 hours before the first), written as -m writes
    them, its clock following them."""
    with module_backend(request, tmp_path_factory.mktemp("history")) as db:
        checks = history(DAY0 - 5 * HOUR, END)
        # 400 checks a flush (15 hours): the same rows as 40, written 4 times faster.
        feed(db, checks, [0.0], batch=400)
        yield db, checks


@pytest.fixture
def reader(written: tuple[Backend, list[CheckResult]]) -> Iterator[Any]:
    with reading(written[0]) as opened:
        yield opened


def day_stats(reader: Any, day: int) -> dict[str, tuple[int, float | None]]:
    """(checks, availability) of each monitor over the day, as the terminal's stats say."""
    stats = window_stats(reader, day, min(day + DAY - 0.001, END), MONITORS)
    return {m: (s.checks, s.availability) for m, s in stats.items()}


def test_uptime_per_day_agrees_with_the_stats_of_each_day(
        reader: Any, written: tuple[Backend, list[CheckResult]]) -> None:
    days = reader.uptime_by_day(None, 7, END)
    assert sorted(days) == sorted(MONITORS)
    first = int(END // DAY) * DAY - 6 * DAY
    for monitor_id, found in days.items():
        assert found.first == first and len(found.checks) == len(found.up) == 7
        for i, (checks, up) in enumerate(zip(found.checks, found.up, strict=True)):
            day = first + i * DAY
            expected = day_stats(reader, day)[monitor_id]
            assert (checks, up / checks if checks else None) == expected, (monitor_id, i)
    # Unknown checks (in maintenance) are not counted, as the stats count them; the day
    # before the history has none; today is so far.
    assert days[MONITORS[0]].checks[0] == 0 and days[MONITORS[0]].checks[1] > 0
    _db, checks = written
    today = [c for c in checks if c.monitor_id == MONITORS[0] and c.timestamp >= END // DAY
             * DAY and c.available is not None]
    assert days[MONITORS[0]].checks[-1] == len(today)
    assert days[MONITORS[0]].up[-1] == sum(1 for c in today if c.available)
    assert reader.uptime_by_day([MONITORS[1], "unknown"], 7, END) == {
        MONITORS[1]: days[MONITORS[1]], "unknown": type(days[MONITORS[1]])(first, [0] * 7,
                                                                           [0] * 7)}


def test_days_not_rolled_up_yet_and_a_past_now_come_from_the_lower_tiers(
        written: tuple[Backend, list[CheckResult]], tmp_path: Path) -> None:
    # A copy whose rollups stopped 2 days ago at 05:00 (its writer stopped, say): the days
    # since are read from hours and blocks, and agree all the same; and so does the day
    # of a `now` in the past (yesterday), whose counts are no longer monitor_state's.
    db = written[0].copy(tmp_path)
    behind = int(END // DAY) * DAY - 2 * DAY + 5 * HOUR
    db.execute(f"DELETE FROM aggregates WHERE span IN ({HOUR}, {DAY})"
               f" AND start >= {behind // DAY * DAY};"
               f" UPDATE meta SET value = '{behind}' WHERE key = 'rolled_until'")
    reader = db.reader()
    try:
        for now in (END, END - DAY):
            for monitor_id, days in reader.uptime_by_day(None, 4, now).items():
                for i, (checks, up) in enumerate(zip(days.checks, days.up, strict=True)):
                    day = days.first + i * DAY
                    assert (checks, up / checks if checks else None) == day_stats(
                        reader, day)[monitor_id], (now, monitor_id, i)
    finally:
        reader.close()


def expected_buckets(checks: list[CheckResult], monitor_id: str, step: int, lo: float,
                     hi: float) -> dict[int, MinuteAgg]:
    out: dict[int, MinuteAgg] = {}
    for c in checks:
        if c.monitor_id == monitor_id and lo <= c.timestamp < hi:
            out.setdefault(int(c.timestamp // step * step), MinuteAgg()).add(
                c.response_ms, c.available, c.code, c.reason, c.warning)
    return out  # (a bucket of unknown checks only has a row, and no check)


@pytest.mark.parametrize("step", [DAY, 2 * HOUR, HOUR, 600, 300])
def test_a_trend_agrees_with_the_checks_of_each_bucket(
        reader: Any, written: tuple[Backend, list[CheckResult]], step: int) -> None:
    _db, checks = written
    monitor_id = MONITORS[2]
    since, until = DAY0 - 3 * HOUR + 17, END
    buckets = trend(reader, monitor_id, since, until, step)
    lo = since // step * step
    expected = expected_buckets(checks, monitor_id, step, lo, until + step)
    assert [b.start for b in buckets] == sorted(expected)
    for bucket in buckets:
        agg = expected[bucket.start]
        assert (bucket.checks, bucket.up, bucket.values, bucket.min, bucket.max) == (
            agg.checks, agg.up, agg.rt_count, agg.rt_min, agg.rt_max), bucket.start
        if agg.rt_count:
            assert bucket.avg == pytest.approx(agg.rt_sum / agg.rt_count)
        assert (bucket.p50, bucket.p90, bucket.p99) == pytest.approx((
            agg.percentile(50), agg.percentile(90), agg.percentile(99))), bucket.start


def test_a_trend_of_a_year_by_day_reads_day_rows(reader: Any) -> None:
    ranges: list = []
    real = reader.trend_rows

    def spy(monitor_id: str, asked: list, step: int, metric: str | None = None) -> list:
        ranges.extend(asked)
        return real(monitor_id, asked, step, metric)

    reader.trend_rows = spy  # type: ignore[method-assign]
    trend(reader, MONITORS[0], END - 365 * DAY, END, DAY)
    # Days up to the mark, then the hours of today rolled, then today's blocks.
    assert [r.span for r in ranges] == [DAY, HOUR, 600]
    assert ranges[0].hi == ranges[1].lo == int(END // DAY) * DAY


def test_a_metric_s_trend(reader: Any,
                          written: tuple[Backend, list[CheckResult]]) -> None:
    _db, checks = written
    buckets = trend(reader, MONITORS[0], DAY0, END, HOUR, metric="total")
    values: dict[int, list[float]] = {}
    for c in checks:
        if (c.monitor_id == MONITORS[0] and c.available is not None and "total" in c.metrics
                and c.timestamp >= DAY0):
            values.setdefault(int(c.timestamp // HOUR * HOUR), []).append(c.metrics["total"])
    # The metric rows of the hour in progress are written once a minute: the hours before.
    done = [b for b in buckets if b.start + HOUR <= END - LATE_HORIZON]
    assert len(done) > 90
    for bucket in done:
        found = values[bucket.start]
        assert (bucket.values, bucket.min, bucket.max) == (len(found), min(found), max(found))
        assert bucket.avg == pytest.approx(sum(found) / len(found))


def test_every_monitor_s_state_and_last_result_in_one_read(backend: Backend) -> None:
    db = backend
    store = db.make(clock=lambda: DAY0 + 100)
    a, b, c = MONITORS
    store.set_monitors([])  # (the list comes from the runtime; here only the states)
    checks = [
        CheckResult(a, DAY0 + 1, True, 200, 12.5, metrics={"ttfb": 10.0}, mono=1),
        CheckResult(a, DAY0 + 2, False, 503, 30.0, "http_status", "HTTP 503", mono=2),
        # In maintenance, then a skipped slot: neither changes the last result.
        CheckResult(a, DAY0 + 3, None, None, 0.0, "maintenance", mono=3),
        CheckResult(b, DAY0 + 1, True, 0, 2.0, "tls_expiry", "expires in 5 days",
                    warning=True, mono=1),
        CheckResult(b, DAY0 + 2, True, 0, 2.0, "skipped", warning=True, mono=2),
    ]
    for check in checks:
        store.put_check(check)
    assert store.flush()
    store.close()
    from monitor.store.api import MonitorRow

    store = db.make(clock=lambda: DAY0 + 100)
    store.set_monitors([MonitorRow(a, "http", a, "site A", 60.0),
                        MonitorRow(c, "http", c, "", 30.0)])
    store.close()
    reader = db.reader()
    try:
        found = {s.id: s for s in reader.monitor_summaries()}
        # Some of them alone: the same rows, in the list's order; unknown ids left out.
        assert reader.monitor_summaries([c, a, "unknown"]) == [found[a], found[c]]
        assert reader.monitor_summaries([c]) == [found[c]]
    finally:
        reader.close()
    assert list(found) == [a, c]  # the list's monitors, in its order
    assert found[a] == (a, "http", "site A", a, 60.0, True, DAY0 + 2, False, 503, 30.0,
                        "http_status", "HTTP 503", None, DAY0 + 1, DAY0 + 2, DAY0 + 2, None,
                        DAY0 + 3)
    assert found[c]._replace(id="", target="") == ("", "http", "", "", 30.0, True,
                                                   *[None] * 12)
    assert db.read(f"SELECT last_available, last_status, last_reason, last_detail,"
                    f" last_metrics, warning FROM monitor_state WHERE monitor = '{b}'") == [
        (1, 0, "tls_expiry", "expires in 5 days", None, "tls_expiry: expires in 5 days")]
    assert db.read(f"SELECT last_metrics FROM monitor_state WHERE monitor = '{a}'") == [
        (None,)]
    first = dataclasses.replace(checks[0], timestamp=DAY0 + 4, mono=4)
    flush_at(db, DAY0 + 100, lambda store: store.put_check(first))
    reader = db.reader()
    try:
        [summary] = [s for s in reader.monitor_summaries() if s.id == a]
    finally:
        reader.close()
    assert (summary.last_available, summary.last_metrics, summary.down_since) == (
        True, {"ttfb": 10.0}, None)


def test_each_tier_is_purged_by_its_own_retention(
        written: tuple[Backend, list[CheckResult]], tmp_path: Path) -> None:
    db = written[0].copy(tmp_path)
    before = {span: db.read( f"SELECT count(*) FROM aggregates WHERE span = {span}")[0][0]
              for span in (60, 600, HOUR, DAY)}
    reader = db.reader()
    try:
        days = reader.uptime_by_day(None, 7, END)
    finally:
        reader.close()
    raw, minutes, hours = END - 1.5 * DAY, END - 2.5 * DAY, END - 3.5 * DAY

    def purge(store: Any) -> None:
        store.purge(raw, {60: minutes, 600: minutes, 3600: hours, 86400: None})

    flush_at(db, END, purge)
    assert db.read(f"SELECT min(timestamp) >= {raw} FROM website_monitoring") == [(1,)]
    # Each span's first row is the first at or after its cut-off (a check every 7 minutes).
    for span, cut in ((60, minutes), (600, minutes), (HOUR, hours)):
        first = int(cut // span * span)
        for table in ("aggregates", "metric_aggs"):
            assert db.read(f"SELECT min(start) >= {first}, min(start) < {first} + 600"
                            f" FROM {table} WHERE span = {span}") == [(1, 1)], (table, span)
        assert db.read(f"SELECT count(*) < {before[span]} FROM aggregates WHERE"
                        f" span = {span}") == [(1,)]
    assert db.read(f"SELECT count(*) FROM aggregates WHERE span = {DAY}") == [(before[DAY],)]
    reader = db.reader()
    try:
        assert reader.uptime_by_day(None, 7, END) == days  # the days kept
    finally:
        reader.close()
    # The days kept three days: the uptime of the days before goes with their rows.
    flush_at(db, END, lambda store: store.purge(raw, {86400: END - 3 * DAY}))
    reader = db.reader()
    try:
        after = reader.uptime_by_day(None, 7, END)
    finally:
        reader.close()
    cut = int((END - 3 * DAY) // DAY * DAY)
    for monitor_id, found in after.items():
        for i, checks in enumerate(found.checks):
            day = found.first + i * DAY
            assert checks == (0 if day < cut else days[monitor_id].checks[i]), (monitor_id, i)
    assert db.read(f"SELECT min(start) FROM aggregates WHERE span = {DAY}") == [(cut,)]

