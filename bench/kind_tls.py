"""Cases of the tls kind for `python -m bench.kinds`: a full handshake verified against a
test CA (caFile), and an expired certificate (verification fails, a second handshake reads
the certificate); against a loopback TLS server in a process of its own."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.kinds import Case
from bench.loopback import server
from monitor.config import parse_config
from monitor.core.model import Monitor


def _pki(folder: Path) -> Path:
    from tests.support.tls_servers import make_pki  # the tests' CA and certificates (cryptography)

    return make_pki(folder)


def tls_monitor(**entry: object) -> Monitor:
    entry = {"type": "tls", "host": "127.0.0.1", "timeout": 2, **entry}
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


@contextlib.contextmanager
def _case(label: str, state: str) -> Iterator[tuple[Monitor, str]]:
    with tempfile.TemporaryDirectory() as folder:
        pki = _pki(Path(folder))
        with server("tls", str(pki / f"{label}.pem"), str(pki / "key.pem")) as port:
            yield tls_monitor(port=port, caFile=str(pki / "ca.pem")), state


def handshake() -> contextlib.AbstractContextManager[tuple[Monitor, str]]:
    return _case("good", "up")


def expired() -> contextlib.AbstractContextManager[tuple[Monitor, str]]:
    return _case("expired", "down")


CASES = [
    Case("tls handshake", handshake),
    Case("tls expired (2 handshakes)", expired),
]
