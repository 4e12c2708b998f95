"""The web server's commands: `serve` (beside a running `-m`, or alone over its database)
and the server `-m --web` runs in the monitor's own process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.config import Config, load_config
from monitor.runtime import Runtime
from monitor.store.open import AnyStore as Store
from monitor.store.open import open_store, shown

if TYPE_CHECKING:
    from monitor.web.context import WebContext
    from monitor.web.serve import Server

Echo = Callable[[str], None]


@dataclass(frozen=True)
class WebOptions:
    listen: str
    public_read: bool = False
    trusted_proxy: str | None = None  # a reverse proxy's address: its X-Forwarded-* believed


class WebServer:
    """The app over a config file and database, listening: `start()` checks the address
    (beyond loopback only with apiTokens) and binds, `stop()` closes it."""

    def __init__(self, options: WebOptions, config_path: str | Path, db_path: str | Path,
                 config: Config, warn: Echo | None = None) -> None:
        from monitor.web.serve import check_allowed, parse_listen

        self._address = parse_listen(options.listen)
        check_allowed(self._address, bool(config.api_tokens), config.source,
                      options.trusted_proxy)
        self._options = options
        self._args = (config_path, db_path, config)
        self._warn = warn
        self._server: Server | None = None
        self._context: WebContext | None = None

    def start(self, store: Store, runtime: Runtime | None = None) -> str:
        """Listen, writing with `store` (the runtime's under `-m --web`); returns the
        server's URL."""
        from monitor.web import create_app
        from monitor.web.context import WebContext
        from monitor.web.serve import Server

        config_path, db_path, config = self._args
        self._context = context = WebContext(
            config_path, db_path, store, config, runtime=runtime,
            public_read=self._options.public_read, warn=self._warn,
            exposed=not self._address.loopback or self._options.trusted_proxy is not None)
        self._server = server = Server(create_app(context), self._address,
                                       trusted_proxy=self._options.trusted_proxy).start()
        return server.address.url()

    def stop(self) -> None:
        if self._context is not None:
            self._context.closing.set()
        if self._server is not None:
            self._server.stop()
        if self._context is not None:
            self._context.close()


def run_serve(config_path: str, db_path: str, options: WebOptions, echo: Echo, err: Echo,
              stop: threading.Event | None = None) -> None:
    """Serve until stopped (SIGINT, SIGTERM). Raises ConfigError, StoreError or ListenError
    before it serves."""
    from monitor.cli.signals import signals

    stop = stop or threading.Event()
    config = load_config(config_path)
    # The address is checked before the database is touched.
    web = WebServer(options, config_path, db_path, config, warn=err)
    # Beside the monitor that owns the file, which alone rolls the hours up.
    store = open_store(db_path, on_error=lambda text: err(f"Warning: {text}"),
                       rollups=False).start()
    try:
        url = web.start(store)
        with signals(stop):
            echo(f"Serving {url} (API at {url}api/v1/) from {shown(db_path)} and {config_path};"
                 " Ctrl-C stops.")
            while not stop.wait(0.5):
                pass
    finally:
        web.stop()
        store.close()
    echo("Stopped.")
