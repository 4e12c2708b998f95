"""What every route reads: the config (the file is the source of truth), the database
(a reader per request thread, never blocking the writer), the store's writer, and under
`-m --web` the running monitor itself."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import current_app

from monitor.config import Config, load_config
from monitor.config.edit import file_etag
from monitor.core.errors import ConfigError, StoreError
from monitor.runtime import Runtime, file_stamp
from monitor.store.api import Reader
from monitor.store.open import AnyStore as Store
from monitor.store.open import database, open_reader

EXTENSION = "monitor"  # the key of the app's WebContext in app.extensions


class WebContext:
    """The server's view of one monitor's config file and database.

    `config` is the file's: read again when its stamp changes (the runtime of `-m --web`
    reloads it the same way, on its own thread), and a file made invalid since keeps the
    last good config (`config_error` says why). `store` writes what the API is sent: the
    runtime's writer, or under `serve` one of the server's own beside the monitor's."""

    def __init__(self, config_path: str | Path, db_path: str | Path, store: Store,
                 config: Config, *, runtime: Runtime | None = None,
                 public_read: bool = False, clock: Callable[[], float] = time.time,
                 warn: Callable[[str], None] | None = None, exposed: bool = False) -> None:
        self.config_path = Path(config_path)
        self.db_path = database(db_path)
        self.store = store
        self.runtime = runtime
        self.public_read = public_read
        # Listening beyond loopback (allowed at the start because the config had tokens):
        # a config reloaded without tokens must not open the server to everyone.
        self.exposed = exposed
        self.clock = clock
        self.config_error: str | None = None
        # Set when the server stops: an open event stream ends at once.
        self.closing = threading.Event()
        self._warn = warn or (lambda text: None)
        self._config = config
        self._stamp = file_stamp(self.config_path)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[Reader] = []

    @property
    def config(self) -> Config:
        stamp = file_stamp(self.config_path)
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._config

    def _reload(self, stamp: tuple[float, int, int] | None) -> None:
        self._stamp = stamp
        try:
            self._config = load_config(self.config_path, warn=lambda _line: None)
        except ConfigError as exc:
            self.config_error = str(exc)
            self._warn(f"Error: {exc} (still serving the previous configuration)")
        else:
            self.config_error = None

    def warn(self, text: str) -> None:
        """A line for the operator (the console of serve or -m --web)."""
        self._warn(text)

    def reload(self, config: Config | None = None, etag: str | None = None) -> None:
        """Take the config file as it is now (after the API wrote it): `config`, when the
        writer has it parsed already (a parse of 5,000 monitors takes half a second) and the
        file is still the bytes of `etag` it was parsed from, else read again (another edit
        may have been written since, its reload done first). The runtime of `-m --web` is
        asked to reload it at its next step (its own thread: a Runtime is not shared),
        handed both too; under `serve` the monitor beside sees the file change."""
        if self.runtime is not None:
            self.runtime.request_reload(config, etag)
        with self._lock:
            stamp = file_stamp(self.config_path)  # before the bytes: a later write, seen
            if config is not None and etag is not None and file_etag(self.config_path) == etag:
                self._stamp, self._config, self.config_error = stamp, config, None
            else:
                self._reload(stamp)

    @contextlib.contextmanager
    def reader(self) -> Iterator[Reader]:
        """The database reader of this thread (opened at its first use, kept for the next
        requests: the server's threads live as long as it). Raises StoreError."""
        reader: Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = open_reader(self.db_path)
            self._local.reader = reader
            with self._lock:
                self._readers.append(reader)
        try:
            yield reader
        except StoreError:
            # A reader that failed may hold a broken connection: the next request opens anew.
            self._local.reader = None
            with self._lock:
                if reader in self._readers:
                    self._readers.remove(reader)
            with contextlib.suppress(Exception):
                reader.close()
            raise

    def close(self) -> None:
        with self._lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(Exception):
                reader.close()


def current() -> WebContext:
    """The WebContext of the app handling this request."""
    context: WebContext = current_app.extensions[EXTENSION]
    return context


