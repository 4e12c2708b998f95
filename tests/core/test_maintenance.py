"""Maintenance windows: the time math of one-off and recurring windows (the days the clocks
change above all, with the exact UTC instants), `current` across windows, and the
`maintenance` config key with every message in full."""

from __future__ import annotations

import json
import pickle
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config import _pairs_hook
from monitor.config import maintenance as config
from monitor.core.errors import ConfigError
from monitor.core.fields import Fields
from monitor.core.windows import DAY_NAMES, OneOff, Recurring, Window, current, duration
from tests.support.app import run_app
from tests.support.clock import Clock
from tests.support.config import DURATION, config_error
from tests.support.db import reading

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
EVERY_DAY = frozenset(range(7))


def utc(*parts: int) -> float:
    """Epoch seconds of a UTC date and time: utc(2026, 3, 29, 1, 30)."""
    return datetime(*parts, tzinfo=UTC).timestamp()


def shown(pair: tuple[float, float] | None) -> tuple[str, str] | None:
    """An occurrence as UTC times, for readable failures."""
    if pair is None:
        return None
    start, end = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") for t in pair)
    return (start, end)


def weekly(day: int, at: str, seconds: float, zone: str) -> Recurring:
    hour, minute = map(int, at.split(":"))
    return Recurring(frozenset({day}), hour, minute, seconds, zone)


def reference(window: Recurring, at: float) -> tuple[float, float] | None:
    """window_at the slow way: every occurrence starting within 10 days before `at` (UTC
    dates, wide of any zone's offset), each start read with fold=0 as the module says; of
    those containing `at`, the one ending last."""
    tz = ZoneInfo(window.zone)
    today = datetime.fromtimestamp(at, UTC).date()
    found = None
    for back in range(-2, 11):
        day = today - timedelta(days=back)
        if day.weekday() not in window.days:
            continue
        start = datetime(day.year, day.month, day.day, window.hour, window.minute,
                         tzinfo=tz).timestamp()
        end = start + window.seconds
        if start <= at < end and (found is None or end > found[1]):
            found = (start, end)
    return found


# --------------------------------------------------------------------------- one-off


def test_one_off_from_is_inside_to_is_not() -> None:
    window = OneOff(utc(2026, 12, 1, 2), utc(2026, 12, 1, 4))
    start, end = window.start, window.end
    assert window.window_at(start) == (start, end)
    assert window.window_at(start + 3600) == (start, end)
    assert window.window_at(end - 0.001) == (start, end)
    assert window.window_at(end) is None
    assert window.window_at(start - 0.001) is None
    assert window.describe() == "2026-12-01T02:00:00Z to 2026-12-01T04:00:00Z"


def test_one_off_describe_keeps_fractions_of_a_second() -> None:
    assert OneOff(utc(2026, 1, 1) + 0.5, utc(2026, 1, 2)).describe() == (
        "2026-01-01T00:00:00.500000Z to 2026-01-02T00:00:00Z")


@pytest.mark.parametrize("start, end", [(10.0, 10.0), (10.0, 5.0), (float("nan"), 1.0)])
def test_one_off_must_end_after_it_starts(start: float, end: float) -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        OneOff(start, end)


# --------------------------------------------------------------------------- DST


# (window's day, time, seconds; instant asked; the occurrence expected, UTC)
PARIS = [
    # 2026-03-29, spring forward: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
    # 02:30 does not exist: read with the offset before the gap, 02:30+01:00 = 01:30 UTC,
    # which the clocks show as 03:30 CEST. It lasts 3600 s: to 02:30 UTC (04:30 CEST).
    (SUN, "02:30", 3600, (2026, 3, 29, 1, 30), ((2026, 3, 29, 1, 30), (2026, 3, 29, 2, 30))),
    (SUN, "02:30", 3600, (2026, 3, 29, 2, 29, 59),
     ((2026, 3, 29, 1, 30), (2026, 3, 29, 2, 30))),
    (SUN, "02:30", 3600, (2026, 3, 29, 1, 29, 59), None),
    (SUN, "02:30", 3600, (2026, 3, 29, 2, 30), None),
    # 02:00, the first instant of the gap: 01:00 UTC, 03:00 CEST, the gap's end.
    (SUN, "02:00", 3600, (2026, 3, 29, 1, 0), ((2026, 3, 29, 1, 0), (2026, 3, 29, 2, 0))),
    # Starting before the gap, crossing it: 01:30 CET to 03:30 CEST is one real hour.
    (SUN, "01:30", 3600, (2026, 3, 29, 1, 15), ((2026, 3, 29, 0, 30), (2026, 3, 29, 1, 30))),
    (SUN, "01:30", 3600, (2026, 3, 29, 1, 30), None),
    # Starting after the gap: 03:00 CEST = 01:00 UTC, as the gap's 02:00 (same instant).
    (SUN, "03:00", 3600, (2026, 3, 29, 1, 0), ((2026, 3, 29, 1, 0), (2026, 3, 29, 2, 0))),
    # 2026-10-25, fall back: 03:00 CEST (01:00 UTC) becomes 02:00 CET, 02:00-02:59 twice.
    # 02:30 starts at its first occurrence (CEST, 00:30 UTC) only, for 3600 s.
    (SUN, "02:30", 3600, (2026, 10, 25, 0, 30),
     ((2026, 10, 25, 0, 30), (2026, 10, 25, 1, 30))),
    (SUN, "02:30", 3600, (2026, 10, 25, 1, 29, 59),
     ((2026, 10, 25, 0, 30), (2026, 10, 25, 1, 30))),
    # 01:30 UTC is 02:30 CET, the second 02:30: no second start.
    (SUN, "02:30", 3600, (2026, 10, 25, 1, 30), None),
    (SUN, "02:30", 3600, (2026, 10, 25, 2, 0), None),
    # Starting before the repeated hour, across it: 01:30 CEST + 2 h = 02:30 CET.
    (SUN, "01:30", 7200, (2026, 10, 25, 1, 15),
     ((2026, 10, 24, 23, 30), (2026, 10, 25, 1, 30))),
    # The days around the changes keep their own offsets.
    (SAT, "02:30", 3600, (2026, 3, 28, 1, 45), ((2026, 3, 28, 1, 30), (2026, 3, 28, 2, 30))),
    (MON, "02:30", 3600, (2026, 3, 30, 0, 45), ((2026, 3, 30, 0, 30), (2026, 3, 30, 1, 30))),
    (SAT, "02:30", 3600, (2026, 10, 24, 0, 45),
     ((2026, 10, 24, 0, 30), (2026, 10, 24, 1, 30))),
    (MON, "02:30", 3600, (2026, 10, 26, 1, 45),
     ((2026, 10, 26, 1, 30), (2026, 10, 26, 2, 30))),
]

NEW_YORK = [
    # 2026-03-08, spring forward: 02:00 EST (07:00 UTC) becomes 03:00 EDT.
    # 02:30 does not exist: 02:30-05:00 = 07:30 UTC = 03:30 EDT.
    (SUN, "02:30", 3600, (2026, 3, 8, 7, 30), ((2026, 3, 8, 7, 30), (2026, 3, 8, 8, 30))),
    (SUN, "02:30", 3600, (2026, 3, 8, 7, 29), None),
    (SUN, "02:30", 3600, (2026, 3, 8, 8, 30), None),
    (SUN, "01:30", 3600, (2026, 3, 8, 7, 15), ((2026, 3, 8, 6, 30), (2026, 3, 8, 7, 30))),
    # 2026-11-01, fall back: 02:00 EDT (06:00 UTC) becomes 01:00 EST, 01:00-01:59 twice.
    # 01:30 starts at 01:30 EDT = 05:30 UTC only, to 06:30 UTC (the second 01:30).
    (SUN, "01:30", 3600, (2026, 11, 1, 5, 30), ((2026, 11, 1, 5, 30), (2026, 11, 1, 6, 30))),
    (SUN, "01:30", 3600, (2026, 11, 1, 6, 29), ((2026, 11, 1, 5, 30), (2026, 11, 1, 6, 30))),
    (SUN, "01:30", 3600, (2026, 11, 1, 6, 30), None),
    (SUN, "01:30", 3600, (2026, 11, 1, 6, 45), None),  # 01:45 EST, the second pass
    # 00:30 EDT for 3 h: to 02:30 EST, 07:30 UTC.
    (SUN, "00:30", 3 * 3600, (2026, 11, 1, 7, 0), ((2026, 11, 1, 4, 30), (2026, 11, 1, 7, 30))),
    # 02:30, after the repeated hour: EST, 07:30 UTC.
    (SUN, "02:30", 3600, (2026, 11, 1, 7, 30), ((2026, 11, 1, 7, 30), (2026, 11, 1, 8, 30))),
]


def _check(zone: str, day: int, at_time: str, seconds: float, at: tuple[int, ...],
           expected: tuple[tuple[int, ...], tuple[int, ...]] | None) -> None:
    window = weekly(day, at_time, seconds, zone)
    got = window.window_at(utc(*at))
    want = None if expected is None else (utc(*expected[0]), utc(*expected[1]))
    assert shown(got) == shown(want)
    assert got == want
    if got is not None:
        assert got[1] - got[0] == seconds  # real elapsed time, whatever the clocks do
    assert got == reference(window, utc(*at))


@pytest.mark.parametrize("day, at_time, seconds, at, expected", PARIS)
def test_dst_europe_paris(day: int, at_time: str, seconds: float, at: tuple[int, ...],
                          expected: Any) -> None:
    _check("Europe/Paris", day, at_time, seconds, at, expected)


@pytest.mark.parametrize("day, at_time, seconds, at, expected", NEW_YORK)
def test_dst_america_new_york(day: int, at_time: str, seconds: float, at: tuple[int, ...],
                             expected: Any) -> None:
    _check("America/New_York", day, at_time, seconds, at, expected)


def test_every_local_day_of_2026_has_one_daily_window_of_an_hour() -> None:
    """Every hour (and half hour) of 2026 asked, for 02:30 Europe/Paris daily: each local
    day has exactly one occurrence, 3600 s long, at 02:30 local time except the day 02:30
    does not exist (03:30 CEST) -- never two on the day 02:30 happens twice."""
    tz = ZoneInfo("Europe/Paris")
    window = Recurring(EVERY_DAY, 2, 30, 3600, "Europe/Paris")
    found: dict[date, set[tuple[float, float]]] = {}
    at = utc(2025, 12, 31)
    while at < utc(2027, 1, 2):
        hit = window.window_at(at)
        assert hit == reference(window, at)
        if hit is not None:
            assert hit[0] <= at < hit[1]
            found.setdefault(datetime.fromtimestamp(hit[0], tz).date(), set()).add(hit)
        at += 1800
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert set(days) <= set(found)
    for day in days:
        (start, end), = found[day]
        assert end - start == 3600
        local = datetime.fromtimestamp(start, tz)
        expected = "03:30" if day == date(2026, 3, 29) else "02:30"
        assert local.strftime("%H:%M") == expected, day
    # The two days the clocks change, in UTC.
    assert found[date(2026, 3, 29)] == {(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30))}
    assert found[date(2026, 10, 25)] == {(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30))}


def test_a_weeklong_window_is_a_week_of_real_time() -> None:
    # Sunday 02:00 Europe/Paris for 604800 s: back to back in winter; across the spring
    # change the week ends at 03:00 CEST, which is when the next one (02:00 in the gap)
    # starts; across the autumn change it ends an hour before the next starts.
    window = weekly(SUN, "02:00", 604800, "Europe/Paris")
    march = (utc(2026, 3, 22, 1), utc(2026, 3, 29, 1))
    assert window.window_at(utc(2026, 3, 25)) == march
    assert window.window_at(utc(2026, 3, 29, 0, 59)) == march
    spring = (utc(2026, 3, 29, 1), utc(2026, 4, 5, 1))  # to 03:00 CEST
    assert window.window_at(utc(2026, 3, 29, 1)) == spring
    assert window.window_at(utc(2026, 4, 4, 23, 59)) == spring
    # 2026-04-05 02:00 CEST (00:00 UTC) starts the next while this one runs: the later.
    assert window.window_at(utc(2026, 4, 5, 0, 30)) == (utc(2026, 4, 5, 0), utc(2026, 4, 12, 0))
    october = (utc(2026, 10, 25, 0), utc(2026, 11, 1, 0))
    assert window.window_at(utc(2026, 10, 25, 0)) == october
    assert window.window_at(utc(2026, 10, 31, 23, 59)) == october
    assert window.window_at(utc(2026, 11, 1, 0, 30)) is None  # 01:30 CET: not yet 02:00
    assert window.window_at(utc(2026, 11, 1, 1)) == (utc(2026, 11, 1, 1), utc(2026, 11, 8, 1))


def test_a_start_time_seen_again_after_midnight_when_the_clocks_go_back() -> None:
    # St. John's went back from 00:01 NDT to 23:01 NST the day before (until 2011): on
    # 2010-11-07, Sunday's 00:00 window had begun while the local date was Saturday again.
    window = weekly(SUN, "00:00", 3600, "America/St_Johns")
    at = utc(2010, 11, 7, 2, 45)
    assert datetime.fromtimestamp(at, ZoneInfo("America/St_Johns")).day == 6  # Saturday
    assert window.window_at(at) == (utc(2010, 11, 7, 2, 30), utc(2010, 11, 7, 3, 30))
    # Casey station, 2010-03-05 02:00 +11 back to 2010-03-04 23:00 +08.
    casey = weekly(FRI, "00:00", 4 * 3600, "Antarctica/Casey")
    assert casey.window_at(utc(2010, 3, 4, 15, 30)) == (utc(2010, 3, 4, 13), utc(2010, 3, 4, 17))


def test_a_day_skipped_by_the_zone() -> None:
    # Samoa skipped 2011-12-30 (-10 to +14): its 02:00 is read with the offset before, the
    # same instant as 2011-12-31's 02:00. One window, not two.
    window = Recurring(EVERY_DAY, 2, 0, 3600, "Pacific/Apia")
    assert window.window_at(utc(2011, 12, 30, 12, 30)) == (
        utc(2011, 12, 30, 12), utc(2011, 12, 30, 13))
    assert window.window_at(utc(2011, 12, 29, 12, 30)) == (
        utc(2011, 12, 29, 12), utc(2011, 12, 29, 13))


# Zones, and the years of their clock changes looked at: DST at 02:00, at midnight, at
# 00:01 back across midnight (St. John's until 2011), by 30 minutes (Lord Howe), a day
# skipped (Apia, 2011), back 3 hours across midnight (Casey, 2010), Ramadan (Casablanca).
ZONES = [("Europe/Paris", 2024, 2028), ("America/New_York", 2024, 2028),
         ("America/St_Johns", 2009, 2013), ("Australia/Lord_Howe", 2025, 2027),
         ("Antarctica/Casey", 2009, 2012), ("Pacific/Apia", 2010, 2013),
         ("America/Santiago", 2024, 2028), ("Asia/Beirut", 2025, 2027),
         ("Africa/Casablanca", 2025, 2027), ("Pacific/Chatham", 2025, 2027),
         ("Asia/Kathmandu", 2025, 2027), ("UTC", 2025, 2027)]


@pytest.mark.parametrize("zone, first, last", ZONES)
def test_matches_the_slow_way_around_every_clock_change(zone: str, first: int,
                                                        last: int) -> None:
    """Every half hour (at random seconds) of the three days around each clock change,
    for windows at times near midnight and in the usual gaps, short and long."""
    tz = ZoneInfo(zone)
    rng = random.Random(zone)
    windows = [Recurring(frozenset({SUN}), 2, 30, 3600, zone),
               Recurring(EVERY_DAY, 0, 0, 5400, zone),
               Recurring(frozenset({FRI, SAT, SUN}), 23, 45, 2 * 3600, zone),
               Recurring(frozenset({rng.randrange(7)}), 1, 15, 3 * 86400 + 1800, zone),
               Recurring(frozenset({SAT}), 3, 0, 604800, zone),
               Recurring(EVERY_DAY, 12, 0, 30 * 3600, zone)]
    changes = []
    at, stop = utc(first, 1, 1), utc(last, 1, 1)
    offset = datetime.fromtimestamp(at, tz).utcoffset()
    while at < stop:  # every 6 hours: no zone changes twice that quickly
        now = datetime.fromtimestamp(at, tz).utcoffset()
        if now != offset:
            changes.append(at)
            offset = now
        at += 6 * 3600
    assert changes or zone in ("UTC", "Asia/Kathmandu")
    for change in changes or [utc(first, 3, 29)]:
        for step in range(-72, 72):
            at = change + step * 1800 + rng.random() * 1800
            for window in windows:
                assert window.window_at(at) == reference(window, at), (window, shown((at, at)))


# --------------------------------------------------------------------------- recurring


def test_a_window_crossing_midnight_into_the_next_day() -> None:
    window = weekly(SAT, "23:00", 7200, "Europe/Paris")
    occurrence = (utc(2026, 6, 6, 21), utc(2026, 6, 6, 23))  # Saturday 23:00 CEST
    assert window.window_at(utc(2026, 6, 6, 22, 30)) == occurrence  # Sunday 00:30 CEST
    assert window.window_at(utc(2026, 6, 6, 23)) is None  # Sunday 01:00
    assert window.window_at(utc(2026, 6, 6, 20, 59)) is None


def test_a_window_crossing_the_end_of_the_week_and_the_year() -> None:
    window = weekly(SUN, "23:00", 7200, "UTC")  # Sunday is 6, Monday 0
    assert window.window_at(utc(2026, 6, 8, 0, 30)) == (utc(2026, 6, 7, 23), utc(2026, 6, 8, 1))
    new_year = weekly(THU, "23:00", 7200, "UTC")  # 2026-12-31 is a Thursday
    assert new_year.window_at(utc(2027, 1, 1, 0, 30)) == (
        utc(2026, 12, 31, 23), utc(2027, 1, 1, 1))


def test_several_days() -> None:
    window = Recurring(frozenset({MON, WED, FRI}), 9, 0, 1800, "UTC")
    # 2026-06-01 is a Monday.
    for offset, active in enumerate([True, False, True, False, True, False, False]):
        day = 1 + offset
        hit = window.window_at(utc(2026, 6, day, 9, 10))
        assert hit == ((utc(2026, 6, day, 9), utc(2026, 6, day, 9, 30)) if active else None)
        assert window.window_at(utc(2026, 6, day, 9, 30)) is None
        assert window.window_at(utc(2026, 6, day, 8, 59)) is None
    assert window.describe() == "mon,wed,fri at 09:00 UTC for 30m"


def test_every_day() -> None:
    window = Recurring(EVERY_DAY, 2, 0, 3600, "Asia/Tokyo")  # +09:00, no DST
    for day in range(1, 15):
        assert window.window_at(utc(2026, 6, day, 17, 30)) == (
            utc(2026, 6, day, 17), utc(2026, 6, day, 18))
        assert window.window_at(utc(2026, 6, day, 18)) is None
    assert window.describe() == "daily at 02:00 Asia/Tokyo for 1h00m"


def test_overlapping_occurrences_of_one_window_give_the_later() -> None:
    window = Recurring(EVERY_DAY, 2, 0, 25 * 3600, "UTC")
    assert window.window_at(utc(2026, 6, 2, 2, 30)) == (utc(2026, 6, 2, 2), utc(2026, 6, 3, 3))
    assert window.window_at(utc(2026, 6, 2, 1, 30)) == (utc(2026, 6, 1, 2), utc(2026, 6, 2, 3))


def test_the_first_instant_is_inside_the_last_is_not() -> None:
    window = weekly(WED, "10:15", 60, "UTC")
    start = utc(2026, 6, 3, 10, 15)
    assert window.window_at(start) == (start, start + 60)
    assert window.window_at(start + 59.999) == (start, start + 60)
    assert window.window_at(start + 60) is None
    assert window.window_at(start - 0.001) is None


def test_describe() -> None:
    assert weekly(SUN, "02:00", 3600, "Europe/Paris").describe() == (
        "sun at 02:00 Europe/Paris for 1h00m")
    assert Recurring(frozenset({SUN, SAT}), 23, 5, 604800, "UTC").describe() == (
        "sat,sun at 23:05 UTC for 7d00h00m")


@pytest.mark.parametrize("seconds, text", [
    (0.5, "0.5s"), (45, "45s"), (90, "1m30s"), (1800, "30m"), (3600, "1h00m"),
    (5400, "1h30m"), (86400, "1d00h00m"), (97261, "1d03h01m01s"), (604800, "7d00h00m"),
])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("args, message", [
    ((frozenset(), 2, 0, 60, "UTC"), "days must be"),
    ((frozenset({7}), 2, 0, 60, "UTC"), "days must be"),
    ((frozenset({0}), 24, 0, 60, "UTC"), "not a time of day"),
    ((frozenset({0}), 2, 60, 60, "UTC"), "not a time of day"),
    ((frozenset({0}), 2, 0, 0, "UTC"), "seconds must be"),
    ((frozenset({0}), 2, 0, 604801, "UTC"), "seconds must be"),
    ((frozenset({0}), 2, 0, float("nan"), "UTC"), "seconds must be"),
])
def test_recurring_checks_its_fields(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Recurring(*args)


def test_windows_compare_hash_and_pickle_by_their_fields() -> None:
    one = Recurring(frozenset({SUN}), 2, 0, 3600, "Europe/Paris")
    assert one == weekly(SUN, "02:00", 3600, "Europe/Paris")
    assert hash(one) == hash(weekly(SUN, "02:00", 3600, "Europe/Paris"))
    assert one != weekly(SUN, "02:00", 3600, "Europe/Berlin")
    assert repr(one) == ("Recurring(days=frozenset({6}), hour=2, minute=0, seconds=3600,"
                         " zone='Europe/Paris')")
    copy = pickle.loads(pickle.dumps(one))
    assert copy == one
    assert copy.window_at(utc(2026, 3, 29, 1, 30)) == one.window_at(utc(2026, 3, 29, 1, 30))


# --------------------------------------------------------------------------- current


def test_current_picks_the_occurrence_ending_last() -> None:
    short = OneOff(utc(2026, 6, 7, 1), utc(2026, 6, 7, 3))
    long = OneOff(utc(2026, 6, 7, 2), utc(2026, 6, 7, 6))
    weekly_window = weekly(SUN, "02:30", 3600, "UTC")  # 2026-06-07 is a Sunday
    windows: list[Window] = [short, long, weekly_window]
    assert current(windows, utc(2026, 6, 7, 1, 30)) == (short.start, short.end)
    assert current(windows, utc(2026, 6, 7, 2, 45)) == (long.start, long.end)
    assert current([short, weekly_window], utc(2026, 6, 7, 2, 45)) == (
        utc(2026, 6, 7, 2, 30), utc(2026, 6, 7, 3, 30))
    assert current([weekly_window, short], utc(2026, 6, 7, 2, 45)) == (
        utc(2026, 6, 7, 2, 30), utc(2026, 6, 7, 3, 30))
    assert current(windows, utc(2026, 6, 7, 6)) is None
    assert current([], utc(2026, 6, 7, 2)) is None
    assert current((short,), utc(2026, 6, 7, 2)) == (short.start, short.end)


# --------------------------------------------------------------------------- config


def parse(value: Any, path: str = "maintenance") -> tuple[Window, ...] | None:
    return config.parse(Fields("config.json"), {"maintenance": value}, path)


def test_absent_is_none_and_an_empty_list_is_no_window() -> None:
    assert config.parse(Fields("config.json"), {"URL": "https://a.example/"}, "x") is None
    assert parse([]) == ()


def test_a_one_off_window() -> None:
    assert parse({"from": "2026-12-01T02:00:00Z", "to": "2026-12-01T04:00:00+01:00"}) == (
        OneOff(utc(2026, 12, 1, 2), utc(2026, 12, 1, 3)),)
    assert parse({"to": "2026-12-01T02:00:00.5-05:00", "from": "2026-12-01 02:00Z"}) == (
        OneOff(utc(2026, 12, 1, 2), utc(2026, 12, 1, 7) + 0.5),)


def test_a_recurring_window() -> None:
    assert parse({"every": ["sun"], "at": "02:00", "for": 3600,
                  "timezone": "Europe/Paris"}) == (
        Recurring(frozenset({SUN}), 2, 0, 3600.0, "Europe/Paris"),)
    assert parse({"every": "day", "at": "23:59", "for": 0.5}) == (
        Recurring(EVERY_DAY, 23, 59, 0.5, "UTC"),)
    assert parse({"every": ["SAT", "Sun", "mon"], "at": "00:00", "for": 604800}) == (
        Recurring(frozenset({SAT, SUN, MON}), 0, 0, 604800.0, "UTC"),)
    assert parse({"every": "Day", "at": "12:30", "for": 60}) == (
        Recurring(EVERY_DAY, 12, 30, 60.0, "UTC"),)


def test_a_list_of_windows_in_order() -> None:
    windows = parse([
        {"every": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "at": "01:00", "for": 60},
        {"from": "2026-12-01T02:00:00Z", "to": "2026-12-01T04:00:00Z"},
    ], "websites[0].maintenance")
    assert windows == (Recurring(EVERY_DAY, 1, 0, 60.0, "UTC"),
                       OneOff(utc(2026, 12, 1, 2), utc(2026, 12, 1, 4)))


ISO = "must be an ISO 8601 time with a zone (Z or +01:00), e.g. 2026-12-01T02:00:00Z"
DAYS = "mon, tue, wed, thu, fri, sat, sun"
FORMS = "a window is one-off (from, to) or recurring (every, at, for, timezone)"
TIME = 'must be a time of day "HH:MM" from 00:00 to 23:59, e.g. "02:00"'
ONE = {"from": "2026-12-01T02:00:00Z", "to": "2026-12-01T04:00:00Z"}
WEEKLY = {"every": ["sun"], "at": "02:00", "for": 3600}


@pytest.mark.parametrize("value, message", [
    # the key itself
    ("sundays", "maintenance: must be a maintenance window (an object) or a list of them"),
    (None, "maintenance: must be a maintenance window (an object) or a list of them"),
    ([ONE, "x"], f"maintenance[1]: must be an object: {FORMS}"),
    ({}, f"maintenance: must not be empty: {FORMS}"),
    ({**ONE, "From": 1}, 'maintenance.From: unknown key (did you mean "from"?)'),
    ({**WEEKLY, "tz": "UTC"}, "maintenance.tz: unknown key"),
    ({**WEEKLY, "timeZone": "UTC"}, 'maintenance.timeZone: unknown key (did you mean'
                                    ' "timezone"?)'),
    # the forms mixed, keys missing
    ({**ONE, "every": "day"}, f'maintenance.every: cannot be mixed with "from": {FORMS}'),
    ({"at": "02:00", "to": "2026-12-01T04:00:00Z"},
     f'maintenance.to: cannot be mixed with "at": {FORMS}'),
    ({"timezone": "UTC", **ONE}, f'maintenance.from: cannot be mixed with "timezone": {FORMS}'),
    ({"from": "2026-12-01T02:00:00Z"}, "maintenance.to: is required"),
    ({"to": "2026-12-01T02:00:00Z"}, "maintenance.from: is required"),
    ({"at": "02:00", "for": 60}, "maintenance.every: is required"),
    ({"every": "day", "for": 60}, "maintenance.at: is required"),
    ({"every": "day", "at": "02:00"}, "maintenance.for: is required"),
    ({"timezone": "UTC"}, "maintenance.every: is required"),
    # one-off
    ({**ONE, "from": "2026-12-01T02:00:00"}, f"maintenance.from: {ISO}"),
    ({**ONE, "from": "2026-12-01"}, f"maintenance.from: {ISO}"),
    ({**ONE, "from": "tomorrow"}, f"maintenance.from: {ISO}"),
    ({**ONE, "from": " 2026-12-01T02:00:00Z"}, f"maintenance.from: {ISO}"),
    ({**ONE, "from": 1796090400}, f"maintenance.from: {ISO}"),
    ({**ONE, "to": "2026-12-01T04:00:00 Europe/Paris"}, f"maintenance.to: {ISO}"),
    ({**ONE, "to": "2026-12-01T03:00:00+01:00"}, "maintenance.to: must be after from"),
    ({**ONE, "to": "2026-12-01T01:00:00Z"}, "maintenance.to: must be after from"),
    ({**ONE, "from": "0001-01-01T00:00:00+01:00"},
     "maintenance.from: is out of range (UTC years 1 to 9999)"),
    ({**ONE, "to": "9999-12-31T23:59:59-01:00"},
     "maintenance.to: is out of range (UTC years 1 to 9999)"),
    # every
    ({**WEEKLY, "every": "sun"}, f'maintenance.every: must be "day" or a non-empty list of'
                                 f" days ({DAYS})"),
    ({**WEEKLY, "every": []}, f'maintenance.every: must be "day" or a non-empty list of'
                              f" days ({DAYS})"),
    ({**WEEKLY, "every": 6}, f'maintenance.every: must be "day" or a non-empty list of'
                             f" days ({DAYS})"),
    ({**WEEKLY, "every": ["sun", 6]}, f"maintenance.every[1]: must be one of: {DAYS}"),
    ({**WEEKLY, "every": ["sunday"]}, f'maintenance.every[0]: unknown day "sunday" (days:'
                                      f" {DAYS})"),
    ({**WEEKLY, "every": ["day"]}, f'maintenance.every[0]: unknown day "day" (days: {DAYS})'),
    ({**WEEKLY, "every": ["sun", "mon", "SUN"]},
     'maintenance.every[2]: "SUN" appears more than once'),
    # at
    ({**WEEKLY, "at": "2:00"}, f"maintenance.at: {TIME}"),
    ({**WEEKLY, "at": "24:00"}, f"maintenance.at: {TIME}"),
    ({**WEEKLY, "at": "12:60"}, f"maintenance.at: {TIME}"),
    ({**WEEKLY, "at": "02:00:00"}, f"maintenance.at: {TIME}"),
    ({**WEEKLY, "at": "0٢:00"}, f"maintenance.at: {TIME}"),  # an Arabic-Indic digit
    ({**WEEKLY, "at": 200}, f"maintenance.at: {TIME}"),
    # for
    ({**WEEKLY, "for": 0}, f"maintenance.for: {DURATION}"),
    ({**WEEKLY, "for": -60}, f"maintenance.for: {DURATION}"),
    ({**WEEKLY, "for": "an hour"}, f"maintenance.for: {DURATION}"),
    ({**WEEKLY, "for": True}, f"maintenance.for: {DURATION}"),
    ({**WEEKLY, "for": 604801}, "maintenance.for: must be at most 7d"),
    # timezone
    ({**WEEKLY, "timezone": "Mars/Base"},
     'maintenance.timezone: unknown time zone "Mars/Base" (an IANA name such as'
     " Europe/Paris)"),
    ({**WEEKLY, "timezone": "europe/paris"},
     'maintenance.timezone: unknown time zone "europe/paris" (did you mean "Europe/Paris"?)'),
    ({**WEEKLY, "timezone": ""},
     'maintenance.timezone: unknown time zone "" (an IANA name such as Europe/Paris)'),
    ({**WEEKLY, "timezone": "../../etc/passwd"},
     'maintenance.timezone: unknown time zone "../../etc/passwd" (an IANA name such as'
     " Europe/Paris)"),
    ({**WEEKLY, "timezone": "posixrules"},
     'maintenance.timezone: unknown time zone "posixrules" (an IANA name such as'
     " Europe/Paris)"),
    ({**WEEKLY, "timezone": "Europe\nParis"},
     'maintenance.timezone: unknown time zone "Europe\\nParis" (an IANA name such as'
     " Europe/Paris)"),
    ({**WEEKLY, "timezone": 1},
     "maintenance.timezone: must be an IANA time zone name such as Europe/Paris"),
])
def test_config_errors(value: Any, message: str) -> None:
    assert config_error(parse, value) == f"config.json: {message}"


@pytest.mark.parametrize("value, message", [
    ([ONE, {**WEEKLY, "at": "25:00"}], f"websites[0].maintenance[1].at: {TIME}"),
    ({**WEEKLY, "at": "25:00"}, f"websites[0].maintenance.at: {TIME}"),
    ([ONE, {"from": "2026-12-01T02:00:00Z"}], "websites[0].maintenance[1].to: is required"),
    ([ONE, 3], f"websites[0].maintenance[1]: must be an object: {FORMS}"),
    ([WEEKLY, {**WEEKLY, "every": ["mon", "fri", "x"]}],
     f'websites[0].maintenance[1].every[2]: unknown day "x" (days: {DAYS})'),
])
def test_config_error_paths_under_a_site(value: Any, message: str) -> None:
    assert config_error(parse, value, "websites[0].maintenance") == f"config.json: {message}"


def test_a_key_written_twice() -> None:
    doc = json.loads('{"maintenance": {"every": "day", "at": "01:00", "at": "02:00",'
                     ' "for": 60}}', object_pairs_hook=_pairs_hook)
    with pytest.raises(ConfigError) as caught:
        config.parse(Fields("config.json"), doc, "maintenance")
    assert str(caught.value) == "config.json: maintenance.at: key appears more than once"


def test_every_day_name() -> None:
    for index, name in enumerate(DAY_NAMES):
        window, = parse({**WEEKLY, "every": [name]})
        assert window == Recurring(frozenset({index}), 2, 0, 3600.0, "UTC")


# --------------------------------------------------------------------------- on NAME


def test_maintenance_on_a_name_takes_its_plugged_monitors_and_no_other(tmp_path) -> None:
    # Issue 21, 6: `maintenance on root` for http://host:18081 also took
    # http://host:18081/api, and `disk:/var` took `disk:/var/lib`: ids that merely begin
    # with the id and "/". Only the monitors the site's `plugins` made go with it.
    (tmp_path / "config.json").write_text(json.dumps({"plugins": ["tls"], "websites": [
        {"URL": "http://127.0.0.1:18081", "name": "root"},
        {"URL": "http://127.0.0.1:18081/api", "name": "api"},
        {"URL": "https://127.0.0.1:18443", "name": "shop"},
        {"URL": "https://127.0.0.1:18443/admin", "name": "admin"},
        # A monitor of its own whose id looks like a plugged one of the shop's.
        {"type": "tcp", "host": "127.0.0.1", "port": 18443,
         "id": "https://127.0.0.1:18443/tcp"},
        {"type": "disk", "path": "/var"},
        {"type": "disk", "path": "/var/lib"},
    ]}))

    from monitor.store.sqlite.writer import Store

    Store(tmp_path / "monitoring.db").close()  # what -m makes at its start

    def on(*names: str) -> list[str]:
        done = run_app(["maintenance", "on", *names], tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def in_maintenance() -> set[str]:
        with reading(tmp_path / "monitoring.db") as reader:
            return set(reader.maintenance())

    assert on("root") == ["root: maintenance on"]
    assert in_maintenance() == {"http://127.0.0.1:18081"}
    assert on("disk:/var") == ["disk:/var: maintenance on"]
    assert in_maintenance() == {"http://127.0.0.1:18081", "disk:/var"}
    # A site with a plugin: the plugin's monitor goes with it, not the site beside it, nor a
    # monitor of its own named alike.
    assert on("shop") == ["shop: maintenance on", "shop/tls: maintenance on"]
    assert in_maintenance() == {"http://127.0.0.1:18081", "disk:/var",
                                "https://127.0.0.1:18443", "https://127.0.0.1:18443/tls"}


# --------------------------------------------------------------------------- the service
# monitor.maintenance: what the engine and the `maintenance` command both ask, from the
# config windows and the set in a real database, on a clock the test moves.

# Monday 2026-06-01 02:00 UTC: the start of the config window below.
T0 = utc(2026, 6, 1, 2, 0)
SERVICE_CONFIG = {"plugins": ["tls"], "monitors": [
    {"URL": "https://shop.example/", "name": "shop",
     "maintenance": {"every": ["mon"], "at": "02:00", "for": "1h"}},
    {"URL": "https://api.example/", "name": "api"},
    {"type": "tcp", "host": "db.example", "port": 5432, "id": "https://shop.example/tcp"},
]}


@pytest.fixture()
def service_db(tmp_path):
    from monitor.store.sqlite.writer import Store

    path = tmp_path / "monitoring.db"
    Store(path).close()  # what -m makes at its start
    return str(path)


def service(clock: Clock):
    from monitor.config import parse_config
    from monitor.maintenance import Maintenance

    monitors = parse_config(json.dumps(SERVICE_CONFIG)).monitors
    return Maintenance(monitors, clock=clock), {m.label: m for m in monitors}


def polled(maintenance, db: str) -> tuple[list[tuple[str, Any]], list[str]]:
    from monitor.store.sqlite.queries import open_reader

    reader = open_reader(db)
    try:
        entered, left = maintenance.poll(reader)
    finally:
        reader.close()
    return [(m.label, p) for m, p in entered], [m.label for m in left]


def test_the_service_answers_from_the_config_windows(tmp_path) -> None:
    from monitor.maintenance import Period

    clock = Clock(T0 - 1)
    maintenance, by_label = service(clock)
    shop, api = by_label["shop"].id, by_label["api"].id
    assert maintenance.at(shop) is None
    clock.now = T0
    assert maintenance.at(shop) == Period(T0, T0 + 3600, by_hand=False)
    assert maintenance.at(shop, T0 + 3599.5) == Period(T0, T0 + 3600, by_hand=False)
    assert maintenance.at(shop, T0 + 3600) is None
    assert maintenance.at(api) is None and maintenance.window(api) is None
    # The site's plugged monitor has its windows (plugins copy the site's rules).
    assert maintenance.at(by_label["shop/tls"].id) == Period(T0, T0 + 3600, by_hand=False)


def test_the_set_from_the_command_line_is_written_and_read_back(service_db) -> None:
    from monitor.maintenance import START_DELAY, Period

    clock = Clock(T0 - 7200)
    command, by_label = service(clock)  # the `maintenance on` process
    engine, _ = service(clock)  # the running monitor's, reading the same database
    api = by_label["api"].id
    period = command.put_on(service_db, [api], 600)
    since = T0 - 7200 + START_DELAY
    assert period == Period(since, since + 600, by_hand=True)
    assert polled(engine, service_db) == ([], [])  # it begins half a second later
    assert engine.by_hand(api) == period  # but is set: `maintenance list` shows it
    clock.now = since
    assert polled(engine, service_db) == ([("api", period)], [])
    assert engine.at(api) == period
    clock.now = since + 600
    assert polled(engine, service_db) == ([], ["api"])
    assert engine.by_hand(api) is None
    # On until `off`: no end.
    command.put_on(service_db, [api])
    clock.now += START_DELAY
    entered, _ = polled(engine, service_db)
    assert entered == [("api", Period(clock.now, None, by_hand=True))]
    command.put_off(service_db, [api])
    assert polled(engine, service_db) == ([], ["api"])
    assert engine.at(api) is None


def test_set_by_hand_comes_before_a_window_and_off_leaves_the_window(service_db) -> None:
    from monitor.maintenance import START_DELAY, Period

    clock = Clock(T0 - 60)
    maintenance, by_label = service(clock)
    shop = by_label["shop"].id
    maintenance.put_on(service_db, [shop], 120)
    clock.now = T0 + 30  # both: the set by hand says until when
    assert maintenance.at(shop) == Period(T0 - 60 + START_DELAY, T0 + 60 + START_DELAY, True)
    maintenance.put_off(service_db, [shop])
    assert maintenance.at(shop) == Period(T0, T0 + 3600, by_hand=False)


def test_the_poll_says_each_change_once_windows_and_set_alike(service_db) -> None:
    clock = Clock(T0 - 1)
    maintenance, _ = service(clock)
    assert polled(maintenance, service_db) == ([], [])
    clock.now = T0
    entered, left = polled(maintenance, service_db)
    assert [label for label, _ in entered] == ["shop", "shop/tls"] and left == []
    assert polled(maintenance, service_db) == ([], [])  # said once
    clock.now = T0 + 3600
    assert polled(maintenance, service_db) == ([], ["shop", "shop/tls"])


def test_a_check_begun_before_a_window_and_ended_in_it_is_covered() -> None:
    from monitor.core.model import CheckResult

    maintenance, by_label = service(Clock(T0))
    shop, api = by_label["shop"].id, by_label["api"].id
    assert maintenance.covers(CheckResult(shop, T0 - 1.5, False, None, 2000.0, "timeout"))
    assert not maintenance.covers(CheckResult(shop, T0 - 1.5, False, None, 1000.0, "timeout"))
    assert not maintenance.covers(CheckResult(api, T0, False, None, 10.0, "connect"))


def test_a_site_takes_the_monitors_its_plugins_made_and_no_other() -> None:
    maintenance, by_label = service(Clock(T0))
    # The tcp monitor whose id looks like a plugged one of the shop's stays out, as does
    # the site beside it.
    assert [m.label for m in maintenance.group(by_label["shop"])] == ["shop", "shop/tls"]
    assert [m.label for m in maintenance.group(by_label["api"])] == ["api", "api/tls"]


def test_writing_the_set_needs_a_database_a_monitor_made(tmp_path) -> None:
    from monitor.core.errors import StoreError

    maintenance, by_label = service(Clock(T0))
    with pytest.raises(StoreError, match="database not found"):
        maintenance.put_on(str(tmp_path / "typo.db"), [by_label["api"].id])
    assert not (tmp_path / "typo.db").exists()
