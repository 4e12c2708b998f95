"""Socket steps for the kinds that speak to a port themselves (tcp, tls): name resolution,
connect, send and receive, each bounded by the check's Deadline and cut short within TICK
once the monitor stops. Every step raises Failure(reason, detail) for an expected fault.

Sockets are non-blocking and waited on with poll() in slices of at most TICK, so that a
check notices `deadline.aborted` (the monitor stopping) as promptly as the http kind does.
"""

from __future__ import annotations

import errno
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from monitor.checks.trace import detail as shown_detail
from monitor.core.deadline import Deadline
from monitor.core.model import CheckResult, Monitor

TICK = 0.05  # how often a waiting check looks whether the monitor is stopping
# Names no resolver may answer (RFC 6761 section 6.4): no query leaves the machine for them.
RESERVED_NEGATIVE = ("invalid",)
# getaddrinfo cannot be cut short: a lookup the check gave up on keeps its thread until the
# C library's own timeouts end it. With a dead resolver and many monitors those threads
# pile up; past this many lookups at once, new ones fail at once instead.
MAX_LOOKUPS = 1024
# A host with several addresses: each connect attempt gets an equal share of the time left
# over the addresses left, and at least this (as Happy Eyeballs waits before trying the
# next address, RFC 8305), so that a first address that drops SYNs leaves time for the next.
MIN_ATTEMPT = 0.25

AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr)
Lookup = Callable[..., list[AddrInfo]]

_lookups = 0
_lookups_lock = threading.Lock()


class Failure(Exception):
    """The check failed for a known reason; `detail` is its one-line explanation."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def address(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_ip(host: str) -> bool:
    # inet_pton rather than ipaddress: cheaper, on every check (docs/performance.md).
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.partition("%")[0])  # "fe80::1%eth0": scoped
        except OSError:
            continue
        return True
    return False


def ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _check_abort(deadline: Deadline) -> None:
    if deadline.aborted:
        raise Failure("timeout", "aborted: the monitor is stopping")


def resolve(host: str, port: int, deadline: Deadline,
            lookup: Lookup = socket.getaddrinfo) -> list[AddrInfo]:
    """The addresses of `host` for a TCP connection, in the resolver's order. A name is
    looked up in a thread of its own, waited for at most until the deadline."""
    if is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                  flags=socket.AI_NUMERICHOST)
    if host.rstrip(".").lower().rpartition(".")[2] in RESERVED_NEGATIVE:
        raise Failure("dns", f"name does not resolve: {host}")
    global _lookups
    with _lookups_lock:
        if _lookups >= MAX_LOOKUPS:
            raise Failure("dns", f"{_lookups} name lookups pending: the resolver is not"
                                 " answering")
        _lookups += 1
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        global _lookups
        try:
            box["found"] = lookup(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            box["error"] = exc
        finally:
            with _lookups_lock:
                _lookups -= 1
            done.set()

    threading.Thread(target=run, name="resolve", daemon=True).start()
    while not done.wait(min(TICK, deadline.remaining())):
        _check_abort(deadline)
        if deadline.remaining() <= 0:
            raise Failure("dns", f"no answer from the resolver within {deadline.timeout:g} s")
    error = box.get("error")
    if isinstance(error, socket.gaierror) and error.errno in (socket.EAI_NONAME,
                                                               socket.EAI_NODATA):
        raise Failure("dns", f"name does not resolve: {host}")
    if error is not None:
        raise Failure("dns", f"name lookup failed: {getattr(error, 'strerror', None) or error}")
    found: list[AddrInfo] = box["found"]
    if not found:
        raise Failure("dns", f"name does not resolve: {host}")
    return found


def wait(sock: socket.socket, write: bool, deadline: Deadline, late: str,
         until: float | None = None) -> bool:
    """Until `sock` is writable (or readable): True. False once the monotonic time `until`
    (when given) has passed; Failure("timeout", `late`) at the deadline."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT if write else select.POLLIN)
    while True:
        _check_abort(deadline)
        left = deadline.remaining()
        if left <= 0:
            raise Failure("timeout", late)
        if until is not None:
            mine = until - time.monotonic()
            if mine <= 0:
                return False
            left = min(left, mine)
        # Rounded up: a 0 ms poll with 0.4 ms left would spin.
        if poller.poll(math.ceil(min(left, TICK) * 1000)):
            return True


def describe(code: int) -> str:
    """A socket error as the http kind words it."""
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code in (errno.ECONNRESET, errno.EPIPE):
        return "connection reset by peer"
    return os.strerror(code)


# Errors of the connection itself, after it was made (an ICMP error, a retransmission
# timeout): the network's doing, as a refused connect is.
_CONNECTION_ERRORS = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
                                errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN,
                                errno.EHOSTDOWN, errno.ETIMEDOUT})


def unexpected(exc: OSError) -> Failure:
    """An OSError no step expected: `connect` if it is the connection's, else `other`."""
    if exc.errno in _CONNECTION_ERRORS:
        return Failure("connect", describe(exc.errno))
    return Failure("other", f"{type(exc).__name__}: {exc}")


def connect(host: str, port: int, deadline: Deadline, metrics: dict[str, float],
            trace: list[str] | None = None,
            lookup: Lookup = socket.getaddrinfo) -> socket.socket:
    """A connected non-blocking socket to host:port, its addresses tried in turn (see
    `connect_any`). Records `dns` (when a name was looked up) and `connect` (ms) in
    `metrics`."""
    start = time.monotonic()
    addresses = resolve(host, port, deadline, lookup)
    if not is_ip(host):
        metrics["dns"] = ms_since(start)
        if trace is not None:
            shown = ", ".join(dict.fromkeys(str(a[4][0]) for a in addresses))
            trace.append(f"resolved {host}: {shown} in {metrics['dns']:.1f} ms")
    return connect_any(addresses, deadline, metrics, trace)


def attempt_time(remaining: float, addresses_left: int) -> float:
    """How long one connect attempt may wait, with `remaining` seconds left for
    `addresses_left` addresses (this one included): an equal share, at least MIN_ATTEMPT
    (unless less remains). The last address gets all that is left."""
    return min(remaining, max(MIN_ATTEMPT, remaining / max(1, addresses_left)))


def connect_any(addresses: list[AddrInfo], deadline: Deadline, metrics: dict[str, float],
                trace: list[str] | None = None) -> socket.socket:
    """A connected non-blocking socket to the first of `addresses` that accepts, tried in
    turn as socket.create_connection does (a refusal moves on at once, the last address's
    failure is the check's), except that each attempt but the last waits only its share of
    the time left (`attempt_time`): an address that never answers (a broken IPv6 route, a
    dead round-robin member) leaves time for the next. Records `connect` (ms) in
    `metrics`."""
    start = time.monotonic()
    late = f"no connection within {deadline.timeout:g} s"
    last = Failure("connect", describe(errno.ECONNREFUSED))
    for index, (family, kind, proto, _, where) in enumerate(addresses):
        if index and deadline.remaining() <= 0:
            break
        sock = socket.socket(family, kind, proto)
        if trace is not None:
            trace.append(f"address {where[0]} port {where[1]}")
        final = index == len(addresses) - 1
        share = attempt_time(deadline.remaining(), len(addresses) - index)
        code: int | None
        try:
            sock.setblocking(False)
            code = sock.connect_ex(where)
            if code in (errno.EINPROGRESS, errno.EAGAIN):
                until = None if final else time.monotonic() + share
                answered = wait(sock, True, deadline, late, until)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if answered \
                    else None
        except BaseException:
            sock.close()
            raise
        if code == 0:
            metrics["connect"] = ms_since(start)
            if trace is not None:
                trace.append(f"connected in {metrics['connect']:.1f} ms")
            return sock
        sock.close()
        if code is None:  # this address's share of the time is up: the next one
            last = Failure("timeout", late)
            if trace is not None:
                trace.append(f"  no answer within {share:.2f} s, trying the next address")
        else:
            last = Failure("connect", describe(code))
            if trace is not None:
                trace.append(f"  {describe(code)}")
    raise last


def send_all(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except BlockingIOError:
            wait(sock, True, deadline, f"could not send within {deadline.timeout:g} s")
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise Failure("connect", "connection reset by peer") from None
        view = view[sent:]


def result(monitor: Monitor, timestamp: float, started: float, *, code: int | None,
           reason: str | None = None, detail: str = "", warning: bool = False,
           metrics: Mapping[str, float] | None = None) -> CheckResult:
    """The check's result: `reason` None is up (a warning if `warning`); the detail one
    short printable line without the monitor's secrets."""
    elapsed = ms_since(started)
    measured = dict(metrics or {})
    measured["total"] = elapsed
    return CheckResult(
        monitor_id=monitor.id,
        timestamp=timestamp,
        available=reason is None or warning,
        code=code,
        response_ms=elapsed,
        reason=reason,
        detail=shown_detail(detail, monitor.secrets),
        mono=started,
        metrics=measured,
        warning=warning,
    )
