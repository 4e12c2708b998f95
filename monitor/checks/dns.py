"""The `dns` kind: one query for a name's records of one type, to a given server or to the
system's nameservers, dnspython doing the protocol. Up when the answer is NOERROR with
records of that type (after the answer's CNAMEs) holding every `expect` value.

Keys: `name` (the DNS name, also the monitor's display name), `record` (default A),
`server` (an IP address; default the nameservers of /etc/resolv.conf), `port` (with
`server`, default 53), `expect` (a value or a list of values the answer must hold), `tcp`
(ask over TCP only; default UDP, and TCP when the answer is truncated)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from monitor.checks.deadline import Deadline
from monitor.checks.model import CheckResult, Kind, Monitor, Parsed
from monitor.checks.registry import register
from monitor.checks.schema import Fields
from monitor.checks.trace import detail as trace_detail
from monitor.checks.trace import printable, quoted, verdict_lines

# `name` is one of every monitor's keys (its display name): a dns monitor's is the name it
# asks for, so the config reads it as both.
KEYS = ("record", "server", "port", "expect", "tcp")
REASONS = ("nxdomain", "servfail", "dns_error", "no_answer", "assertion", "timeout",
           "connect", "invalid_response", "other")
RESOLV_CONF = "/etc/resolv.conf"
# Seconds before an unanswered UDP query is sent again (to the next nameserver if there
# are several): dnspython's default, as resolv.conf's `options timeout:` is for the system.
RETRY = 2.0
# The least of resolv.conf's `options timeout:`: glibc waits at least a second too, and a
# `timeout:0` must not make a check resend its query in a loop that never waits.
MIN_SYSTEM_RETRY = 1.0
POLL = 0.25  # how often a wait for an answer looks whether the check was aborted
MAX_SHOWN = 5  # answer values quoted in an assertion's detail
# Characters of a value quoted in a message (a config value, an expected or answered value).
QUOTED = 100
MAX_TRACE = 40  # records per section in the trace
TEXT_TYPES = frozenset({dns.rdatatype.TXT, dns.rdatatype.SPF})
# ms from the first query sent to the answer (every answer, whatever its code): not "dns",
# which in the http, tcp and tls kinds is the name lookup before a connection.
METRIC = "query"


@dataclass(frozen=True)
class DnsSpec:
    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType = dns.rdatatype.A
    server: str | None = None  # an IP address; None: the system's nameservers
    port: int = 53
    expect: tuple[str, ...] = ()  # as written, quoted in details
    # `expect` parsed: the text of a TXT record, else the record itself (dnspython compares
    # records in canonical form: names without regard to case, addresses as addresses).
    wanted: tuple[str | dns.rdata.Rdata, ...] = ()
    tcp: bool = False
    retry: float | None = None  # None: RETRY, or resolv.conf's timeout for the system's
    resolv_conf: str = RESOLV_CONF
    # resolv.conf cannot give a port: the tests point it at a server on another one.
    resolv_port: int = 53


# --- the config ---------------------------------------------------------------------------

def dns_name(text: str) -> dns.name.Name:
    """An absolute DNS name (IDNA for non-ASCII); ValueError saying what is wrong."""
    if not text or any(ch.isspace() for ch in text) or not text.isprintable():
        raise ValueError("must be a DNS name (no spaces or control characters)")
    try:
        return dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise ValueError(f"{quoted(text, QUOTED)} is not a valid DNS name: {_why(exc)}") from None


def record_type(text: str) -> dns.rdatatype.RdataType:
    try:
        rdtype = dns.rdatatype.from_text(text)
    except (dns.exception.DNSException, ValueError):
        raise ValueError(f"{quoted(text, QUOTED)} is not a DNS record type (A, AAAA, CNAME, MX,"
                         " TXT, NS, SOA, SRV, CAA, PTR, ...)") from None
    if dns.rdatatype.is_metatype(rdtype):
        raise ValueError(f"{quoted(text, QUOTED)} is a query meta-type, not a record type")
    return rdtype


def expected(rdtype: dns.rdatatype.RdataType, text: str) -> str | dns.rdata.Rdata:
    """An `expect` value as compared: a TXT record's text as is, else the record parsed."""
    if rdtype in TEXT_TYPES:
        return text
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text.strip(),
                                   origin=dns.name.root, relativize=False)
    except Exception:  # noqa: BLE001 - dnspython's parsers raise many kinds of error
        raise ValueError(f"{quoted(text, QUOTED)} is not a valid "
                         f"{dns.rdatatype.to_text(rdtype)} record") from None


def server_address(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("must be an IP address (IPv4 or IPv6) of a DNS server") from None
    return str(address)


def make_spec(name: str, record: str = "A", server: str | None = None, port: int = 53,
              expect: Sequence[str] = (), tcp: bool = False, **internal: Any) -> DnsSpec:
    """A spec made in code (tests, the bench, the plugin hook); ValueError if invalid."""
    rdtype = record_type(record)
    return DnsSpec(name=dns_name(name), rdtype=rdtype,
                   server=None if server is None else server_address(server), port=port,
                   expect=tuple(expect), wanted=tuple(expected(rdtype, e) for e in expect),
                   tcp=tcp, **internal)


def target(spec: DnsSpec) -> str:
    """As shown and stored, dig-like: `A example.com @192.0.2.53:5353 +tcp`."""
    text = f"{dns.rdatatype.to_text(spec.rdtype)} {_name(spec.name)}"
    if spec.server is not None:
        text += f" @{_where(spec.server, spec.port)}"
    return text + (" +tcp" if spec.tcp else "")


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    if "name" not in obj:
        raise fields.fail(f"{path}.name", "is required (the DNS name to look up)")
    if not isinstance(obj["name"], str) or not obj["name"].strip():
        raise fields.fail(f"{path}.name", "must be a DNS name")
    try:
        name = dns_name(obj["name"].strip())
    except ValueError as exc:
        raise fields.fail(f"{path}.name", str(exc)) from None
    record = obj.get("record", "A")
    if not isinstance(record, str) or not record.strip():
        raise fields.fail(f"{path}.record", "must be a record type such as A, AAAA, CNAME,"
                                            " MX, TXT, NS")
    try:
        rdtype = record_type(record.strip())
    except ValueError as exc:
        raise fields.fail(f"{path}.record", str(exc)) from None
    server = None
    if "server" in obj:
        if not isinstance(obj["server"], str) or not obj["server"].strip():
            raise fields.fail(f"{path}.server", "must be an IP address (IPv4 or IPv6) of a"
                                                " DNS server")
        try:
            server = server_address(obj["server"].strip())
        except ValueError as exc:
            raise fields.fail(f"{path}.server", str(exc)) from None
    port = fields.port(obj, "port", f"{path}.port", 53)
    if "port" in obj and server is None:
        raise fields.fail(f"{path}.port", 'needs "server" (the system\'s nameservers are'
                                          " asked on port 53)")
    expect = fields.strings(obj, "expect", f"{path}.expect")
    wanted = []
    for index, text in enumerate(expect):
        try:
            wanted.append(expected(rdtype, text))
        except ValueError as exc:
            where = "" if isinstance(obj["expect"], str) else f"[{index}]"
            raise fields.fail(f"{path}.expect{where}", str(exc)) from None
    spec = DnsSpec(name=name, rdtype=rdtype, server=server, port=port, expect=expect,
                   wanted=tuple(wanted), tcp=fields.boolean(obj, "tcp", f"{path}.tcp", False))
    return Parsed(spec=spec, target=target(spec))


def plugin(site: Monitor, defaults: Mapping[str, Any]) -> Parsed | None:
    """An http site's host name, A record, through the system's nameservers. None for an
    IP address, `localhost` and a single label (the system finds those in /etc/hosts or
    through its search domains, which a DNS query does not ask)."""
    host = urlsplit(site.spec.url).hostname or ""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return None
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 or labels[-1] == "localhost":
        return None
    try:
        spec = make_spec(host)
    except ValueError:
        return None
    return Parsed(spec=spec, target=target(spec))


def dns_monitor(name: str, record: str = "A", *, timeout: float = 2.0, interval: float = 2.0,
                id: str | None = None, **spec: Any) -> Monitor:
    """A dns monitor made in code (tests, the bench), as the config would make it."""
    made = make_spec(name, record, **spec)
    shown = target(made)
    return Monitor(id=id or f"dns:{shown}", kind="dns", target=shown, name=name,
                   interval=interval, timeout=timeout, spec=made)


# --- the check ----------------------------------------------------------------------------

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
        raise ResolverConfigError(_why(exc)) from None
    except (dns.exception.DNSException, ValueError) as exc:
        # A line dnspython refuses (`search a..b`, `nameserver not-an-ip`), where the C
        # library would skip it: every check would fail the same way, so it says where.
        raise ResolverConfigError(f"cannot use {path}: {_why(exc)}") from None
    found = (tuple(str(n) for n in resolver.nameservers if dns.inet.is_address(str(n))),
             max(MIN_SYSTEM_RETRY, float(resolver.timeout)))
    if not found[0]:
        raise ResolverConfigError(f"no nameserver address in {path}")
    _system[path] = (key, found)
    return found


@dataclass
class _Outcome:
    """How asking went: an answer, or why there is none (reason and detail)."""

    response: dns.message.Message | None = None
    reason: str = ""
    detail: str = ""
    server: str = ""  # who answered, as shown
    seconds: float = 0.0  # from the first query to the answer


def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return check(monitor, deadline, None)


def debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
    """One check with its trace: the question, each server asked and how, the answer's
    code, flags and records, the expected values found or not, then the verdict."""
    lines: list[str] = []
    deadline = Deadline(time.monotonic() + monitor.timeout, monitor.timeout)
    result = check(monitor, deadline, lines)
    return result, lines + verdict_lines(result)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    spec: DnsSpec = monitor.spec
    started, mono = time.time(), time.monotonic()

    def result(available: bool, code: int | None, reason: str | None = None,
               detail: str = "", seconds: float | None = None) -> CheckResult:
        elapsed = (time.monotonic() - mono) * 1000
        metrics = {"total": elapsed} if seconds is None else {METRIC: seconds * 1000,
                                                              "total": elapsed}
        # An answer's values (64 KB of TXT, control characters) shown as any kind's detail.
        return CheckResult(monitor.id, started, available, code, elapsed, reason,
                           trace_detail(detail, monitor.secrets), mono=mono, metrics=metrics)

    if spec.server is not None:
        servers = [(spec.server, spec.port)]
        retry = spec.retry or RETRY
        source = "given"
    else:
        try:
            addresses, timeout = system_nameservers(spec.resolv_conf)
        except ResolverConfigError as exc:
            _note(trace, f"system resolver: {exc}")
            return result(False, None, "other", f"system resolver: {exc}")
        servers = [(address, spec.resolv_port) for address in addresses]
        retry = spec.retry or timeout
        source = f"from {spec.resolv_conf}"
    # Without EDNS, as the C library's resolver asks by default (and cheaper, see
    # docs/performance.md): an answer larger than 512 bytes comes truncated and is asked
    # again over TCP.
    query = dns.message.make_query(spec.name, spec.rdtype)
    _note(trace, f"query: {dns.rdatatype.to_text(spec.rdtype)} {spec.name}"
                 f" ({'tcp' if spec.tcp else 'udp'})")
    _note(trace, f"nameserver{'s' if len(servers) > 1 else ''} ({source}): "
                 + ", ".join(_where(*server) for server in servers))
    outcome = _ask(query, servers, spec.tcp, retry, deadline, trace)
    response = outcome.response
    if response is None:
        return result(False, None, outcome.reason, outcome.detail)
    _trace_answer(trace, response)
    rcode = response.rcode()
    code = int(rcode)
    where = outcome.server
    if rcode == dns.rcode.NXDOMAIN:
        return result(False, code, "nxdomain", f"no such name (NXDOMAIN from {where})",
                      outcome.seconds)
    if rcode == dns.rcode.SERVFAIL:
        return result(False, code, "servfail", f"SERVFAIL from {where}", outcome.seconds)
    if rcode != dns.rcode.NOERROR:
        return result(False, code, "dns_error", f"{dns.rcode.to_text(rcode)} from {where}",
                      outcome.seconds)
    try:
        if not isinstance(response, dns.message.QueryMessage):
            raise dns.exception.FormError("not an answer to a query")
        chain = response.resolve_chaining()
    except dns.exception.DNSException as exc:
        # An answer came, unusable (a CNAME loop): timed, but no code to trust.
        return result(False, None, "invalid_response", f"from {where}: {_why(exc)}",
                      outcome.seconds)
    records: dns.rrset.RRset | None = chain.answer
    if records is None:
        via = f" (CNAME to {_name(chain.canonical_name)})" if chain.cnames else ""
        return result(False, code, "no_answer", f"no {dns.rdatatype.to_text(spec.rdtype)}"
                      f" record{via} (NOERROR from {where})", outcome.seconds)
    missing = []
    for written, wanted in zip(spec.expect, spec.wanted, strict=True):
        found = any(_matches(wanted, rdata) for rdata in records)
        _note(trace, f"expect {quoted(written, QUOTED)}: {'found' if found else 'MISSING'}")
        if not found:
            missing.append(quoted(written, QUOTED))
    if missing:
        got = [_value(rdata) for rdata in records]
        more = f", ... ({len(got)} in all)" if len(got) > MAX_SHOWN else ""
        return result(False, code, "assertion", f"expect {', '.join(missing)}: got"
                      f" {', '.join(got[:MAX_SHOWN])}{more}", outcome.seconds)
    return result(True, code, seconds=outcome.seconds)


def _ask(query: dns.message.Message, servers: list[tuple[str, int]], tcp: bool,
         retry: float, deadline: Deadline, trace: list[str] | None) -> _Outcome:
    """Ask the servers in turn until one answers with NOERROR or NXDOMAIN. Over UDP a
    query unanswered after `retry` seconds is sent again (to the next server, if there are
    several, as resolvers do), and an answer that does not fit (TC) is asked again over
    TCP. Over TCP each server is asked once with an equal share of the time left (TCP
    itself retransmits). A server that answers another code, refuses or answers garbage
    is not asked again; a server that answered outranks one that did not in the verdict."""
    begin = time.monotonic()
    left = list(servers)
    failed: list[_Outcome] = []
    asked = 0
    with contextlib.ExitStack() as stack:
        sockets: dict[tuple[str, int], socket.socket] = {}
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
    answered = [o for o in failed if o.response is not None]
    if answered or failed:
        return (answered or failed)[-1]
    shown = ", ".join(_where(*server) for server in servers)
    queries = f"{asked} quer{'y' if asked == 1 else 'ies'}"
    return _Outcome(reason="timeout", detail=f"no answer from {shown} in"
                                             f" {time.monotonic() - begin:.1f} s ({queries})")


def _udp(query: dns.message.Message, server: tuple[str, int],
         sockets: dict[tuple[str, int], socket.socket], stack: contextlib.ExitStack,
         wait: float, deadline: Deadline, trace: list[str] | None) -> _Outcome:
    """One query over UDP, and the wait for its answer; the socket of each server is kept
    for the check, so that an answer to an earlier query to it still counts."""
    where = _where(*server)
    sent = time.monotonic()
    try:
        sock = sockets.get(server)
        if sock is None:
            sock = dns.query.make_socket(dns.inet.af_for_address(server[0]),
                                         socket.SOCK_DGRAM)
            stack.callback(sock.close)
            # Connected, so that an ICMP port unreachable (nothing listens there) comes
            # back as "connection refused" at once rather than as a timeout.
            sock.connect(server)
            sockets[server] = sock
        dns.query.send_udp(sock, query.to_wire(), None)
        while True:
            left = min(POLL, wait - (time.monotonic() - sent))
            if left <= 0 or deadline.aborted:
                _note(trace, f"{where} udp: no answer in {time.monotonic() - sent:.1f} s")
                return _Outcome(reason="timeout", server=where)
            try:
                response, _, _ = dns.query.receive_udp(
                    sock, None, time.time() + left, raise_on_truncation=True)
                break
            except dns.exception.Timeout:
                continue
    except dns.message.Truncated:
        _note(trace, f"{where} udp: truncated answer (TC), asking again over TCP")
        return _Outcome(reason="truncated", server=where)
    except OSError as exc:
        return _failed(trace, "connect", f"{where}: {_strerror(exc)}", where, "udp")
    except (dns.exception.DNSException, ValueError, EOFError) as exc:
        return _failed(trace, "invalid_response", f"from {where}: {_why(exc)}", where, "udp")
    return _answered(query, response, where, "udp", sent, trace)


def _tcp(query: dns.message.Message, server: tuple[str, int], wait: float,
         trace: list[str] | None) -> _Outcome:
    where = _where(*server)
    sent = time.monotonic()
    try:
        response = dns.query.tcp(query, server[0], timeout=wait, port=server[1])
    except dns.exception.Timeout:
        _note(trace, f"{where} tcp: no answer in {time.monotonic() - sent:.1f} s")
        return _Outcome(reason="timeout", server=where)
    except dns.query.BadResponse:
        return _failed(trace, "invalid_response", f"from {where}: answer does not match the"
                                                  " query", where, "tcp")
    except EOFError:
        return _failed(trace, "invalid_response", f"{where}: connection closed without an"
                                                  " answer", where, "tcp")
    except OSError as exc:
        return _failed(trace, "connect", f"{where}: {_strerror(exc)}", where, "tcp")
    except (dns.exception.DNSException, ValueError) as exc:
        return _failed(trace, "invalid_response", f"from {where}: {_why(exc)}", where, "tcp")
    return _answered(query, response, where, "tcp", sent, trace)


def _answered(query: dns.message.Message, response: dns.message.Message, where: str,
              transport: str, sent: float, trace: list[str] | None) -> _Outcome:
    if not query.is_response(response):
        return _failed(trace, "invalid_response", f"from {where}: answer does not match the"
                                                  " query", where, transport)
    _note(trace, f"{where} {transport}: answered in {(time.monotonic() - sent) * 1000:.1f} ms")
    return _Outcome(response=response, server=where)


def _failed(trace: list[str] | None, reason: str, detail: str, where: str,
            transport: str) -> _Outcome:
    _note(trace, f"{where} {transport}: {reason}: {detail}")
    return _Outcome(reason=reason, detail=detail, server=where)


def _trace_answer(trace: list[str] | None, response: dns.message.Message) -> None:
    if trace is None:
        return
    flags = dns.flags.to_text(response.flags).lower()
    trace.append(f"answer: {dns.rcode.to_text(response.rcode())}, flags {flags}")
    for title, section in (("answer", response.answer), ("authority", response.authority),
                           ("additional", response.additional)):
        # One record a line, shortened: a TXT record may hold 64 KB.
        lines = [printable(line) for rrset in section for line in rrset.to_text().splitlines()]
        trace += [f"  {title}: {line}" for line in lines[:MAX_TRACE]]
        if len(lines) > MAX_TRACE:
            trace.append(f"  {title}: ... {len(lines) - MAX_TRACE} more")


def _matches(wanted: str | dns.rdata.Rdata, rdata: dns.rdata.Rdata) -> bool:
    if isinstance(wanted, str):
        return _text(rdata) == wanted
    return rdata == wanted


def _text(rdata: dns.rdata.Rdata) -> str:
    """A TXT record's strings joined, as the value they make (SPF, DKIM keys)."""
    return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]


def _value(rdata: dns.rdata.Rdata) -> str:
    return quoted(_text(rdata), QUOTED) if rdata.rdtype in TEXT_TYPES else rdata.to_text()


def _name(name: dns.name.Name) -> str:
    return "." if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


def _where(address: str, port: int) -> str:
    if port == 53:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _strerror(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _why(exc: BaseException) -> str:
    """An exception's message on one line, without its final period."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")[:1].lower() + text.rstrip(".")[1:]


def _note(trace: list[str] | None, line: str) -> None:
    if trace is not None:
        trace.append(line)


KIND = register(Kind(
    name="dns",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    network=True,
    # An answer, even SERVFAIL, proves the network works: only silence or an unreachable
    # server can be the monitor's own loss of network.
    network_reasons=frozenset({"timeout", "connect"}),
    debug=debug,
    plugin=plugin,
))
