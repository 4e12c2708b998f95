"""What a metric monitor (kind `metric`) is told of its pushed series: the feed through
which the engine hands its watch the series' values of a window, read from the database
the web server writes (maybe in another process, `serve`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SeriesWindow:
    """A series' values in a window: how many, and each query function's value over them
    (monitor.metrics.query: avg, min, max, sum, count, p50, p90, p99; None when there is no
    value); and when its latest value ever came (None: never, no such series)."""

    count: int = 0
    values: Mapping[str, float | None] = field(default_factory=dict)
    last: float | None = None


class SeriesFeed(Protocol):
    def window(self, path: str, since: float, until: float) -> SeriesWindow:
        """The series' values with a timestamp in [since, until]. Raises StoreError."""
