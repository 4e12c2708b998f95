"""Name resolution and connecting, both bounded by the check's deadline.

`getaddrinfo` cannot be interrupted: a resolver that never answers would hold a check (and
its worker) for as long as the C library likes, whatever the check's timeout. So lookups
run on a small pool of daemon threads and the check waits only for what is left of its
deadline. A lookup still stuck when the deadline passes keeps its resolver thread, not the
worker; while every resolver thread is stuck, new lookups fail fast as "resolver busy"
rather than piling up.

Connecting races the resolved addresses as Happy Eyeballs does (RFC 8305): the next address
starts when the previous ones have not connected within CONNECT_ATTEMPT_DELAY, or at once
when they have failed, so a dead first address (a broken IPv6 route) costs a quarter of a
second, not the whole timeout. Every attempt is handed to the deadline before it starts, so
the watchdog can cut them all.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from monitor.checks.deadline import Deadline

RESOLVER_THREADS = 64
# RFC 8305 section 8: "Connection Attempt Delay", recommended 250 ms.
CONNECT_ATTEMPT_DELAY = 0.25
# Names no resolver may answer (RFC 6761 section 6.4: "SHOULD always return immediate
# negative responses"): no query leaves the machine for them.
RESERVED_NEGATIVE = ("invalid",)

AddrInfo = tuple[Any, ...]


class ResolverTimeout(OSError):
    """The resolver gave no answer within the check's deadline."""


class _Lookup:
    __slots__ = ("host", "port", "done", "result", "error")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.done = threading.Event()
        self.result: list[AddrInfo] = []
        self.error: BaseException | None = None


class _ResolverPool:
    def __init__(self, size: int) -> None:
        self._queue: queue.SimpleQueue[_Lookup] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy = 0
        self._size = size
        self._in_flight: dict[tuple[str, int], _Lookup] = {}

    def lookup(self, host: str, port: int) -> _Lookup | None:
        """The lookup of (host, port) in flight, or a new one; None when every resolver
        thread is stuck in a lookup."""
        with self._lock:
            current = self._in_flight.get((host, port))
            if current is not None:
                return current
            if self._busy >= self._size:
                return None
            lookup = self._in_flight[(host, port)] = _Lookup(host, port)
            self._busy += 1
            if self._threads < self._busy:
                self._threads += 1
                threading.Thread(target=self._run, name="resolver", daemon=True).start()
        self._queue.put(lookup)
        return lookup

    def _run(self) -> None:
        while True:
            lookup = self._queue.get()
            try:
                lookup.result = socket.getaddrinfo(lookup.host, lookup.port, socket.AF_UNSPEC,
                                                   socket.SOCK_STREAM)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting check
                lookup.error = exc
            finally:
                with self._lock:
                    self._busy -= 1
                    self._in_flight.pop((lookup.host, lookup.port), None)
                lookup.done.set()


_pool = _ResolverPool(RESOLVER_THREADS)


def _literal(host: str, port: int) -> list[AddrInfo] | None:
    try:
        address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM, 0,
                              socket.AI_NUMERICHOST)


def resolve(host: str, port: int, deadline: Deadline) -> list[AddrInfo]:
    """The addresses of `host`, within the deadline; raise socket.gaierror or
    ResolverTimeout."""
    literal = _literal(host, port)
    if literal is not None:
        return literal
    if host.rstrip(".").rpartition(".")[2].lower() in RESERVED_NEGATIVE:
        raise socket.gaierror(socket.EAI_NONAME, "reserved name that never resolves (RFC 6761)")
    # One retry of a temporary failure: a resolver that drops one packet is not a site down.
    for attempt in range(2):
        lookup = _pool.lookup(host, port)
        if lookup is None:
            raise ResolverTimeout(f"resolver busy: {RESOLVER_THREADS} lookups already stuck")
        if not _wait(lookup, deadline):
            raise ResolverTimeout(f"no answer from the resolver within {deadline.timeout:g} s")
        error = lookup.error
        if error is None:
            return lookup.result
        if (attempt == 0 and isinstance(error, socket.gaierror)
                and error.errno == socket.EAI_AGAIN and deadline.remaining() > 0):
            continue
        raise error
    raise AssertionError("unreachable")


def _wait(lookup: _Lookup, deadline: Deadline) -> bool:
    # In slices: the watchdog expires a deadline early when the monitor stops, and a check
    # waiting on a stuck lookup must notice that, not sit out its whole timeout.
    while not deadline.expired:
        if lookup.done.wait(min(0.1, deadline.remaining())):
            return True
        if deadline.remaining() <= 0:
            return False
    return lookup.done.is_set()


def interleave(addresses: Sequence[AddrInfo]) -> list[AddrInfo]:
    """The addresses with their families alternating, starting with the family of the
    resolver's first choice (RFC 8305 section 4), each family in the resolver's order."""
    families: dict[int, list[AddrInfo]] = {}
    for info in addresses:
        families.setdefault(info[0], []).append(info)
    return [info for group in itertools.zip_longest(*families.values()) for info in group
            if info is not None]


def _start(info: AddrInfo, deadline: Deadline, options: Sequence[tuple[int, int, Any]] | None,
           patience: float) -> tuple[socket.socket, bool]:
    """Begin a connect to one address and wait up to `patience` seconds for it: (socket,
    connected); a connect still in progress goes on. Raise OSError if it failed."""
    family, kind, proto, _name, address = info
    sock = socket.socket(family, kind, proto)
    try:
        for level, name, value in options or ():
            sock.setsockopt(level, name, value)
        deadline.track(sock)
        if patience > 0:
            # A plain connect with a timeout: the cheapest way when one attempt is in flight
            # (most checks), and on timeout the kernel's attempt goes on, into the race.
            sock.settimeout(patience)
            try:
                sock.connect(address)
                return sock, True
            except TimeoutError as exc:
                if exc.errno is not None:
                    raise  # the kernel's ETIMEDOUT: this attempt failed
                return sock, False  # our patience ran out: the attempt goes on
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, os.strerror(code))
    except BaseException:
        sock.close()
        raise
    return sock, False


def connect(addresses: Sequence[AddrInfo], deadline: Deadline,
            options: Sequence[tuple[int, int, Any]] | None = None) -> socket.socket:
    """Connect to the first address that answers, all within the deadline: the next address
    starts after CONNECT_ATTEMPT_DELAY without an answer or at once after a failure, the
    earlier attempts go on, and the first to connect wins (RFC 8305). Raise TimeoutError
    when none connected in time, else the failure that says most."""
    waiting = interleave(addresses)
    waiting.reverse()  # popped from the end
    errors: list[OSError] = []
    # poll, not a selectors object: that costs an epoll descriptor made and closed per
    # check.
    poller = select.poll()
    pending: dict[int, socket.socket] = {}
    winner: socket.socket | None = None
    next_start = time.monotonic()
    try:
        while winner is None:
            remaining = deadline.remaining()
            if deadline.expired or remaining <= 0:
                break
            now = time.monotonic()
            if waiting and (not pending or now >= next_start):
                info = waiting.pop()
                patience = (0.0 if pending else remaining if not waiting
                            else min(CONNECT_ATTEMPT_DELAY, remaining))
                try:
                    sock, connected = _start(info, deadline, options, patience)
                except OSError as exc:
                    errors.append(exc)
                    continue
                if connected:
                    winner = sock
                    break
                pending[sock.fileno()] = sock
                poller.register(sock, select.POLLOUT)
                next_start = now + CONNECT_ATTEMPT_DELAY
                continue
            if not pending:
                break  # every address failed
            # The watchdog's shutdown of the sockets wakes this wait when the deadline expires.
            wait = min(remaining, next_start - now) if waiting else remaining
            for fd, events in poller.poll(max(0.0, wait) * 1000.0):
                sock = pending.pop(fd)
                poller.unregister(fd)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code == 0 and events & select.POLLOUT and not events & select.POLLHUP \
                        and not deadline.expired:
                    winner = sock
                    break
                sock.close()
                if code or not events & select.POLLOUT:
                    code = code or errno.ECONNABORTED  # hung up with its error already read
                    errors.append(OSError(code, os.strerror(code)))
                next_start = now  # a failure lets the next address start at once
    finally:
        for sock in pending.values():
            sock.close()
    if winner is not None:
        winner.settimeout(max(deadline.remaining(), 0.001))
        return winner
    if deadline.expired or deadline.remaining() <= 0 or not errors:
        raise TimeoutError(f"connect did not complete within {deadline.timeout:g} s")
    # A refusal means a host answered: it says more than a route that failed elsewhere.
    raise next((e for e in errors if isinstance(e, ConnectionRefusedError)), errors[-1])
