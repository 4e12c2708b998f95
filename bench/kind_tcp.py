"""Cases of the tcp kind for `python -m bench.kinds`: a connect alone, a banner matched,
a line sent and its answer matched; against a loopback server in a process of its own."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from bench.kinds import Case
from bench.loopback import server
from monitor.config import parse_config
from monitor.core.model import Monitor


def tcp_monitor(**entry: object) -> Monitor:
    entry = {"type": "tcp", "host": "127.0.0.1", "timeout": 2, **entry}
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


@contextlib.contextmanager
def connect_only() -> Iterator[tuple[Monitor, str]]:
    with server("accept") as port:
        yield tcp_monitor(port=port), "up"


@contextlib.contextmanager
def banner() -> Iterator[tuple[Monitor, str]]:
    with server("banner") as port:
        yield tcp_monitor(port=port, expect=r"^220 \S+ ESMTP"), "up"


@contextlib.contextmanager
def send_expect() -> Iterator[tuple[Monitor, str]]:
    with server("banner") as port:
        yield tcp_monitor(port=port, send="PING\r\n", expect=r"\+PONG\r\n"), "up"


CASES = [
    Case("tcp connect", connect_only),
    Case("tcp banner expect", banner),
    Case("tcp send+expect", send_expect),
]
