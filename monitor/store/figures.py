"""A metric series' values over a step or a window, summed as its rollups keep them:
count, sum, extremes and the histogram (codec's), mergeable across rows, tiers and
series. What the query functions (monitor.metrics.query) are applied to."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.store.codec import decode_hist_into, percentile


@dataclass(slots=True)
class Figures:
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None
    hist: dict[int, int] = field(default_factory=dict)

    def add_row(self, count: int, total: float, low: float | None, high: float | None,
                hist: str | bytes | None) -> None:
        """Add a stored row's (or a SQL sum's) figures; `hist` in codec's text."""
        self._add(count, total, low, high)
        if hist:
            decode_hist_into(hist.decode() if isinstance(hist, bytes) else hist, self.hist)

    def add_bucket(self, bucket: int, count: int, total: float, low: float,
                   high: float) -> None:
        """Add `count` values of one histogram bucket (a SQL group of raw values)."""
        self._add(count, total, low, high)
        self.hist[bucket] = self.hist.get(bucket, 0) + count

    def merge(self, other: Figures) -> None:
        self._add(other.count, other.total, other.low, other.high)
        for bucket, count in other.hist.items():
            self.hist[bucket] = self.hist.get(bucket, 0) + count

    def _add(self, count: int, total: float, low: float | None, high: float | None) -> None:
        self.count += count
        self.total += total
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
        if high is not None:
            self.high = high if self.high is None else max(self.high, high)

    def percentile(self, p: float) -> float | None:
        """Nearest rank from the histogram (within 2.5% above 0.1), clamped to the exact
        extremes: the same in every tier, so a value does not move as it rolls up."""
        return percentile(self.hist, self.count, self.low, self.high, p)
