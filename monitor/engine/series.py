"""The engine's feed of metric series: what the web server stored (maybe in another
process, `serve`), read from the database for the watches of metric monitors (kind
`metric`), each query function applied to a window's values."""

from __future__ import annotations

import threading
from collections.abc import Callable

from monitor.core.errors import StoreError
from monitor.core.series import SeriesWindow
from monitor.metrics.query import FUNCTIONS, apply
from monitor.store.api import Reader


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
