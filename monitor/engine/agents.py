"""Whether each remote agent is alive: the last time it was heard from, its lost-agent
alert and recovery, and which locations are lost (every agent of theirs lost).

Every authenticated request of an agent counts (`heard`). An agent not heard from for
`agentTimeout` is lost (`step(now)`, on an injected clock): an alert of its own, stored
and notified like a monitor's under the id `agent:<name>`, and, once every agent of its
location is lost, the location is lost: its results count neither up nor down
(`on_location(location, lost)` tells the alert evaluator). Heard again, the agent is back
at once: a recovery, and its location counts again. The clock starts at the monitor's
start; an alert open in the database (a restart while lost) is restored, not repeated.

Several monitor processes may share one database (PostgreSQL), and an agent talks to one
of them only. So each process records what it hears in the database (`record`, at most
once per agentTimeout/4 per agent, the last request of a burst too, and at once when the
agent was lost), and reads what all heard (`read`, every few seconds, and again before it
finds an agent lost): an agent is alive while any process heard it. One process alone,
the `judge` (the holder of the database's main lease; on SQLite the one monitor), raises
and closes the agents' alerts; every process takes the lost locations from the same
reading, so that no evaluator counts a lost location. A process that becomes the judge
reads the open alerts back (`judge(True, rows)`), as a restart does.
"""

from __future__ import annotations

import math
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
READ_EVERY = 3.0  # seconds between reads of what every process heard (at most timeout/10)
RECORD_PART = 4  # an agent's hearing recorded at most once per agentTimeout / this
# The alert rows keep milliseconds: a hearing counts as after a loss restored from them
# only when later by more than that.
SLACK = 0.001


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
    seen: float | None = None  # the latest request any process heard (the database's)
    recorded: float | None = None  # the latest request this process wrote to the database
    raised: float | None = None  # when its alert was raised (by this process)
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


Emit = Callable[[AlertEvent, Monitor, str], None]  # the event, what it is of, its row's host
OnLocation = Callable[[str, bool], None]
Record = Callable[[str, str, float], None]  # (agent, location, heard at): to the database
Read = Callable[[], "Mapping[str, float] | None"]  # agent -> latest heard; None: unreadable


class AgentWatch:
    """The agents of the config, alive or lost. `configure` at the start and at each
    reload, `restore` once with the database's latest alert rows, `heard` from any thread
    at every request of an agent, `step(now)` from the runtime's loop (one thread).

    `record` and `read` share what this process hears with the others on its database
    (None: it is alone); `judge` says whether this process raises the agents' alerts."""

    def __init__(self, emit: Emit, on_location: OnLocation, *, record: Record | None = None,
                 read: Read | None = None, judge: bool = True) -> None:
        self._emit = emit
        self._on_location = on_location
        self._record = record
        self._read = read
        self._judge = judge
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._timeout = 60.0
        self._lost_locations: set[str] = set()
        self._read_at = -math.inf  # step's clock: the last read of what every process heard

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
                    if state.lost_since is not None and self._judge:
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

    def judge(self, judging: bool, rows: Mapping[str, Mapping[str, AlertRow]] | None = None,
              ) -> None:
        """Raise and close the agents' alerts from now on, or no longer (the main lease
        taken or lost). Taking over, `rows` are the database's latest alert rows: the
        agents whose alert is open are lost, not said again; the others are judged afresh
        at the next step (a loss the previous judge had not said yet is said then)."""
        with self._lock:
            was, self._judge = self._judge, judging
            if not judging or was or rows is None:
                return
            for name, state in self._states.items():
                row = rows.get(monitor_id(name), {}).get("alert")
                if row is not None and row.type != "recovery":
                    if state.lost_since is None or state.lost_since > parse_iso(row.start):
                        state.lost_since = parse_iso(row.start)
                else:
                    state.lost_since = None
                state.raised = None
            self._read_at = -math.inf  # what the others heard, at the next step
            changes = self._locations()
            self._tell([], changes)

    @property
    def judging(self) -> bool:
        return self._judge

    def heard(self, name: str, now: float) -> None:
        """A request of the agent `name`: alive; back at once if it was lost."""
        events: list[tuple[AlertEvent, Monitor]] = []
        changes: list[tuple[str, bool]] = []
        record: tuple[str, str, float] | None = None
        with self._lock:
            state = self._states.get(name)
            if state is None:
                return  # removed from the config since its token was checked
            state.heard = max(state.heard, now)
            state.requested = state.heard
            if self._record is not None and (state.lost_since is not None
                                             or state.recorded is None
                                             or now - state.recorded >= self._every()):
                state.recorded = state.heard
                record = (name, state.agent.location, state.heard)
            if state.lost_since is not None:
                self._back(state, now, events)
                changes = self._locations()
            self._tell(events, changes)
        if record is not None and self._record is not None:
            self._record(*record)

    def step(self, now: float) -> None:
        """Record the hearings not written yet when due; read what every process heard
        when due; find the agents silent for the timeout (everywhere), and those another
        process heard again. Only the judge raises their alerts and recoveries, once."""
        if not self._states:
            return  # (no agents: no read)
        self._flush(now)
        if self._read is not None and now - self._read_at >= self._read_every():
            self._take(now)
        with self._lock:
            silent = any(s.lost_since is None and now - self._last(s) >= self._timeout
                         for s in self._states.values())
        if silent and self._read is not None and self._read_at != now:
            # Before a loss is said: what the others heard, now (not a few seconds ago).
            self._take(now)
        events: list[tuple[AlertEvent, Monitor]] = []
        changes: list[tuple[str, bool]] = []
        with self._lock:
            moved = False
            for state in self._states.values():
                if state.lost_since is not None:
                    back = max(state.requested or -math.inf, state.seen or -math.inf)
                    if back > state.lost_since + SLACK:
                        self._back(state, max(back, state.raised or -math.inf), events)
                        moved = True
                    continue
                last = self._last(state)
                if now - last < self._timeout:
                    continue
                state.lost_since = last
                moved = True
                if self._judge:
                    state.raised = now
                    agent = state.agent
                    events.append((AlertEvent(
                        "alert", monitor_id(agent.name), 0.0, now, last, None,
                        lost_message(agent, self._timeout, now), reason="lost",
                        detail=f"no request for {format_duration(now - last)}",
                        previous="up"), as_monitor(agent)))
            if moved:
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
        """Each agent as this process knows it: `heard` the latest request any process
        heard since this one started; the heartbeat's figures, of this one's hearing."""
        with self._lock:
            return [AgentStatus(s.agent.name, s.agent.location, self._requested(s),
                                s.lost_since, s.instance, s.version, s.outbox, s.monitors)
                    for s in self._states.values()]

    @property
    def lost_locations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._lost_locations)

    # -- inside (the lock held, unless said) ------------------------------------------------
    def _every(self) -> float:
        return self._timeout / RECORD_PART

    def _read_every(self) -> float:
        return min(READ_EVERY, self._timeout / 10)

    @staticmethod
    def _last(state: _State) -> float:
        """The latest request heard by any process, or the start of the watch."""
        return max(state.heard, state.seen or -math.inf)

    @staticmethod
    def _requested(state: _State) -> float | None:
        """The latest request heard by any process since the start of the watch."""
        if state.seen is not None and state.seen >= state.heard:
            return state.seen
        return state.requested

    def _back(self, state: _State, at: float,
              events: list[tuple[AlertEvent, Monitor]]) -> None:
        """The lost agent heard again (at `at`): its recovery, if this process judges."""
        since, state.lost_since, state.raised = state.lost_since, None, None
        if self._judge and since is not None:
            events.append(_closed(state.agent, since, at,
                                  back_message(state.agent, at - since, at)))

    def _flush(self, now: float) -> None:
        """Record the latest request of each agent heard since its last record, once the
        throttle allows (not under the lock)."""
        if self._record is None:
            return
        due: list[tuple[str, str, float]] = []
        with self._lock:
            for name, state in self._states.items():
                if (state.requested is not None and state.recorded is not None
                        and state.requested > state.recorded
                        and now - state.recorded >= self._every()):
                    state.recorded = state.requested
                    due.append((name, state.agent.location, state.requested))
        for entry in due:
            self._record(*entry)

    def _take(self, now: float) -> None:
        """Read what every process heard (not under the lock: a database read)."""
        assert self._read is not None
        self._read_at = now
        seen = self._read()
        if seen is None:
            return  # unreadable: judged on what was read before (the runtime says why)
        with self._lock:
            for name, state in self._states.items():
                at = seen.get(name)
                if at is not None and (state.seen is None or at > state.seen):
                    state.seen = at

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
            self._emit(event, monitor, monitor.target)  # the row's host: "agent eu-1 (eu)"
        for location, lost in changes:
            if not lost:
                self._on_location(location, False)


def _closed(agent: Agent, since: float, now: float,
            message: str) -> tuple[AlertEvent, Monitor]:
    return (AlertEvent("recovery", monitor_id(agent.name), 1.0, now, since, now, message,
                       previous="down"), as_monitor(agent))
