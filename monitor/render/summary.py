"""What the views show of many monitors without reading every monitor's full stats: the
counts by state, the totals, the worst first, from each monitor's counts over the window
(one read of counts for all, no histograms: store.window_totals); the full stats then only
for the few rows shown.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from monitor.render.view import DOWN, IDLE, MAINTENANCE, RANK, UNSTABLE, UP, WARNING
from monitor.stats import slowest
from monitor.store.api import Reader, WindowTotal


def state_of_total(total: WindowTotal, down: bool | None = None, warning: bool | None = None,
                   maintenance: bool | None = None) -> str:
    """A monitor's state as view.state_of says it, from its counts and its state now (or
    `down`, `warning`, `maintenance` as given: read since)."""
    if total.maintenance if maintenance is None else maintenance:
        return MAINTENANCE
    if total.down_since is not None if down is None else down:
        return DOWN
    if not total.checks:
        return IDLE
    if total.warning if warning is None else warning:
        return WARNING
    return UNSTABLE if total.up < total.checks else UP


def worst_key(total: WindowTotal, state: str) -> tuple[int, float, float]:
    """view.worst_first's order: the state's rank, the lower availability, the slower on
    average (the name, which breaks the last ties, is the caller's)."""
    return (RANK[state], total.up / total.checks if total.checks else 2.0,
            -(total.rt_sum / total.rt_count) if total.rt_count else 0.0)


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


def summarize(totals: Iterable[WindowTotal], start: float, end: float) -> Summary:
    counts = dict.fromkeys((DOWN, WARNING, UNSTABLE, UP, MAINTENANCE, IDLE), 0)
    monitors = checks = up = rt_count = 0
    rt_sum = 0.0
    for total in totals:
        monitors += 1
        counts[state_of_total(total)] += 1
        checks += total.checks
        up += total.up
        rt_count += total.rt_count
        rt_sum += total.rt_sum
    return Summary(start, end, monitors, counts, checks, up, rt_count, rt_sum)


@dataclass(frozen=True)
class Section:
    """Some of the worst monitors, by one measure: `shown` of `of` such monitors."""

    title: str
    monitor_ids: list[str] = field(default_factory=list)
    of: int = 0
    none: str = "none"  # said when there is none


def worst_sections(reader: Reader, totals: Sequence[WindowTotal], start: float, end: float,
                   each: int) -> list[Section]:
    """Up to `each` monitors by each measure, none twice: the ones down now, longest down
    first; of the others (in maintenance aside), the lowest availability in the window;
    then the slowest p99 (exact: store histograms read only for the monitors that could be
    among them)."""
    order = {total.monitor_id: index for index, total in enumerate(totals)}
    down = [t for t in totals if state_of_total(t) == DOWN]
    longest = heapq.nsmallest(each, down, key=lambda t: (t.down_since, order[t.monitor_id]))
    others = [t for t in totals if state_of_total(t) not in (DOWN, MAINTENANCE, IDLE)]
    failing = [t for t in others if t.up < t.checks]
    lowest = heapq.nsmallest(each, failing,
                             key=lambda t: (t.up / t.checks, order[t.monitor_id]))
    shown = {t.monitor_id for t in lowest}
    timed = [t for t in others if t.rt_count and t.monitor_id not in shown]
    slow = slowest(reader, start, end, timed, each)
    return [Section("Down now, longest first", [t.monitor_id for t in longest], len(down)),
            Section("Lowest availability", [t.monitor_id for t in lowest], len(failing),
                    "no failure in the window"),
            Section("Slowest p99", [monitor_id for monitor_id, _p99 in slow], len(timed),
                    "no response time in the window")]


Now = Callable[[str], bool]


def ranked(totals: Sequence[WindowTotal]) -> list[WindowTotal]:
    """The monitors worst first by their counts and their state when read (view's order,
    ties by the order given): a refresh's order, which a frame corrects for the few
    monitors whose state changed since (`merged`)."""
    keyed = sorted(((worst_key(t, state_of_total(t)), i) for i, t in enumerate(totals)))
    return [totals[i] for _key, i in keyed]


def first_shown(order: Sequence[WindowTotal], changed: Collection[str],
                state: Callable[[WindowTotal], str], count: int) -> list[WindowTotal]:
    """The first `count` of `order` (worst first when read) with the monitors in `changed`
    (down, warning or in maintenance now, or were) placed by their state now: those few
    sorted anew, merged into the rest, which keeps its order."""
    position = {}
    moved = []
    for index, total in enumerate(order):
        if total.monitor_id in changed:
            moved.append((worst_key(total, state(total)), index, total))
            position[total.monitor_id] = index
    moved.sort(key=lambda entry: entry[:2])
    out: list[WindowTotal] = []
    rest = (t for t in order if t.monitor_id not in position)
    pending = next(rest, None)
    i = 0
    while len(out) < count and (pending is not None or i < len(moved)):
        if i < len(moved) and (pending is None or moved[i][0] <= worst_key(
                pending, state(pending))):
            out.append(moved[i][2])
            i += 1
        else:
            assert pending is not None
            out.append(pending)
            pending = next(rest, None)
    return out
