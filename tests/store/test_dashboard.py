"""The dashboard's one read, over a month of checks the real writer stored and rolled up:
its 24 h, 7 d and 30 d figures are the terminal's stats for the same windows (read from
other rows: days, today's counts and the near side of each window's first day), live or
not, at any hour; its sparkline, last failures and event position are what was stored. On
both stores (the `backend` fixture): the month written by SQLite's writer is copied into
PostgreSQL by `migrate` (the PostgreSQL writer's rollups are tests/store/test_rollups.py's),
a month at that store's pace would take minutes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.core.model import CheckResult
from monitor.stats import window_start, window_stats
from monitor.store.api import MonitorRow
from monitor.store.sqlite import dashboard
from monitor.store.sqlite.rollups import DAY, HOUR
from monitor.store.tiers import cover
from tests.store.conftest import BACKENDS, Backend, module_backend, reading
from tests.store.test_rollups import DAY0, MONITORS, feed, history

WINDOWS = (DAY, 7 * DAY, 30 * DAY)


@pytest.fixture(scope="module")
def month_files(tmp_path_factory: pytest.TempPathFactory,
                ) -> Callable[[float], tuple[Path, float]]:
    """Each month's file, written once for the module: pytest takes the two stores and
    the two times of day in an order that sets one time up twice, and a month takes the
    writer half a minute."""
    written: dict[float, tuple[Path, float]] = {}

    def month_ending(at: float) -> tuple[Path, float]:
        if at not in written:
            db = tmp_path_factory.mktemp("dashboard") / "monitoring.db"
            checks = history(DAY0, DAY0 + 32 * DAY + at)
            # 400 checks a flush (15 hours): the same rows as 40, written 5 times faster.
            feed(db, checks, [0.0], batch=400)
            written[at] = db, checks[-1].timestamp
        return written[at]
    return month_ending


@pytest.fixture(scope="module", params=[13 * HOUR + 1234, 21 * 60], ids=["afternoon",
                                                                          "past-midnight"])
def month_file(request: pytest.FixtureRequest,
               month_files: Callable[[float], tuple[Path, float]]) -> tuple[Path, float]:
    """A month and a bit of checks of three monitors, every 7 minutes, ending at a time
    of day, in an SQLite file; and the last check's time."""
    return month_files(request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def month(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          month_file: tuple[Path, float]) -> Iterator[tuple[Backend | Path, float]]:
    """The month in each store."""
    path, last = month_file
    if request.param == "sqlite":
        yield path, last
        return
    from monitor.store.migrate import migrate

    with module_backend(request, tmp_path_factory.mktemp("dashboard-pg")) as db:
        migrate(path, db.where)
        yield db, last


def _expected(db: Backend | Path, end: float) -> dict[str, list[tuple[int, int]]]:
    with reading(db) as reader:
        found: dict[str, list[tuple[int, int]]] = {m: [] for m in MONITORS}
        for seconds in WINDOWS:
            stats = window_stats(reader, window_start(end, seconds), end)
            for monitor_id in MONITORS:
                one = stats[monitor_id]
                up = round((one.availability or 0) * one.checks)
                found[monitor_id].append((one.checks, up))
        return found


@pytest.mark.parametrize("later", [1.0, 400.0, 2 * HOUR + 17, -3 * HOUR - 5.5],
                         ids=["now", "minutes-later", "hours-later", "not-live"])
def test_the_windows_are_the_stats_figures(month: tuple[Backend | Path, float],
                                           later: float) -> None:
    db, last = month
    end = last + later
    starts = [int(window_start(end, seconds)) for seconds in WINDOWS]
    with reading(db) as reader:
        read = reader.dashboard(starts, end)
    expected = _expected(db, end)
    assert all(sum(c for c, _u in windows) for windows in expected.values())
    assert read.windows == expected


def test_a_window_s_first_day_is_read_from_its_nearer_side() -> None:
    """The start at 02:00 takes the day less two hours; at 20:00 the four hours after."""
    rolled = DAY0 + 5 * DAY + 6 * HOUR
    end = rolled + 1800
    early, late = DAY0 + 2 * DAY + 2 * HOUR, DAY0 + 3 * DAY + 20 * HOUR
    heads, raws = dashboard.plan([early, late], end, True, rolled, 0)
    assert raws == []
    assert heads[0].first_day == DAY0 + 2 * DAY
    assert [(t.sign, t.range) for t in heads[0].terms] == [
        (-1, r) for r in cover(DAY0 + 2 * DAY, early, rolled, 0)]
    assert heads[1].first_day == DAY0 + 4 * DAY
    assert [(t.sign, t.range) for t in heads[1].terms] == [
        (1, r) for r in cover(late, DAY0 + 4 * DAY, rolled, 0)]
    with pytest.raises(ValueError):
        dashboard.plan([early + 30], end, True, rolled, 0)


def test_sparklines_failures_and_the_event_position(backend: Backend) -> None:
    minute = DAY0 + 10 * DAY + 1800  # the minute of "now"
    now = minute + 10.5
    fast, slow = MONITORS[0], MONITORS[1]
    store = backend.make(clock=lambda: now)
    try:
        store.set_monitors([MonitorRow(fast, "http", fast, interval=20),
                            MonitorRow(slow, "tcp", slow, interval=300),
                            MonitorRow(MONITORS[2], "http", MONITORS[2], interval=60)])
        # The fast one: 3 checks a minute for 30 minutes (10 ms, 10.33 ms... 40 ms), the
        # minute 15 minutes ago a timeout alone.
        for second in range(0, 1801, 20):
            ts = now - 1800 + second
            if second == 900:
                store.put_check(CheckResult(fast, ts, False, None, 5000.0, "timeout",
                                            "no answer in 5 s"))
            elif not 900 < second < 960:
                store.put_check(CheckResult(fast, ts, True, 200, 10.0 + second / 60))
        # The slow one: a check every 5 minutes over 3 hours, one of them down.
        for i, ts in enumerate(range(minute - 3 * 3600 + 5, minute, 300)):
            up = i != 30
            store.put_check(CheckResult(slow, float(ts), up, 200 if up else 503,
                                        0.456 if up else 1234.5,
                                        None if up else "http_status", "" if up else "503"))
        assert store.flush()
    finally:
        store.close()
    with reading(backend) as reader:
        read = reader.dashboard([int(window_start(now, DAY))], now)
        position = reader.event_span()[1]
    assert read.position == position
    spark = read.sparks[fast]
    values = spark.values.split(",")
    # Its last 20 minutes (its interval is shorter than a minute), a value each, to two
    # digits; the minute of the timeout alone has none.
    assert len(values) == 20
    assert values[0] == "21" and values[-1] == "40"
    assert values[(minute - 900 - (minute - 19 * 60)) // 60] == ""
    assert spark.last_minute == minute and spark.last_count == 1
    # The slow one: its checks of the last 20 of its intervals (100 minutes), the one
    # down (with its code: timed) among them.
    slow_values = read.sparks[slow].values.split(",")
    assert slow_values == ["0.46"] * 13 + ["1200"] + ["0.46"] * 5
    assert MONITORS[2] not in read.sparks  # no checks
    assert read.failures[fast].reason == "timeout"
    assert read.failures[fast].detail == "no answer in 5 s"
    assert read.failures[slow] == (minute - 3 * 3600 + 5 + 30 * 300, "http_status", "503")
    assert MONITORS[2] not in read.failures
