"""Benchmark cases of the dns kind: an A query answered (up) and an NXDOMAIN (down), against
the tests' DNS server on loopback, run in a process of its own so that its CPU is not
counted as the check's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from bench.kinds import Case
from bench.loopback import process
from monitor.checks.dns.spec import dns_monitor
from monitor.core.model import Monitor

TABLE = {"example.com": {"A": ["192.0.2.1", "192.0.2.2"]}, "gone.example.com": "nxdomain"}


def dns_server() -> AbstractContextManager[int]:
    """The port of a loopback DNS server serving TABLE, in a process of its own."""
    return process("tests.support.dns_server", json.dumps(TABLE), "900")


@contextmanager
def answered() -> Iterator[tuple[Monitor, str]]:
    with dns_server() as port:
        yield dns_monitor("example.com", server="127.0.0.1", port=port,
                          expect=["192.0.2.1"]), "up"


@contextmanager
def nxdomain() -> Iterator[tuple[Monitor, str]]:
    with dns_server() as port:
        yield dns_monitor("gone.example.com", server="127.0.0.1", port=port), "down"


CASES = [Case("dns A answered (up)", answered), Case("dns NXDOMAIN (down)", nxdomain)]
