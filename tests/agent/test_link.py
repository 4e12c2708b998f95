"""The link's timing and order, driven by `step(now)` on an injected clock, against the fake
server of the protocol on real sockets and a real local database."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, redirect
from werkzeug.serving import make_server

from monitor.agent.client import Client, Refused
from monitor.agent.link import BATCH, Backoff, Link, encode
from monitor.store.sqlite.outbox_rows import OutboxCheck, OutboxReader, instance
from tests.agent.conftest import OTHER_TOKEN, TOKEN, fill, monitors_doc
from tests.agent.fake_server import FakeServer, State


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.delay() == 1


class Made:
    def __init__(self, db: Path, url: str, token: str = TOKEN, location: str = "eu") -> None:
        self.lines: list[str] = []
        self.reader = OutboxReader(db)
        self.client = Client(url, token, location)
        self.link = Link(self.client, self.reader, instance(db), say=self.lines.append,
                         running=lambda: 2, where=str(db))

    def close(self) -> None:
        self.reader.close()
        self.client.close()


@pytest.fixture()
def made(tmp_path: Path) -> Iterator:
    made: list[Made] = []

    def make(url: str, rows: int = 0, **kwargs: str) -> Made:
        db = tmp_path / "agent.db"
        if not db.exists() or rows:
            fill(db, rows)
        made.append(Made(db, url, **kwargs))
        return made[-1]

    yield make
    for one in made:
        one.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_away_is_retried_after_1_2_4_up_to_30_s_and_said_once_each_way(
        made, state: State) -> None:
    port = closed_port()
    one = made(f"http://127.0.0.1:{port}", rows=5)
    link = one.link
    tries = []
    now = 0.0
    for _ in range(8):
        wake = link.step(now)
        tries.append(wake - now)
        assert link.step(now + (wake - now) / 2) == wake  # nothing before its time
        now = wake
    assert tries == [1, 2, 4, 8, 16, 30, 30, 30]
    assert one.lines == [f"Warning: cannot reach the server http://127.0.0.1:{port}:"
                         " connection refused; retrying until it answers (checking starts"
                         " then)"]
    with FakeServer(state, port):
        link.step(now)
        assert len(one.lines) == 2
        assert one.lines[1] == (f"The server http://127.0.0.1:{port} is back after 2m01s;"
                                " sending the 5 check(s) that waited")
        assert [row["id"] for row in state.rows()] == [1, 2, 3, 4, 5]
        assert link.step(now + 1) == now + 2  # back to the cadence: the next look in 1 s


def test_a_server_not_up_yet_at_the_start_is_waited_for_in_other_words(
        made, state: State) -> None:
    port = closed_port()
    one = made(f"http://127.0.0.1:{port}")
    assert one.link.step(0) == 1
    assert one.lines == [f"Warning: cannot reach the server http://127.0.0.1:{port}:"
                         " connection refused; retrying until it answers (checking starts"
                         " then)"]
    with FakeServer(state, port):
        one.link.step(1)
    assert one.lines[1:] == [f"The server http://127.0.0.1:{port} answers after 1s"]
    assert one.link.take_assignment() is not None


def test_polls_every_poll_beats_every_heartbeat_and_sighup_polls_at_once(
        made, server: FakeServer, state: State) -> None:
    state.poll, state.heartbeat = 10, 5
    link = made(server.url).link
    now = 0.0
    while now <= 30:
        link.step(now)
        now += 0.5
    polls = state.requests("monitors")
    assert [seen.status for seen in polls] == [200, 304, 304, 304]
    assert [seen.if_none_match for seen in polls][1:] == [state.etag] * 3
    assert len(state.requests("heartbeat")) == 7  # at 0, 5, ... 30
    assert link.take_assignment() is not None
    assert link.take_assignment() is None  # taken once
    # SIGHUP: a poll at the next step, whatever the cadence.
    link.request_poll()
    link.step(30.6)
    assert len(state.requests("monitors")) == 5


def test_a_change_on_the_server_reaches_the_agent_within_one_heartbeat(
        made, server: FakeServer, state: State) -> None:
    state.poll, state.heartbeat = 60, 5
    link = made(server.url).link
    link.step(0)
    first = link.take_assignment()
    assert first is not None and [m["id"] for m in first.config["monitors"]] == ["m1", "m2"]
    state.set_config(monitors_doc("m1", "m3"))
    link.step(4.9)
    assert link.take_assignment() is None
    link.step(5.0)  # the heartbeat's ETag differs: polled now, not at 60
    changed = link.take_assignment()
    assert changed is not None and [m["id"] for m in changed.config["monitors"]] == ["m1", "m3"]


def test_checks_go_in_order_in_batches_of_at_most_1000(
        made, server: FakeServer, state: State) -> None:
    link = made(server.url, rows=2500).link
    assert link.step(0) == 0  # a full batch: more at once
    assert link.step(0) == 0
    assert link.step(0) == 1.0  # the last 500: then the next look in a second
    batches = [seen.ids for seen in state.requests("results")]
    assert [len(ids) for ids in batches] == [BATCH, BATCH, 500]
    assert [row["id"] for row in state.rows()] == list(range(1, 2501))
    assert link.upto == 2500 and link.waiting() == 0
    row = state.rows()[1]
    assert row == {"id": 2, "monitor": "m1", "timestamp": 1.7e9 + 1, "available": True,
                   "code": 200, "response_ms": 11.0, "reason": None, "detail": "",
                   "lateness_ms": 1.5, "warning": False, "metrics": {"connect": 1.0}}


def test_a_batch_committed_but_not_answered_is_sent_again_and_stored_once(
        made, server: FakeServer, state: State) -> None:
    link = made(server.url, rows=30).link
    state.drop_answer_once = True
    wake = link.step(0)
    assert wake == 1.0  # away: retry in 1 s
    link.step(1.0)
    assert [row["id"] for row in state.rows()] == list(range(1, 31))
    assert state.duplicates == 0  # the heartbeat said upto 30: nothing sent twice either
    assert [len(seen.ids) for seen in state.requests("results")] == [30]


def test_a_restarted_link_sends_only_what_the_server_has_not(
        made, server: FakeServer, state: State, tmp_path: Path) -> None:
    first = made(server.url, rows=40)
    first.link.step(0)
    assert len(state.rows()) == 40
    fill(tmp_path / "agent.db", 15, start=1.8e9)  # written while nothing was sent
    second = made(server.url)  # a new process on the same database
    assert second.link.instance == first.link.instance
    second.link.step(100)
    assert [row["id"] for row in state.rows()] == list(range(1, 56))
    assert [seen.ids[0] for seen in state.requests("results")] == [1, 41]
    assert state.duplicates == 0


def test_a_check_the_server_refuses_is_skipped_with_an_error_not_sent_forever(
        made, server: FakeServer, state: State) -> None:
    one = made(server.url, rows=10)
    state.refuse_id = 4
    assert one.link.step(0) == 0  # at once again, without it
    assert one.lines == ["Error: the server refused check #4 of monitor m1: Unprocessable"
                         " Content: results[3].code: must be a whole number or null; it is"
                         " skipped"]
    assert one.link.step(0) == 1.0
    assert [row["id"] for row in state.rows()] == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert one.link.upto == 10 and one.link.waiting() == 0


def test_a_long_detail_and_odd_measurements_are_sent_within_the_protocol_bounds() -> None:
    row = OutboxCheck(7, "m1", 1.7e9, False, None, -0.5, "r" * 300, "d" * 5000, None, False,
                      '{"connect": 1.5, "bad": "x", "inf": 1e999, "": 2}')
    sent = encode(row)
    assert len(sent["detail"]) == 1000 and sent["detail"].endswith("…")
    assert sent["reason"] == "r" * 200
    assert sent["metrics"] == {"connect": 1.5}
    assert (sent["response_ms"], sent["lateness_ms"]) == (0.0, 0.0)


def test_refused_token_and_location_end_the_link(made, server: FakeServer) -> None:
    with pytest.raises(Refused, match=r"refused the agent's token \(401 Unauthorized: unknown"
                                      r" agent token\)"):
        made(server.url, token="x" * 20).link.step(0)
    with pytest.raises(Refused, match="refused location 'us' for this agent's token"
                                      r" \(403 Forbidden: agent eu-1 is of location eu\)"):
        made(server.url, location="us").link.step(0)
    made(server.url, token=OTHER_TOKEN, location="us").link.step(0)  # its own: fine


def test_a_redirect_is_not_followed_but_named(made, tmp_path: Path) -> None:
    app = Flask(__name__)
    app.add_url_rule("/api/v1/agent/monitors", "moved",
                     lambda: redirect("https://user:pw@monitor.example/api/v1/agent/monitors"))
    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Refused) as refused:
            made(f"http://127.0.0.1:{server.server_port}").link.step(0)
    finally:
        server.shutdown()
    assert str(refused.value).endswith(
        "GET /api/v1/agent/monitors answered 302, a redirect to"
        " https://monitor.example/api/v1/agent/monitors: give --server the address it"
        " redirects to (the agent follows no redirect: its token would go along)")
