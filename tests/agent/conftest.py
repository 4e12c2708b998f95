"""The agent's tests: a fake server of the agent protocol, and a local database with checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store
from tests.agent.fake_server import FakeServer, State

TOKEN = "agent-token-eu-0123456789"  # 25 characters, distinctive: searched for in outputs
OTHER_TOKEN = "agent-token-us-0123456789"


def monitors_doc(*ids: str, interval: float = 0.1, port: int = 9) -> dict:
    """A config document of tcp monitors on a closed port of loopback: each check fails at
    once (connection refused), a row every `interval` s."""
    return {"monitors": [{"id": ident, "type": "tcp", "host": "127.0.0.1", "port": port,
                          "checkInterval": interval, "timeout": 1} for ident in ids]}


@pytest.fixture()
def state() -> State:
    return State(agents={TOKEN: ("eu-1", "eu"), OTHER_TOKEN: ("us-1", "us")},
                 config=monitors_doc("m1", "m2"))


@pytest.fixture()
def server(state: State) -> Iterator[FakeServer]:
    with FakeServer(state) as running:
        yield running


def fill(db: Path, count: int, monitor_id: str = "m1", start: float = 1.7e9) -> None:
    """`count` checks of `monitor_id` written to the database at `db` by the real writer."""
    config = parse_config(str(monitors_doc(monitor_id)).replace("'", '"'))
    store = Store(db).start()
    store.set_monitors(config.monitors)
    store.put_checks([CheckResult(monitor_id, start + i, i % 3 != 0, 200 if i % 3 else None,
                                  10.0 + i, None if i % 3 else "connect", "", 1.5,
                                  metrics={"connect": 1.0})
                      for i in range(count)])
    assert store.flush(10)
    store.close()
