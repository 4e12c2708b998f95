"""The `metric` kind: its keys and their errors, and its verdicts on series stored in a real
database by a real writer, read through the engine's feed, on an injected clock: limits
above and below, warnings, every function, an empty window, no data, the fixed rate."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from monitor.checks.metric import MetricWatch, judge
from monitor.cli import main
from monitor.config import parse_config
from monitor.core.errors import ConfigError
from monitor.core.fields import MAX_VALUE
from monitor.core.model import CheckResult
from monitor.engine.series import SeriesReader
from monitor.store.api import RecordSeries
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store

T = 1_700_000_000.0
SERIES = "app.queue.depth"


def _monitor(**keys):
    entry = {"type": "metric", "series": SERIES, "max": 1000, "warn": 500, **keys}
    entry = {key: value for key, value in entry.items() if value is not None}
    return parse_config(json.dumps({"monitors": [entry]}), "config.json").monitors[0]


def _push(db, *points: tuple[str, float, float]) -> None:
    """Values as the web server writes them: through a writer of its own."""
    server = Store(db).start()
    try:
        assert server.put_series(RecordSeries(points))
        assert server.flush()
    finally:
        server.close()


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "m.db"
    Store(path).close()  # the file, with no series yet
    return path


@pytest.fixture()
def feed(db):
    reader = SeriesReader(lambda: open_reader(db))
    yield reader
    reader.shutdown()


def _said(result: CheckResult) -> tuple:
    return result.state, result.reason, result.detail


# -- the config ------------------------------------------------------------------------------

def test_keys_make_a_monitor_of_the_series():
    monitor = _monitor(window="5m", function="p99", min=-10, warnBelow=0, noDataFor="10m")
    assert (monitor.id, monitor.kind, monitor.target) == (f"metric:{SERIES}", "metric", SERIES)
    spec = monitor.spec
    assert (spec.series, spec.function, spec.window, spec.no_data_for) == (SERIES, "p99",
                                                                           300.0, 600.0)
    assert spec.limits == (("min", -10.0), ("warnBelow", 0.0), ("warn", 500.0),
                           ("max", 1000.0))
    plain = _monitor(max=None, warn=None, noDataFor=60)
    assert (plain.spec.function, plain.spec.window, plain.spec.limits) == ("avg", 60.0, ())


@pytest.mark.parametrize(("keys", "message"), [
    ({"series": None}, 'monitors[0].series: is required: the path of a pushed series'
                       ' ("app.queue.depth")'),
    ({"series": 12}, "monitors[0].series: must be a string"),
    ({"series": "app..depth"}, 'monitors[0].series: "app..depth": empty segment between'
                               " two dots (at character 5)"),
    ({"series": "app.*"}, 'monitors[0].series: "app.*": a wildcard is not allowed'),
    ({"function": "median"}, "monitors[0].function: must be one of avg, min, max, sum,"
                             " count, p50, p90, p99"),
    ({"max": "1000"}, "monitors[0].max: must be a number"),
    ({"warn": True}, "monitors[0].warn: must be a number"),
    ({"warn": 2000}, "monitors[0].warn: warn (2000) must be below max (1000)"),
    ({"min": 5000, "warn": None}, "monitors[0].min: min (5000) must be below max (1000)"),
    ({"min": 10, "warnBelow": 5}, "monitors[0].min: min (10) must be below warnBelow (5)"),
    ({"warnBelow": 600}, "monitors[0].warnBelow: warnBelow (600) must be below warn (500)"),
    ({"window": 0}, "monitors[0].window: must be a duration greater than 0"),
    ({"window": "2d"}, "monitors[0].window: must be at most 1d"),
    ({"noDataFor": "60d"}, "monitors[0].noDataFor: must be at most 30d"),
    ({"max": None, "warn": None}, "monitors[0]: a metric monitor needs a limit: max, warn,"
                                  " min, warnBelow or noDataFor"),
    ({"maximum": 3}, 'monitors[0].maximum: unknown key (did you mean "max"?)'),
])
def test_bad_keys_are_config_errors(keys, message):
    with pytest.raises(ConfigError) as caught:
        _monitor(**keys)
    assert str(caught.value).startswith(f"config.json: {message}")


# -- verdicts on a real database -------------------------------------------------------------

def test_limits_above_and_below(db, feed):
    monitor = _monitor(min=-5, warnBelow=0)
    for value, said in [
        (100.0, ("up", None, "")),
        (500.0, ("up", None, "")),  # a limit itself is still fine
        (700.0, ("warning", "threshold", f"{SERIES} avg over 1m 700 > warn 500")),
        (1500.0, ("down", "threshold", f"{SERIES} avg over 1m 1500 > max 1000")),
        (-1.0, ("warning", "threshold", f"{SERIES} avg over 1m -1 < warnBelow 0")),
        (-6.5, ("down", "threshold", f"{SERIES} avg over 1m -6.5 < min -5")),
    ]:
        at = T + 1000 * (value + 10)  # each value alone in its window
        _push(db, (SERIES, at - 1, value))
        result = judge(monitor, feed, at, T)
        assert _said(result) == said, value
        assert result.metrics == {"value": value, "count": 1.0}
        assert result.timestamp == at and not result.code


@pytest.mark.parametrize(("function", "expected"), [
    ("avg", 50.5), ("min", 1.0), ("max", 100.0), ("sum", 5050.0), ("count", 100.0),
    ("p50", 50.0), ("p90", 90.0), ("p99", 99.0)])
def test_every_function_over_the_window(db, feed, function, expected):
    _push(db, *[(SERIES, T - 100 + i, float(i)) for i in range(1, 101)],
          (SERIES, T - 200, 1e9))  # before the window: not counted
    result = judge(_monitor(function=function, window="100s", max=1e12, warn=None), feed, T,
                   T)
    assert result.state == "up"
    assert result.metrics["count"] == 100.0
    assert result.metrics["value"] == pytest.approx(expected, rel=0.025)


def test_an_empty_window_is_unknown_and_no_data_is_down(db, feed):
    monitor = _monitor(noDataFor="5m")
    # Never a value: unknown until noDataFor has passed since watching began.
    assert _said(judge(monitor, feed, T + 299, T)) == (
        "unknown", "empty", f"{SERIES}: no value in the last 1m")
    assert _said(judge(monitor, feed, T + 300, T)) == (
        "down", "no_data", f"{SERIES}: no value since watching began (noDataFor 5m)")
    _push(db, (SERIES, T + 310, 5.0))
    assert _said(judge(monitor, feed, T + 320, T))[0] == "up"
    # A window without values, the latest value not yet noDataFor old: unknown.
    assert _said(judge(monitor, feed, T + 400, T)) == (
        "unknown", "empty", f"{SERIES}: no value in the last 1m")
    assert _said(judge(monitor, feed, T + 610, T)) == (
        "down", "no_data", f"{SERIES}: no value for 5m00s (noDataFor 5m)")
    # Without noDataFor, silence is never down.
    assert judge(_monitor(), feed, T + 99999, T).state == "unknown"


def test_the_watch_judges_at_a_fixed_rate(db, feed):
    monitor = _monitor(checkInterval=10)
    watch = MetricWatch(monitor, feed, wall=T)
    _push(db, (SERIES, T - 5, 3.0))

    def poll(at: float) -> list[CheckResult]:
        results, events, warnings = watch.poll(at)
        assert events == [] and warnings == []
        return results

    assert [r.state for r in poll(T)] == ["up"]
    assert poll(T + 9.9) == []
    (on_time,) = poll(T + 10.25)
    assert on_time.lateness_ms == pytest.approx(250.0)
    assert poll(T + 19.9) == []  # still on the grid of T
    assert len(poll(T + 20.0)) == 1
    (late,) = poll(T + 75.0)  # a poll long late: no burst, a new grid
    assert late.lateness_ms == pytest.approx(45000.0)
    assert poll(T + 84.9) == [] and len(poll(T + 85.0)) == 1


# -- check NAME ------------------------------------------------------------------------------

def test_check_prints_the_series_and_its_verdict(db, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"monitors": [
        {"type": "metric", "series": SERIES, "max": 10, "window": "1h", "name": "queue"}]}))
    now = time.time()
    _push(db, (SERIES, now - 30, 40.0), (SERIES, now - 20, 20.0))
    done = CliRunner().invoke(main, ["check", "queue", "-c", str(config), "-db", str(db)])
    assert done.exit_code == 1, done.output
    lines = [line.strip() for line in done.output.splitlines()]  # a trace is indented
    assert lines[1] == f"judges: avg of {SERIES} over 1h, max 10"
    assert lines[2].startswith(f"series {SERIES}: latest value ")
    assert lines[3].startswith("last 1h: 2 values; avg 30, min 20, max 40,")
    assert lines[-1].startswith(f'DOWN reason=threshold detail="{SERIES} avg over 1h 30 >'
                                ' max 10"')
    # Beside no database: nothing to read, no verdict.
    done = CliRunner().invoke(main, ["check", "queue", "-c", str(config), "-db",
                                     str(tmp_path / "none.db")])
    assert done.output.splitlines()[-1].strip().startswith(
        'UNKNOWN reason=empty detail="no database to read the series from"')


def test_a_value_beyond_the_float_s_end_is_a_number_json_carries(db, feed):
    # Values the store took before the API bounded them (1e300): their sum overflows. The
    # verdict compares the real value; the metric is held within the range the program
    # stores, so that the live events and `check` answer carry a number, never Infinity.
    _push(db, (SERIES, T - 10, 1e308), (SERIES, T - 5, 1e308))
    result = judge(_monitor(function="sum", window="60s"), feed, T, T)
    assert _said(result) == ("down", "threshold", f"{SERIES} sum over 1m inf > max 1000")
    assert result.metrics == {"value": MAX_VALUE, "count": 2.0}
    json.dumps(result.metrics, allow_nan=False)
