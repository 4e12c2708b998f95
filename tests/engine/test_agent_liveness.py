"""Agents' liveness shared through one real database by several monitor processes (each
agent talks to one of them): two AgentWatches on an injected clock, each with its own
writer and reader of the database, as two `-m` processes have. Process A hears the agent;
process B, the judge (the holder of the main lease), hears nothing itself. Nobody alerts
while A hears it; A stops hearing it: exactly one lost alert, from B, after agentTimeout,
and both stop counting its location; heard again: one recovery. A process that takes the
judging over reads the open alerts back and says none again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts import AlertEvent
from monitor.config.agents import Agent
from monitor.core.model import Monitor
from monitor.engine.agents import AgentWatch
from monitor.store.api import AgentSeen, AlertRecord, iso_utc
from monitor.store.open import database, open_reader
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

T0 = 1_800_000_000.0
TIMEOUT = 60.0
EU1 = Agent("eu-1", "eu", "a" * 16)


@dataclass
class Process:
    """One monitor process's watch, its writer and reader of the shared database, and what
    its watch said."""

    store: Any
    reader: Any
    judge: bool
    events: list[AlertEvent] = field(default_factory=list)
    locations: list[tuple[str, bool]] = field(default_factory=list)
    watch: AgentWatch = field(init=False)

    def __post_init__(self) -> None:
        self.watch = AgentWatch(self.emit, lambda loc, lost: self.locations.append((loc, lost)),
                                record=self.record, read=self.reader.agents_seen,
                                judge=self.judge)
        self.watch.configure((EU1,), TIMEOUT, T0)

    def emit(self, event: AlertEvent, monitor: Monitor, host: str) -> None:
        # Stored as the engine stores it: what a process taking over reads back.
        self.events.append(event)
        self.store.put_alert(AlertRecord(
            iso_utc(event.time), event.monitor_id, event.type, iso_utc(event.start),
            iso_utc(event.end) if event.end else None, event.availability, event.message,
            host=host))

    def record(self, name: str, location: str, at: float) -> None:
        self.store.put_agent_seen(AgentSeen(name, location, at))

    def step(self, now: float) -> None:
        self.watch.step(now)
        assert self.store.flush()  # the writer's commit, which takes ~1 s, made at once

    def said(self) -> list[tuple[str, float, str]]:
        return [(e.type, e.time, e.message) for e in self.events]


Pair = Callable[[], tuple[Process, Process]]


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    """Two processes on one database: SQLite's file (its owner's writer, shared: one
    monitor owns the file) or PostgreSQL's (a writer each, as two -m have)."""
    made: list[Any] = []

    def make() -> tuple[Process, Process]:
        if request.param == "sqlite":
            from monitor.store.sqlite.writer import Store

            db = tmp_path / "m.db"
            store = Store(db).start()
            made.append(store)
            stores: list[Any] = [store, store]
            where: str | Path = db
        else:
            from monitor.store.postgres.writer import Store as PostgresStore

            where = request.getfixturevalue("postgres_url")
            stores = [PostgresStore(str(where), shared=True).start(),
                      PostgresStore(str(where), shared=True).start()]
            made.extend(stores)
        readers = [open_reader(database(where)), open_reader(database(where))]
        made.extend(readers)
        return Process(stores[0], readers[0], judge=False), Process(stores[1], readers[1],
                                                                     judge=True)
    yield make
    for thing in reversed(made):
        thing.close()


def steps(a: Process, b: Process, start: float, end: float, every: float = 1.0,
          hear: float | None = None) -> None:
    """Both processes step every `every` s from `start` to `end` (A first); with `hear`,
    A hears the agent every `hear` s too."""
    now = start
    while now <= end + 1e-9:
        if hear is not None and (now - start) % hear < 1e-9:
            a.watch.heard("eu-1", now)
        a.step(now)
        b.step(now + 0.25)
        now += every


def test_only_the_judge_alerts_and_only_when_nobody_hears_the_agent(pair: Pair) -> None:
    a, b = pair()
    # A hears the agent every 10 s for five minutes: nobody alerts, nothing is lost.
    steps(a, b, T0 + 10, T0 + 300, hear=10.0)
    assert (a.events, b.events, a.locations, b.locations) == ([], [], [], [])
    status = b.watch.statuses()[0]  # what A heard, as B knows it: its last record
    assert status.heard is not None and T0 + 280 <= status.heard <= T0 + 300
    assert status.lost_since is None
    # A stops hearing it: B alone alerts, once, a full timeout after the last request.
    steps(a, b, T0 + 301, T0 + 359)  # B's last step: 59.25 s after it
    assert b.events == []
    steps(a, b, T0 + 360, T0 + 420)
    assert a.events == []
    assert b.said() == [("alert", T0 + 360.25, "Agent eu-1 in location eu lost: no heartbeat"
                         " for 60 s, time=2027-01-15T08:06:00Z")]
    assert b.events[0].start == T0 + 300  # its last request, heard by A
    # Both stop counting its location: the evaluators of both are told.
    assert a.locations == b.locations == [("eu", True)]
    # Heard again (by A): one recovery, from B, at the request's time.
    a.watch.heard("eu-1", T0 + 500)
    assert a.locations == [("eu", True), ("eu", False)]
    steps(a, b, T0 + 500, T0 + 510)
    assert a.events == []
    assert [(e.type, e.start, e.end) for e in b.events] == [
        ("alert", T0 + 300, None), ("recovery", T0 + 300, T0 + 500)]
    assert b.events[1].message == ("Agent eu-1 in location eu is back after 3m20s,"
                                   " time=2027-01-15T08:08:20Z")
    assert b.locations == [("eu", True), ("eu", False)]
    steps(a, b, T0 + 511, T0 + 560, hear=10.0)
    assert len(b.events) == 2 and a.events == []


def test_the_judge_hearing_the_agent_itself_is_judged_as_before(pair: Pair) -> None:
    a, b = pair()
    b.watch.heard("eu-1", T0 + 5)
    steps(a, b, T0 + 6, T0 + 64)
    assert b.events == [] and a.events == []
    steps(a, b, T0 + 65, T0 + 66)
    assert [e.type for e in b.events] == ["alert"] and a.events == []
    # Heard by the judge again: back at once, without waiting for a read.
    b.watch.heard("eu-1", T0 + 70)
    assert [e.type for e in b.events] == ["alert", "recovery"]
    assert b.events[1].end == T0 + 70
    # A, which did not hear it, learns it from the database at its next read.
    steps(a, b, T0 + 71, T0 + 75)
    assert a.locations == [("eu", True), ("eu", False)] and a.events == []


def test_a_process_taking_the_judging_over_repeats_nothing(pair: Pair) -> None:
    a, b = pair()
    steps(a, b, T0 + 10, T0 + 100, hear=10.0)
    steps(a, b, T0 + 101, T0 + 170)
    assert [e.type for e in b.events] == ["alert"]
    # B stops (its main lease goes); A takes it over, the open alerts read back.
    b.watch.judge(False)
    a.watch.judge(True, a.reader.latest_alert_rows())
    steps(a, b, T0 + 171, T0 + 300)
    assert a.events == [] and len(b.events) == 1  # lost still, not said again
    a.watch.heard("eu-1", T0 + 301)  # the judge now: back at once
    assert [(e.type, e.start, e.end) for e in a.events] == [("recovery", T0 + 100, T0 + 301)]
    steps(a, b, T0 + 302, T0 + 310)
    assert len(b.events) == 1


def test_a_loss_the_previous_judge_had_not_said_is_said_by_the_next(pair: Pair) -> None:
    a, b = pair()
    steps(a, b, T0 + 10, T0 + 100, hear=10.0)
    b.watch.judge(False)  # B stops judging before the agent goes silent
    steps(a, b, T0 + 101, T0 + 170)
    assert a.events == b.events == []
    assert a.locations == [("eu", True)]  # lost for A, said by nobody yet
    a.watch.judge(True, a.reader.latest_alert_rows())
    steps(a, b, T0 + 171, T0 + 172)
    assert [(e.type, e.start) for e in a.events] == [("alert", T0 + 100)]
    assert b.events == []


# -- two monitors' runtimes on one PostgreSQL database, with their real leases ------------------

def test_two_runtimes_one_hearing_the_other_holding_the_main_lease(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import psycopg

    from monitor.config import load_config
    from monitor.runtime import Runtime
    from monitor.store.open import open_store
    from tests.engine.test_agents import config_file

    url = request.getfixturevalue("postgres_url")
    path = config_file(tmp_path / "config.json")  # agent eu-1 in eu, agentTimeout 10 s
    lines: dict[str, list[str]] = {"a": [], "b": []}

    def runtime(name: str) -> Runtime:
        return Runtime(load_config(path), open_store(url), config_path=path,
                       wall=lambda: T0, on_line=lines[name].append).start()

    def agent_rows() -> list[tuple[str, str]]:
        with psycopg.connect(url, autocommit=True) as conn:
            return [(kind, message) for kind, message in conn.execute(
                "SELECT type, message FROM website_alerts WHERE monitor = 'agent:eu-1'"
                " ORDER BY id")]

    b = runtime("b")
    b.step(T0)  # its first lease step: the main lease, free, is B's
    a = runtime("a")
    try:
        a.step(T0)
        assert (b.agents.judging, a.agents.judging) == (True, False)
        for k in range(1, 31):  # A hears the agent every 2 s for a minute
            now = T0 + 2 * k
            a.agents.heard("eu-1", now)
            a.step(now)
            a.store.flush()
            b.step(now + 0.5)
        b.store.flush()
        assert agent_rows() == []
        assert a.agents.lost_locations == b.agents.lost_locations == frozenset()
        for k in range(1, 21):  # silent for 20 s
            now = T0 + 60 + k
            a.step(now)
            a.store.flush()
            b.step(now + 0.5)
        b.store.flush()
        a.store.flush()
        assert agent_rows() == [("alert", "Agent eu-1 in location eu lost: no heartbeat for"
                                          " 10 s, time=2027-01-15T08:01:10Z")]
        assert a.agents.lost_locations == b.agents.lost_locations == {"eu"}
        assert "LOCATION LOST: eu: its results no longer count" in lines["a"]
        a.agents.heard("eu-1", T0 + 90)
        a.store.flush()
        b.step(T0 + 91)
        b.store.flush()
        assert [row[0] for row in agent_rows()] == ["alert", "recovery"]
        assert b.agents.lost_locations == frozenset()
    finally:
        a.stop()
        b.stop()
