"""A raw-socket HTTP server on 127.0.0.1 whose paths misbehave in the ways real servers do.

Raw sockets rather than Flask because most of these faults (a reset mid-body, garbage
instead of a status line, headers that never end) cannot be produced through WSGI.
Every handler stops when the server stops, so no test leaves a thread behind.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time

ROUTES = (
    "/ok", "/500", "/503", "/hang", "/headers-then-silence", "/drip", "/reset",
    "/reset-body", "/close", "/garbage", "/no-headers", "/big-headers", "/endless",
    "/redirect-loop", "/redirect-ok", "/slow",
)


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send an RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Handler(socketserver.BaseRequestHandler):
    server: HostileServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        target = data.split(b" ", 2)[1].decode() if data.count(b" ") >= 2 else "/"
        path = target.partition("?")[0]  # a query string names another site, same route
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        self.head = data.lower()
        with contextlib.suppress(OSError):  # the client went away: that is its right
            self.route(sock, path)

    def send(self, sock: socket.socket, status: str, body: bytes = b"",
             headers: str = "") -> None:
        sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}"
                     f"Connection: close\r\n\r\n".encode() + body)

    def route(self, sock: socket.socket, path: str) -> None:
        stop = self.server.stopping
        if path == "/ok":
            self.send(sock, "200 OK", b"ok")
        elif path == "/cookie":  # sets a cookie; fails a request that sends one back
            if b"\r\ncookie:" in self.head:
                self.send(sock, "500 Internal Server Error", b"a cookie came back")
            else:
                self.send(sock, "200 OK", b"ok", "Set-Cookie: session=abc; Path=/\r\n")
        elif path == "/slow":
            stop.wait(self.server.slow_seconds)
            self.send(sock, "200 OK", b"slow")
        elif path == "/500":
            self.send(sock, "500 Internal Server Error", b"boom")
        elif path == "/503":
            self.send(sock, "503 Service Unavailable", b"busy")
        elif path == "/hang":
            stop.wait(30)
        elif path == "/headers-then-silence":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            stop.wait(30)
        elif path == "/drip":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.2):
                sock.sendall(b".")
        elif path == "/reset":
            _reset(sock)
        elif path == "/reset-body":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
            time.sleep(0.05)
            _reset(sock)
        elif path == "/close":
            sock.close()
        elif path == "/garbage":
            sock.sendall(b"\x00\x01 this is not HTTP at all\r\n\r\n")
        elif path == "/no-headers":
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
            sock.shutdown(socket.SHUT_WR)
        elif path == "/big-headers":
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
            for _ in range(100_000):  # 100 MB of headers, unless the client gives up first
                if stop.is_set():
                    break
                sock.sendall(line)
        elif path == "/endless":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
            while not stop.is_set():
                sock.sendall(chunk)
        elif path == "/redirect-loop":
            self.send(sock, "302 Found", headers="Location: /redirect-loop\r\n")
        elif path == "/redirect-ok":
            self.send(sock, "301 Moved Permanently", headers="Location: /ok\r\n")
        else:
            self.send(sock, "404 Not Found", b"no such route")


class HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, slow_seconds: float = 0.1) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self.hits: dict[str, int] = {}
        self.slow_seconds = slow_seconds
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def refused_url() -> str:
    """A loopback URL where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
