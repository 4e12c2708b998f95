"""Rolling statistics per monitor, computed from the aggregates of minutes, 10-minute
blocks, hours and days.

A window [start, end] is served by the days, hours and 10-minute rows it covers entirely,
the minute rows at its edges, and the raw checks of the partial minutes at its two ends
(store.tiers), so a report costs
the same whatever the number of checks: at most two minutes of raw rows are ever read
(none for a live window that starts on a minute, as the printed ones do). This module plans
the pieces and computes the figures (percentiles from the codec's histograms, in numpy);
the store's Reader reads the rows.
"""

from __future__ import annotations

import heapq
import math
import re
import sys
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from monitor.core.model import COMMON_REASONS
from monitor.store.api import Range, RawPiece, Reader, WindowTotal
from monitor.store.codec import (
    COUNT_MAX,
    HIST_DIGIT,
    HIST_MIN_MS,
    HIST_RATIO,
    HIST_WIDTH,
    PAIR_VALUE,
    WARNING_MARK,
    bucket_of,
    bucket_value,
    decode_counts_into,
)
from monitor.store.summaries import TrendBucket
from monitor.store.tiers import TIERS, cover

# Reason names as numbers for the vectorised parse (any other name is parsed in Python),
# above every status code (three digits).
_REASON_BASE = 1000
_KEY_SPAN = 2048  # status codes below _REASON_BASE, reasons from it


def _reason_numbers(reasons: tuple[str, ...]) -> dict[bytes, bytes]:
    return {name.encode(): str(_REASON_BASE + i).encode() for i, name in enumerate(reasons)}


class MonitorStats(NamedTuple):
    """One monitor's figures over a window. A named tuple, not a frozen dataclass: a report
    builds thousands of them, and a frozen dataclass's __init__ is several times slower."""

    monitor_id: str
    checks: int
    availability: float | None
    rt_min: float | None
    rt_avg: float | None
    rt_max: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    statuses: dict[str, int]
    reasons: dict[str, int]
    down_for: float | None  # seconds it has been down, if it is down now
    since_failure: float | None  # seconds since the last failed check
    skipped: int = 0  # slots that found the previous check still running (in `checks`)
    # The kind's metrics over the window (http: dns, connect, tls, ttfb, total), each as
    # (p50, p90) in ms; empty when the monitor's kind reports none.
    phases: dict[str, tuple[float | None, float | None]] = {}  # noqa: RUF012 - never mutated
    # Checks that were up but warned, by reason (counted in `availability` as up).
    warnings: dict[str, int] = {}  # noqa: RUF012 - never mutated

    @property
    def warned(self) -> int:
        return sum(self.warnings.values())


def _plan(start: float, end: float, live: bool, blocks_since: float, rolled_until: float = 0,
          ) -> tuple[list[Range], list[RawPiece]]:
    """The pieces that make up [start, end] exactly: whole days and hours rolled up, whole
    10-minute blocks, whole minutes (store.tiers), and raw checks for the partial minutes
    at the edges. A live window (nothing recorded after `end`) takes the minute and block
    in progress whole: they hold exactly the checks up to now. Returns the aggregate rows
    as (span, first start, end start) in seconds, and the raw pieces as time ranges."""
    first = -int(-start // 60)  # the first minute that starts at or after `start`
    last = int(end // 60)  # the minute that holds `end`
    if live:
        last += 1
    raws: list[RawPiece] = []
    if first >= last:  # no whole minute inside: at most two partial ones
        raws.append(RawPiece(start, end, True))
        return [], raws
    if start < first * 60:
        raws.append(RawPiece(start, first * 60, False))
    if not live:
        raws.append(RawPiece(last * 60, end, True))
    # For a live window the block in progress whole, its minutes after now being empty.
    return cover(first * 60, last * 60, rolled_until, blocks_since, live=live), raws


def _window(reader: Reader, start: float, end: float,
            ) -> tuple[list[Range], list[RawPiece]]:
    """The pieces of [start, end] for this database: live unless checks come after `end`."""
    return _plan(start, end, not reader.checks_after(end), reader.blocks_since(),
                 reader.rolled_until())


_NAME_KEY = re.compile(rb"(?:^|,)([^,:0-9][^,:]*):")


def _named_keys(texts: list[bytes | None]) -> set[str]:
    """The keys of "key:count,..." texts that are names, not numbers (a name never starts
    with a digit): one search of them all joined, not one per monitor."""
    return {key.decode() for key in set(_NAME_KEY.findall(b",".join(t for t in texts if t)))}


def _in_order(names: set[str]) -> tuple[str, ...]:
    """Reasons in one order whichever kinds this process loaded, for the ties of a count:
    the common ones, the others by name; then each as a warning's."""
    ordered = (*COMMON_REASONS, *sorted(names - set(COMMON_REASONS)))
    return (*ordered, *(WARNING_MARK + name for name in ordered))


def _pairs(texts: list[bytes | None], names: dict[bytes, bytes],
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse every monitor's "key:count,..." text in one pass: (monitor index, key, count).
    `names` turns keys that are names into numbers first; None if a key is left that is
    not a number."""
    present = [(i, t) for i, t in enumerate(texts) if t]
    if not present:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    joined = b",".join(t for _, t in present)
    for name, number in names.items():
        key = b"," + name + b":"
        if key in joined:  # a search, where a replace copies the megabyte even if in vain
            joined = joined.replace(key, b"," + number + b":")
        if joined.startswith(name + b":"):
            joined = number + joined[len(name):]
    if not joined.translate(None, b",:").isdigit():
        return None
    # numpy's own text parser, in C: five times faster than int() over a split.
    numbers = np.fromstring(joined.replace(b":", b","), dtype=np.int64, sep=",")
    sizes = [t.count(b",") + 1 for _, t in present]
    monitor = np.repeat(np.array([i for i, _ in present], dtype=np.int64), sizes)
    return monitor, numbers[0::2], numbers[1::2]


def _hist_entries(texts: list[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every monitor's histogram entries, in three arrays: (monitor index, bucket, count)."""
    present = [(i, t) for i, t in enumerate(texts) if t]
    joined = b"".join(t for _, t in present)
    entries = len(joined) // HIST_WIDTH
    if not entries:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, empty
    # Each entry's first two bytes as one number, straight from the bytes (no copy), looked
    # up; then its third byte: few passes over few arrays, which is what costs here.
    pairs = np.ndarray((entries,), dtype=">u2", buffer=joined, strides=(HIST_WIDTH,))
    lasts = np.ndarray((entries,), dtype=np.uint8, buffer=joined, offset=2,
                       strides=(HIST_WIDTH,))
    value = PAIR_VALUE[pairs]
    value <<= 6
    value += lasts
    value -= HIST_DIGIT
    monitor = np.repeat(np.array([i for i, _ in present], dtype=np.int32),
                     [len(t) // HIST_WIDTH for _, t in present])
    return monitor, value >> 9, value & COUNT_MAX


_CHUNK = 512  # monitors per pass of _percentiles


def _percentiles(texts: list[bytes | None], rt_min: list, rt_max: list,
                 ps: tuple[float, ...]) -> list[list[float | None]]:
    """Nearest-rank percentiles of every monitor's summed histogram, for all monitors at
    once (a Python loop per monitor cost more than the SQL at 5,000 monitors), a chunk of
    monitors at a time: arrays of a few hundred kilobytes are reused from the heap, while
    arrays of tens of megabytes are new memory every time, and faulting it in cost as much
    as the work."""
    result: list[list[float | None]] = [[None] * len(texts) for _ in ps]
    for first in range(0, len(texts), _CHUNK):
        chunk = texts[first:first + _CHUNK]
        count = len(chunk)
        monitor, bucket, number = _hist_entries(chunk)
        if not len(monitor):
            continue
        width = int(bucket.max()) + 1
        cumulative = np.bincount(monitor * width + bucket, weights=number,
                                 minlength=count * width).reshape(count, width).cumsum(axis=1)
        total = cumulative[:, -1]
        timed = np.flatnonzero(total > 0)
        if len(timed) < count:
            cumulative, total = cumulative[timed], total[timed]
        lows = np.array([rt_min[first + i] for i in timed], dtype=float)
        highs = np.array([rt_max[first + i] for i in timed], dtype=float)
        where = (timed + first).tolist()
        for out, p in zip(result, ps, strict=True):
            rank = np.maximum(1.0, np.ceil(p / 100.0 * total))
            index = (cumulative < rank[:, None]).sum(axis=1)
            value = np.where(index <= 0, HIST_MIN_MS, HIST_MIN_MS * HIST_RATIO ** (index - 0.5))
            for i, v in zip(where, np.clip(value, lows, highs).tolist(), strict=True):
                out[i] = v
    return result


def _outcomes(texts: list[bytes | None]) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """Every monitor's status counts (codes in ascending order) and failure reasons (most
    frequent first), summed, all monitors at once."""
    statuses: list[dict[str, int]] = [{} for _ in texts]
    reasons: list[dict[str, int]] = [{} for _ in texts]
    # The reasons of the kinds loaded here, then (a report loads no kind) the others found.
    # The registry says the reasons of the kinds loaded; a process that loaded none (a
    # report: its import, with the entry points', is a tenth of `-r --once`) knows the
    # common ones, and finds the others in the texts below.
    registry = sys.modules.get("monitor.checks.registry")
    reason_names = set(registry.all_reasons() if registry else COMMON_REASONS)
    known = _in_order(reason_names)
    parsed = _pairs(texts, _reason_numbers(known))
    if parsed is None:
        reason_names.update(key.removeprefix(WARNING_MARK) for key in _named_keys(texts))
        known = _in_order(reason_names)
        if _REASON_BASE + len(known) <= _KEY_SPAN:
            parsed = _pairs(texts, _reason_numbers(known))
    if parsed is None:  # more reasons than numbers for them
        for i, text in enumerate(texts):
            codes: dict[str, int] = {}
            names: dict[str, int] = {}
            decode_counts_into(text.decode() if text else "", codes, names)
            statuses[i] = dict(sorted(codes.items()))
            reasons[i] = dict(sorted(names.items(), key=lambda kv: -kv[1]))
        return statuses, reasons
    monitor, key, number = parsed
    if not len(monitor):
        return statuses, reasons
    # monitor * _KEY_SPAN + key sorts by monitor, then key: status codes (three digits) first,
    # then reasons in the order of `known`.
    keys, inverse = np.unique(monitor * _KEY_SPAN + key, return_inverse=True)
    sums = np.bincount(inverse, weights=number).astype(np.int64).tolist()
    found = []
    for k, total in zip(keys.tolist(), sums, strict=True):
        code = k % _KEY_SPAN
        if code < _REASON_BASE:
            statuses[k // _KEY_SPAN][str(code)] = total
        else:
            found.append((k // _KEY_SPAN, -total, code - _REASON_BASE))
    for i, minus, reason in sorted(found):
        reasons[i][known[reason]] = -minus
    return statuses, reasons


def window_start(now: float, seconds: float) -> float:
    """The start of the minute that the past `seconds` begin in: a window that starts on a
    minute is read from aggregates alone."""
    return (now - seconds) // 60 * 60


def state_at(last_failure: float | None, down_since: float | None,
             end: float) -> tuple[float | None, float | None]:
    """(seconds down, seconds since the last failure) at `end`; never negative."""
    return (None if down_since is None else max(0.0, end - down_since),
            None if last_failure is None else max(0.0, end - last_failure))


def window_stats(reader: Reader, start: float, end: float,
                 monitor_ids: Iterable[str] | None = None, *,
                 narrow: bool = False) -> dict[str, MonitorStats]:
    """Stats of each monitor's checks with start <= timestamp <= end, keyed by monitor id.
    `narrow`: read only the rows of `monitor_ids` (a few of many monitors: the API's one),
    where by default every monitor's rows are read and those asked for kept.

    Flat as the database grows: whole 10-minute blocks and minutes come from the aggregate
    tables, raw checks only for partial minutes at the edges (none for a live window that
    starts on a minute, as the reports' windows do)."""
    ranges, raws = _window(reader, start, end)
    if monitor_ids is not None:
        monitor_ids = list(monitor_ids)
    only = monitor_ids if narrow else None
    rows = reader.window_rows(ranges, raws, only)
    found = [row.monitor_id for row in rows]
    rt_min = [row.rt_min for row in rows]
    rt_max = [row.rt_max for row in rows]
    p50, p90, p99 = _percentiles([row.hist for row in rows], rt_min, rt_max, (50, 90, 99))
    statuses, failures = _outcomes([row.outcomes for row in rows])
    phases = _phases(reader, ranges, raws, only)
    index = {monitor_id: i for i, monitor_id in enumerate(found)}
    states = reader.monitor_states(only)
    nothing = (None, None)
    no_phases: dict[str, tuple[float | None, float | None]] = {}
    result = {}
    # Positional arguments: this loop runs for every monitor of every report.
    for monitor_id in (monitor_ids if monitor_ids is not None else sorted(found)):
        down_for, since_failure = state_at(*states.get(monitor_id, nothing), end)
        i = index.get(monitor_id)
        if i is None:
            result[monitor_id] = MonitorStats(monitor_id, 0, None, None, None, None, None, None,
                                              None, {}, {}, down_for, since_failure, 0,
                                              no_phases)
            continue
        row = rows[i]
        checks, up, rt_count, rt_sum = row.checks, row.up, row.rt_count, row.rt_sum
        # Skipped slots share their covering check's verdict, up or down: not a reason.
        skipped = (failures[i].pop("skipped", 0)
                   + failures[i].pop(WARNING_MARK + "skipped", 0))  # of a check that warned
        warnings = {k[1:]: failures[i].pop(k) for k in list(failures[i])
                    if k[0] == WARNING_MARK}
        result[monitor_id] = MonitorStats(
            monitor_id, checks, up / checks if checks else None, rt_min[i],
            rt_sum / rt_count if rt_count else None, rt_max[i], p50[i], p90[i], p99[i],
            statuses[i], failures[i], down_for, since_failure, skipped,
            phases.get(monitor_id, no_phases), warnings)
    return result


def window_pieces(reader: Reader, start: float, end: float,
                  ) -> tuple[list[Range], list[RawPiece]]:
    """The aggregate ranges and raw pieces that make up [start, end] in this database."""
    return _window(reader, start, end)


def window_totals(reader: Reader, start: float, end: float) -> list[WindowTotal]:
    """Every monitor's counts over [start, end] (checks, up, timed ones, their sum and
    maximum) and its state now, in one read for all: what a summary of 100,000 monitors
    needs, from the same pieces as window_stats, without a histogram."""
    ranges, raws = _window(reader, start, end)
    return reader.window_totals(ranges, raws)


_FIRST_READ = 64  # monitors whose histograms `slowest` reads at once, at first


def _p99_bound(total: WindowTotal) -> float:
    """The highest p99 a monitor can have: its p99's value is at most its maximum's, so in
    its bucket or below, and _percentiles gives a bucket's middle held within the extremes:
    the maximum's bucket's middle, held so. (Monitors that would tie with the last one found
    are not read: which of them is listed is left open.)"""
    most = total.rt_max or 0.0
    least = most if total.rt_min is None else total.rt_min
    return min(most, max(least, bucket_value(bucket_of(most))))


def slowest(reader: Reader, start: float, end: float, totals: Sequence[WindowTotal],
            count: int) -> tuple[list[tuple[str, float]], bool]:
    """The `count` monitors of `totals` (in order of their highest response time, highest
    first) with the highest p99 over [start, end], highest first, with their p99; and
    whether the monitors after `totals` could not change that. A p99 is never above what
    the window's maximum allows (_p99_bound), so the histograms are read in order of that
    maximum, a few monitors at a time, until none left could beat the `count`-th found (at
    60 s checks, under 100 a window, the p99 is the maximum: the first read)."""
    ranges, raws = _window(reader, start, end)
    best: list[tuple[float, str]] = []  # a heap of the `count` highest (p99, id) so far
    done, size = 0, max(_FIRST_READ, count)
    sure = count <= 0
    while done < len(totals) and not sure:
        if len(best) >= count and best[0][0] >= _p99_bound(totals[done]):
            sure = True
            break
        chunk = totals[done:done + size]
        done += len(chunk)
        size *= 4
        rows = reader.window_rows(ranges, raws, [t.monitor_id for t in chunk])
        (p99s,) = _percentiles([row.hist for row in rows], [row.rt_min for row in rows],
                               [row.rt_max for row in rows], (99,))
        for row, p99 in zip(rows, p99s, strict=True):
            if p99 is None:
                continue
            if len(best) < count:
                heapq.heappush(best, (p99, row.monitor_id))
            elif p99 > best[0][0]:
                heapq.heapreplace(best, (p99, row.monitor_id))
    # The monitors after `totals` have no higher maximum than its last.
    sure = sure or bool(len(best) >= count and totals and best[0][0] >= _p99_bound(totals[-1]))
    return ([(monitor_id, p99) for p99, monitor_id in sorted(best, key=lambda e: (-e[0], e[1]))],
            sure)


def _phases(reader: Reader, ranges: list[Range], raws: list[RawPiece],
            only: list[str] | None,
            ) -> dict[str, dict[str, tuple[float | None, float | None]]]:
    """Each monitor's metrics over the window as {metric: (p50, p90)}, all at once."""
    rows = reader.metric_rows(ranges, raws, only)
    if not rows:
        return {}
    p50, p90 = _percentiles([row.hist for row in rows], [row.low for row in rows],
                            [row.high for row in rows], (50, 90))
    out: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    for row, low, high in zip(rows, p50, p90, strict=True):
        out.setdefault(row.monitor_id, {})[row.metric] = (low, high)
    return out


def trend(reader: Reader, monitor_id: str, since: float, until: float, step: float,
          metric: str | None = None) -> list[TrendBucket]:
    """A monitor's response times (or a metric's values) and availability by bucket of
    `step` seconds (rounded up to whole minutes), from the bucket holding `since` to the
    one holding `until`, each whole, oldest first; buckets with no row left out (one of
    unknown checks only has a row, no checks and no values). Read
    from the coarsest tier whose rows fit the step: a year by day is a year of day rows."""
    size = max(60, -(-int(math.ceil(step)) // 60) * 60)
    coarsest = max(span for span in TIERS if size % span == 0)
    lo = int(since // size) * size
    hi = (int(until // size) + 1) * size
    ranges = cover(lo, hi, reader.rolled_until(), reader.blocks_since(), coarsest=coarsest)
    rows = reader.trend_rows(monitor_id, ranges, size, metric)
    lows = [row.low for row in rows]
    highs = [row.high for row in rows]
    p50, p90, p99 = _percentiles([row.hist for row in rows], lows, highs, (50, 90, 99))
    return [TrendBucket(row.start, row.checks, row.up, row.values,
                        row.total / row.values if row.values else None, row.low, row.high,
                        p50[i], p90[i], p99[i])
            for i, row in enumerate(rows)]
