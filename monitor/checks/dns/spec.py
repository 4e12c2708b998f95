"""The `dns` kind's keys in a `monitors` entry (`host`, `record`, `server`, `port`,
`expect`, `tcp`) made a DnsSpec, the plugin hook that adds one to an http site, and how a
name and a server are written in targets, details and traces."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from monitor.checks.trace import quoted
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import Monitor

# `host` first: the key an error about a monitor's id names. `name` is every monitor's
# display name; written without `host`, it is also the name asked for (the old spelling).
KEYS = ("host", "record", "server", "port", "expect", "tcp")
OLD_SPELLING = ('dns: "name" as the name to query is deprecated; put it in "host" ("name" is'
                " then only the label)")
RESOLV_CONF = "/etc/resolv.conf"
# Characters of a value quoted in a message (a config value, an expected or answered value).
QUOTED = 100
TEXT_TYPES = frozenset({dns.rdatatype.TXT, dns.rdatatype.SPF})


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


# --- values -------------------------------------------------------------------------------

def dns_name(text: str) -> dns.name.Name:
    """An absolute DNS name (IDNA for non-ASCII); ValueError saying what is wrong."""
    if not text or any(ch.isspace() for ch in text) or not text.isprintable():
        raise ValueError("must be a DNS name (no spaces or control characters)")
    try:
        return dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise ValueError(f"{quoted(text, QUOTED)} is not a valid DNS name: {why(exc)}") from None


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


# --- specs --------------------------------------------------------------------------------

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
    text = f"{dns.rdatatype.to_text(spec.rdtype)} {shown_name(spec.name)}"
    if spec.server is not None:
        text += f" @{shown_server(spec.server, spec.port)}"
    return text + (" +tcp" if spec.tcp else "")


def dns_monitor(name: str, record: str = "A", *, timeout: float = 2.0, interval: float = 2.0,
                id: str | None = None, **spec: Any) -> Monitor:
    """A dns monitor made in code (tests, the bench), as the config would make it."""
    made = make_spec(name, record, **spec)
    shown = target(made)
    return Monitor(id=id or f"dns:{shown}", kind="dns", target=shown, name=name,
                   interval=interval, timeout=timeout, spec=made)


# --- the config ---------------------------------------------------------------------------

def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    name = _query_key(fields, obj, path)
    rdtype = _record_key(fields, obj, path)
    server = _server_key(fields, obj, path)
    port = fields.port(obj, "port", f"{path}.port", 53)
    if "port" in obj and server is None:
        raise fields.fail(f"{path}.port", 'needs "server" (the system\'s nameservers are'
                                          " asked on port 53)")
    expect = fields.strings(obj, "expect", f"{path}.expect")
    wanted = _wanted(fields, obj, path, rdtype, expect)
    spec = DnsSpec(name=name, rdtype=rdtype, server=server, port=port, expect=expect,
                   wanted=wanted, tcp=fields.boolean(obj, "tcp", f"{path}.tcp", False))
    return Parsed(spec=spec, target=target(spec))


def _query_key(fields: Fields, obj: dict[str, Any], path: str) -> dns.name.Name:
    """The name asked for: `host`, else (the old spelling, with a warning) `name`."""
    key = "host" if "host" in obj or "name" not in obj else "name"
    if key not in obj:
        raise fields.fail(f"{path}.host", "is required (the DNS name to look up)")
    # Without `host`, `name` is read the old way, as the name to query: a label that is
    # not a DNS name is told where the name to query goes.
    hint = '; the name to query goes in "host", and "name" is then only the label'
    hint = hint if key == "name" else ""
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise fields.fail(f"{path}.{key}", f"must be a DNS name{hint}")
    try:
        name = dns_name(value.strip())
    except ValueError as exc:
        raise fields.fail(f"{path}.{key}", f"{exc}{hint}") from None
    if key == "name":
        fields.deprecated(path, key, OLD_SPELLING)
    return name


def _record_key(fields: Fields, obj: dict[str, Any], path: str) -> dns.rdatatype.RdataType:
    record = obj.get("record", "A")
    if not isinstance(record, str) or not record.strip():
        raise fields.fail(f"{path}.record", "must be a record type such as A, AAAA, CNAME,"
                                            " MX, TXT, NS")
    try:
        return record_type(record.strip())
    except ValueError as exc:
        raise fields.fail(f"{path}.record", str(exc)) from None


def _server_key(fields: Fields, obj: dict[str, Any], path: str) -> str | None:
    if "server" not in obj:
        return None
    if not isinstance(obj["server"], str) or not obj["server"].strip():
        raise fields.fail(f"{path}.server", "must be an IP address (IPv4 or IPv6) of a"
                                            " DNS server")
    try:
        return server_address(obj["server"].strip())
    except ValueError as exc:
        raise fields.fail(f"{path}.server", str(exc)) from None


def _wanted(fields: Fields, obj: dict[str, Any], path: str, rdtype: dns.rdatatype.RdataType,
            expect: tuple[str, ...]) -> tuple[str | dns.rdata.Rdata, ...]:
    wanted = []
    for index, text in enumerate(expect):
        try:
            wanted.append(expected(rdtype, text))
        except ValueError as exc:
            where = "" if isinstance(obj["expect"], str) else f"[{index}]"
            raise fields.fail(f"{path}.expect{where}", str(exc)) from None
    return tuple(wanted)


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


# --- as written ---------------------------------------------------------------------------

def shown_name(name: dns.name.Name) -> str:
    """A name as a target or detail shows it: lower case, without the final dot."""
    return "." if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


def shown_server(address: str, port: int) -> str:
    """A server as shown: its address alone on port 53, else with the port."""
    if port == 53:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def why(exc: BaseException) -> str:
    """An exception's message on one line, without its final period."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")[:1].lower() + text.rstrip(".")[1:]
