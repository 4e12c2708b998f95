"""A small DNS server on loopback for the tests and the bench: UDP and TCP on one port,
answering per name from a table, with dnspython's message API doing the protocol.

    with DnsServer({"example.com": {"A": ["192.0.2.1"], "MX": ["10 mail.example.com"]},
                    "gone.example.com": NXDOMAIN, "quiet.example.com": SILENCE}) as server:
        ... server.port ...

A name not in the table is NXDOMAIN; a name in it without records of the type asked is
an empty NOERROR answer. A CNAME is followed within the table, as an authoritative server
does within its zone. The table may be changed while the server runs."""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

NXDOMAIN = "nxdomain"
SERVFAIL = "servfail"
REFUSED = "refused"
SILENCE = "silence"  # never answers, over UDP or TCP
GARBAGE = "garbage"  # answers bytes that are not a DNS message
TTL = 60


@dataclass
class Entry:
    """How the server answers for one name."""

    records: dict[str, list[str]] = field(default_factory=dict)  # type -> rdata texts
    rcode: str = "NOERROR"
    silent: int = 0  # UDP queries left unanswered before it answers; -1: never
    truncate: bool = False  # over UDP, an empty answer with TC set: the records over TCP
    garbage: bool = False


def entry(value: Entry | dict[str, list[str]] | str) -> Entry:
    if isinstance(value, Entry):
        return value
    if isinstance(value, dict):
        return Entry(records=value)
    return {NXDOMAIN: Entry(rcode="NXDOMAIN"), SERVFAIL: Entry(rcode="SERVFAIL"),
            REFUSED: Entry(rcode="REFUSED"), SILENCE: Entry(silent=-1),
            GARBAGE: Entry(garbage=True)}[value]


def _key(name: str | dns.name.Name) -> str:
    return str(name).lower().rstrip(".")


def closed_udp_port() -> int:
    """A loopback UDP port where nothing listens (one just released): queries to it get
    ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DnsServer:
    """UDP and TCP on one loopback port; stops on close() or after `lifetime` seconds."""

    def __init__(self, table: dict[str, Entry | dict[str, list[str]] | str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, lifetime: float = 600.0) -> None:
        self.table = {_key(name): entry(value) for name, value in (table or {}).items()}
        self.host = host
        self.queries: list[tuple[str, str, str]] = []  # (udp|tcp, name, type) as received
        self.errors: list[Exception] = []  # what went wrong in the server itself
        self._seen: dict[str, int] = {}  # UDP queries per name, for Entry.silent
        self._held: list[socket.socket] = []  # TCP connections left unanswered (SILENCE)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.udp, self.tcp = self._bind(family, host, port)
        self.port: int = self.udp.getsockname()[1]
        self._until = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)
        self._thread.start()

    def set(self, name: str, value: Entry | dict[str, list[str]] | str) -> None:
        self.table[_key(name)] = entry(value)

    @staticmethod
    def _bind(family: socket.AddressFamily, host: str,
              port: int) -> tuple[socket.socket, socket.socket]:
        # The same port number for UDP and TCP, as DNS has: a few tries, since another
        # process may hold the TCP port of the UDP port the system chose.
        for _ in range(1 if port else 50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((host, port))
                tcp.bind((host, udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                if port:
                    raise
                continue
            tcp.listen(16)
            return udp, tcp
        raise OSError(f"no port free for both UDP and TCP on {host}")

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for sock in (self.udp, self.tcp, *self._held):
            sock.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.udp, selectors.EVENT_READ)
            selector.register(self.tcp, selectors.EVENT_READ)
            while not self._stop.is_set() and time.monotonic() < self._until:
                for key, _ in selector.select(0.1):
                    try:
                        if key.fileobj is self.udp:
                            self._udp()
                        else:
                            self._tcp()
                    except Exception as exc:  # noqa: BLE001 - a bad table entry: kept for
                        self.errors.append(exc)  # the test to see, the server goes on

    def _udp(self) -> None:
        try:
            wire, peer = self.udp.recvfrom(65535)
        except OSError:
            return
        answer = self.answer(wire, "udp")
        if answer is not None:
            with contextlib.suppress(OSError):
                self.udp.sendto(answer, peer)

    def _tcp(self) -> None:
        try:
            conn, _ = self.tcp.accept()
        except OSError:
            return
        conn.settimeout(1.0)
        try:
            size = int.from_bytes(_read(conn, 2), "big")
            answer = self.answer(_read(conn, size), "tcp")
            if answer is None:
                self._held.append(conn)  # the client waits until its own timeout
                return
            conn.sendall(len(answer).to_bytes(2, "big") + answer)
        except OSError:
            pass
        conn.close()

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The answer to a query as bytes, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except Exception:  # noqa: BLE001 - not a query: ignored, as servers do
            return None
        name = _key(question.name)
        self.queries.append((transport, name, dns.rdatatype.to_text(question.rdtype)))
        found = self.table.get(name, Entry(rcode="NXDOMAIN"))
        if transport == "udp":
            self._seen[name] = seen = self._seen.get(name, 0) + 1
            if found.silent < 0 or seen <= found.silent:
                return None
        elif found.silent < 0:
            return None
        if found.garbage:
            return b"\x00\x01 this is not DNS"
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.from_text(found.rcode))
        if found.truncate and transport == "udp":
            response.flags |= dns.flags.TC
        elif found.rcode == "NOERROR":
            self._records(response, question.name, question.rdtype)
        return response.to_wire()

    def _records(self, response: dns.message.Message, name: dns.name.Name,
                 rdtype: dns.rdatatype.RdataType) -> None:
        """The records of `name`, following CNAMEs within the table (at most 8)."""
        for _ in range(8):
            found = self.table.get(_key(name), Entry())
            wanted = dns.rdatatype.to_text(rdtype)
            if wanted in found.records:
                response.answer.append(dns.rrset.from_text_list(
                    name, TTL, "IN", wanted, found.records[wanted], origin=dns.name.root,
                    relativize=False))
                return
            if "CNAME" not in found.records:
                return
            target = found.records["CNAME"][0]
            response.answer.append(dns.rrset.from_text_list(
                name, TTL, "IN", "CNAME", [target], origin=dns.name.root, relativize=False))
            name = dns.name.from_text(target)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def main(argv: list[str]) -> None:
    """`python -m tests.support.dns_server TABLE_JSON [LIFETIME]`: serve the table (names to records
    by type, or "nxdomain", "servfail", ...) in a process of its own (the bench, so that
    the server's CPU is not counted as the check's); print the port; stop when stdin
    closes or after LIFETIME seconds (default 900)."""
    table = json.loads(argv[0])
    lifetime = float(argv[1]) if len(argv) > 1 else 900.0
    with DnsServer(table, lifetime=lifetime) as server:
        print(server.port, flush=True)
        waiter = threading.Thread(target=sys.stdin.read, daemon=True)
        waiter.start()
        waiter.join(lifetime)


if __name__ == "__main__":
    main(sys.argv[1:])
