"""The heartbeat: its slots on an injected clock, what it reports of failures and recoveries,
and for real against loopback HTTP servers: beats counted, 500 then 200, a hanging server
that does not hold up stop(), a refused connection, a TLS error, no proxy from the
environment, and never a secret of the URL in a line."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.config.notify import heartbeat_shown
from monitor.notify.heartbeat import JOIN_TIMEOUT, Heartbeat, Schedule, Status
from tests.support.tls_servers import pki, servers  # noqa: F401 - fixtures

SECRET = "0f7c1d2e-uuid-secret"
WAIT = 10.0  # bound of every wait for a server's hits


# ------------------------------------------------------------------ the timing logic


def test_the_first_beat_is_at_start_then_one_per_interval() -> None:
    schedule = Schedule(60.0, start=1000.0)
    assert schedule.due(1000.0) and schedule.wait(1000.0) == 0.0
    schedule.done(1000.2)  # the beat took 0.2 s
    assert schedule.next_at == 1060.0  # on the slots, not 60 s after the beat ended
    assert not schedule.due(1059.9) and schedule.wait(1030.0) == 30.0
    assert schedule.due(1060.0)
    schedule.done(1060.5)
    assert schedule.next_at == 1120.0


def test_a_beat_that_overran_skips_the_slots_it_missed() -> None:
    schedule = Schedule(10.0, start=0.0)
    schedule.done(25.0)  # a beat that hung for 25 s: the slots at 10 and 20 have passed
    assert schedule.next_at == 30.0
    schedule.done(30.0)  # ended exactly on the next slot: that slot is gone too
    assert schedule.next_at == 40.0


def test_a_late_wake_up_runs_one_beat_not_a_burst() -> None:
    schedule = Schedule(1.0, start=0.0)
    schedule.done(0.1)
    # The thread woke 5.5 s late (a suspended machine): one beat, then back on the slots.
    assert schedule.due(6.5)
    schedule.done(6.6)
    assert schedule.next_at == 7.0 and not schedule.due(6.6)


def test_status_reports_a_failure_once_and_the_recovery_once() -> None:
    status = Status("https://hc-ping.com/***")
    assert status.update(None) is None  # working from the start: nothing to say
    assert status.update("HTTP 500") == "heartbeat: https://hc-ping.com/*** failed: HTTP 500"
    assert status.update("connection refused") is None
    assert status.update("HTTP 500") is None
    assert status.update(None) == "heartbeat: https://hc-ping.com/*** answers again"
    assert status.update(None) is None
    assert status.update("no answer within 10 s") == (
        "heartbeat: https://hc-ping.com/*** failed: no answer within 10 s")


def test_the_request_timeout_is_at_most_ten_seconds_and_the_interval() -> None:
    def timeout(interval: float) -> float:
        return Heartbeat("http://127.0.0.1/", interval, print, "x").timeout
    assert (timeout(60), timeout(10), timeout(3), timeout(1)) == (10.0, 10.0, 3.0, 1.0)


# ------------------------------------------------------------------ loopback servers


class _Handler(BaseHTTPRequestHandler):
    server: BeatServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        server = self.server
        with server.lock:
            server.paths.append(self.path)
            status = server.statuses.pop(0) if server.statuses else server.then
            server.hit.notify_all()
        if server.hang:
            server.release.wait(WAIT)  # bounded: the server stops by itself
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class BeatServer(ThreadingHTTPServer):
    """Counts GETs; answers the `statuses` given in turn, then `then`; or holds every
    request until released (`hang`)."""

    daemon_threads = True

    def __init__(self, statuses: list[int] | None = None, then: int = 200,
                 hang: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = list(statuses or [])
        self.then = then
        self.hang = hang
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.hit = threading.Condition(self.lock)
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = f"/ping/{SECRET}?key={SECRET}") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def wait_hits(self, count: int) -> int:
        with self.hit:
            self.hit.wait_for(lambda: len(self.paths) >= count, WAIT)
            return len(self.paths)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and left: the broken pipe is the test's own doing

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def make_server() -> Iterator[type[BeatServer]]:
    made: list[BeatServer] = []

    def make(*args: object, **kwargs: object) -> BeatServer:
        server = BeatServer(*args, **kwargs)  # type: ignore[arg-type]
        made.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in made:
        server.close()


class Lines(list[str]):
    """The lines a heartbeat reports, as the CLI would print them."""

    def __init__(self) -> None:
        super().__init__()
        self.said = threading.Event()

    def __call__(self, line: str) -> None:
        self.append(line)
        self.said.set()


def beating(url: str, interval: float, lines: Lines, timeout: float = 5.0) -> Heartbeat:
    heartbeat = Heartbeat(url, interval, lines, heartbeat_shown(url), timeout=timeout)
    heartbeat.start()
    return heartbeat


def stopped(heartbeat: Heartbeat) -> None:
    heartbeat.stop()
    assert heartbeat._thread is not None
    heartbeat._thread.join(WAIT)
    assert not heartbeat._thread.is_alive()


def test_it_beats_at_start_and_every_interval(make_server) -> None:
    server = make_server()
    lines = Lines()
    started = time.monotonic()
    heartbeat = beating(server.url(), 0.05, lines)
    assert server.wait_hits(1) >= 1
    first = time.monotonic() - started
    assert server.wait_hits(5) >= 5
    stopped(heartbeat)
    assert first < 2.0  # the first beat does not wait an interval... or a minute
    assert set(server.paths) == {f"/ping/{SECRET}?key={SECRET}"}
    assert lines == []


def test_a_server_answering_500_then_200_gives_one_failure_and_one_recovery(make_server
                                                                            ) -> None:
    server = make_server(statuses=[500, 500, 500], then=200)
    lines = Lines()
    heartbeat = beating(server.url(), 0.05, lines)
    server.wait_hits(6)
    stopped(heartbeat)
    shown = f"http://127.0.0.1:{server.server_address[1]}/***"
    assert lines == [f"heartbeat: {shown} failed: HTTP 500", f"heartbeat: {shown} answers again"]
    assert not any(SECRET in line for line in lines)


def test_a_hanging_server_does_not_delay_stop(make_server) -> None:
    server = make_server(hang=True)
    lines = Lines()
    # The production timeout: min(10, interval) = 10 s; stop() must not wait for it.
    heartbeat = Heartbeat(server.url(), 60.0, lines, "http://127.0.0.1/***")
    assert heartbeat.timeout == 10.0
    heartbeat.start()
    assert server.wait_hits(1) == 1  # the beat is in flight, held by the server
    began = time.monotonic()
    heartbeat.stop()
    took = time.monotonic() - began
    assert took < JOIN_TIMEOUT / 2  # it waits for no beat in flight
    server.release.set()  # the request ends; the stopped heartbeat reports nothing of it
    assert heartbeat._thread is not None
    heartbeat._thread.join(WAIT)
    assert not heartbeat._thread.is_alive()
    assert lines == []
    assert len(server.paths) == 1


def test_a_hanging_server_is_a_timeout_reported_once(make_server) -> None:
    server = make_server(hang=True)
    lines = Lines()
    heartbeat = beating(server.url(), 0.05, lines, timeout=0.2)
    server.wait_hits(3)
    stopped(heartbeat)
    assert lines == [f"heartbeat: http://127.0.0.1:{server.server_address[1]}/*** failed:"
                     " no answer within 0.2 s"]


def test_stop_while_idle_returns_at_once(make_server) -> None:
    server = make_server(statuses=[500])
    lines = Lines()
    heartbeat = beating(server.url(), 3600.0, lines)
    assert lines.said.wait(WAIT)  # the first beat is over: the thread waits for the next
    began = time.monotonic()
    heartbeat.stop()  # waiting an hour for the next slot, on an Event: wakes at once
    assert time.monotonic() - began < JOIN_TIMEOUT
    assert heartbeat._thread is not None and not heartbeat._thread.is_alive()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_reported_without_the_urls_secrets() -> None:
    port = _closed_port()
    url = f"http://beat:{SECRET}@127.0.0.1:{port}/{SECRET}?token={SECRET}"
    lines = Lines()
    heartbeat = Heartbeat(url, 60.0, lines, heartbeat_shown(url), timeout=5.0)
    assert heartbeat.beat() == "connection refused"
    heartbeat.start()
    assert lines.said.wait(WAIT)
    stopped(heartbeat)
    assert lines == [f"heartbeat: http://127.0.0.1:{port}/*** failed: connection refused"]


def test_a_certificate_it_cannot_verify_is_a_tls_error(servers) -> None:  # noqa: F811
    url = servers["self-signed"].url + f"/{SECRET}"
    heartbeat = Heartbeat(url, 60.0, Lines(), heartbeat_shown(url), timeout=5.0)
    why = heartbeat.beat()
    assert why == "TLS error: certificate verify failed: self-signed certificate"


def test_no_proxy_from_the_environment(make_server, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy that refuses everything: a session that trusted the environment would fail.
    port = _closed_port()
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = make_server()
    heartbeat = Heartbeat(server.url(), 60.0, Lines(), "x", timeout=5.0)
    assert heartbeat.beat() is None
    assert len(server.paths) == 1


def test_a_reporter_that_raises_does_not_stop_the_beats(make_server) -> None:
    server = make_server(statuses=[500], then=200)
    said: list[str] = []

    def reporter(line: str) -> None:
        said.append(line)
        raise OSError("stderr is gone")

    heartbeat = Heartbeat(server.url(), 0.05, reporter, "x", timeout=5.0)
    heartbeat.start()
    assert server.wait_hits(4) >= 4
    stopped(heartbeat)
    assert said == ["heartbeat: x failed: HTTP 500", "heartbeat: x answers again"]
