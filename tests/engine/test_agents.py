"""Agents alive or lost (AgentWatch.step on a chosen clock), and the engine's side of
their results: recorded through the alert rules and maintenance at their location, each
stored once; the monitor's process checks only its own location's monitors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts import AlertEvent
from monitor.config import load_config
from monitor.config.agents import Agent
from monitor.core.model import CheckResult, Monitor
from monitor.engine.agents import AgentWatch, as_monitor
from monitor.runtime import Runtime
from monitor.store.api import AlertRow, SetMaintenance
from monitor.store.sqlite.writer import Store
from tests.support.app import wait_for
from tests.support.db import count_checks, query
from tests.support.pages import PageServer

T0 = 1_800_000_000.0
EU1, EU2, US1 = Agent("eu-1", "eu", "a" * 16), Agent("eu-2", "eu", "b" * 16), \
    Agent("us-1", "us", "c" * 16)


class Told:
    """What the watch says: events, and locations lost (True) or back (False)."""

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.monitors: list[Monitor] = []
        self.locations: list[tuple[str, bool]] = []

    def emit(self, event: AlertEvent, monitor: Monitor, host: str) -> None:
        self.events.append(event)
        self.monitors.append(monitor)

    def location(self, location: str, lost: bool) -> None:
        self.locations.append((location, lost))

    def said(self) -> list[tuple[str, str, str]]:
        return [(e.type, e.monitor_id, e.message) for e in self.events]


def watch(told: Told, *agents: Agent, timeout: float = 60.0) -> AgentWatch:
    found = AgentWatch(told.emit, told.location)
    found.configure(agents or (EU1, EU2, US1), timeout, T0)
    return found


def test_an_agent_silent_for_the_timeout_is_lost_once() -> None:
    told = Told()
    agents = watch(told)
    agents.heard("eu-1", T0 + 30)
    agents.step(T0 + 59.9)
    assert told.events == []
    agents.step(T0 + 60)  # eu-2 and us-1 never heard since the start: lost at its minute
    assert told.said() == [
        ("alert", "agent:eu-2", "Agent eu-2 in location eu lost: no heartbeat for 60 s,"
                                " time=2027-01-15T08:01:00Z"),
        ("alert", "agent:us-1", "Agent us-1 in location us lost: no heartbeat for 60 s,"
                                " time=2027-01-15T08:01:00Z")]
    assert (told.events[0].start, told.events[0].availability) == (T0, 0.0)
    assert told.monitors[0].label == "agent eu-2 (eu)"
    # us has no agent left; eu has eu-1.
    assert told.locations == [("us", True)]
    agents.step(T0 + 89)
    assert len(told.events) == 2  # said once
    agents.step(T0 + 90)
    assert told.said()[2] == ("alert", "agent:eu-1", "Agent eu-1 in location eu lost: no"
                              " heartbeat for 60 s, time=2027-01-15T08:01:30Z")
    assert told.locations == [("us", True), ("eu", True)]


def test_an_agent_heard_again_is_back_at_once() -> None:
    told = Told()
    agents = watch(told, US1, timeout=10)
    agents.step(T0 + 10)
    agents.heard("us-1", T0 + 135)
    assert told.said()[1] == ("recovery", "agent:us-1", "Agent us-1 in location us is back"
                              " after 2m15s, time=2027-01-15T08:02:15Z")
    back = told.events[1]
    assert (back.start, back.end, back.previous) == (T0, T0 + 135, "down")
    assert told.locations == [("us", True), ("us", False)]
    agents.step(T0 + 144)
    assert len(told.events) == 2  # heard 9 s ago
    statuses = agents.statuses()
    assert (statuses[0].heard, statuses[0].lost_since) == (T0 + 135, None)


def test_a_location_counts_while_one_of_its_agents_is_alive() -> None:
    told = Told()
    agents = watch(told, EU1, EU2, timeout=10)
    agents.heard("eu-1", T0 + 5)
    agents.step(T0 + 10)
    assert [e.monitor_id for e in told.events] == ["agent:eu-2"]
    assert told.locations == []
    agents.step(T0 + 15)
    assert told.locations == [("eu", True)]
    assert agents.lost_locations == {"eu"}
    agents.heard("eu-2", T0 + 16)
    assert told.locations == [("eu", True), ("eu", False)]


def test_a_lost_agent_is_restored_lost_and_not_said_again() -> None:
    told = Told()
    agents = AgentWatch(told.emit, told.location)
    agents.configure((US1,), 60.0, T0)
    agents.restore({"agent:us-1": {"alert": AlertRow(7, "alert", "2027-01-15T07:00:00Z",
                                                     "2027-01-15T07:01:00Z")}})
    assert told.locations == [("us", True)]
    agents.step(T0 + 3600)
    assert told.events == []
    agents.heard("us-1", T0 + 60)
    assert told.said() == [("recovery", "agent:us-1", "Agent us-1 in location us is back"
                            " after 1h01m00s, time=2027-01-15T08:01:00Z")]


def test_a_recovered_agent_is_restored_alive() -> None:
    told = Told()
    agents = AgentWatch(told.emit, told.location)
    agents.configure((US1,), 60.0, T0)
    agents.restore({"agent:us-1": {"alert": AlertRow(8, "recovery", "2027-01-15T07:00:00Z",
                                                     "2027-01-15T07:01:00Z")}})
    assert told.locations == []
    agents.step(T0 + 60)  # its clock started at the monitor's start
    assert [e.type for e in told.events] == ["alert"]


def test_an_agent_removed_while_lost_has_its_alert_closed() -> None:
    told = Told()
    agents = watch(told, EU1, US1, timeout=10)
    agents.heard("eu-1", T0 + 9)
    agents.step(T0 + 10)
    agents.configure((EU1,), 10.0, T0 + 70)
    assert told.said()[-1] == ("recovery", "agent:us-1", "Agent us-1 in location us is no"
                               " longer in the config; it was lost for 1m10s,"
                               " time=2027-01-15T08:01:10Z")
    assert told.locations == [("us", True), ("us", False)]
    # One added starts its clock at the reload.
    agents.configure((EU1, EU2), 10.0, T0 + 100)
    agents.heard("eu-1", T0 + 105)
    agents.step(T0 + 109.9)
    assert len(told.events) == 2
    agents.step(T0 + 110)
    assert told.events[-1].monitor_id == "agent:eu-2"


def test_the_agent_pseudo_monitor() -> None:
    monitor = as_monitor(EU1)
    assert (monitor.id, monitor.kind, monitor.target, monitor.label) == (
        "agent:eu-1", "agent", "agent eu-1 (eu)", "agent eu-1 (eu)")


# -- with a runtime and its database -------------------------------------------------------------

class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)


def config_file(path: Path, **top: Any) -> Path:
    doc = {"monitors": [
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "db", "locations": ["eu"],
         "checkInterval": 30, "alertWindow": 60},
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "both",
         "locations": ["local", "eu"], "checkInterval": 30}],
        "agents": [{"name": "eu-1", "token": "a" * 16, "location": "eu"}],
        "agentTimeout": 10, **top}
    path.write_text(json.dumps(doc))
    return path


def runtime_at(tmp_path: Path, clock: list[float], lines: Lines | None = None) -> Runtime:
    path = config_file(tmp_path / "config.json")
    return Runtime(load_config(path), Store(tmp_path / "m.db"), config_path=path,
                   wall=lambda: clock[0], on_line=lines)


def alert_rows(db: Path) -> list[tuple[str, str, str, str]]:
    return query(db, "SELECT monitor, host, type, message FROM website_alerts ORDER BY id")


def test_a_lost_agent_s_alert_is_stored_and_survives_a_restart(tmp_path: Path) -> None:
    clock = [T0]
    lines = Lines()
    runtime = runtime_at(tmp_path, clock, lines).start()
    try:
        runtime.step(T0 + 9)
        runtime.step(T0 + 10)
        runtime.store.flush()
        # Only the agent's rows: the monitor "both" (local and eu) may add its own warning
        # when its local check ends after eu was lost.
        rows = [r for r in alert_rows(tmp_path / "m.db") if r[0] == "agent:eu-1"]
        assert rows == [
            ("agent:eu-1", "agent eu-1 (eu)", "alert",
             "Agent eu-1 in location eu lost: no heartbeat for 10 s,"
             " time=2027-01-15T08:00:10Z")]
        assert "LOCATION LOST: eu: its results no longer count" in lines.lines
    finally:
        runtime.stop()
    clock[0] = T0 + 100
    again = runtime_at(tmp_path, clock).start()
    try:
        again.step(T0 + 200)
        assert again.agents.lost_locations == {"eu"}
        again.agents.heard("eu-1", T0 + 250)
        again.store.flush()
        rows = [r for r in alert_rows(tmp_path / "m.db") if r[0] == "agent:eu-1"]
        assert [(r[0], r[2], r[3]) for r in rows[1:]] == [
            ("agent:eu-1", "recovery", "Agent eu-1 in location eu is back after 4m10s,"
                                       " time=2027-01-15T08:04:10Z")]
        assert again.agents.lost_locations == set()
    finally:
        again.stop()


def down(monitor: str, at: float) -> CheckResult:
    return CheckResult(monitor, at, False, None, 2.0, "connect", "refused")


def test_remote_results_go_through_the_rules_at_their_location(tmp_path: Path) -> None:
    clock = [time.time()]
    runtime = runtime_at(tmp_path, clock).start()
    db = tmp_path / "m.db"
    try:
        engine = runtime.engine
        now = clock[0]
        rows = [(i, down("db", now - 50 + i)) for i in range(1, 6)]
        got = engine.record_remote("eu-1", "eu", "i-1", rows)
        assert (got.stored, got.duplicates, got.ignored, got.upto) == (5, 0, 0, 5)
        assert query(db, "SELECT DISTINCT location FROM website_monitoring"
                         " WHERE monitor='db'") == [("eu",)]
        alerts = [r for r in alert_rows(db) if r[0] == "db"]
        assert [r[2] for r in alerts] == ["alert"]
        assert alerts[0][3].startswith("tcp 127.0.0.1:9 is down. availability=0.0%")
        again = engine.record_remote("eu-1", "eu", "i-1", rows)
        assert (again.stored, again.duplicates) == (0, 5)
        assert query(db, "SELECT count(*) FROM website_monitoring WHERE monitor='db'") == [(5,)]
        assert len([r for r in alert_rows(db) if r[0] == "db"]) == 1
        # A row of a monitor not checked from there, or unknown, is ignored.
        odd = engine.record_remote("eu-1", "us", "i-1", [(6, down("db", now))])
        assert (odd.stored, odd.ignored, odd.upto) == (0, 1, 6)
        assert engine.remote_upto("eu-1", "i-1") == 6
        assert query(db, "SELECT upto FROM agents WHERE name='eu-1'") == [(6,)]
        # In maintenance: stored as unknown, as this process's own checks are.
        runtime.store.set_maintenance(SetMaintenance("db", now - 1, None))
        runtime.store.flush()
        engine.poll_maintenance()
        engine.record_remote("eu-1", "eu", "i-1", [(7, down("db", now))])
        assert query(db, "SELECT available, reason, location FROM website_monitoring"
                         " WHERE monitor='db' ORDER BY id DESC LIMIT 1") == [
            (None, "maintenance", "eu")]
    finally:
        runtime.stop()


def test_the_monitor_checks_only_its_own_location(tmp_path: Path) -> None:
    with PageServer() as pages:
        url = pages.set("/a", "ok")
        path = tmp_path / "config.json"
        path.write_text(json.dumps({"monitors": [
            {"URL": url, "id": "away", "locations": ["eu"], "checkInterval": 0.1},
            {"URL": url + "?here", "id": "here", "checkInterval": 0.1}],
            "agents": [{"name": "eu-1", "token": "a" * 16, "location": "eu"}]}))
        runtime = Runtime(load_config(path), Store(tmp_path / "m.db"), config_path=path)
        runtime.start()
        try:
            wait_for(lambda: count_checks(tmp_path / "m.db") >= 5, what="local checks")
            runtime.store.flush()
            assert query(tmp_path / "m.db", "SELECT DISTINCT monitor FROM"
                                            " website_monitoring") == [("here",)]
        finally:
            runtime.stop()


@pytest.mark.parametrize("count", [1, 3])
def test_a_batch_s_mark_goes_with_its_last_rows(tmp_path: Path, count: int) -> None:
    """Rows that raise alerts are written in parts, each before its alert: every part
    carries the mark of its own last row, so no part is on disk without its mark."""
    clock = [time.time()]
    runtime = runtime_at(tmp_path, clock).start()
    try:
        now = clock[0]
        rows = [(10 * i, down("db", now - 5 + i)) for i in range(1, count + 1)]
        got = runtime.engine.record_remote("eu-1", "eu", "i-9", rows)
        assert got.upto == 10 * count
        assert query(tmp_path / "m.db", "SELECT upto FROM agents") == [(10 * count,)]
    finally:
        runtime.stop()
