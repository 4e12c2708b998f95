"""Each location's state of a monitor checked from several (`locations`), as the views show
it: the API's monitors, the monitor page, the dashboard's chips, the live view.

The alert rules are the source of truth. Under `-m` the evaluator holds each location's
window and which locations are lost (`AlertEvaluator.locations`): read as they are, no
database read. Where no evaluator judges the monitor (`serve` over a database; a monitor
process on PostgreSQL that does not hold the monitor's lease), the same rules are replayed
on the raw rows of the last alert window (one bounded read for all the monitors asked
about, `Reader.located_checks`), as a restart rebuilds them; the lost locations are then
the running monitor's (`AgentWatch.lost_locations`) or, without one, those whose every
agent the database has not heard from for `agentTimeout` (`agent_seen`).

A location's state is one of STATES: `lost` (every agent of it lost: its checks count
neither way), `unknown` (no check of it in the alert window), `down` (the rules' verdict
on its checks alone, as its own alert would be open), `warning` (up, its latest check
warns), `up`.

The monitor's own state in every view is the rules' verdict on those (`monitor_state`), not
its latest check's from whichever location: down when at least `quorum` locations are down,
warning when fewer are down or some warn, up when every location counted is up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.alerts import AlertEvaluator, LocationVerdict, Restored, history_span
from monitor.config.agents import Agent
from monitor.core.model import Monitor, majority
from monitor.store.api import Reader
from monitor.store.located import LocatedCheck

STATES = ("up", "down", "warning", "lost", "unknown")
# A monitor's own states that come before the locations' verdict (the API's names).
OWN_FIRST = ("paused", "unknown", "maintenance")


@dataclass(frozen=True, slots=True)
class LocationState:
    """One location of a monitor checked from several, as the views show it."""

    location: str
    state: str  # one of STATES
    availability: float | None  # over its known checks in the alert window; None: none
    since: float  # epoch seconds: what `availability` counts from (the window's start)
    last_check: float | None  # its latest check's start; None: none known (see below)
    status: int | None  # that check's code (an HTTP status)
    response_ms: float | None
    reason: str | None  # why that check failed or warned; None when it was up


def several(monitor: Monitor) -> bool:
    """Checked from several locations: the views split it."""
    return len(monitor.locations) > 1


def quorum_of(monitor: Monitor) -> int:
    """How many locations down make the monitor down: its `quorum`, else a majority (as
    the alert rules count)."""
    return monitor.quorum or majority(len(monitor.locations))


def verdict(states: Sequence[LocationState], quorum: int, alerting: bool = False,
            ) -> str | None:
    """The alert rules' verdict on a monitor from its locations' states: "down" while its
    alert is open (`alerting`: the rules recover it only when enough locations are up
    again, which lost ones are not) or when at least `quorum` are down, "warning" when
    fewer are down or some warn, "up" when those counted are up; None when none counts
    (lost and unknown locations count neither way)."""
    if alerting:
        return "down"
    counted = [s.state for s in states if s.state in ("up", "down", "warning")]
    if not counted:
        return None
    if counted.count("down") >= quorum:
        return "down"
    return "up" if all(state == "up" for state in counted) else "warning"


def monitor_state(monitor: Monitor, states: Sequence[LocationState] | None, own: str,
                  alerting: bool = False) -> str:
    """A monitor's state as every view shows it. `own`: its state as its latest check has
    it (paused, unknown, maintenance, down, warning, up); `states`: its locations' (None
    for a monitor of one). Paused, unknown and maintenance come first; then, for a monitor
    of several locations, the rules' verdict on them (`verdict`; `alerting`: its alert is
    open), else `own`."""
    if own in OWN_FIRST or not states or not several(monitor):
        return own
    return verdict(states, quorum_of(monitor), alerting) or own


def alerting(reader: Reader, states: Collection[str]) -> set[str]:
    """Of the monitors of `states` (those checked from several locations, by id), those
    whose alert is open, as stored: down until the rules recover them, whatever their
    locations say now (a lost one counts neither way). Not read when there are none."""
    return set(reader.open_alerts()).intersection(states) if states else set()


def location_states(monitors: Iterable[Monitor], reader: Reader, now: float, *,
                    evaluator: AlertEvaluator | None = None,
                    lost: Collection[str] | None = None, agents: Sequence[Agent] = (),
                    agent_timeout: float = 60.0) -> dict[str, list[LocationState]]:
    """Each monitor's locations (of those checked from several), by monitor id: from
    `evaluator` (the running monitor's) for the monitors it judges, else replayed from
    `reader`, with `lost` the lost locations (None: found from the database, by `agents`
    and `agent_timeout`)."""
    found: dict[str, list[LocationState]] = {}
    missing: list[Monitor] = []
    for monitor in monitors:
        if not several(monitor):
            continue
        states = None if evaluator is None else from_evaluator(evaluator, monitor, now)
        if states is None:
            missing.append(monitor)
        else:
            found[monitor.id] = states
    if missing:
        if lost is None:
            lost = lost_locations(agents, reader.agents_seen(), agent_timeout, now)
        found.update(from_store(reader, missing, lost, now))
    return found


def from_evaluator(evaluator: AlertEvaluator, monitor: Monitor, now: float,
                   ) -> list[LocationState] | None:
    """As the running evaluator judges it now; None when it does not judge it (not a
    monitor of several locations there, or another process's)."""
    verdicts = evaluator.locations(monitor.id) if several(monitor) else None
    if verdicts is None:
        return None
    since = now - monitor.alert_window
    states = []
    for verdict in verdicts:
        latest = verdict.latest
        states.append(_state(verdict, since, None if latest is None else _Latest(
            latest.timestamp, latest.code, latest.response_ms, latest.reason)))
    return states


def from_store(reader: Reader, monitors: Sequence[Monitor], lost: Collection[str],
               now: float) -> dict[str, list[LocationState]]:
    """The rules replayed on each monitor's raw rows of its last alert window (and what
    its count rules look back at), read once for all: what a restart would rebuild."""
    if not monitors:
        return {}
    read = reader.located_checks([m.id for m in monitors], now - history_span(monitors), now)
    rows: dict[str, list[LocatedCheck]] = {}
    for row in read.checks:
        rows.setdefault(row.monitor_id, []).append(row)
    return {monitor.id: _replayed(monitor, rows.get(monitor.id, []), lost, now, read.since)
            for monitor in monitors}


def lost_locations(agents: Sequence[Agent], seen: Mapping[str, float], timeout: float,
                   now: float) -> frozenset[str]:
    """The locations whose every agent was last heard (by any monitor process, as the
    database says) more than `timeout` ago, or never."""
    by_location: dict[str, list[bool]] = {}
    for agent in agents:
        heard = seen.get(agent.name)
        by_location.setdefault(agent.location, []).append(
            heard is None or now - heard >= timeout)
    return frozenset(location for location, silent in by_location.items() if all(silent))


@dataclass(frozen=True, slots=True)
class _Latest:
    timestamp: float
    status: int | None
    response_ms: float
    reason: str | None


def _state(verdict: LocationVerdict, since: float, latest: _Latest | None) -> LocationState:
    if verdict.lost:
        state = "lost"
    elif not verdict.checks:
        state = "unknown"
    elif verdict.down:
        state = "down"
    else:
        state = "warning" if verdict.warns else "up"
    availability = verdict.up / verdict.checks if verdict.checks else None
    if latest is None:
        return LocationState(verdict.location, state, availability, since, None, None, None,
                             None)
    return LocationState(verdict.location, state, availability, since, latest.timestamp,
                         latest.status, latest.response_ms, latest.reason or None)


def _replayed(monitor: Monitor, rows: list[LocatedCheck], lost: Collection[str], now: float,
              read_since: float) -> list[LocationState]:
    """The monitor's rows through an evaluator of its own, on the rows' clock."""
    evaluator = AlertEvaluator(clock=lambda: now, mono=lambda: now)
    evaluator.configure([monitor])
    for location in lost:
        evaluator.location_lost(location)
    located: dict[str, list[tuple[float, bool]]] = {}
    latest: dict[str, LocatedCheck] = {}
    warns: dict[str, bool] = {}
    for row in rows:
        latest[row.location] = row
        if row.available is None:
            if row.reason == "maintenance":  # the checks before it count for nothing
                located[row.location] = []
            continue
        located.setdefault(row.location, []).append((row.timestamp, row.available))
        warns[row.location] = row.warning
    evaluator.restore(monitor.id, Restored(located=located), now)
    verdicts = evaluator.locations(monitor.id) or []
    since = max(now - monitor.alert_window, read_since)
    states = []
    for verdict in verdicts:
        last = latest.get(verdict.location)
        verdict = LocationVerdict(verdict.location, verdict.lost, verdict.down,
                                  warns.get(verdict.location, False), verdict.checks,
                                  verdict.up, None)
        states.append(_state(verdict, since, None if last is None else _Latest(
            last.timestamp, last.status, last.response_ms, last.reason)))
    return states
