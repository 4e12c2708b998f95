"""Whether each remote agent is alive: the last time it was heard from, its lost-agent
alert and recovery, and which locations are lost (every agent of theirs lost).

Every authenticated request of an agent counts (`heard`). An agent not heard from for
`agentTimeout` is lost (`step(now)`, on an injected clock): an alert of its own, stored
and notified like a monitor's under the id `agent:<name>`, and, once every agent of its
location is lost, the location is lost: its results count neither up nor down
(`on_location(location, lost)` tells the alert evaluator). Heard again, the agent is back
at once: a recovery, and its location counts again. The clock starts at the monitor's
start; an alert open in the database (a restart while lost) is restored, not repeated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from monitor.alerts import AlertEvent
from monitor.config.agents import Agent
from monitor.core.model import Monitor
from monitor.core.timefmt import format_duration, format_time
from monitor.store.api import AlertRow, parse_iso

PREFIX = "agent:"  # an agent's alerts are stored under the monitor id "agent:<name>"
KIND = "agent"


def monitor_id(name: str) -> str:
    return f"{PREFIX}{name}"


def as_monitor(agent: Agent) -> Monitor:
    """What an agent's alerts are of, for their rows and notifications: "agent eu-1 (eu)"."""
    label = f"agent {agent.name} ({agent.location})"
    return Monitor(id=monitor_id(agent.name), kind=KIND, target=label, name=label)


def lost_message(agent: Agent, timeout: float, at: float) -> str:
    return (f"Agent {agent.name} in location {agent.location} lost: no heartbeat for"
            f" {timeout:g} s, time={format_time(at)}")


def back_message(agent: Agent, lost_for: float, at: float) -> str:
    return (f"Agent {agent.name} in location {agent.location} is back after"
            f" {format_duration(lost_for)}, time={format_time(at)}")


def removed_message(agent: Agent, lost_for: float, at: float) -> str:
    return (f"Agent {agent.name} in location {agent.location} is no longer in the config;"
            f" it was lost for {format_duration(lost_for)}, time={format_time(at)}")


@dataclass
class _State:
    agent: Agent
    heard: float  # wall clock: the last request, or the start of the watch
    lost_since: float | None = None  # wall clock: the last request before it was lost
    requested: float | None = None  # wall clock: its last request, None: none since start
    # What its last heartbeat said: its database's id, its version, the rows it has not
    # sent, the monitors it runs.
    instance: str | None = None
    version: str | None = None
    outbox: int | None = None
    monitors: int | None = None


@dataclass(frozen=True)
class AgentStatus:
    name: str
    location: str
    heard: float | None  # its last request since the monitor started; None: none
    lost_since: float | None
    instance: str | None
    version: str | None
    outbox: int | None
    monitors: int | None


Emit = Callable[[AlertEvent, Monitor], None]
OnLocation = Callable[[str, bool], None]


class AgentWatch:
    """The agents of the config, alive or lost. `configure` at the start and at each
    reload, `restore` once with the database's latest alert rows, `heard` from any thread
    at every request of an agent, `step(now)` from the runtime's loop."""

    def __init__(self, emit: Emit, on_location: OnLocation) -> None:
        self._emit = emit
        self._on_location = on_location
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._timeout = 60.0
        self._lost_locations: set[str] = set()

    def configure(self, agents: Iterable[Agent], timeout: float, now: float) -> None:
        """The config's agents from now on: one added starts its clock now; one removed
        while lost has its alert closed; one whose location changed keeps its state."""
        events: list[tuple[AlertEvent, Monitor]] = []
        with self._lock:
            self._timeout = timeout
            wanted = {agent.name: agent for agent in agents}
            for name in list(self._states):
                if name not in wanted:
                    state = self._states.pop(name)
                    if state.lost_since is not None:
                        events.append(_closed(state.agent, state.lost_since, now,
                                              removed_message(state.agent,
                                                              now - state.lost_since, now)))
            for name, agent in wanted.items():
                kept = self._states.get(name)
                if kept is None:
                    self._states[name] = _State(agent, now)
                else:
                    kept.agent = agent
            changes = self._locations()
            self._tell(events, changes)

    def restore(self, rows: Mapping[str, Mapping[str, AlertRow]]) -> None:
        """Read back which agents were lost when the monitor stopped (their alert still
        open): lost still, without a new alert, until heard from."""
        with self._lock:
            for name, state in self._states.items():
                row = rows.get(monitor_id(name), {}).get("alert")
                if row is not None and row.type != "recovery":
                    state.lost_since = parse_iso(row.start)
            changes = self._locations()
            self._tell([], changes)

    def heard(self, name: str, now: float) -> None:
        """A request of the agent `name`: alive; back at once if it was lost."""
        events: list[tuple[AlertEvent, Monitor]] = []
        changes: list[tuple[str, bool]] = []
        with self._lock:
            state = self._states.get(name)
            if state is None:
                return  # removed from the config since its token was checked
            state.heard = max(state.heard, now)
            state.requested = state.heard
            if state.lost_since is not None:
                since, state.lost_since = state.lost_since, None
                events.append(_closed(state.agent, since, now,
                                      back_message(state.agent, now - since, now)))
                changes = self._locations()
            self._tell(events, changes)

    def step(self, now: float) -> None:
        """Raise the alert of each agent silent for the timeout, once."""
        events: list[tuple[AlertEvent, Monitor]] = []
        changes: list[tuple[str, bool]] = []
        with self._lock:
            for state in self._states.values():
                if state.lost_since is None and now - state.heard >= self._timeout:
                    state.lost_since = state.heard
                    agent = state.agent
                    events.append((AlertEvent(
                        "alert", monitor_id(agent.name), 0.0, now, state.heard, None,
                        lost_message(agent, self._timeout, now), reason="lost",
                        detail=f"no request for {format_duration(now - state.heard)}",
                        previous="up"), as_monitor(agent)))
            if events:
                changes = self._locations()
            self._tell(events, changes)

    def report(self, name: str, *, instance: str, version: str | None,
               outbox: int | None, monitors: int | None) -> None:
        """What an agent's heartbeat says of it, kept for `statuses`."""
        with self._lock:
            state = self._states.get(name)
            if state is not None:
                state.instance, state.version = instance, version
                state.outbox, state.monitors = outbox, monitors

    def statuses(self) -> list[AgentStatus]:
        with self._lock:
            return [AgentStatus(s.agent.name, s.agent.location, s.requested, s.lost_since,
                                s.instance, s.version, s.outbox, s.monitors)
                    for s in self._states.values()]

    @property
    def lost_locations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._lost_locations)

    def _locations(self) -> list[tuple[str, bool]]:
        """The locations lost or back since the last call (the lock held)."""
        by_location: dict[str, list[_State]] = {}
        for state in self._states.values():
            by_location.setdefault(state.agent.location, []).append(state)
        lost = {location for location, states in by_location.items()
                if all(s.lost_since is not None for s in states)}
        changes = [(location, True) for location in sorted(lost - self._lost_locations)]
        changes += [(location, False) for location in sorted(self._lost_locations - lost)]
        self._lost_locations = lost
        return changes

    def _tell(self, events: list[tuple[AlertEvent, Monitor]],
              changes: list[tuple[str, bool]]) -> None:
        # Under the lock: a loss and a return decided on two threads are said in the order
        # they were decided (neither the evaluator nor the store calls back in here).
        for location, lost in changes:
            if lost:  # the location stops counting before its agents' alerts are said
                self._on_location(location, True)
        for event, monitor in events:
            self._emit(event, monitor)
        for location, lost in changes:
            if not lost:
                self._on_location(location, False)


def _closed(agent: Agent, since: float, now: float,
            message: str) -> tuple[AlertEvent, Monitor]:
    return (AlertEvent("recovery", monitor_id(agent.name), 1.0, now, since, now, message,
                       previous="down"), as_monitor(agent))
