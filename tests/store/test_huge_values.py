"""Values at the end of the float range, and a step of the writer's batch that fails: on
real databases, through the real writer thread. A value near 1.8e308 (a push's value
becomes a check metric; a pushed series value) must neither stop the writer nor jam it: its
figures are summed without overflow, histogrammed in the top bucket, and the alerts and
flush replies of every batch still happen. A step that fails for any other reason is said
once, not at every batch, and costs only its own figures. On both stores (the `backend`
fixture)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.core.fields import MAX_VALUE
from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, RecordSeries, iso_utc
from monitor.store.codec import HIST_TOP, bucket_of, decode_hist_into
from tests.store.conftest import Backend

BASE = 1_700_000_040.0  # a whole minute
MONITOR = "push:backup"


@pytest.fixture
def store(backend: Backend) -> Iterator[tuple[Any, list[str], list[AlertRecord]]]:
    errors: list[str] = []
    announced: list[AlertRecord] = []
    made = backend.make(on_error=errors.append, clock=lambda: BASE + 30).start()
    made.on_alert = announced.append
    made.read = backend.read  # the test's reads of its tables
    yield made, errors, announced
    made.close()


def check(ts: float, metrics: dict) -> CheckResult:
    return CheckResult(MONITOR, ts, True, None, 0.0, None, "", mono=ts - BASE, metrics=metrics)


def alert(at: float) -> AlertRecord:
    return AlertRecord(timestamp=iso_utc(at), monitor_id=MONITOR, type="alert",
                       start=iso_utc(at), end=None, availability=0.0, message="late")


def hist(text: str) -> dict[int, int]:
    found: dict[int, int] = {}
    decode_hist_into(text, found)
    return found


def test_bucket_of_puts_everything_beyond_the_histogram_in_its_top_bucket() -> None:
    for value in (1e10, 1e300, 1.7e307, 1e308, sys.float_info.max, math.inf):
        assert bucket_of(value) == HIST_TOP
    assert bucket_of(5.0) == 81  # unchanged below the top
    assert bucket_of(-1e308) == bucket_of(-math.inf) == 0


def test_a_huge_check_metric_neither_jams_the_writer_nor_stops_alerts(store) -> None:
    writer, errors, announced = store
    writer.put_check(check(BASE + 1, {"value": 1e308}))
    writer.put_check(check(BASE + 2, {"value": 1e308}))
    assert writer.flush()
    writer.put_alert(alert(BASE + 3))
    assert writer.flush()
    assert [a.message for a in announced] == ["late"]
    assert errors == []
    rows = writer.read("SELECT span, count, sum, min, max, hist FROM metric_aggs"
                       " WHERE metric = 'value' ORDER BY span")
    # Counted and histogrammed; the sum, which would overflow, and the extremes held
    # within the range the program stores (MAX_VALUE), finite in the database.
    assert [(span, count) for span, count, *_ in rows] == [(60, 2), (600, 2)]
    for _span, _count, total, low, high, text in rows:
        assert math.isfinite(total) and total == 2 * MAX_VALUE
        assert low == high == MAX_VALUE
        assert hist(text) == {HIST_TOP: 2}
    assert writer.read("SELECT count(*) FROM website_monitoring") == [(2,)]


def test_huge_series_values_are_summed_without_overflow(store) -> None:
    writer, errors, announced = store
    assert writer.put_series(RecordSeries((("big.one", BASE + 1, 1e308),
                                           ("big.one", BASE + 2, 1e308),
                                           ("big.one", BASE + 3, -1e308))))
    assert writer.flush()
    writer.put_alert(alert(BASE + 4))
    assert writer.flush()
    assert len(announced) == 1
    assert errors == []
    rows = writer.read("SELECT span, count, sum, min, max, hist FROM series_aggs"
                       " ORDER BY span")
    assert [row[:2] for row in rows] == [(60, 3), (600, 3), (3600, 3), (86400, 3)]
    for _span, _count, total, low, high, text in rows:
        assert total == MAX_VALUE and low == -MAX_VALUE and high == MAX_VALUE
        assert hist(text) == {0: 1, HIST_TOP: 2}


def test_a_failing_step_is_said_once_and_stops_neither_alerts_nor_flushes(store) -> None:
    writer, errors, announced = store
    # A kind's bug: a metric that is not a number. Its row is written as it came; summing
    # its figures fails, a step after the rows of every batch while the value is held.
    writer.put_check(check(BASE + 1, {"value": "seven"}))  # type: ignore[dict-item]
    assert writer.flush()
    for i in range(3):
        writer.put_alert(alert(BASE + 2 + i))
        assert writer.flush()
    assert len(announced) == 3
    assert len(errors) == 1, errors
    assert "summing the check metrics" in errors[0]
    # The figures that could not be summed are dropped: the next ones are summed again.
    writer.put_check(check(BASE + 10, {"value": 7.0}))
    assert writer.flush()
    assert writer.read("SELECT count, sum FROM metric_aggs WHERE span = 60") == [
        (1, 7.0)]
    assert len(errors) == 1
    assert writer.read("SELECT count(*) FROM website_monitoring") == [(2,)]


def test_an_infinite_check_metric_keeps_its_check(store) -> None:
    writer, errors, _announced = store
    # JSON cannot carry infinity: the check is written, its metric held at the range's end.
    writer.put_check(check(BASE + 1, {"value": math.inf, "duration": 12.0}))
    writer.put_check(check(BASE + 2, {"value": math.nan}))
    assert writer.flush()
    assert errors == []
    stored = writer.read("SELECT metrics FROM website_monitoring ORDER BY id")
    assert [None if text is None else json.loads(text) for (text,) in stored] == [
        {"value": MAX_VALUE, "duration": 12.0}, None]
    assert writer.read("SELECT metric, count, sum FROM metric_aggs WHERE span = 60"
                       " ORDER BY metric") == [("duration", 1, 12.0), ("value", 1, MAX_VALUE)]
