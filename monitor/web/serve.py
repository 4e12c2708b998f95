"""Running the app behind waitress: a production WSGI server in pure Python, with a pool of
threads in this process. Chosen over gunicorn because `-m --web` runs the monitor and the
server in one process (gunicorn forks workers: each would be a monitor of its own), and
because a thread that waits on an event stream costs a thread, not a process."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask
from waitress.server import create_server

from monitor.core.errors import MonitorError

DEFAULT_LISTEN = "127.0.0.1:8080"
# Threads for requests, and beyond them one per event stream a client may hold open.
REQUEST_THREADS = 8
MAX_STREAMS = 100
# waitress reads a body whole before the app sees it (its default bound is 1 GiB): no route
# takes more than the metrics' 8 MiB.
MAX_REQUEST_BODY = 8 * 1024 * 1024 + 1
PROXY_HEADERS = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                 "x-forwarded-port"}
# At a stop, how long the requests in hand may take to end and their answers to go out.
STOP_GRACE = 0.5
# Connections beyond the threads wait in waitress's queue; more than this are refused.
CONNECTION_LIMIT = 1000


class ListenError(MonitorError):
    """The address to listen on is unusable or not allowed."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name: it may resolve to any address

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def parse_listen(text: str) -> Address:
    """`127.0.0.1:8080`, `[::1]:8080`, `:8080` (loopback), or `8080`."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ListenError(f"--listen {text}: give HOST:PORT with a port from 0 to 65535"
                          " (e.g. 127.0.0.1:8080)")
    return Address(host, port)


def check_allowed(address: Address, has_tokens: bool, config_source: str,
                  trusted_proxy: str | None = None) -> None:
    """Beyond loopback, anyone who reaches the port could read the history and change the
    config: refused unless the config has API tokens. So is a proxy in front, which makes
    a loopback address reachable from beyond."""
    if trusted_proxy is not None:
        try:
            ipaddress.ip_address(trusted_proxy)
        except ValueError:
            raise ListenError(f"--trusted-proxy {trusted_proxy}: give the proxy's IP address"
                              " (e.g. 127.0.0.1)") from None
        if not has_tokens:
            raise ListenError(f"refusing --trusted-proxy without apiTokens in"
                              f" {config_source}: a proxy in front lets anyone it serves"
                              " read and change the monitors (add a token)")
    if not address.loopback and not has_tokens:
        raise ListenError(f"refusing to listen on {address.host}:{address.port} without"
                          f" apiTokens in {config_source}: anyone who can reach it could"
                          " read and change the monitors (add a token, or listen on"
                          " 127.0.0.1)")


class Server:
    """The app served on `address` by waitress in a thread of its own: `start()` binds (so a
    port in use is an error at once), `stop()` closes it."""

    def __init__(self, app: Flask, address: Address, threads: int = REQUEST_THREADS
                 + MAX_STREAMS, trusted_proxy: str | None = None) -> None:
        # waitress logs at WARNING what is queued; its own access log does not exist (a push
        # token in a path is never logged).
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._map: dict[int, object] = {}  # waitress's channels: ours to close at the stop
        try:
            self._server = create_server(
                app, map=self._map, host=address.host, port=address.port, threads=threads,
                connection_limit=CONNECTION_LIMIT, ident="uptime-monitor",
                expose_tracebacks=False, clear_untrusted_proxy_headers=True,
                max_request_body_size=MAX_REQUEST_BODY,
                # Sent as written: waitress holds writes under 18 kB while the response
                # goes on, and an event stream's few bytes would wait there.
                send_bytes=1, channel_timeout=120,
                # Behind a proxy (TLS), the client's address, scheme and host are the
                # proxy's to say: the throttle, the Secure cookie and the Origin check use
                # them. Nobody else's X-Forwarded-* is believed (cleared).
                **({} if trusted_proxy is None else {
                    "trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                    "trusted_proxy_headers": PROXY_HEADERS}))
        except OSError as exc:
            raise ListenError(f"cannot listen on {address.host}:{address.port}:"
                              f" {exc.strerror or exc}") from None
        bound = self._server.effective_port
        self.address = Address(address.host, int(bound))
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def _busy(self) -> bool:
        """A request is being answered, or an answer is still being sent."""
        return self._server.task_dispatcher.active_count > 0 or any(
            getattr(channel, "total_outbufs_len", 0) for channel in list(self._map.values()))

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # closed by stop()
            self._server.run()

    def stop(self, timeout: float = 2.0, grace: float = STOP_GRACE) -> None:
        """Let the requests in hand end and their answers go out for up to `grace` seconds
        (an event stream ends at once: its thread sees the closing set by the caller), then
        close every connection and wait for the threads."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._busy():
            time.sleep(0.01)
        for channel in list(self._map.values()):
            with contextlib.suppress(OSError):
                channel.close()  # type: ignore[attr-defined]
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        self._thread.join(timeout)
