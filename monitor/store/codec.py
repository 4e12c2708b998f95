"""The aggregates' codec: what the writer keeps per minute and per 10 minutes and how it is
written as text (histograms, outcome counts), apart from the read-side statistics.

Percentiles come from a log-bucketed histogram (buckets 5% wide, so a percentile is within
2.5% of the truth); response times and a kind's metrics (HTTP phase times) share it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from monitor.core.fields import MAX_VALUE

# In the outcome counts, a warning's reason is written after this mark ("~tls_expiry:3"),
# the failures' reasons as they are.
WARNING_MARK = "~"
HIST_MIN_MS = 0.1
HIST_RATIO = 1.05
LOG_RATIO = math.log(HIST_RATIO)
HIST_TOP = 511  # the last bucket: it holds everything above 0.1 ms * 1.05 ** 510 (76 days)


# Above this, a value is in the top bucket whatever the formula says: the formula's division
# overflows to infinity near the float's end (1.8e307 / 0.1), and ceil(inf) raises.
_BEYOND_TOP = HIST_MIN_MS * HIST_RATIO ** (HIST_TOP + 1)
FLOAT_MAX = sys.float_info.max


def bucket_of(ms: float) -> int:
    if ms <= HIST_MIN_MS:
        return 0
    if not ms < _BEYOND_TOP:  # (NaN too)
        return HIST_TOP
    return min(HIST_TOP, int(math.ceil(math.log(ms / HIST_MIN_MS) / LOG_RATIO - 1e-9)))


def bounded(values: list[float]) -> list[float]:
    """`values` held within ±MAX_VALUE, as the figures of metrics count them: a value the
    ingest did not bound (a kind's metric) must not make a sum overflow."""
    if min(values) >= -MAX_VALUE and max(values) <= MAX_VALUE:
        return values
    return [min(max(value, -MAX_VALUE), MAX_VALUE) for value in values]


def finite_total(total: float) -> float:
    """A sum as SQLite's JSON and the API's can carry it: one that overflowed is the
    largest float of its sign (NaN, from infinities of both signs: 0)."""
    if -FLOAT_MAX <= total <= FLOAT_MAX:
        return total
    return 0.0 if math.isnan(total) else math.copysign(FLOAT_MAX, total)


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """A check's metrics as JSON can carry them: infinities held at ±MAX_VALUE, NaN left
    out (a kind's bug must cost that metric, not the check)."""
    return {name: min(max(value, -MAX_VALUE), MAX_VALUE) for name, value in metrics.items()
            if not math.isnan(value)}


def bucket_value(index: int) -> float:
    """A bucket's representative value: the geometric middle of its bounds."""
    if index <= 0:
        return HIST_MIN_MS
    return HIST_MIN_MS * HIST_RATIO ** (index - 0.5)


def encode_counts(counts: dict) -> str:
    """{12: 3, '503': 1} -> "12:3,503:1". Through the dict's repr, in C: this runs for every
    aggregate row of every batch and was a third of the writer's time as a Python loop.
    Keys are status codes and reason names: no quotes, spaces or colons."""
    return repr(counts)[1:-1].replace("'", "").replace(" ", "")


# A histogram's text: three characters per bucket, the base-64 digits (each written as
# chr(48 + digit)) of bucket * 512 + count. Fixed width, so that a report turns megabytes
# of them into numbers with a few array operations; half as long as "bucket:count," for
# SQLite to read and join. A count above 511 takes more than one entry: they add up.
HIST_DIGIT = 48
HIST_WIDTH = 3
COUNT_MAX = 511
_PAIRS = [chr(HIST_DIGIT + i // 64) + chr(HIST_DIGIT + i % 64) for i in range(4096)]
_DIGITS = [chr(HIST_DIGIT + i) for i in range(64)]
# The first two characters of an entry, read as one big-endian 16-bit number -> the value
# of their two digits (the top 12 bits of the entry).
PAIR_VALUE = np.zeros(65536, dtype=np.int32)
for _i, _pair in enumerate(_PAIRS):
    PAIR_VALUE[int.from_bytes(_pair.encode(), "big")] = _i


def encode_hist(hist: dict[int, int]) -> str:
    if all(count <= COUNT_MAX for count in hist.values()):
        # bucket * 512 + count, split as its top 12 bits and its last 6.
        return "".join([_PAIRS[b << 3 | c >> 6] + _DIGITS[c & 63] for b, c in hist.items()])
    parts = []
    for bucket, count in hist.items():
        while count:
            part = min(count, COUNT_MAX)
            parts.append(_PAIRS[bucket << 3 | part >> 6] + _DIGITS[part & 63])
            count -= part
    return "".join(parts)


def decode_hist_into(text: str, hist: dict[int, int]) -> None:
    digits = [ord(ch) - HIST_DIGIT for ch in text]
    for i in range(0, len(digits), HIST_WIDTH):
        value = (digits[i] * 64 + digits[i + 1]) * 64 + digits[i + 2]
        hist[value >> 9] = hist.get(value >> 9, 0) + (value & COUNT_MAX)


def decode_counts_into(text: str, counts: dict[str, int],
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
    decode_counts_into(text, counts)  # bucket numbers, written by repr(int): one per bucket
    return encode_hist({int(bucket): count for bucket, count in counts.items()})


def percentile(hist: dict[int, int], count: int, low: float | None, high: float | None,
               p: float) -> float | None:
    """Nearest-rank percentile from a histogram, clamped to the exact extremes."""
    if not count:
        return None
    rank = max(1, math.ceil(p / 100.0 * count))
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return min(max(bucket_value(index), low), high)  # type: ignore[type-var]
    return high


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
            reason: str | None, warning: bool = False) -> None:
        if available is None:
            # Unknown (the monitor was offline): not a check of the site, only a reason.
            if reason:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            return
        self.checks += 1
        if available:
            self.up += 1
        if status is not None:
            # Response time means time to an answer: a refused connection or a timeout has
            # no response time, it has a reason.
            self.rt_count += 1
            self.rt_sum += response_ms
            self.rt_min = response_ms if self.rt_min is None else min(self.rt_min, response_ms)
            self.rt_max = response_ms if self.rt_max is None else max(self.rt_max, response_ms)
            b = bucket_of(response_ms)
            self.hist[b] = self.hist.get(b, 0) + 1
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
        if reason:
            if warning:  # a warning's reason: counted apart from failures
                reason = WARNING_MARK + reason
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def to_row(self) -> tuple:
        # Status codes and reason names in one text ("200:58,503:2,timeout:2"): a report
        # joins and parses one text instead of two; codes are numbers, names never are.
        return (self.checks, self.up, self.rt_count, self.rt_sum, self.rt_min, self.rt_max,
                encode_hist(self.hist), encode_counts(self.statuses | self.reasons))

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
        decode_hist_into(hist, self.hist)
        decode_counts_into(outcomes, self.statuses, self.reasons)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile from the histogram, clamped to the exact extremes."""
        return percentile(self.hist, self.rt_count, self.rt_min, self.rt_max, p)
