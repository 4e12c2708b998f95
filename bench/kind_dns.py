"""Benchmark cases of the dns kind: an A query answered (up) and an NXDOMAIN (down), against
the tests' DNS server on loopback, run in a process of its own so that its CPU is not
counted as the check's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.kinds import Case
from monitor.checks import Monitor
from monitor.checks.dns import dns_monitor

ROOT = Path(__file__).resolve().parent.parent
TABLE = {"example.com": {"A": ["192.0.2.1", "192.0.2.2"]}, "gone.example.com": "nxdomain"}


@contextmanager
def dns_server() -> Iterator[int]:
    """The port of a loopback DNS server serving TABLE; it stops when its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.dns_server", json.dumps(TABLE),
                             "900"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


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
