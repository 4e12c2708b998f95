"""bench.kinds cases of the http kind: a plain check, one with `expect` conditions on a
JSON answer (the body kept and parsed), and an https check (the certificate's days left
read on every check)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.kinds import Case
from monitor.config import parse_config
from monitor.core.model import Monitor
from tests.support.pages import PageServer
from tests.support.tls_servers import TLSServer, make_pki

BODY = json.dumps({"status": "ok", "checks": [{"name": f"db{i}", "healthy": True}
                                              for i in range(50)]})


def monitor_of(entry: dict) -> Monitor:
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


@contextmanager
def _page(expect: dict | None) -> Iterator[tuple[Monitor, str]]:
    with PageServer() as server:
        url = server.set("/api", BODY, headers={"Content-Type": "application/json"})
        entry = {"URL": url, "timeout": 5}
        if expect:
            entry["expect"] = expect
        yield monitor_of(entry), "up"


@contextmanager
def _https() -> Iterator[tuple[Monitor, str]]:
    with tempfile.TemporaryDirectory() as folder:
        pki = make_pki(Path(folder))
        server = TLSServer(pki / "good.pem", pki / "key.pem")
        try:
            yield monitor_of({"URL": server.url, "caFile": str(pki / "ca.pem"),
                              "timeout": 5}), "up"
        finally:
            server.close()


CASES = [
    Case("http", lambda: _page(None)),
    Case("http expect (json, body, status)", lambda: _page({
        "status": [200], "bodyContains": "db49", "json": {"status": "ok",
                                                         "checks[49].healthy": True}})),
    Case("https (cert days)", _https),
]
