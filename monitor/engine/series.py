"""The engine's feed of metric series: what the web server stored (maybe in another
process, `serve`), read from the database for the watches of metric monitors (kind
`metric`), each query function applied to a window's values."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

from monitor.core.errors import StoreError
from monitor.core.model import Monitor
from monitor.core.series import SeriesWindow
from monitor.metrics.query import FUNCTIONS, apply
from monitor.store.api import Reader
from monitor.store.open import open_reader


class SeriesReader:
    """A SeriesFeed (monitor.core.series) on a database reader of its own, opened at first
    use. Its methods may be called from any thread, one at a time."""

    def __init__(self, open_reader: Callable[[], Reader]) -> None:
        self._open_reader = open_reader
        self._reader: Reader | None = None
        self._lock = threading.Lock()

    def window(self, path: str, since: float, until: float) -> SeriesWindow:
        with self._lock:
            try:
                if self._reader is None:
                    self._reader = self._open_reader()
                info = self._reader.series_info(path)
                if info is None:
                    return SeriesWindow()
                figures = self._reader.series_window(info.id, since, until)
            except StoreError:
                # A reader that failed may hold a broken connection: the next read opens anew.
                self._close()
                raise
        return SeriesWindow(figures.count, {name: apply(name, figures) for name in FUNCTIONS},
                            info.last)

    def shutdown(self) -> None:
        """Close the reader (the engine stops)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()


@dataclasses.dataclass(frozen=True)
class _Read:
    """A window read already: what a check of a metric monitor now judges."""

    read: SeriesWindow

    def window(self, path: str, since: float, until: float) -> SeriesWindow:
        return self.read


def ready(monitor: Monitor, db_path: str | Path) -> Monitor:
    """A metric monitor as a check of it now shows it (`check NAME`): with its series'
    window read from the database now (no reader left open); any other monitor, or one
    beside no database, as it is (its trace says there is none to read)."""
    if monitor.kind != "metric" or not Path(db_path).exists():
        return monitor
    spec = monitor.spec
    now = time.time()
    feed = SeriesReader(lambda: open_reader(db_path))
    try:
        with contextlib.suppress(StoreError):
            read = feed.window(spec.series, now - spec.window, now)
            return dataclasses.replace(monitor, spec=dataclasses.replace(spec,
                                                                         feed=_Read(read)))
    finally:
        feed.shutdown()
    return monitor
