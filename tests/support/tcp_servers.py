"""Loopback TCP servers for the tcp and tls kinds' tests: each connection is handled by a
function of the test's, in a thread of its own, plain or over TLS. They stop by themselves
(a `with` block, or a connection's 5 s timeout)."""

import contextlib
import errno
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket], None]


class Loopback:
    def __init__(self, handler: Handler, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None, listener: socket.socket | None = None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.handler = handler
        self.tls = tls
        self.listener = listener or socket.create_server((host, 0), family=family)
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.handler(conn)
        except OSError:
            pass  # the client went away, or refused our certificate: its right
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.listener.close()

    def __enter__(self) -> "Loopback":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drain(conn: socket.socket) -> None:
    """Read until the client closes (or 5 s pass): a server that never answers."""
    with contextlib.suppress(OSError):
        while conn.recv(4096):
            pass


def banner(data: bytes, hold: bool = False) -> Handler:
    """Send `data`, then close at once, or when the client does (`hold`)."""
    def handle(conn: socket.socket) -> None:
        conn.sendall(data)
        if hold:
            drain(conn)
    return handle


def reset(conn: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0) once the client has sent something or waits."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def ping_pong(conn: socket.socket) -> None:
    """A one-line protocol: "PING\\r\\n" is answered "+PONG\\r\\n", anything else "-ERR
    unknown command <it>" (an echo, as many servers do); then it closes."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            return
        line += chunk
    conn.sendall(b"+PONG\r\n" if line == b"PING\r\n" else b"-ERR unknown command " + line)


@contextlib.contextmanager
def syn_dropping(host: str, port: int = 0) -> Iterator[int]:
    """A listener on host:port (0: any free port) whose accept queue is full: further SYNs
    to it are dropped and a connect hangs, as towards a host behind a broken route.
    Yields its port."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind((host, port))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):  # fill the accept queue (its real size is the kernel's choice)
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex((host, port))
        time.sleep(0.05)  # let the handshakes complete so the queue is full
        yield port


@contextlib.contextmanager
def dead_then_listening(handler: Handler) -> Iterator[int]:
    """127.0.0.1:P drops SYNs, 127.0.0.2:P serves `handler`: two addresses of one name,
    the first dead. Yields P."""
    for _ in range(20):
        with syn_dropping("127.0.0.1") as port:
            try:
                listener = socket.create_server(("127.0.0.2", port))
            except OSError as exc:  # that port is taken on 127.0.0.2: another one
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            server = Loopback(handler, listener=listener)
            with server:
                yield port
            return
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")
