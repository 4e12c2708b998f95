"""What the views show of many monitors without reading every monitor's full stats: the
counts by state, the totals, the worst first, from each monitor's counts over the window,
summed and picked in the store (store.window_summaries: one read for all the windows, no
histogram); the full stats then only for the few rows shown.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from monitor.render.view import DOWN, IDLE, MAINTENANCE, RANK, UNSTABLE, UP, WARNING
from monitor.stats import slowest, window_pieces
from monitor.store.api import Reader, WindowSummary, WindowTotal

STATES = (DOWN, WARNING, UNSTABLE, UP, MAINTENANCE, IDLE)
_MORE = 8  # times more candidates read when the slowest p99 could lie beyond those read


def state_of_total(total: WindowTotal, down: bool | None = None, warning: bool | None = None,
                   maintenance: bool | None = None) -> str:
    """A monitor's state as view.state_of says it, from its counts and its state when read
    (or `down`, `warning`, `maintenance` as given: read since)."""
    if total.maintenance if maintenance is None else maintenance:
        return MAINTENANCE
    if total.down_since is not None if down is None else down:
        return DOWN
    if not total.checks:
        return IDLE
    if total.warning if warning is None else warning:
        return WARNING
    return UNSTABLE if total.up < total.checks else UP


def worst_key(total: WindowTotal, state: str) -> tuple[int, float, float, str]:
    """view.worst_first's order: the state's rank, the lower availability, the slower on
    average, the id."""
    return (RANK[state], total.up / total.checks if total.checks else 2.0,
            -(total.rt_sum / total.rt_count) if total.rt_count else 0.0, total.monitor_id)


@dataclass(frozen=True)
class Summary:
    """Many monitors' counts over one window, summed."""

    start: float
    end: float
    monitors: int
    counts: dict[str, int]  # by state (view's names), every state present
    checks: int = 0
    up: int = 0
    rt_count: int = 0
    rt_sum: float = 0.0

    @property
    def availability(self) -> float | None:
        return self.up / self.checks if self.checks else None

    @property
    def checks_per_s(self) -> float:
        return self.checks / max(1.0, self.end - self.start)

    @property
    def rt_avg(self) -> float | None:
        return self.rt_sum / self.rt_count if self.rt_count else None


def summary_of(found: WindowSummary, start: float, end: float) -> Summary:
    """The totals of a window's summary."""
    counts = {state: found.counts[state][0] if state in found.counts else 0
              for state in STATES}
    sums = [sum(entry[i] for entry in found.counts.values()) for i in range(1, 5)]
    return Summary(start, end, sum(counts.values()), counts, int(sums[0]), int(sums[1]),
                   int(sums[2]), float(sums[3]))


def summarize(totals: Iterable[WindowTotal], each: int, slowest: int, worst: int,
              special: bool = False) -> WindowSummary:
    """What store.window_summaries reads, from every monitor's counts (a window with raw
    pieces, which it does not read): the same states, orders and ties."""
    counts: dict[str, list] = {}
    # The last failure only of those down, warning or in maintenance, as the store reads it.
    pairs = [(t if t.down_since is not None or t.warning or t.maintenance
              else t._replace(last_failure=None), state_of_total(t)) for t in totals]
    for total, state in pairs:
        entry = counts.setdefault(state, [0, 0, 0, 0, 0.0, 0, 0])
        entry[0] += 1
        entry[1] += total.checks
        entry[2] += total.up
        entry[3] += total.rt_count
        entry[4] += total.rt_sum
        entry[5] += total.up < total.checks
        entry[6] += total.rt_count > 0
    down = [t for t, state in pairs if state == DOWN]
    failing = [t for t, state in pairs if state in (WARNING, UNSTABLE) and t.up < t.checks]
    timed = [t for t, state in pairs if state in (WARNING, UNSTABLE, UP) and t.rt_count]
    ranked = heapq.nsmallest(worst, pairs, key=lambda pair: worst_key(*pair))
    return WindowSummary(
        {state: tuple(entry) for state, entry in counts.items()},
        heapq.nsmallest(each, down, key=lambda t: (t.down_since, t.monitor_id)),
        heapq.nsmallest(each, failing, key=lambda t: (t.up / t.checks, t.monitor_id)),
        heapq.nsmallest(slowest, timed, key=lambda t: (-(t.rt_max or 0.0), t.monitor_id)),
        [t for t, _state in ranked],
        sorted((t for t, _state in pairs
                if t.down_since is not None or t.warning or t.maintenance),
               key=lambda t: t.monitor_id) if special else [])


def summaries(reader: Reader, spans: Sequence[tuple[float, float]], each: int = 0,
              slowest: int = 0, worst: int = 0, special: bool = False,
              ) -> list[WindowSummary]:
    """The summary of each window [start, end], in one read when every window is made of
    aggregate rows alone (those that start on a minute and end now, as the views'),
    else from every monitor's counts."""
    plans = [window_pieces(reader, start, end) for start, end in spans]
    if not any(raws for _ranges, raws in plans):
        return reader.window_summaries([ranges for ranges, _raws in plans], each, slowest,
                                       worst, special)
    return [summarize(reader.window_totals(ranges, raws), each, slowest, worst, special)
            for ranges, raws in plans]


@dataclass(frozen=True)
class Section:
    """Some of the worst monitors, by one measure: `shown` of `of` such monitors."""

    title: str
    monitor_ids: list[str] = field(default_factory=list)
    of: int = 0
    none: str = "none"  # said when there is none


def worst_sections(reader: Reader, found: WindowSummary, start: float, end: float,
                   each: int, candidates: int) -> list[Section]:
    """Up to `each` monitors by each measure, none twice: the ones down now, longest down
    first; of the others (in maintenance and idle aside), the lowest availability in the
    window; then the slowest p99, exact (store histograms read only for the monitors that
    could be among them: `found.slowest`, `candidates` of them, read again with more when
    they do not settle it)."""
    counts = found.counts
    down = found.down[:each]
    lowest = found.lowest[:each]
    shown = {t.monitor_id for t in lowest}
    failing = sum(entry[5] for state, entry in counts.items() if state in (WARNING, UNSTABLE))
    timed = found.slowest
    while True:
        listed = [t for t in timed if t.monitor_id not in shown]
        slow, sure = slowest(reader, start, end, listed, each)
        if sure or len(timed) < candidates:
            break
        candidates *= _MORE
        (again,) = summaries(reader, [(start, end)], 0, candidates, 0)
        timed = again.slowest
    of_timed = sum(entry[6] for state, entry in counts.items()
                   if state in (WARNING, UNSTABLE, UP)) - sum(1 for t in lowest if t.rt_count)
    return [Section("Down now, longest first", [t.monitor_id for t in down],
                    counts.get(DOWN, (0,))[0]),
            Section("Lowest availability", [t.monitor_id for t in lowest], failing,
                    "no failure in the window"),
            Section("Slowest p99", [monitor_id for monitor_id, _p99 in slow],
                    of_timed, "no response time in the window")]


def first_shown(order: Sequence[WindowTotal], changed: Sequence[WindowTotal],
                state: Callable[[WindowTotal], str], count: int) -> list[WindowTotal]:
    """The first `count` of `order` (worst first when read) with the monitors `changed`
    (down, warning or in maintenance now, or then: some may not be in `order`) placed by
    their state now: those few sorted anew, merged into the rest, which keeps its order."""
    ids = {t.monitor_id for t in changed}
    moved = sorted((worst_key(t, state(t)), t) for t in changed)
    out: list[WindowTotal] = []
    rest = (t for t in order if t.monitor_id not in ids)
    pending = next(rest, None)
    i = 0
    while len(out) < count and (pending is not None or i < len(moved)):
        if i < len(moved) and (pending is None or moved[i][0] <= worst_key(
                pending, state(pending))):
            out.append(moved[i][1])
            i += 1
        else:
            assert pending is not None
            out.append(pending)
            pending = next(rest, None)
    return out
