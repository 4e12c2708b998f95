"""Overload: the monitor asked for more checks than it can make or store.

A check that cannot begin before its monitor's next slot makes that slot skip (the
scheduler never queues two checks of one monitor): the excess is shed there, a bounded
amount of work, never a growing backlog. Such slots say nothing about the target, so they
get no row; they are counted here as the monitor's own overload, with the checks the
writer had to drop and how far behind it is. `Overload.step(now, ...)` is the testable
step: it says one line when the monitor becomes overloaded (CONFIRM seconds after the
first sign), one when it has been clear for a whole WINDOW, and `status` is what the live
view's header shows meanwhile.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 10.0  # seconds the counts are taken over, and the overload must be gone for
LAG_LIMIT = 5.0  # seconds behind: a writer this late is not keeping up
# Slots skipped within a window, at least: fewer are a stall of the machine (a test
# machine under load skips a few), not more asked for than it can do.
SHED_SHARE = 0.05  # of the slots due
SHED_MIN = 10
CONFIRM = 2.0  # seconds of overload before it is said: its rates are then worth quoting


@dataclass(frozen=True, slots=True)
class Counts:
    """Cumulative counts of the running monitor."""

    checks: int  # checks made
    covered: int  # slots skipped while their monitor's check ran (each stored as a row)
    shed: int  # slots skipped before their check could begin
    dropped: int  # checks the writer dropped
    lag: float  # seconds the oldest unwritten row has waited


class Overload:
    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._samples: deque[tuple[float, Counts]] = deque()
        self._began: tuple[float, Counts] | None = None  # the sample before the first sign
        self._said = False
        self._clear_since: float | None = None
        self._last = 0.0  # the last step that saw it going on
        self.status: str | None = None

    def reset(self) -> None:
        """Forget the counts so far (the disk refused meanwhile: its own trouble)."""
        self._samples.clear()

    def step(self, now: float, counts: Counts) -> None:
        samples = self._samples
        samples.append((now, counts))
        while len(samples) > 1 and samples[1][0] <= now - WINDOW:
            samples.popleft()
        old = samples[0][1]
        # A sign within the window: slots skipped (more than a stray one), checks dropped,
        # the writer late.
        shed = counts.shed - old.shed
        due = counts.checks - old.checks + counts.covered - old.covered + shed
        if (shed > max(SHED_MIN, SHED_SHARE * due) or counts.dropped > old.dropped
                or counts.lag >= LAG_LIMIT):
            self._clear_since = None
            if self._began is None:  # from the sample before the window's first sign
                self._began = next(
                    (a for a, b in itertools.pairwise(samples)
                     if b[1].shed > a[1].shed or b[1].dropped > a[1].dropped
                     or b[1].lag >= LAG_LIMIT), samples[0])
            then, first = self._began
            signs = _signs(first, counts, now - then)
            self.status = "OVERLOADED: " + ", ".join(signs)
            previous = samples[-2][1] if len(samples) > 1 else old
            going_on = (counts.shed > previous.shed or counts.dropped > previous.dropped
                        or counts.lag >= LAG_LIMIT)
            if going_on:
                self._last = now
            if not self._said and going_on and now - then >= CONFIRM:
                self._said = True
                self._say(f"Warning: overloaded: {', '.join(signs)} over the past"
                          f" {now - then:.0f} s. More checks are asked for than this machine"
                          " can make and store: the excess slots are skipped and counted,"
                          " not queued. Fewer monitors, longer intervals or more cores fix"
                          " it.")
            return
        if self._began is None:
            return
        if self._clear_since is None:
            self._clear_since = now
        if now - self._clear_since >= WINDOW:
            then, first = self._began
            if self._said:
                self._say(f"No longer overloaded (for {self._last - then:.0f} s:"
                          f" {counts.shed - first.shed} slots skipped and"
                          f" {counts.dropped - first.dropped} checks dropped in all).")
            self._began, self._said, self._clear_since, self.status = None, False, None, None


def _signs(first: Counts, counts: Counts, span: float) -> list[str]:
    """What is wrong since `first`, `span` seconds ago, in rates."""
    span = max(span, 1e-9)
    shed, dropped = counts.shed - first.shed, counts.dropped - first.dropped
    checks = counts.checks - first.checks
    due = checks + counts.covered - first.covered + shed
    signs = []
    if shed:
        signs.append(f"{_rate(shed / span)} checks/s skipped (due {_rate(due / span)}/s,"
                     f" made {_rate(checks / span)}/s)")
    if dropped:
        signs.append(f"{_rate(dropped / span)} checks/s dropped by the writer")
    if counts.lag >= LAG_LIMIT:
        signs.append(f"the writer {counts.lag:.0f} s behind")
    return signs


def _rate(per_second: float) -> str:
    return f"{per_second:.1f}" if per_second < 10 else f"{per_second:.0f}"
