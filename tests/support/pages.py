"""A loopback HTTP server whose answers the test sets: per path, a status, headers and a
body, changeable between checks (a page whose content changes, an API whose JSON does)."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = self.path.partition("?")[0]
        status, headers, body = self.server.pages.get(path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client went away (a monitor stopping)
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away mid-answer is no error of the page's

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def set(self, path: str, body: bytes | str, status: int = 200,
            headers: dict[str, str] | None = None) -> str:
        """Serve `body` at `path` from now on; returns the page's URL."""
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (status, headers or {"Content-Type": "text/html; charset=utf-8"},
                            data)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
