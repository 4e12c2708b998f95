# ruff: noqa
# The stats of schema 4 as commit 1d28f40 had them, verbatim: the answers to compare with.
"""Rolling statistics per site, computed from per-minute and 10-minute aggregates.

A window [start, end] is served by the 10-minute rows it covers entirely, the minute rows
at its edges, and the raw checks of the partial minutes at its two ends, so a report costs
the same whatever the number of checks: at most two minutes of raw rows are ever read
(none for a live window that starts on a minute, as the printed ones do). Percentiles come
from a log-bucketed response-time histogram (buckets 5% wide, so a percentile is within
2.5% of the truth).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from monitor.checks import registry

HIST_MIN_MS = 0.1
HIST_RATIO = 1.05
_LOG_RATIO = math.log(HIST_RATIO)
HIST_TOP = 511  # the last bucket: it holds everything above 0.1 ms * 1.05 ** 510 (76 days)


def bucket_of(ms: float) -> int:
    if ms <= HIST_MIN_MS:
        return 0
    return min(HIST_TOP, int(math.ceil(math.log(ms / HIST_MIN_MS) / _LOG_RATIO - 1e-9)))


def bucket_value(index: int) -> float:
    """A bucket's representative value: the geometric middle of its bounds."""
    if index <= 0:
        return HIST_MIN_MS
    return HIST_MIN_MS * HIST_RATIO ** (index - 0.5)


def _encode(counts: dict) -> str:
    """{12: 3, '503': 1} -> "12:3,503:1". Through the dict's repr, in C: this runs for every
    aggregate row of every batch and was a third of the writer's time as a Python loop.
    Keys are status codes and reason names: no quotes, spaces or colons."""
    return repr(counts)[1:-1].replace("'", "").replace(" ", "")


# A histogram's text: three characters per bucket, the base-64 digits (each written as
# chr(48 + digit)) of bucket * 512 + count. Fixed width, so that a report turns megabytes
# of them into numbers with a few array operations; half as long as "bucket:count," for
# SQLite to read and join. A count above 511 takes more than one entry: they add up.
HIST_DIGIT = 48
_HIST_WIDTH = 3
_COUNT_MAX = 511
_PAIRS = [chr(HIST_DIGIT + i // 64) + chr(HIST_DIGIT + i % 64) for i in range(4096)]
_DIGITS = [chr(HIST_DIGIT + i) for i in range(64)]
# The first two characters of an entry, read as one big-endian 16-bit number -> the value
# of their two digits (the top 12 bits of the entry).
_PAIR_VALUE = np.zeros(65536, dtype=np.int32)
for _i, _pair in enumerate(_PAIRS):
    _PAIR_VALUE[int.from_bytes(_pair.encode(), "big")] = _i


def _encode_hist(hist: dict[int, int]) -> str:
    if all(count <= _COUNT_MAX for count in hist.values()):
        # bucket * 512 + count, split as its top 12 bits and its last 6.
        return "".join([_PAIRS[b << 3 | c >> 6] + _DIGITS[c & 63] for b, c in hist.items()])
    parts = []
    for bucket, count in hist.items():
        while count:
            part = min(count, _COUNT_MAX)
            parts.append(_PAIRS[bucket << 3 | part >> 6] + _DIGITS[part & 63])
            count -= part
    return "".join(parts)


def _decode_hist_into(text: str, hist: dict[int, int]) -> None:
    digits = [ord(ch) - HIST_DIGIT for ch in text]
    for i in range(0, len(digits), _HIST_WIDTH):
        value = (digits[i] * 64 + digits[i + 1]) * 64 + digits[i + 2]
        hist[value >> 9] = hist.get(value >> 9, 0) + (value & _COUNT_MAX)


def _decode_into(text: str, counts: dict[str, int],
                 names: dict[str, int] | None = None) -> None:
    """Add "key:count,..." to `counts`; with `names`, keys that are not numbers go there."""
    if not text:
        return
    for part in text.split(","):
        if part:  # group_concat of empty strings leaves empty parts
            key, _, value = part.rpartition(":")
            into = counts if names is None or key.isdigit() else names
            into[key] = into.get(key, 0) + int(value)


def upgrade_hist(text: str) -> str:
    """A histogram as schemas 1-3 wrote it ("bucket:count,..."), in today's text."""
    counts: dict[str, int] = {}
    _decode_into(text, counts)  # bucket numbers, written by repr(int): one key per bucket
    return _encode_hist({int(bucket): count for bucket, count in counts.items()})


@dataclass(slots=True)
class MinuteAgg:
    """Counts, sums, extremes and histograms of a set of checks; mergeable."""

    checks: int = 0
    up: int = 0
    rt_count: int = 0
    rt_sum: float = 0.0
    rt_min: float | None = None
    rt_max: float | None = None
    hist: dict[int, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, response_ms: float, available: bool | None, status: int | None,
            reason: str | None) -> None:
        if available is None:
            # Unknown (the monitor was offline): not a check of the site, only a reason.
            if reason:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            return
        self.checks += 1
        if available:
            self.up += 1
        if status is not None:
            # Response time means time to an HTTP answer: a refused connection or a
            # timeout has no response time, it has a reason.
            self.rt_count += 1
            self.rt_sum += response_ms
            self.rt_min = response_ms if self.rt_min is None else min(self.rt_min, response_ms)
            self.rt_max = response_ms if self.rt_max is None else max(self.rt_max, response_ms)
            b = bucket_of(response_ms)
            self.hist[b] = self.hist.get(b, 0) + 1
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def to_row(self) -> tuple:
        # Status codes and reason names in one text ("200:58,503:2,timeout:2"): a report
        # joins and parses one text instead of two; codes are numbers, names never are.
        return (self.checks, self.up, self.rt_count, self.rt_sum, self.rt_min, self.rt_max,
                _encode_hist(self.hist), _encode(self.statuses | self.reasons))

    @classmethod
    def from_row(cls, row: Iterable) -> MinuteAgg:
        agg = cls()
        agg.merge_row(row)
        return agg

    def merge_row(self, row: Iterable) -> None:
        checks, up, rt_count, rt_sum, rt_min, rt_max, hist, outcomes = row
        self.checks += checks
        self.up += up
        self.rt_count += rt_count
        self.rt_sum += rt_sum
        if rt_min is not None:
            self.rt_min = rt_min if self.rt_min is None else min(self.rt_min, rt_min)
        if rt_max is not None:
            self.rt_max = rt_max if self.rt_max is None else max(self.rt_max, rt_max)
        _decode_hist_into(hist, self.hist)
        _decode_into(outcomes, self.statuses, self.reasons)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile from the histogram, clamped to the exact extremes."""
        if not self.rt_count:
            return None
        rank = max(1, math.ceil(p / 100.0 * self.rt_count))
        seen = 0
        for index in sorted(self.hist):
            seen += self.hist[index]
            if seen >= rank:
                value = bucket_value(index)
                return min(max(value, self.rt_min), self.rt_max)  # type: ignore[type-var]
        return self.rt_max


# Reason names as numbers for the vectorised parse (any other name is parsed in Python),
# above every status code (three digits).
_REASON_BASE = 1000


def _reason_numbers(reasons: tuple[str, ...]) -> dict[bytes, bytes]:
    return {name.encode(): str(_REASON_BASE + i).encode() for i, name in enumerate(reasons)}


_TIMED = "available IS NOT NULL AND status IS NOT NULL"
# The raw checks of a partial minute, aggregated per site in SQL as MinuteAgg.add would:
# the per-row work stays in C, one row per site comes out, in the aggregate rows' columns
# (each status and reason as "key:1", each histogram entry with a count of 1). A check has a
# status, a reason, both (a 503: "503:1,http_status:1") or, if unknown, at most a reason.
_RAW_SQL = (
    "SELECT host, count(available) AS checks, CAST(total(available) AS INTEGER) AS up,"
    " count(bucket) AS rt_count, total(CASE WHEN bucket IS NOT NULL THEN responseTime END)"
    " AS rt_sum, min(CASE WHEN bucket IS NOT NULL THEN responseTime END) AS rt_min,"
    " max(CASE WHEN bucket IS NOT NULL THEN responseTime END) AS rt_max,"
    # Each check as an entry of count 1: bucket * 512 + 1 in three base-64 digits.
    " group_concat(CASE WHEN bucket IS NOT NULL THEN"  # (char() takes NULL for a 0)
    f" char({HIST_DIGIT} + bucket / 8, {HIST_DIGIT} + bucket % 8 * 8, {HIST_DIGIT + 1}) END,"
    " '') AS hist,"
    " group_concat(CASE WHEN available IS NOT NULL AND status IS NOT NULL"
    " THEN status || ':1' || ifnull(',' || reason || ':1', '') ELSE reason || ':1' END)"
    " AS outcomes FROM ("
    # bucket_of() in SQL: the same libm log, so the same bucket as in Python.
    f" SELECT *, CASE WHEN {_TIMED} THEN (CASE WHEN responseTime <= {HIST_MIN_MS!r} THEN 0"
    f" ELSE min({HIST_TOP}, CAST(ceil(ln(responseTime / {HIST_MIN_MS!r}) / {_LOG_RATIO!r}"
    " - 1e-9) AS INTEGER)) END) END AS bucket FROM website_monitoring WHERE {where})"
    " GROUP BY host")
# The texts come out as bytes: numpy parses bytes as well, and decoding megabytes of them
# into str cost as much as the query.
_SUMS = ("sum(checks), sum(up), sum(rt_count), sum(rt_sum), min(rt_min), max(rt_max),"
         " CAST(group_concat(hist, '') AS BLOB),"
         " CAST(group_concat(NULLIF(outcomes, '')) AS BLOB)")
# Site by site (site_state holds every site with aggregates), a seek per range of rows:
# the rows come out in site order, so SQLite groups them as they come. Over time ranges
# with a GROUP BY, it sorted every row's texts first: half the time of an hourly report.
_RANGES_SQL = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    f" SELECT s.host, {_SUMS} FROM site_state s CROSS JOIN r CROSS JOIN aggregates a"
    " ON a.host = s.host AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi"
    " GROUP BY s.host")
_RAWS_SQL = f"SELECT host, {_SUMS} FROM ({{parts}}) GROUP BY host"


def _ensure_math(conn: sqlite3.Connection) -> None:
    """SQLite's math functions are a build option: supply them where they are missing."""
    try:
        conn.execute("SELECT ln(1.0), ceil(0.5)").fetchone()
    except sqlite3.OperationalError:
        conn.create_function("ln", 1, math.log, deterministic=True)
        conn.create_function("ceil", 1, math.ceil, deterministic=True)


def _blocks_since(conn: sqlite3.Connection) -> float:
    """The first 10-minute block the writer filled whole (a number of 600 s): history before
    it, from a database older than blocks, is read from its minutes."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'blocks_since'").fetchone()
    except sqlite3.OperationalError:
        return math.inf
    return 0 if row is None else row[0]  # no row: a database that had blocks from the start


class SiteStats(NamedTuple):
    """One site's figures over a window. A named tuple, not a frozen dataclass: a report
    builds 5,000 of them, and a frozen dataclass's __init__ took 14 ms of that."""

    host: str
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
    down_for: float | None  # seconds the site has been down, if it is down now
    since_failure: float | None  # seconds since the last failed check
    skipped: int = 0  # slots that found the previous check still running (in `checks`)


def _plan(start: float, end: float, live: bool, blocks_since: float,
          ) -> tuple[list[tuple[int, int, int]], list[tuple[str, tuple]]]:
    """The pieces that make up [start, end] exactly: whole 10-minute blocks, whole minutes,
    and raw checks for the partial minutes at the edges. A live window (nothing recorded
    after `end`) takes the minute and block in progress whole: they hold exactly the checks
    up to now. Returns the aggregate rows as (span, first start, end start) in seconds, and
    the raw pieces as (SQL, parameters) in the columns of _RAW_SQL."""
    first = -int(-start // 60)  # the first minute that starts at or after `start`
    last = int(end // 60)  # the minute that holds `end`
    if live:
        last += 1
    ranges: list[tuple[int, int, int]] = []
    raws: list[tuple[str, tuple]] = []

    def raw(where: str, *bounds: float) -> None:
        raws.append((_RAW_SQL.format(where=where), bounds))

    def rows(span: int, lo: int, hi: int) -> None:
        if lo < hi:
            ranges.append((span, lo * span, hi * span))

    if first >= last:  # no whole minute inside: at most two partial ones
        raw("timestamp >= ? AND timestamp <= ?", start, end)
        return ranges, raws
    if start < first * 60:
        raw("timestamp >= ? AND timestamp < ?", start, first * 60)
    if not live:
        raw("timestamp >= ? AND timestamp <= ?", last * 60, end)
    # Blocks whose every minute is inside [first, last): for a live window the block in
    # progress too, its minutes after now being empty.
    block_lo = max(-(-first // 10), blocks_since)
    block_hi = -(-last // 10) if live else last // 10
    if block_lo < block_hi:
        block_lo = int(block_lo)
        rows(600, block_lo, block_hi)
        rows(60, first, block_lo * 10)
        rows(60, block_hi * 10, last)
    else:
        rows(60, first, last)
    return ranges, raws


def _merge(a: tuple, b: tuple) -> tuple:
    """Two rows of _SUMS for one site, as one."""
    def extreme(pick, x, y):
        return y if x is None else x if y is None else pick(x, y)

    def text(x, y, separator=b","):
        return y if not x else x if not y else x + separator + y

    return (a[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4], extreme(min, a[5], b[5]),
            extreme(max, a[6], b[6]), text(a[7], b[7], b""), text(a[8], b[8]))


def _window_rows(conn: sqlite3.Connection, start: float, end: float) -> list[tuple]:
    """One row per site with checks in [start, end], in the columns of _SUMS."""
    live = conn.execute("SELECT 1 FROM website_monitoring WHERE timestamp > ? LIMIT 1",
                        (end,)).fetchone() is None
    ranges, raws = _plan(start, end, live, _blocks_since(conn))
    rows = []
    if ranges:
        rows = conn.execute(_RANGES_SQL.format(values=",".join(["(?,?,?)"] * len(ranges))),
                            [v for r in ranges for v in r]).fetchall()
    if raws:
        _ensure_math(conn)  # for the raw pieces' buckets; one trivial query
        extra = conn.execute(_RAWS_SQL.format(parts=" UNION ALL ".join(sql for sql, _ in raws)),
                             [p for _, params in raws for p in params]).fetchall()
        merged = {row[0]: row for row in rows}
        for row in extra:
            merged[row[0]] = _merge(merged[row[0]], row) if row[0] in merged else row
        rows = sorted(merged.values())
    return rows


def _pairs(texts: list[bytes | None], names: dict[bytes, bytes],
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse every site's "key:count,..." text in one pass: (site index, key, count).
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
    site = np.repeat(np.array([i for i, _ in present], dtype=np.int64), sizes)
    return site, numbers[0::2], numbers[1::2]


def _hist_entries(texts: list[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every site's histogram entries, in three arrays: (site index, bucket, count)."""
    present = [(i, t) for i, t in enumerate(texts) if t]
    joined = b"".join(t for _, t in present)
    entries = len(joined) // _HIST_WIDTH
    if not entries:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, empty
    # Each entry's first two bytes as one number, straight from the bytes (no copy), looked
    # up; then its third byte: few passes over few arrays, which is what costs here.
    pairs = np.ndarray((entries,), dtype=">u2", buffer=joined, strides=(_HIST_WIDTH,))
    lasts = np.ndarray((entries,), dtype=np.uint8, buffer=joined, offset=2,
                       strides=(_HIST_WIDTH,))
    value = _PAIR_VALUE[pairs]
    value <<= 6
    value += lasts
    value -= HIST_DIGIT
    site = np.repeat(np.array([i for i, _ in present], dtype=np.int32),
                     [len(t) // _HIST_WIDTH for _, t in present])
    return site, value >> 9, value & _COUNT_MAX


_CHUNK = 512  # sites per pass of _percentiles


def _percentiles(texts: list[bytes | None], rt_min: list, rt_max: list,
                 ps: tuple[float, ...]) -> list[list[float | None]]:
    """Nearest-rank percentiles of every site's summed histogram, for all sites at once
    (a Python loop per site cost more than the SQL at 5,000 sites), a chunk of sites at a
    time: arrays of a few hundred kilobytes are reused from the heap, while arrays of tens
    of megabytes are new memory every time, and faulting it in cost as much as the work."""
    result: list[list[float | None]] = [[None] * len(texts) for _ in ps]
    for first in range(0, len(texts), _CHUNK):
        chunk = texts[first:first + _CHUNK]
        count = len(chunk)
        site, bucket, number = _hist_entries(chunk)
        if not len(site):
            continue
        width = int(bucket.max()) + 1
        cumulative = np.bincount(site * width + bucket, weights=number,
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
    """Every site's status counts (codes in ascending order) and failure reasons (most
    frequent first), summed, all sites at once."""
    statuses: list[dict[str, int]] = [{} for _ in texts]
    reasons: list[dict[str, int]] = [{} for _ in texts]
    known = registry.all_reasons()  # every kind's reasons, in a stable order
    parsed = _pairs(texts, _reason_numbers(known))
    if parsed is None:  # a reason no kind loaded declares (one of a kind since removed)
        for i, text in enumerate(texts):
            codes: dict[str, int] = {}
            names: dict[str, int] = {}
            _decode_into(text.decode() if text else "", codes, names)
            statuses[i] = dict(sorted(codes.items()))
            reasons[i] = dict(sorted(names.items(), key=lambda kv: -kv[1]))
        return statuses, reasons
    site, key, number = parsed
    if not len(site):
        return statuses, reasons
    # site * 2048 + key sorts by site, then key: status codes (three digits) first, then
    # reasons in the order of `known`.
    keys, inverse = np.unique(site * 2048 + key, return_inverse=True)
    sums = np.bincount(inverse, weights=number).astype(np.int64).tolist()
    found = []
    for k, total in zip(keys.tolist(), sums, strict=True):
        code = k % 2048
        if code < _REASON_BASE:
            statuses[k // 2048][str(code)] = total
        else:
            found.append((k // 2048, -total, code - _REASON_BASE))
    for i, minus, reason in sorted(found):
        reasons[i][known[reason]] = -minus
    return statuses, reasons


def window_start(now: float, seconds: float) -> float:
    """The start of the minute that the past `seconds` begin in: a window that starts on a
    minute is read from aggregates alone."""
    return (now - seconds) // 60 * 60


def site_states(conn: sqlite3.Connection) -> dict[str, tuple[float | None, float | None]]:
    """Each site's (last failure, down since), as the writer keeps them."""
    return {host: (last_failure, down_since) for host, last_failure, down_since
            in conn.execute("SELECT host, last_failure, down_since FROM site_state")}


def state_at(last_failure: float | None, down_since: float | None,
             end: float) -> tuple[float | None, float | None]:
    """(seconds down, seconds since the last failure) at `end`; never negative."""
    return (None if down_since is None else max(0.0, end - down_since),
            None if last_failure is None else max(0.0, end - last_failure))


def window_stats(conn: sqlite3.Connection, start: float, end: float,
                 hosts: Iterable[str] | None = None) -> dict[str, SiteStats]:
    """Stats of each site's checks with start <= timestamp <= end, from a reader connection.

    Flat as the database grows: whole 10-minute blocks and minutes come from the aggregate
    tables, raw checks only for partial minutes at the edges (none for a live window that
    starts on a minute, as the reports' windows do)."""
    rows = _window_rows(conn, start, end)
    found = [row[0] for row in rows]
    rt_min = [row[5] for row in rows]
    rt_max = [row[6] for row in rows]
    p50, p90, p99 = _percentiles([row[7] for row in rows], rt_min, rt_max, (50, 90, 99))
    statuses, failures = _outcomes([row[8] for row in rows])
    index = {host: i for i, host in enumerate(found)}
    states = site_states(conn)
    nothing = (None, None)
    result = {}
    # Positional arguments: this loop runs for every site of every report.
    for host in (list(hosts) if hosts is not None else sorted(found)):
        down_for, since_failure = state_at(*states.get(host, nothing), end)
        i = index.get(host)
        if i is None:
            result[host] = SiteStats(host, 0, None, None, None, None, None, None, None, {}, {},
                                     down_for, since_failure, 0)
            continue
        _, checks, up, rt_count, rt_sum, *_rest = rows[i]
        # Skipped slots share their covering check's verdict, up or down: not a reason.
        skipped = failures[i].pop("skipped", 0)
        result[host] = SiteStats(
            host, checks, up / checks if checks else None, rt_min[i],
            rt_sum / rt_count if rt_count else None, rt_max[i], p50[i], p90[i], p99[i],
            statuses[i], failures[i], down_for, since_failure, skipped)
    return result
