"""Signal handling of the long-running commands: handlers that only set flags, as the main
thread's loop reads them (a handler that did the work could run in the middle of it)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def signals(stop: threading.Event, reload: Callable[[], None] | None = None,
            force: threading.Event | None = None) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` (and, once it is set, `force`), SIGHUP calls `reload`
    (which must only set a flag); previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread (tests)
        return

    def stopping(*_args: object) -> None:
        if stop.is_set() and force is not None:
            force.set()
        stop.set()

    handlers: dict[signal.Signals, Callable[..., None]] = {
        signal.SIGINT: stopping, signal.SIGTERM: stopping}
    if reload is not None:
        handlers[signal.SIGHUP] = lambda *_a: reload()
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
