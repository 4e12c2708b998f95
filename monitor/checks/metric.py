"""The `metric` kind: a series pushed to the metrics tree (POST /api/v1/metrics), judged
against limits.

    {"type": "metric", "series": "app.queue.depth", "max": 1000, "warn": 500, "window": 60}

Every `checkInterval` the series' values of the last `window` seconds are summed by
`function` (avg by default, or min, max, sum, count, p50, p90, p99): down above `max` or
below `min`, warning above `warn` or below `warnBelow` (reason `threshold`). With no value
for `noDataFor` (counted from when it was first watched if it never had one), down
(`no_data`); with no value in the window otherwise, unknown (`empty`): no verdict, in no
availability and no alert. Not checked on a schedule of its own: the engine reads the
values the web server stored (maybe another process's) and the watch judges them; the
alert rules judge its results as every scheduled monitor's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.checks.trace import verdict_lines
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import MAX_SECONDS, MAX_VALUE, Fields, is_number
from monitor.core.kind import Kind, Parsed, WatchEvent, WatchState
from monitor.core.model import CheckResult, Monitor
from monitor.core.series import SeriesFeed
from monitor.core.timefmt import format_duration, format_seconds, format_time
from monitor.metrics.paths import MAX_PATH, PATH_REGEX, SeriesPathError, check_path
from monitor.metrics.query import DEFAULT_FUNCTION, FUNCTIONS

KEYS = ("series", "function", "window", "max", "warn", "min", "warnBelow", "noDataFor")
# The limits, lowest first: each one given must be below every later one given.
LIMITS = ("min", "warnBelow", "warn", "max")
REASONS = ("threshold", "no_data", "empty")
METRIC = "value"  # the measurement: the function's value over the window
DEFAULT_WINDOW = 60.0
MAX_NO_DATA = 30 * 86400.0
HELP = {
    "series": ("required", "the path of a pushed series (`app.queue.depth`): dotted"
                           " segments of letters, digits, `_` and `-`"),
    "function": (DEFAULT_FUNCTION, "what is judged of the window's values: "
                 + ", ".join(f"`{f}`" for f in FUNCTIONS)),
    "window": ("60s", "the values of this long before each check are judged (at most a"
                      " day)"),
    "max": ("none", "above this the check is down"),
    "warn": ("none", "above this the check warns (up); below `max`"),
    "min": ("none", "below this the check is down"),
    "warnBelow": ("none", "below this the check warns (up); above `min`"),
    "noDataFor": ("none", "down (`no_data`) when the series has had no value for this long"
                          " (at most 30 days); without it, a window without values is"
                          " unknown (`empty`)"),
}
SCHEMA: dict[str, schemas.Fragment] = {
    "series": {"type": "string", "pattern": f"^{PATH_REGEX}$", "maxLength": MAX_PATH},
    "function": {"enum": list(FUNCTIONS)},
    "window": schemas.duration(MAX_SECONDS),
    **{key: {"type": "number"} for key in LIMITS},
    "noDataFor": schemas.duration(MAX_NO_DATA),
}


@dataclass(frozen=True)
class MetricSpec:
    """A metric monitor's keys. `feed` is set only by `check NAME`: the series read from
    the database (the engine hands its watch one of its own)."""

    series: str
    limits: tuple[tuple[str, float], ...]  # (key, value) of LIMITS given, in its order
    function: str = DEFAULT_FUNCTION
    window: float = DEFAULT_WINDOW
    no_data_for: float | None = None
    feed: SeriesFeed | None = field(default=None, compare=False, repr=False)


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    if "series" not in obj:
        raise fields.fail(f"{path}.series", "is required: the path of a pushed series"
                                            " (\"app.queue.depth\")")
    series = obj["series"]
    if not isinstance(series, str):
        raise fields.fail(f"{path}.series", "must be a string")
    try:
        check_path(series)
    except SeriesPathError as exc:
        raise fields.fail(f"{path}.series", str(exc)) from None
    function = obj.get("function", DEFAULT_FUNCTION)
    if function not in FUNCTIONS:
        raise fields.fail(f"{path}.function", f"must be one of {', '.join(FUNCTIONS)}")
    window = fields.duration(obj, "window", f"{path}.window", DEFAULT_WINDOW, MAX_SECONDS)
    limits = []
    for key in LIMITS:
        if key in obj:
            if not is_number(obj[key]):
                raise fields.fail(f"{path}.{key}", "must be a number")
            limits.append((key, float(obj[key])))
    for index, (low_key, low) in enumerate(limits):
        for high_key, high in limits[index + 1:]:
            if low >= high:
                raise fields.fail(f"{path}.{low_key}", f"{low_key} ({low:g}) must be below"
                                                       f" {high_key} ({high:g})")
    no_data_for = (fields.duration(obj, "noDataFor", f"{path}.noDataFor", 0.0, MAX_NO_DATA)
                   if "noDataFor" in obj else None)
    if not limits and no_data_for is None:
        raise fields.fail(path, "a metric monitor needs a limit: max, warn, min, warnBelow"
                                " or noDataFor")
    spec = MetricSpec(series=series, limits=tuple(limits), function=function, window=window,
                      no_data_for=no_data_for)
    return Parsed(spec=spec, target=series)


def judge(monitor: Monitor, feed: SeriesFeed, wall: float, since: float,
          lateness_ms: float = 0.0, trace: list[str] | None = None) -> CheckResult:
    """The verdict at `wall` on the values the feed has: `since` is when the monitor began
    to be watched (a series that never had a value has had none since then)."""
    spec: MetricSpec = monitor.spec
    mono = time.monotonic()
    window = feed.window(spec.series, wall - spec.window, wall)
    elapsed = (time.monotonic() - mono) * 1000.0

    def result(available: bool | None, reason: str | None = None, detail: str = "",
               warning: bool = False, metrics: Mapping[str, float] | None = None,
               ) -> CheckResult:
        return CheckResult(monitor.id, wall, available, None, elapsed, reason, detail,
                           lateness_ms=lateness_ms, mono=mono, metrics=dict(metrics or {}),
                           warning=warning)

    shown = f"{spec.series} {spec.function} over {format_seconds(spec.window)}"
    if trace is not None:
        latest = ("never" if window.last is None else
                  f"{format_time(window.last)} ({format_duration(wall - window.last)} ago)")
        trace.append(f"series {spec.series}: latest value {latest}")
        figures = ", ".join(f"{name} {value:g}" for name, value in window.values.items()
                            if value is not None and name != "count")
        trace.append(f"last {format_seconds(spec.window)}: {window.count} values"
                     + (f"; {figures}" if figures else ""))
    silent = wall - (since if window.last is None else window.last)
    if spec.no_data_for is not None and silent >= spec.no_data_for:
        what = ("no value since watching began" if window.last is None
                else f"no value for {format_duration(silent)}")
        return result(False, "no_data", f"{spec.series}: {what} (noDataFor"
                                        f" {format_seconds(spec.no_data_for)})")
    value = window.values.get(spec.function)
    if not window.count or value is None:
        return result(None, "empty", f"{spec.series}: no value in the last"
                                     f" {format_seconds(spec.window)}")
    # The verdict on the real value; the metric held within the range the program stores: a
    # sum of many huge values overflows, and JSON (events, `check`) carries no infinity.
    metrics = {METRIC: min(max(value, -MAX_VALUE), MAX_VALUE), "count": float(window.count)}
    limits = dict(spec.limits)
    for key, above, down in (("max", True, True), ("min", False, True),
                             ("warn", True, False), ("warnBelow", False, False)):
        limit = limits.get(key)
        if limit is not None and (value > limit if above else value < limit):
            return result(not down, "threshold",
                          f"{shown} {value:g} {'>' if above else '<'} {key} {limit:g}",
                          warning=not down, metrics=metrics)
    return result(True, metrics=metrics)


class MetricWatch:
    """A metric monitor's watch: polled a few times a second, it judges its series every
    `checkInterval` (at a fixed rate) with the values the engine's feed reads."""

    def __init__(self, monitor: Monitor, feed: SeriesFeed, wall: float | None = None) -> None:
        self._monitor = monitor
        self._feed = feed
        self._since = time.time() if wall is None else wall
        self._due: float | None = None

    def poll(self, wall: float, quiet: bool = False,
             ) -> tuple[list[CheckResult], list[WatchEvent], list[str]]:
        interval = self._monitor.interval
        if self._due is not None and wall < self._due:
            return [], [], []
        late = 0.0 if self._due is None else wall - self._due
        # The next due time on the fixed grid, unless this poll came a whole period late.
        self._due = wall + interval if self._due is None or late >= interval \
            else self._due + interval
        return [judge(self._monitor, self._feed, wall, self._since, late * 1000.0)], [], []

    def close(self) -> None:
        pass


def open_watch(monitor: Monitor, state: WatchState) -> MetricWatch:
    """The kind's `watch`: the engine hands the feed of series in the watch's state."""
    if state.series is None:
        raise ValueError("no feed of series: metric monitors are watched by the engine only")
    return MetricWatch(monitor, state.series)


def _debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
    """`check NAME`: the series' latest value, its window's figures, and the verdict."""
    spec: MetricSpec = monitor.spec
    now = time.time()
    lines = [f"judges: {spec.function} of {spec.series} over {format_seconds(spec.window)}"
             + "".join(f", {key} {value:g}" for key, value in spec.limits)
             + (f", noDataFor {format_seconds(spec.no_data_for)}" if spec.no_data_for
                else "")]
    if spec.feed is None:
        result = CheckResult(monitor.id, now, None, None, 0.0, "empty",
                             "no database to read the series from", mono=time.monotonic())
    else:
        result = judge(monitor, spec.feed, now, now, trace=lines)
    return result, lines + verdict_lines(result)


def _check(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return _debug(monitor)[0]


KIND = Kind(name="metric", keys=KEYS, parse=parse, reasons=REASONS, run=_check,
            network=False, watch=open_watch, judged=True, debug=_debug, help=HELP,
            schema=SCHEMA)
