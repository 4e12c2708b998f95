"""GET /api/v1/events through Flask's test client, over a real database written by the real
Store: the events and their encoding, resuming by Last-Event-ID, filters, scopes, the
limit on streams, and the end of the streams when the server stops."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.events import Position, TailAlert, TailCheck
from monitor.store.sqlite.queries import open_reader
from monitor.web.events import Hub, Settings
from monitor.web.sse import alert_data, check_data, format_id, frame, parse_id
from tests.support.app import wait_for
from tests.support.sse import Block, Blocks
from tests.support.web import READ_TOKEN, Web, bearer

A = "http://127.0.0.1:9/a"
B = "http://127.0.0.1:9/b"
DOCUMENT = {"monitors": [{"URL": A}, {"URL": B}]}
# Short: a read waits for a poll, and an idle stream says so soon (no test waits 15 s).
QUICK = Settings(poll=0.02, heartbeat=0.3)
T0 = time.time()


class Streams:
    """The app over a real database and store, its event streams opened through the test
    client and closed at the end, and the rows the test writes."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self._open: list[Any] = []
        self._time = T0

    def open(self, query: str = "", headers: dict[str, str] | None = None) -> Blocks:
        answer = self.get(query, headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.mimetype == "text/event-stream"
        return Blocks(answer.response)

    def get(self, query: str = "", headers: dict[str, str] | None = None) -> Any:
        answer = self.web.client.get(f"/api/v1/events{query}", headers=headers,
                                     buffered=False)
        self._open.append(answer)
        return answer

    def check(self, monitor_id: str, available: bool | None = True, warning: bool = False,
              reason: str | None = None, **fields: Any) -> None:
        self._time += 1
        self.web.store.put_check(CheckResult(monitor_id, self._time, available,
                                             200 if available else None, 12.5, reason=reason,
                                             warning=warning, **fields))

    def alert(self, monitor_id: str, kind: str = "alert", message: str = "down") -> None:
        self._time += 1
        at = iso_utc(self._time)
        self.web.store.put_alert(AlertRecord(at, monitor_id, kind, at, None, 0.5, message))

    def written(self) -> Position:
        """Flush the store; wait until the hub has read everything written."""
        assert self.web.store.flush()
        with self.web.context.reader() as reader:
            _oldest, newest = reader.event_span()
        hub = self.hub
        if hub is not None:
            deadline = time.monotonic() + 10
            while hub.now()[1] < newest and time.monotonic() < deadline:
                time.sleep(0.01)
        return newest

    @property
    def hub(self) -> Hub | None:
        return self.web.app.extensions.get("events")

    def close(self) -> None:
        self.web.context.closing.set()  # the hub's thread ends, and every stream with it
        for answer in self._open:
            answer.close()


@pytest.fixture()
def streams(make_web: Any) -> Iterator[Any]:
    made: list[Streams] = []

    def make(settings: Settings = QUICK, **options: Any) -> Streams:
        web = make_web(DOCUMENT, **options)
        web.app.config["EVENTS"] = settings
        made.append(Streams(web))
        return made[-1]

    yield make
    for item in made:
        item.close()


def kinds(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(block.event or "", block.json().get("monitor")) for block in blocks]


# -- encoding --------------------------------------------------------------------------------

def test_event_ids_are_positions() -> None:
    assert parse_id("12.3") == Position(12, 3) and format_id(Position(12, 3)) == "12.3"
    assert parse_id(" 0.0 ") == Position(0, 0)
    for bad in ("", "12", "12.", ".3", "1.2.3", "-1.2", "a.b", "1e3.0", "1" * 19 + ".0",
                "١٢.٣"):
        with pytest.raises(ValueError):
            parse_id(bad)


def test_frames_are_server_sent_events_with_json_data() -> None:
    row = TailCheck(7, A, 1700000000.5, False, False, None, 3.25, "connect",
                    "refused\non two lines", '{"connect":1.5}')
    data = check_data(row)
    assert json.loads(data) == {"monitor": A, "at": 1700000000.5, "state": "down",
                                "responseMs": 3.25, "reason": "connect",
                                "detail": "refused\non two lines",
                                "metrics": {"connect": 1.5}}
    # What a check has not is left out; times to the millisecond and microsecond.
    up = TailCheck(8, A, 1700000001.1234567, True, False, 200, 1.23456789, None, "", None)
    assert json.loads(check_data(up)) == {"monitor": A, "at": 1700000001.123,
                                          "state": "up", "code": 200, "responseMs": 1.235}
    # An agent's check says where it ran; the server's own say nothing of it.
    away = up._replace(location="eu")
    assert json.loads(check_data(away))["location"] == "eu"
    assert "location" not in json.loads(check_data(up))
    sent = frame(Position(7, 2), "check", data)
    assert sent.startswith(b"id: 7.2\nevent: check\ndata: {")
    assert sent.endswith(b"}\n\n") and sent.count(b"\n") == 4  # one data line, however long
    alert = TailAlert(3, B, "recovery", "2023-11-14T22:13:20.000Z", "2023-11-14T22:00:00.000Z",
                      "2023-11-14T22:13:20.000Z", 1.0, "back up")
    assert json.loads(alert_data(alert)) == {
        "id": 3, "monitor": B, "type": "recovery", "at": 1700000000.0, "start": 1699999200.0,
        "end": 1700000000.0, "availability": 1.0, "message": "back up"}


# -- the stream ------------------------------------------------------------------------------

def test_a_stream_sends_checks_their_state_changes_and_alerts(streams: Any) -> None:
    s = streams()
    s.check(A)
    s.written()
    stream = s.open()
    first = next(iter(stream))
    assert first.retry == 3000 and first.data is None
    assert next(iter(stream)).id == "1.0"  # where it stands: a reconnect resumes from here
    s.check(A, available=False, reason="connect", detail="refused")
    s.check(B)
    s.alert(A)
    s.written()
    events = stream.events(5)
    assert [(e.id, e.event) for e in events] == [
        ("2.0", "check"), ("2.0", "state"), ("3.0", "check"), ("3.0", "state"),
        ("3.1", "alert")]
    assert events[0].json() | {"at": 0} == {
        "monitor": A, "at": 0, "state": "down", "responseMs": 12.5, "reason": "connect",
        "detail": "refused"}
    assert events[1].json()["state"] == "down" and events[1].json()["previous"] == "up"
    # A monitor's first known check is a change from nothing.
    assert events[3].json()["state"] == "up" and events[3].json()["previous"] is None
    assert events[4].json()["type"] == "alert" and events[4].json()["message"] == "down"


def test_only_a_change_of_known_state_is_a_state_event(streams: Any) -> None:
    s = streams()
    s.check(A)
    s.written()
    stream = s.open()
    s.check(A)  # up again: no change
    s.check(A, available=None, reason="maintenance")  # unknown: says nothing of the state
    s.check(A)
    s.check(A, warning=True, reason="tls_expiry", detail="expires in 5.0 days")
    s.check(A, warning=True, reason="tls_expiry", detail="expires in 4.9 days")
    s.check(A, available=False, reason="http_status")
    s.written()
    events = stream.until_idle()
    assert [e.event for e in events] == ["check"] * 4 + ["state", "check", "check", "state"]
    assert events[1].json()["state"] == "unknown"
    assert [(e.json()["previous"], e.json()["state"]) for e in events
            if e.event == "state"] == [("up", "warning"), ("warning", "down")]


def test_the_first_state_is_the_stored_one(streams: Any) -> None:
    """States start from monitor_state: a check that repeats it, written after the hub
    started, is no change."""
    s = streams()
    s.check(A, available=False, reason="connect")
    s.check(A, available=None, reason="offline")  # the known state stays down
    s.written()
    stream = s.open()
    s.check(A, available=False, reason="connect")
    s.written()
    assert [e.event for e in stream.until_idle()] == ["check"]


# -- resuming -----------------------------------------------------------------------------------

def _write_some(s: Streams) -> None:
    s.check(A)
    s.check(B, available=False, reason="timeout")
    s.alert(B)
    s.check(A, available=False, reason="connect")
    s.alert(A)
    s.check(B)
    s.alert(B, "recovery", "up")


def _recorded(s: Streams) -> list[Block]:
    """The events of what _write_some writes, on a stream open from before."""
    s.written()
    whole = s.open()
    _write_some(s)
    s.written()
    return whole.until_idle()


def test_a_client_that_comes_back_gets_exactly_what_it_missed(streams: Any) -> None:
    s = streams()
    everything = _recorded(s)
    assert len(everything) == 11
    for cut in range(len(everything)):
        resumed = s.open(headers={"Last-Event-ID": everything[cut].id})
        rest = resumed.until_idle()
        # The events after the cut (a state event shares its check's id: sent with it).
        expected = [e for e in everything[cut + 1:]
                    if e.id != everything[cut].id]
        assert [(e.id, e.event, e.data) for e in rest] \
            == [(e.id, e.event, e.data) for e in expected], cut
        assert resumed.last_id == everything[-1].id


def test_resume_as_a_script_with_last_event_id_in_the_query(streams: Any) -> None:
    s = streams()
    everything = _recorded(s)
    rest = s.open(f"?lastEventId={everything[3].id}").until_idle()
    assert [e.id for e in rest] == [e.id for e in everything[4:]]
    # The header (an EventSource's reconnection) wins over the query it was opened with.
    rest = s.open(f"?lastEventId={everything[3].id}",
                  headers={"Last-Event-ID": everything[8].id}).until_idle()
    assert [e.id for e in rest] == [e.id for e in everything[9:]]


def test_events_written_while_away_and_after_come_in_order(streams: Any) -> None:
    s = streams()
    s.written()
    stream = s.open()
    s.check(A)
    s.written()
    seen = stream.events(2)
    s.check(B)
    s.alert(B)
    s.written()
    resumed = s.open(headers={"Last-Event-ID": seen[-1].id})
    s.check(A, available=False, reason="connect")
    s.written()
    assert [(e.id, e.event) for e in resumed.until_idle()] == [
        ("2.0", "check"), ("2.0", "state"), ("2.1", "alert"), ("3.1", "check"),
        ("3.1", "state")]


def test_too_far_back_is_said_with_a_reset_event_and_the_stream_goes_on(streams: Any) -> None:
    s = streams(Settings(poll=0.02, heartbeat=0.3, replay_checks=3))
    s.check(A)
    s.written()
    stream = s.open()
    for _ in range(5):
        s.check(B)
    s.written()
    start = "1.0"
    resumed = s.open(headers={"Last-Event-ID": start})
    reset = resumed.events(1)[0]
    assert reset.event == "reset" and reset.id == "6.0"
    assert reset.json() == {"reason": "more than 3 checks or 5000 alerts were written since",
                            "from": start}
    s.check(A)
    s.written()
    assert [(e.id, e.event) for e in resumed.until_idle()] == [("7.0", "check")]
    stream.until_idle()


def test_state_changes_from_before_the_server_started_are_a_reset(streams: Any) -> None:
    s = streams()
    for available in (True, False, True):
        s.check(A, available=available, reason=None if available else "connect")
    s.written()
    s.open()  # the hub starts at 3.0: state changes before it are not known
    reset = s.open(headers={"Last-Event-ID": "1.0"}).events(1)[0]
    assert reset.event == "reset" and reset.json()["reason"] == (
        "the state changes since are not known: the server was not reading then (no stream"
        " was open)")
    # Without state events, the checks are read back as they are.
    rest = s.open("?types=check", headers={"Last-Event-ID": "1.0"}).until_idle()
    assert [(e.id, e.json()["state"]) for e in rest] == [("2.0", "down"), ("3.0", "up")]


def test_purged_checks_are_a_reset(streams: Any) -> None:
    s = streams()
    s._time = T0 - 10 * 86400
    s.check(A)
    s.check(A)
    s._time = T0
    s.check(A)
    s.written()
    s.open()
    assert len(s.open("?types=check", headers={"Last-Event-ID": "0.0"}).until_idle()) == 3
    s.web.store.purge(T0 - 86400)
    s.written()
    reset = s.open("?types=check", headers={"Last-Event-ID": "0.0"}).events(1)[0]
    assert reset.event == "reset" and reset.json()["reason"] == "the checks since were purged"


def test_a_stream_that_fell_behind_is_read_back_from_the_database(streams: Any) -> None:
    s = streams(Settings(poll=0.02, heartbeat=0.3, keep=1))
    s.written()
    stream = s.open()
    for monitor_id in (A, B, A):  # three polls while the stream reads nothing
        s.check(monitor_id)
        s.written()
    assert [(e.id, e.event) for e in stream.until_idle()] == [
        ("1.0", "check"), ("1.0", "state"), ("2.0", "check"), ("2.0", "state"),
        ("3.0", "check")]


@pytest.mark.parametrize("given, status, detail", [
    ("abc", 400, "'abc' is not an event id of this server (they look like 1234.56)"),
    ("12", 400, "not an event id"),
    ("", 400, "not an event id"),
    ("99.0", 404, "no event has the id 99.0: it is past this server's newest, 1.0"),
    ("1.7", 404, "past this server's newest"),
])
def test_an_id_not_of_ours_is_a_problem(streams: Any, given: str, status: int,
                                        detail: str) -> None:
    s = streams()
    s.check(A)
    s.written()
    answer = s.get(f"?lastEventId={given}")
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert detail in answer.json["detail"]
    assert answer.json["parameter"] == "lastEventId"
    if given:
        answer = s.get(headers={"Last-Event-ID": given})
        assert answer.status_code == status and detail in answer.json["detail"]
        assert answer.json["parameter"] == "Last-Event-ID"


# -- filters and scopes ----------------------------------------------------------------------

def test_filters_by_monitor_and_type(streams: Any) -> None:
    s = streams()
    s.written()
    only_b = s.open(f"?monitor={B}")
    alerts = s.open("?types=alert")
    both = s.open(f"?monitor={A}&monitor={B}&types=state,alert")
    _write_some(s)
    s.written()
    assert {monitor for _kind, monitor in kinds(only_b.until_idle())} == {B}
    assert [k for k, _m in kinds(alerts.until_idle())] == ["alert"] * 3
    # (In a poll, checks come before alerts: the order across polls depends on them.)
    assert sorted(k for k, _m in kinds(both.until_idle())) == ["alert"] * 3 + ["state"] * 4
    # Each write ends at the position read: a reconnect does not read the rest again.
    assert only_b.last_id == alerts.last_id == both.last_id == "4.3"


@pytest.mark.parametrize("query, status, detail", [
    ("?types=check,bogus", 400, "types: bogus: give some of check, state, alert"),
    ("?types=", 400, "types: none given"),
    ("?monitor=nope", 404, "monitor=nope: no monitor has this id"),
])
def test_a_bad_filter_is_a_problem(streams: Any, query: str, status: int,
                                   detail: str) -> None:
    answer = streams().get(query)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert detail in answer.json["detail"]


def test_anonymous_clients_get_what_a_status_page_shows(streams: Any) -> None:
    s = streams(tokens=True, public_read=True)
    s.written()
    anonymous = s.open()
    reader = s.open(headers=bearer(READ_TOKEN))
    _write_some(s)
    s.written()
    assert {k for k, _m in kinds(anonymous.until_idle())} == {"state", "alert"}
    assert {k for k, _m in kinds(reader.until_idle())} == {"check", "state", "alert"}
    answer = s.get("?types=check")
    assert answer.status_code == 403 and "check events need a token" in answer.json["detail"]
    closed = streams(tokens=True)
    assert closed.get().status_code == 401


# -- the limit, the heartbeat, the end -----------------------------------------------------

def test_streams_beyond_the_limit_are_refused_until_one_closes(streams: Any) -> None:
    s = streams(Settings(poll=0.02, heartbeat=0.3, max_streams=2))
    s.written()
    first, second = s.get(), s.get()
    assert first.status_code == second.status_code == 200
    refused = s.get()
    assert refused.status_code == 503 and refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == "5"
    assert "2 event streams are open" in refused.json["detail"]
    first.close()  # as the server does when the client goes
    assert s.get().status_code == 200
    assert s.get().status_code == 503


def test_an_idle_stream_sends_a_heartbeat_with_its_position(streams: Any) -> None:
    s = streams(Settings(poll=0.02, heartbeat=0.05))
    s.check(A)
    s.written()
    stream = s.open("?types=alert")
    s.check(B)  # not asked for: the heartbeat moves the client's id past it
    s.written()
    for block in stream:
        if block.comments == ["keep-alive"] and block.id == "2.0":
            break
    assert stream.last_id == "2.0"


def test_streams_end_when_the_server_stops(streams: Any) -> None:
    s = streams(Settings(poll=0.02, heartbeat=3600))
    s.written()
    opened = [s.open(), s.open("?types=alert")]
    s.web.context.closing.set()
    for stream in opened:
        assert [block.data for block in stream] == [None, None]  # retry, id; then the end


def test_a_hub_nobody_watches_stops_reading_and_starts_again_from_now(streams: Any) -> None:
    s = streams()
    s.check(A)
    assert s.web.store.flush()
    now = [0.0]
    hub = Hub(lambda: open_reader(s.web.db_path), s.web.context.closing,
              Settings(poll=0.01, idle=10), clock=lambda: now[0]).start()
    with s.web.context.reader() as reader:
        assert hub.acquire()
        hub.attach(reader)
    assert hub.tailing and hub.now()[1] == Position(1, 0)
    hub.release()
    now[0] = 9.5  # within `idle` of the last stream: still reading
    s.check(B)
    assert s.web.store.flush()
    wait_for(lambda: hub.now()[1] == Position(2, 0), what="the hub to read check 2")
    now[0] = 10.5
    wait_for(lambda: not hub.tailing, what="the hub to stop reading")
    s.check(A, available=False, reason="connect")
    assert s.web.store.flush()
    with s.web.context.reader() as reader:
        assert hub.acquire()
        hub.attach(reader)  # from now, with the states as stored: A is down
    seq, position = hub.now()
    assert position == Position(3, 0)
    s.check(A, available=False, reason="connect")
    assert s.web.store.flush()
    batches = hub.wait(seq, 10)
    assert batches and [e.type for e in batches[0].events] == ["check"]
    hub.release()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies")
def test_a_stream_runs_as_batch_work_and_gives_its_thread_back_as_it_was(streams: Any,
                                                                        ) -> None:
    s = streams()
    s.written()
    before = os.sched_getscheduler(0)
    answer = s.get()
    next(iter(answer.response))  # the test client runs the stream on this thread
    assert os.sched_getscheduler(0) == os.SCHED_BATCH
    answer.close()
    assert os.sched_getscheduler(0) == before
