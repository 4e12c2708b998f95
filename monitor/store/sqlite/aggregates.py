"""The aggregates the writer keeps while it writes raw checks, so that reports never scan
the raw table: each monitor's per-minute and 10-minute rows (response times, outcomes) and
each metric's, cached in memory while they are still being filled. The hour and day rows
are rolled up from them (rollups.py)."""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Callable

from monitor.core.model import CheckResult
from monitor.store.api import SPANS
from monitor.store.codec import MinuteAgg, bounded, bucket_of, encode_hist
from monitor.store.ranges import check_of
from monitor.store.sqlite import uptime
from monitor.store.sqlite.ranges import RowRanges
from monitor.store.sqlite.rollups import DAY, ROLLUP_SPANS, Rollups
from monitor.store.sqlite.sql import commit_all, items

METRIC_CHUNK = 20_000  # (minute, monitor, metric) keys written in one transaction
MAX_METRIC_VALUES = 5_000_000  # metric values held while the disk refuses their rows
# Seconds after its end a written row stays in memory: the checks in flight when its
# minute ended (up to a timeout late) still find it there.
EVICT_AFTER = 60.0

_AGG_COLUMNS = "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
_SELECT_AGGS = (
    f"SELECT monitor, span, start, {_AGG_COLUMNS} FROM aggregates"
    f" WHERE (monitor, span, start) IN (SELECT {items(3)} FROM json_each(?))")
_UPSERT_AGGS = (
    f"INSERT INTO aggregates (monitor, span, start, {_AGG_COLUMNS}) SELECT {items(11)}"
    " FROM json_each(?)"
    " WHERE true"  # the parser needs it: an upsert's SELECT must not end in its FROM
    " ON CONFLICT (monitor, span, start) DO UPDATE SET checks=excluded.checks,"
    " up=excluded.up, rt_count=excluded.rt_count, rt_sum=excluded.rt_sum,"
    " rt_min=excluded.rt_min, rt_max=excluded.rt_max, hist=excluded.hist,"
    " outcomes=excluded.outcomes")
_METRIC_COLUMNS = "count, sum, min, max, hist"
_UPSERT_METRICS = (
    f"INSERT INTO metric_aggs (monitor, span, start, metric, {_METRIC_COLUMNS})"
    f" SELECT {items(9)} FROM json_each(?) WHERE true"
    # Additive: a minute's values are written once, and late ones add to the row; the
    # 10-minute row takes each minute's values too. Histogram texts add up when joined.
    " ON CONFLICT (monitor, span, start, metric) DO UPDATE SET"
    " count = metric_aggs.count + excluded.count, sum = metric_aggs.sum + excluded.sum,"
    ' "min" = min(metric_aggs."min", excluded."min"),'
    ' "max" = max(metric_aggs."max", excluded."max"),'
    " hist = metric_aggs.hist || excluded.hist")

# (seconds per row, row index, monitor): an aggregate row's key.
AggKey = tuple[int, int, str]


class CheckAggregates:
    """The minute and 10-minute rows of response times and outcomes still being filled
    (and the hour and day rows of a check written after its hour was rolled up): checks
    are added in memory (`fold`), and the rows they changed written together later
    (`write`), so that a monitor checked every second costs a row write per span every
    few seconds, not one per check."""

    def __init__(self, clock: Callable[[], float], rollups: Rollups) -> None:
        self._clock = clock
        self._rollups = rollups
        self.rows: dict[AggKey, MinuteAgg] = {}
        self.dirty: set[AggKey] = set()  # rows changed since they were last written

    def clear(self) -> None:
        """Forget the cached rows (their changes are folded again from the raw rows)."""
        self.rows.clear()
        self.dirty.clear()

    def fold(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        """Add committed checks to their rows, in memory."""
        self._preload(conn, checks)
        dirty = self.dirty
        rows = self.rows
        # A check of an hour already rolled up goes to its hour and day rows too.
        late_before, late = self._rollups.late_before, self._rollups.late_spans
        for check in checks:
            ts, monitor_id = check.timestamp, check.monitor_id
            for span in (SPANS if ts >= late_before else SPANS + late(ts, monitor_id)):
                key = (span, int(ts // span), monitor_id)
                rows[key].add(check.response_ms, check.available, check.code, check.reason,
                              check.warning)
                dirty.add(key)

    def write(self, conn: sqlite3.Connection) -> None:
        """The changed rows into the database (in the caller's transaction); `written`
        once it is committed."""
        if not self.dirty:
            return
        rows = self.rows
        conn.execute(_UPSERT_AGGS, (json.dumps(
            [(monitor_id, span, span * index, *rows[span, index, monitor_id].to_row())
             for span, index, monitor_id in self.dirty]),))
        # A late check of a day already rolled up whole: its packed uptime too.
        rolled = self._rollups.rolled_for
        days = [(monitor_id, index * DAY, rows[span, index, monitor_id])
                for span, index, monitor_id in self.dirty
                if span == DAY and index < rolled(monitor_id) // DAY]
        if days:
            uptime.set_days(conn, [(m, day, agg.checks, agg.up) for m, day, agg in days])

    def written(self) -> None:
        self.dirty.clear()

    def _preload(self, conn: sqlite3.Connection, checks: list[CheckResult]) -> None:
        """Fill the cache for the minutes and monitors of this batch that it lacks, one
        query: after a restart the minute in progress already has a row to continue."""
        late_before, late = self._rollups.late_before, self._rollups.late_spans
        rows = self.rows
        keys = {key for c in checks
                for span in (SPANS if c.timestamp >= late_before
                             else SPANS + late(c.timestamp, c.monitor_id))
                if (key := (span, int(c.timestamp // span), c.monitor_id)) not in rows}
        if not keys:
            return
        for key in keys:
            rows[key] = MinuteAgg()
        for monitor_id, span, start, *row in conn.execute(_SELECT_AGGS, (json.dumps(
                [(monitor_id, span, span * index) for span, index, monitor_id in keys]),)):
            rows[(span, start // span, monitor_id)] = MinuteAgg.from_row(row)

    def evict(self) -> None:
        """Forget the written rows that ended over EVICT_AFTER ago: a check that late is
        rare, and reloads its row. Only the rows being filled stay: about two a monitor."""
        horizon = self._clock() - EVICT_AFTER
        dirty = self.dirty
        for key in [key for key in self.rows
                    if (key[1] + 1) * key[0] < horizon and key not in dirty]:
            del self.rows[key]

    def forget_before(self, cutoffs: dict[int, float]) -> None:
        """After a purge: the rows it deleted (span -> before)."""
        self.rows = {(span, index, monitor_id): row
                     for (span, index, monitor_id), row in self.rows.items()
                     if span not in cutoffs or index >= int(cutoffs[span] // span)}
        self.dirty &= self.rows.keys()

    def forget_rollups(self) -> None:
        """After an hour was rolled up (its rows written first): the day rows it rewrote
        are read again."""
        self.rows = {key: row for key, row in self.rows.items() if key[0] not in ROLLUP_SPANS}
        self.dirty &= self.rows.keys()


class MetricFigures:
    """The metric values of committed checks not yet in metric_aggs, by (minute, monitor,
    metric): summed into their rows once a minute (and at each flush), not with every
    batch, so a value costs an append, not ten updates (a monitor's five phases at two
    spans would be ten row writes per check, where response times cost two)."""

    def __init__(self, clock: Callable[[], float], say: Callable[[str], None],
                 path: object, rollups: Rollups, deferred: bool = False) -> None:
        self._clock = clock
        self._rollups = rollups
        self._say = say
        self._path = path
        self._values: dict[tuple[int, str, str], list[float]] = {}
        self._held = 0  # values in _values
        self._minute = int(clock() // 60)  # when the metric rows were last written
        self._writing = False  # a minute's rows are being written, a chunk a batch
        # The owner's: the raw rows whose values are not in metric_aggs yet (ranges.py).
        self.deferred = deferred
        self._ranges = RowRanges("unsummed")

    def add(self, checks: list[CheckResult]) -> None:
        """Hold committed checks' metrics until `write` sums them into their rows."""
        values = self._values
        held = 0
        for check in checks:
            if not check.metrics or check.available is None:
                continue  # unknown checks (the monitor offline) count in no figure
            minute, monitor_id = int(check.timestamp // 60), check.monitor_id
            for name, value in check.metrics.items():
                key = (minute, monitor_id, name)
                found = values.get(key)
                if found is None:
                    values[key] = [value]
                else:
                    found.append(value)
                held += 1
        self._held += held
        if self._held > MAX_METRIC_VALUES:
            # The disk has refused the metric rows for long: their figures go first, never
            # a check (the raw rows keep each check's metrics).
            self._say(f"{self._path}: metric figures of {self._held} values"
                      " dropped while the database refuses them")
            values.clear()
            self._held = 0

    def batch(self, conn: sqlite3.Connection, count: int, last_id: int) -> None:
        """A batch's raw rows up to `last_id` are written (not committed yet)."""
        if self.deferred:
            self._ranges.extend(conn, count, last_id)

    def committed(self, checks: list[CheckResult]) -> None:
        self._ranges.committed()
        self.add(checks)

    def rolled_back(self) -> None:
        self._ranges.rolled_back()

    def recover(self, conn: sqlite3.Connection) -> int:
        """Hold the metric values of the raw rows a crash or a quick stop left unsummed:
        written with the next minute's. The values held."""
        if not self.deferred:
            return 0
        recovered = 0
        for rows in self._ranges.rows(conn):
            checks = [check_of(row) for row in rows]
            self.add(checks)
            recovered += len(checks)
        return recovered

    def write(self, conn: sqlite3.Connection, force: bool = False,
              stopping: bool = False) -> None:
        """Sum the held values into their minute and 10-minute rows: once a minute of the
        clock, or now when `force`d (a flush, a stop). Kept for the next time if refused.
        A chunk of METRIC_CHUNK keys a transaction, one chunk a call unless forced: at
        100,000 monitors a minute's values are a million rows, which in one statement held
        the writer (and every check behind it) for seconds, and its text 300 MB."""
        minute = int(self._clock() // 60)
        if not self._values or (not force and minute == self._minute and not self._writing):
            return
        if stopping and self.deferred and len(self._values) > METRIC_CHUNK:
            # A stop in a second or two: a minute of 100,000 monitors' values takes many,
            # and the next start sums them from their raw rows (named in meta) instead.
            return
        self._writing = True
        late = self._rollups.late_spans
        while self._values:
            keys = list(itertools.islice(self._values, METRIC_CHUNK))
            rows = []
            for key in keys:
                start, monitor_id, name = key
                values = bounded(self._values[key])
                hist: dict[int, int] = {}
                for value in values:
                    bucket = bucket_of(value)
                    hist[bucket] = hist.get(bucket, 0) + 1
                figures = (len(values), sum(values), min(values), max(values),
                           encode_hist(hist))
                # The hour and day too when the minute's hour is rolled up (held back).
                for span in SPANS + late(start * 60, monitor_id):
                    rows.append((monitor_id, span, start * 60 // span * span, name, *figures))
            last = len(keys) == len(self._values)
            if not commit_all(conn, functools.partial(self._upsert, conn, rows, last)):
                return  # held for the next time; the checks' own writes say what the disk does
            for key in keys:
                self._held -= len(self._values.pop(key))
            if not force:
                break
        if not self._values:
            self._ranges.cleared()
            self._writing = False
            self._held = 0
            self._minute = minute

    def _upsert(self, conn: sqlite3.Connection, rows: list[tuple], last: bool) -> None:
        conn.execute(_UPSERT_METRICS, (json.dumps(rows),))
        if last and self.deferred:  # every committed check's values are summed now
            self._ranges.clear(conn)

    def drop(self) -> None:
        """Forget the held values: summing them failed (a kind's bug), and would again."""
        self._values = {}
        self._held = 0
        self._writing = False

    def forget_before(self, before: float) -> None:
        """After a purge: the values of the minutes it deleted (`before` the minutes')."""
        self._values = {(minute, monitor_id, metric): values
                        for (minute, monitor_id, metric), values in self._values.items()
                        if minute >= int(before // 60)}
        self._held = sum(len(v) for v in self._values.values())
