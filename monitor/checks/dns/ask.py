"""Asking: whom (the given server, or the nameservers of resolv.conf), and how (UDP sent
again when unanswered, TCP when the answer is truncated or `tcp` is set), all within the
check's deadline. What the answer means is judge's."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass

import dns.exception
import dns.inet
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from monitor.checks.dns.spec import RESOLV_CONF, DnsSpec, shown_server, why
from monitor.core.deadline import Deadline

# Seconds before an unanswered UDP query is sent again (to the next nameserver if there
# are several): dnspython's default, as resolv.conf's `options timeout:` is for the system.
RETRY = 2.0
# The least of resolv.conf's `options timeout:`: glibc waits at least a second too, and a
# `timeout:0` must not make a check resend its query in a loop that never waits.
MIN_SYSTEM_RETRY = 1.0
POLL = 0.25  # how often a wait for an answer looks whether the check was aborted

Server = tuple[str, int]  # an address and a port


@dataclass
class Outcome:
    """How asking went: an answer, or why there is none (reason and detail)."""

    response: dns.message.Message | None = None
    reason: str = ""
    detail: str = ""
    server: str = ""  # who answered, as shown
    seconds: float = 0.0  # from the first query to the answer


# --- whom to ask --------------------------------------------------------------------------

_system: dict[str, tuple[object, tuple[tuple[str, ...], float]]] = {}


class ResolverConfigError(Exception):
    """The system's resolver configuration gives no nameserver to ask; the message says
    why, naming the file."""


def system_nameservers(path: str = RESOLV_CONF) -> tuple[tuple[str, ...], float]:
    """The nameservers of the system's resolver configuration and its per-query timeout
    (at least MIN_SYSTEM_RETRY), as dnspython's Resolver reads them; read again when the
    file changes (DHCP rewrites it). Raises ResolverConfigError."""
    try:
        stat = os.stat(path)
        key: object = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except OSError:
        key = None
    cached = _system.get(path)
    if cached is not None and cached[0] == key and key is not None:
        return cached[1]
    try:
        resolver = dns.resolver.Resolver(filename=path)
    except dns.resolver.NoResolverConfiguration as exc:  # "cannot open", "no nameservers"
        raise ResolverConfigError(why(exc)) from None
    except (dns.exception.DNSException, ValueError) as exc:
        # A line dnspython refuses (`search a..b`, `nameserver not-an-ip`), where the C
        # library would skip it: every check would fail the same way, so it says where.
        raise ResolverConfigError(f"cannot use {path}: {why(exc)}") from None
    found = (tuple(str(n) for n in resolver.nameservers if dns.inet.is_address(str(n))),
             max(MIN_SYSTEM_RETRY, float(resolver.timeout)))
    if not found[0]:
        raise ResolverConfigError(f"no nameserver address in {path}")
    _system[path] = (key, found)
    return found


def _nameservers(spec: DnsSpec) -> tuple[list[Server], float, str]:
    """The servers to ask, the seconds before a UDP query is sent again, and where the
    servers come from (for the trace). Raises ResolverConfigError."""
    if spec.server is not None:
        return [(spec.server, spec.port)], spec.retry or RETRY, "given"
    addresses, timeout = system_nameservers(spec.resolv_conf)
    servers = [(address, spec.resolv_port) for address in addresses]
    return servers, spec.retry or timeout, f"from {spec.resolv_conf}"


# --- asking -------------------------------------------------------------------------------

def ask(spec: DnsSpec, deadline: Deadline, trace: list[str] | None) -> Outcome:
    """The spec's question asked of its servers until one answers or the deadline passes;
    the trace gets the question, the servers, and how each was asked."""
    try:
        servers, retry, source = _nameservers(spec)
    except ResolverConfigError as exc:
        _note(trace, f"system resolver: {exc}")
        return Outcome(reason="other", detail=f"system resolver: {exc}")
    # Without EDNS, as the C library's resolver asks by default (and cheaper, see
    # docs/performance.md): an answer larger than 512 bytes comes truncated and is asked
    # again over TCP.
    query = dns.message.make_query(spec.name, spec.rdtype)
    _note(trace, f"query: {dns.rdatatype.to_text(spec.rdtype)} {spec.name}"
                 f" ({'tcp' if spec.tcp else 'udp'})")
    _note(trace, f"nameserver{'s' if len(servers) > 1 else ''} ({source}): "
                 + ", ".join(shown_server(*server) for server in servers))
    return _ask_in_turn(query, servers, spec.tcp, retry, deadline, trace)


def _ask_in_turn(query: dns.message.Message, servers: list[Server], tcp: bool,
                 retry: float, deadline: Deadline, trace: list[str] | None) -> Outcome:
    """Ask the servers in turn until one answers with NOERROR or NXDOMAIN. Over UDP a
    query unanswered after `retry` seconds is sent again (to the next server, if there are
    several, as resolvers do), and an answer that does not fit (TC) is asked again over
    TCP. Over TCP each server is asked once with an equal share of the time left (TCP
    itself retransmits). A server that answers another code, refuses or answers garbage
    is not asked again."""
    begin = time.monotonic()
    left = list(servers)
    failed: list[Outcome] = []
    asked = 0
    with contextlib.ExitStack() as stack:
        sockets: dict[Server, socket.socket] = {}
        while left and deadline.remaining() > 0 and not deadline.aborted:
            for server in list(left):
                remaining = deadline.remaining()
                if remaining <= 0 or deadline.aborted:
                    break
                asked += 1
                if tcp:
                    outcome = _tcp(query, server, remaining / len(left), trace)
                    left.remove(server)
                else:
                    outcome = _udp(query, server, sockets, stack, min(retry, remaining),
                                   deadline, trace)
                    if outcome.reason == "truncated":
                        outcome = _tcp(query, server, deadline.remaining(), trace)
                if outcome.response is not None:
                    outcome.seconds = time.monotonic() - begin
                    if outcome.response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                        return outcome
                if outcome.reason != "timeout" or outcome.response is not None:
                    failed.append(outcome)
                    with contextlib.suppress(ValueError):
                        left.remove(server)
    return _unanswered(failed, servers, asked, begin)


def _unanswered(failed: list[Outcome], servers: list[Server], asked: int,
                begin: float) -> Outcome:
    """The outcome when no server gave NOERROR or NXDOMAIN: a server that answered
    outranks one that failed otherwise, which outranks silence."""
    answered = [o for o in failed if o.response is not None]
    if answered or failed:
        return (answered or failed)[-1]
    shown = ", ".join(shown_server(*server) for server in servers)
    queries = f"{asked} quer{'y' if asked == 1 else 'ies'}"
    return Outcome(reason="timeout", detail=f"no answer from {shown} in"
                                            f" {time.monotonic() - begin:.1f} s ({queries})")


def _udp(query: dns.message.Message, server: Server, sockets: dict[Server, socket.socket],
         stack: contextlib.ExitStack, wait: float, deadline: Deadline,
         trace: list[str] | None) -> Outcome:
    """One query over UDP, and the wait for its answer; the socket of each server is kept
    for the check, so that an answer to an earlier query to it still counts."""
    where = shown_server(*server)
    sent = time.monotonic()
    try:
        sock = sockets.get(server)
        if sock is None:
            sock = sockets[server] = _udp_socket(server, stack)
        dns.query.send_udp(sock, query.to_wire(), None)
        while True:
            left = min(POLL, wait - (time.monotonic() - sent))
            if left <= 0 or deadline.aborted:
                _note(trace, f"{where} udp: no answer in {time.monotonic() - sent:.1f} s")
                return Outcome(reason="timeout", server=where)
            try:
                response, _, _ = dns.query.receive_udp(
                    sock, None, time.time() + left, raise_on_truncation=True)
                break
            except dns.exception.Timeout:
                continue
    except dns.message.Truncated:
        _note(trace, f"{where} udp: truncated answer (TC), asking again over TCP")
        return Outcome(reason="truncated", server=where)
    except OSError as exc:
        return _failed(trace, "connect", f"{where}: {_strerror(exc)}", where, "udp")
    except (dns.exception.DNSException, ValueError, EOFError) as exc:
        return _failed(trace, "invalid_response", f"from {where}: {why(exc)}", where, "udp")
    return _answered(query, response, where, "udp", sent, trace)


def _udp_socket(server: Server, stack: contextlib.ExitStack) -> socket.socket:
    sock = dns.query.make_socket(dns.inet.af_for_address(server[0]), socket.SOCK_DGRAM)
    stack.callback(sock.close)
    # Connected, so that an ICMP port unreachable (nothing listens there) comes back as
    # "connection refused" at once rather than as a timeout.
    sock.connect(server)
    return sock


def _tcp(query: dns.message.Message, server: Server, wait: float,
         trace: list[str] | None) -> Outcome:
    where = shown_server(*server)
    sent = time.monotonic()
    try:
        response = dns.query.tcp(query, server[0], timeout=wait, port=server[1])
    except dns.exception.Timeout:
        _note(trace, f"{where} tcp: no answer in {time.monotonic() - sent:.1f} s")
        return Outcome(reason="timeout", server=where)
    except dns.query.BadResponse:
        return _failed(trace, "invalid_response", f"from {where}: answer does not match the"
                                                  " query", where, "tcp")
    except EOFError:
        return _failed(trace, "invalid_response", f"{where}: connection closed without an"
                                                  " answer", where, "tcp")
    except OSError as exc:
        return _failed(trace, "connect", f"{where}: {_strerror(exc)}", where, "tcp")
    except (dns.exception.DNSException, ValueError) as exc:
        return _failed(trace, "invalid_response", f"from {where}: {why(exc)}", where, "tcp")
    return _answered(query, response, where, "tcp", sent, trace)


def _answered(query: dns.message.Message, response: dns.message.Message, where: str,
              transport: str, sent: float, trace: list[str] | None) -> Outcome:
    if not query.is_response(response):
        return _failed(trace, "invalid_response", f"from {where}: answer does not match the"
                                                  " query", where, transport)
    _note(trace, f"{where} {transport}: answered in {(time.monotonic() - sent) * 1000:.1f} ms")
    return Outcome(response=response, server=where)


def _failed(trace: list[str] | None, reason: str, detail: str, where: str,
            transport: str) -> Outcome:
    _note(trace, f"{where} {transport}: {reason}: {detail}")
    return Outcome(reason=reason, detail=detail, server=where)


def _strerror(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _note(trace: list[str] | None, line: str) -> None:
    if trace is not None:
        trace.append(line)
