"""`-t`: prove the alerting end to end against a throwaway Flask server.

The real pipeline (scheduler, workers, HTTP checks, store, evaluator) monitors a local
server with a short window; the server is taken down for real (its socket closed, so
checks are refused) and brought back on the same port. Uses a temporary database.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.alerts import AlertEvent
from monitor.checks.http.spec import http_monitor
from monitor.config import Config
from monitor.runtime import Runtime
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

INTERVAL = 0.2
WINDOW = 2.0
START_TIMEOUT = 15.0  # seconds for the first check, the probe process started
THRESHOLD = 0.8


class LocalServer:
    """A Flask app on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        from flask import Flask

        self.app = Flask("selftest")
        self.app.add_url_rule("/", "index", lambda: "ok")
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: object, **kwargs: object) -> None:
                pass  # the steps are the output; one access-log line per check is noise

        server = self._server = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                            request_handler=QuietHandler)
        self.port = server.server_port
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def run_selftest(echo: Callable[[str], None]) -> bool:
    started = time.monotonic()
    results: list[bool] = []

    def step(ok: bool, text: str) -> bool:
        echo(f"  [{'ok' if ok else 'FAIL'}] {text}")
        results.append(ok)
        return ok

    echo(f"Self-test: interval {INTERVAL} s, alert window {WINDOW} s, "
         f"threshold {THRESHOLD:.0%}")
    server = LocalServer()
    server.start()
    events: queue.Queue[AlertEvent] = queue.Queue()
    with tempfile.TemporaryDirectory(prefix="monitor-selftest-") as tmp:
        db = Path(tmp) / "selftest.db"
        monitor = http_monitor(server.url, name="selftest", interval=INTERVAL, timeout=1.0,
                               alert_window=WINDOW, alert_threshold=THRESHOLD)
        runtime = Runtime(Config(monitors=(monitor,), alert_window=WINDOW, max_workers=4),
                          Store(db))
        runtime.add_alert_hook(events.put)
        runtime.start()
        try:
            echo(f"  local server up at {server.url}; monitoring it for {WINDOW + 0.5:g} s")
            # Counted from the first check on: the probe process starting (an interpreter
            # and its imports, over a second on a busy machine) is not the schedule.
            deadline = time.monotonic() + START_TIMEOUT
            while runtime.checks_done == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            first = runtime.checks_done
            time.sleep(WINDOW + 0.5)
            done = runtime.checks_done - first
            step(events.empty(), "no alert while the server answers")
            step(first > 0 and done >= WINDOW / INTERVAL,
                 f"checks ran on schedule ({done} in {WINDOW + 0.5:g} s after the first)"
                 if first else f"checks ran on schedule (none within {START_TIMEOUT:g} s)")

            server.stop()
            echo("  server taken down (connections refused)")
            alert = _next_event(events, 5.0)
            step(alert is not None and alert.type == "alert"
                 and alert.availability < THRESHOLD,
                 f"alert raised: {alert.message if alert else 'none within 5 s'}")
            time.sleep(1.0)
            step(events.empty(), "no repeated alert while the server stays down")

            server.start()
            echo("  server brought back on the same port")
            recovery = _next_event(events, 6.0)
            step(recovery is not None and recovery.type == "recovery"
                 and recovery.availability >= THRESHOLD,
                 f"recovery raised: {recovery.message if recovery else 'none within 6 s'}")
        finally:
            runtime.stop()
            server.stop()
        stored = _stored_alerts(db, monitor.id)
        step(stored == ["alert", "recovery"],
             f"alert and recovery stored in the database ({', '.join(stored) or 'none'})")
    ok = all(results)
    echo(f"Self-test {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return ok


def _next_event(events: queue.Queue[AlertEvent], timeout: float) -> AlertEvent | None:
    try:
        return events.get(timeout=timeout)
    except queue.Empty:
        return None


def _stored_alerts(db: Path, monitor_id: str) -> list[str]:
    reader = open_reader(db)
    try:
        return reader.alert_types(monitor_id)
    finally:
        reader.close()
