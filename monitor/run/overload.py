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

import psutil

WINDOW = 10.0  # seconds the counts are taken over, and the overload must be gone for
LAG_LIMIT = 5.0  # seconds behind: a writer this late is not keeping up
# Slots skipped within a window, at least: fewer are a stall of the machine (a test
# machine under load skips a few), not more asked for than it can do.
SHED_SHARE = 0.05  # of the slots due
SHED_MIN = 10
# Checks that ran past their next slot (a share of those due) while the machine's CPU was
# this busy: the probes read the answers late, not the targets sent them late.
PAST_SHARE = 0.2
BUSY = 0.9
CONFIRM = 2.0  # seconds of overload before it is said: its rates are then worth quoting


@dataclass(frozen=True, slots=True)
class Counts:
    """Cumulative counts of the running monitor."""

    checks: int  # checks made
    covered: int  # slots skipped while their monitor's check ran (each stored as a row)
    shed: int  # slots skipped before their check could begin
    dropped: int  # checks the writer dropped
    lag: float  # seconds the oldest unwritten row has waited
    cpu: float = 0.0  # seconds of CPU the machine spent busy, all cores (cumulative)


class Overload:
    def __init__(self, say: Callable[[str], None], cores: int = 1) -> None:
        self._say = say
        self._cores = cores
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
        # A sign within the window: slots skipped (more than a stray one), or run past on
        # a saturated CPU, checks dropped, the writer late.
        if self._sign(samples[0], samples[-1], SHED_MIN):
            self._clear_since = None
            if self._began is None:  # from the sample before the window's first sign
                self._began = next((a for a, b in itertools.pairwise(samples)
                                    if self._sign(a, b, 0)), samples[0])
            then, first = self._began
            signs = self._signs(self._began, samples[-1])
            self.status = "OVERLOADED: " + ", ".join(signs)
            going_on = self._sign(samples[-2] if len(samples) > 1 else samples[0],
                                  samples[-1], 0)
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

    def _sign(self, a: tuple[float, Counts], b: tuple[float, Counts], least: int) -> bool:
        """Overload between samples `a` and `b`: more than `least` slots skipped (and
        SHED_SHARE of those due), or checks past their next slot on a saturated CPU."""
        d = _Between(a, b, self._cores)
        return (d.shed > max(least, SHED_SHARE * d.due) or d.saturated
                or d.dropped > 0 or d.lag >= LAG_LIMIT)

    def _signs(self, a: tuple[float, Counts], b: tuple[float, Counts]) -> list[str]:
        """What is wrong between samples `a` and `b`, in rates."""
        d = _Between(a, b, self._cores)
        span = d.span
        signs = []
        if d.shed:
            signs.append(f"{_rate(d.shed / span)} checks/s skipped (due {_rate(d.due / span)}/s,"
                         f" made {_rate(d.checks / span)}/s)")
        if d.saturated:
            signs.append(f"{_rate(d.covered / span)} checks/s ran past their next slot with"
                         f" the CPU {d.busy:.0%} busy (their slots are stored as the check's"
                         " verdict)")
        if d.dropped:
            signs.append(f"{_rate(d.dropped / span)} checks/s dropped by the writer")
        if d.lag >= LAG_LIMIT:
            signs.append(f"the writer {d.lag:.0f} s behind")
        return signs


class _Between:
    """The counts between two samples, for deciding (`_sign`) and saying (`_signs`) alike."""

    def __init__(self, a: tuple[float, Counts], b: tuple[float, Counts], cores: int) -> None:
        (then, old), (now, counts) = a, b
        self.span = max(now - then, 1e-9)
        self.shed = counts.shed - old.shed
        self.covered = counts.covered - old.covered
        self.checks = counts.checks - old.checks
        self.dropped = counts.dropped - old.dropped
        self.due = self.checks + self.covered + self.shed
        self.lag = counts.lag
        self.busy = (counts.cpu - old.cpu) / self.span / cores
        self.saturated = (now > then and self.covered + self.shed > PAST_SHARE * self.due
                          and self.busy >= BUSY)


def _rate(per_second: float) -> str:
    return f"{per_second:.1f}" if per_second < 10 else f"{per_second:.0f}"


def machine_busy() -> float:
    """Seconds of CPU this machine has spent busy, all cores together, since it booted."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def cores() -> int:
    return psutil.cpu_count() or 1
