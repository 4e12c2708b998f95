"""The aggregates the PostgreSQL writer keeps while it writes raw checks: the same rows,
cached and folded the same way as SQLite's (sqlite/aggregates.py: the folding is its code,
only the statements are PostgreSQL's), each metric's sums, and the days' uptime packed in
`uptime_days`."""

from __future__ import annotations

import functools
import itertools
import struct
import time
from collections.abc import Callable, Iterable, Sequence

import psycopg

from monitor.core.model import CheckResult
from monitor.store.api import SPANS
from monitor.store.codec import MinuteAgg, bounded, bucket_of, encode_hist, finite_total
from monitor.store.postgres.ranges import RowRanges
from monitor.store.postgres.sql import columns, commit_all, stage, unnest
from monitor.store.sqlite.aggregates import CheckAggregates
from monitor.store.sqlite.rollups import DAY, Rollups

COMPACT_EVERY = 10.0  # seconds between compactions of the aggregate rows added to
METRIC_CHUNK = 20_000  # (minute, monitor, metric) keys written in one transaction
MAX_METRIC_VALUES = 5_000_000  # metric values held while the database refuses their rows

_AGG_COLUMNS = "checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes"
_KEY_TYPES = ("text", "int4", "int8")
_SELECT_AGGS = (
    f"SELECT a.monitor, a.span, a.start, {_AGG_COLUMNS} FROM aggregates a"
    f" JOIN {unnest(*_KEY_TYPES)} AS k(monitor, span, start)"
    " ON a.monitor = k.monitor AND a.span = k.span AND a.start = k.start")
_AGG_TYPES = (*_KEY_TYPES, "int8", "int8", "int8", "float8", "float8", "float8", "text",
              "text")
_UPSERT_AGGS = (
    f"INSERT INTO aggregates (monitor, span, start, {_AGG_COLUMNS}) SELECT * FROM {{}}"
    " ON CONFLICT (monitor, span, start) DO UPDATE SET checks = excluded.checks,"
    " up = excluded.up, rt_count = excluded.rt_count, rt_sum = excluded.rt_sum,"
    " rt_min = excluded.rt_min, rt_max = excluded.rt_max, hist = excluded.hist,"
    " outcomes = excluded.outcomes")
# Added to the rows as stored (hist and outcomes are lists of counts: concatenated, they
# decode to the sum).
_ADD_AGGS = (
    f"INSERT INTO aggregates AS a (monitor, span, start, {_AGG_COLUMNS}) SELECT * FROM {{}}"
    " ORDER BY c0, c1, c2"  # every writer locks rows in one order: they wait, never in a cycle
    " ON CONFLICT (monitor, span, start) DO UPDATE SET checks = a.checks + excluded.checks,"
    " up = a.up + excluded.up, rt_count = a.rt_count + excluded.rt_count,"
    " rt_sum = a.rt_sum + excluded.rt_sum, rt_min = least(a.rt_min, excluded.rt_min),"
    " rt_max = greatest(a.rt_max, excluded.rt_max), hist = a.hist || excluded.hist,"
    " outcomes = CASE WHEN a.outcomes = '' THEN excluded.outcomes"
    " WHEN excluded.outcomes = '' THEN a.outcomes"
    " ELSE a.outcomes || ',' || excluded.outcomes END")
_METRIC_TYPES = ("text", "int4", "int8", "text", "int8", "float8", "float8", "float8", "text")
# Additive, as in SQLite: a minute's values are written once, late ones add to the row.
_UPSERT_METRICS = (
    "INSERT INTO metric_aggs (monitor, span, start, metric, count, sum, min, max, hist)"
    " SELECT * FROM {}"
    " ON CONFLICT (monitor, span, start, metric) DO UPDATE SET"
    " count = metric_aggs.count + excluded.count, sum = metric_aggs.sum + excluded.sum,"
    " min = least(metric_aggs.min, excluded.min), max = greatest(metric_aggs.max, excluded.max),"
    " hist = metric_aggs.hist || excluded.hist")
# Metric rows replaced whole (the rollups').
_UPSERT_METRIC_ROWS = (
    "INSERT INTO metric_aggs (monitor, span, start, metric, count, sum, min, max, hist)"
    " SELECT * FROM {}"
    " ON CONFLICT (monitor, span, start, metric) DO UPDATE SET count = excluded.count,"
    " sum = excluded.sum, min = excluded.min, max = excluded.max, hist = excluded.hist")



def upsert_aggs(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> None:
    """Aggregate rows (monitor, span, start, checks...) written whole, keys unique."""
    conn.execute(_UPSERT_AGGS.format(stage(conn, "stage_aggs", _AGG_TYPES, rows)))


def upsert_metrics(conn: psycopg.Connection, rows: Iterable[Sequence[object]],
                   add: bool) -> None:
    """Metric rows (monitor, span, start, metric, count...), keys unique: added to the rows
    stored (`add`), or written whole."""
    table = stage(conn, "stage_metrics", _METRIC_TYPES, rows)
    conn.execute((_UPSERT_METRICS if add else _UPSERT_METRIC_ROWS).format(table))


# -- the days' uptime, 32 days a row (as sqlite/uptime.py) ----------------------------------
DAYS_PER_ROW = 32
PERIOD = DAYS_PER_ROW * DAY
_PAIR = struct.Struct("<II")
_EMPTY = bytes(_PAIR.size * DAYS_PER_ROW)


def set_days(conn: psycopg.Connection, days: Iterable[tuple[str, int, int, int]]) -> None:
    """Set whole days' (monitor, day start, checks, up) in their rows."""
    slots: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    for monitor_id, day, checks, up in days:
        start = day // PERIOD * PERIOD
        slots.setdefault((monitor_id, start), []).append(((day - start) // DAY, checks, up))
    if not slots:
        return
    keys = list(slots)
    stored = {(m, s): bytes(counts) for m, s, counts in conn.execute(
        "SELECT u.monitor, u.start, u.counts FROM uptime_days u JOIN"
        f" {unnest('text', 'int8')} AS k(monitor, start)"
        " ON u.monitor = k.monitor AND u.start = k.start", columns(keys, 2))}
    rows = []
    for key, values in slots.items():
        counts = bytearray(stored.get(key, _EMPTY))
        for slot, checks, up in values:
            _PAIR.pack_into(counts, slot * _PAIR.size, checks, up)
        rows.append((key[1], key[0], bytes(counts)))
    conn.execute(
        f"INSERT INTO uptime_days (start, monitor, counts) SELECT * FROM"
        f" {unnest('int8', 'text', 'bytea')} ON CONFLICT (start, monitor) DO UPDATE"
        " SET counts = excluded.counts", columns(rows, 3))


def purge_days(conn: psycopg.Connection, before: int) -> None:
    """Forget the days before `before` (a day start): rows wholly before it deleted, the
    days before it in the row that holds it zeroed."""
    start = before // PERIOD * PERIOD
    conn.execute("DELETE FROM uptime_days WHERE start < %s", (start,))
    slots = (before - start) // DAY
    if not slots:
        return
    cleared = bytes(_PAIR.size * slots)
    conn.execute("UPDATE uptime_days SET counts = %s || substr(counts, %s) WHERE start = %s",
                 (cleared, len(cleared) + 1, start))


class Aggregates(CheckAggregates):
    """SQLite's folding, but of what was folded since the last write (`rows` holds those
    additions, not whole rows): each write adds them to the rows in SQL. Several writers
    share a PostgreSQL database (two monitors, a monitor taking over another's monitors,
    agents' results posted to either): a row cached whole and written whole would undo
    another writer's counts of the same minute.

    An addition appends its histogram and outcomes to the row's (lists of counts: they
    decode to the sum), so a row grows with each write. Every COMPACT_EVERY seconds the
    rows this writer added to are read under a row lock, summed and written whole again.
    Reading and merging each row at each write instead took 62% of the writer's time in
    a drain of agents' results."""

    def __init__(self, clock: Callable[[], float], rollups: Rollups,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock, rollups)
        self._monotonic = monotonic
        self._compacted_at = monotonic()
        self._added: set[tuple[int, int, str]] = set()  # rows added to since compacted
        self._writing: set[tuple[int, int, str]] = set()  # this write's, until committed
        self._compacting = False  # this write compacts them

    def write(self, conn: psycopg.Connection) -> None:  # type: ignore[override]
        if not self.dirty:
            return
        rows = self.rows
        keys = self._writing = set(self.dirty)
        self._compacting = self._monotonic() - self._compacted_at >= COMPACT_EVERY
        if self._compacting:  # first: the rows are locked in one order, then added to
            self._compact(conn, self._added | keys)
        conn.execute(_ADD_AGGS.format(stage(conn, "stage_new_aggs", _AGG_TYPES, [
            (m, span, span * index, *rows[span, index, m].to_row())
            for span, index, m in keys])))
        rolled = self._rollups.rolled_for
        # A late check of a day already rolled up whole: its packed uptime too, from the
        # day row as it now stands (written just above, in this transaction).
        days = [(m, span * index) for span, index, m in keys
                if span == DAY and index < rolled(m) // DAY]
        if days:
            whole = conn.execute(_SELECT_AGGS, columns([(m, DAY, day) for m, day in days], 3))
            set_days(conn, [(m, start, checks, up) for m, _span, start, checks, up, *_rest
                            in whole])

    @staticmethod
    def _compact(conn: psycopg.Connection, keys: set[tuple[int, int, str]]) -> None:
        """The rows `keys` as stored, each summed into one entry a bucket and outcome."""
        stored = conn.execute(
            _SELECT_AGGS + " ORDER BY a.monitor, a.span, a.start FOR UPDATE OF a",
            columns([(m, span, span * index) for span, index, m in keys], 3)).fetchall()
        upsert_aggs(conn, [(m, span, start, *MinuteAgg.from_row(row).to_row())
                           for m, span, start, *row in stored])

    def written(self) -> None:
        """The additions are in the database: the next ones start from nothing."""
        self.dirty.clear()
        self.rows.clear()
        if self._compacting:  # this write's additions came after: compacted next time
            self._added = self._writing
            self._compacted_at = self._monotonic()
        else:
            self._added |= self._writing
        self._writing, self._compacting = set(), False

    def evict(self) -> None:
        """(Nothing is cached beyond what is being added.)"""

    def forget_rollups(self) -> None:
        """(Additions stay: a rollup rewrote rows from the database's, not from these.)"""

    def _preload(self, conn: psycopg.Connection, checks: list[CheckResult],  # type: ignore[override]
                 ) -> None:
        late_before, late = self._rollups.late_before, self._rollups.late_spans
        rows = self.rows
        for c in checks:
            for span in (SPANS if c.timestamp >= late_before
                         else SPANS + late(c.timestamp, c.monitor_id)):
                key = (span, int(c.timestamp // span), c.monitor_id)
                if key not in rows:
                    rows[key] = MinuteAgg()


class MetricFigures:
    """The metric values of committed checks not yet in metric_aggs, by (minute, monitor,
    metric), summed into their rows once a minute and at each flush (as SQLite's)."""

    def __init__(self, clock: Callable[[], float], say: Callable[[str], None],
                 path: object, rollups: Rollups, deferred: bool = False) -> None:
        self._clock = clock
        self._rollups = rollups
        self._say = say
        self._path = path
        self._values: dict[tuple[int, str, str], list[float]] = {}
        self._held = 0
        self._minute = int(clock() // 60)
        self._writing = False
        self.deferred = deferred
        self._ranges = RowRanges("unsummed")

    def add(self, checks: list[CheckResult]) -> None:
        values = self._values
        held = 0
        for check in checks:
            if not check.metrics or check.available is None:
                continue  # unknown checks count in no figure
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
            self._say(f"{self._path}: metric figures of {self._held} values"
                      " dropped while the database refuses them")
            values.clear()
            self._held = 0

    def batch(self, conn: psycopg.Connection, ids: list[int]) -> None:
        if self.deferred:
            self._ranges.extend(conn, ids)

    def committed(self, checks: list[CheckResult]) -> None:
        self._ranges.committed()
        self.add(checks)

    def rolled_back(self) -> None:
        self._ranges.rolled_back()

    def recover(self, conn: psycopg.Connection) -> int:
        from monitor.store.ranges import check_of

        if not self.deferred:
            return 0
        recovered = 0
        for rows in self._ranges.rows(conn):
            checks = [check_of(row) for row in rows]
            self.add(checks)
            recovered += len(checks)
        return recovered

    def write(self, conn: psycopg.Connection, force: bool = False,
              stopping: bool = False) -> None:
        """Sum the held values into their minute and 10-minute rows: once a minute, or now
        when `force`d. Kept for the next time if refused."""
        minute = int(self._clock() // 60)
        if not self._values or (not force and minute == self._minute and not self._writing):
            return
        if stopping and self.deferred and len(self._values) > METRIC_CHUNK:
            return  # the next start sums them from their raw rows (named in meta)
        self._writing = True
        late = self._rollups.late_spans
        while self._values:
            keys = list(itertools.islice(self._values, METRIC_CHUNK))
            # One row per key: PostgreSQL's upsert may not touch a row twice (a 10-minute
            # block gets each of its minutes' values), so they are merged here first.
            merged: dict[tuple[str, int, int, str], list] = {}
            for key in keys:
                start, monitor_id, name = key
                values = bounded(self._values[key])
                hist: dict[int, int] = {}
                for value in values:
                    bucket = bucket_of(value)
                    hist[bucket] = hist.get(bucket, 0) + 1
                figures = (len(values), sum(values), min(values), max(values),
                           encode_hist(hist))
                for span in SPANS + late(start * 60, monitor_id):
                    row_key = (monitor_id, span, start * 60 // span * span, name)
                    found = merged.get(row_key)
                    if found is None:
                        merged[row_key] = list(figures)
                    else:
                        found[0] += figures[0]
                        found[1] += figures[1]
                        found[2] = min(found[2], figures[2])
                        found[3] = max(found[3], figures[3])
                        found[4] += figures[4]
            rows = [(*key, f[0], finite_total(f[1]), *f[2:]) for key, f in merged.items()]
            last = len(keys) == len(self._values)
            if not commit_all(conn, functools.partial(self._upsert, conn, rows, last)):
                return
            for key in keys:
                self._held -= len(self._values.pop(key))
            if not force:
                break
        if not self._values:
            self._ranges.cleared()
            self._writing = False
            self._held = 0
            self._minute = minute

    def _upsert(self, conn: psycopg.Connection, rows: list[tuple], last: bool) -> None:
        upsert_metrics(conn, rows, add=True)
        if last and self.deferred:
            self._ranges.clear(conn)

    def drop(self) -> None:
        self._values = {}
        self._held = 0
        self._writing = False

    def forget_before(self, before: float) -> None:
        self._values = {(minute, monitor_id, metric): values
                        for (minute, monitor_id, metric), values in self._values.items()
                        if minute >= int(before // 60)}
        self._held = sum(len(v) for v in self._values.values())
