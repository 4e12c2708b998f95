"""Availability as measured against the truth: a loopback target with a known schedule (up,
503s, refused, answers slower than the timeout), checked by the real `-m`.

    python -m bench.availability            # 1 s interval, 2 s timeout, 140 s
    python -m bench.availability --quick    # the same schedule 10 times faster (14 s)

Prints the rows stored against the slots of the run, and the availability the database
gives against the share of time the target answered.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

APP = str(Path(__file__).resolve().parent.parent / "monitoringApp.py")
# (seconds from the start at 1 s interval, what the target does until the next entry)
SCHEDULE = [(0, "up"), (20, "503"), (40, "up"), (60, "refused"), (80, "up"), (100, "slow"),
            (120, "up"), (140, None)]


class _Target:
    """A loopback HTTP server whose behaviour follows `mode`; "refused" closes its socket."""

    def __init__(self, slow: float) -> None:
        self.mode = "up"
        self.slow = slow
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if target.mode == "slow":
                    time.sleep(target.slow)
                self.send_response(503 if target.mode == "503" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):  # the check gave up first
                    self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._handler = Handler
        self.server = self._serve(0)
        self.port = self.server.server_address[1]

    def _serve(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        server.daemon_threads = True
        server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def set(self, mode: str) -> None:
        if mode == "refused" and self.mode != "refused":
            self.server.shutdown()
            self.server.server_close()
        elif mode != "refused" and self.mode == "refused":
            self.server = self._serve(self.port)
        self.mode = mode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 times faster")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    interval, timeout = 1.0 * scale, 2.0 * scale
    target = _Target(slow=3.0 * scale)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"websites": [
            {"URL": f"http://127.0.0.1:{target.port}/", "checkInterval": interval,
             "timeout": timeout}]}))
        db = Path(folder) / "m.db"
        monitor = subprocess.Popen([sys.executable, APP, "-m", "-s", "-c", str(config),
                                    "-db", str(db)])
        try:
            time.sleep(2.0)  # started, checking
            start = time.time()
            up = 0.0
            for (at, mode), (until, _next) in zip(SCHEDULE, SCHEDULE[1:], strict=False):
                while time.time() < start + at * scale:
                    time.sleep(0.005)
                target.set(mode)  # type: ignore[arg-type]
                up += (until - at) * scale if mode == "up" else 0.0
            end = start + SCHEDULE[-1][0] * scale
            while time.time() < end:
                time.sleep(0.005)
        finally:
            monitor.terminate()
            monitor.wait(10)
        conn = sqlite3.connect(db)
        rows, ups, skipped = conn.execute(
            "SELECT count(*), sum(available), sum(reason = 'skipped') FROM website_monitoring"
            " WHERE timestamp >= ? AND timestamp < ?", (start, end)).fetchone()
        conn.close()
    slots = round((end - start) / interval)
    truth = up / (end - start)
    measured = ups / rows
    print(f"{rows} rows for {slots} slots ({skipped} of them skipped slots);"
          f" availability {measured:.1%} against {truth:.1%} answering"
          f" ({(measured - truth) * 100:+.1f} points)")
    print(json.dumps({"figure": "availability_error_points",
                      "value": round((measured - truth) * 100, 2), "unit": "points",
                      "rows": rows, "slots": slots, "skipped": skipped,
                      "measured": round(measured, 4), "truth": round(truth, 4)}))


if __name__ == "__main__":
    main()
