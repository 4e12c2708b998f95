"""The `cpu` kind: the share of CPU time the whole host spent busy, averaged over the
interval since this monitor's previous check; `maxPercent` fails above, `warnPercent`
warns above."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import psutil

from monitor.checks.host import base
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import CheckResult, Monitor

KEYS = base.PERCENT_KEYS
REASONS = (base.REASON,)
# A first check has no span to average over: it measures one of its own, this long at most
# and at most half its timeout.
FIRST_WINDOW = 1.0
# Below this the counters (clock ticks of 10 ms per core) say too little to average over:
# a check sooner after the previous one waits until then.
MIN_SPAN = 0.2
# A sample older than this many intervals is not "the previous check" (the monitor was
# removed and added back): it would average over far more than the interval.
STALE_INTERVALS = 3.0

Times = Mapping[str, float]

# Each monitor's latest sample (monotonic time, cpu_times), so that every check averages
# over its own interval: psutil.cpu_percent(interval=None) keeps one sample for every caller.
_samples: dict[str, tuple[float, Times]] = {}
_lock = threading.Lock()


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    # Its limit is all its spec.
    limit = base.limit(fields, entry, path, base.DEFAULT_MAX_PERCENT)
    return Parsed(spec=limit, target="cpu", id="cpu")


def _total(times: Times) -> float:
    # Linux counts guest time in user and nice already: taken out of the total so that it
    # does not count twice (psutil's own cpu_percent takes it out too).
    return sum(times.values()) - times.get("guest", 0.0) - times.get("guest_nice", 0.0)


def _busy(times: Times) -> float:
    return _total(times) - times.get("idle", 0.0) - times.get("iowait", 0.0)


def busy_percent(before: Times, after: Times) -> float:
    """The percentage of CPU time spent busy (neither idle nor waiting for I/O) between two
    samples of psutil.cpu_times(), over all CPUs, to 0.1. Counters that went backwards
    (a suspended virtual machine) or did not move read 0."""
    elapsed = _total(after) - _total(before)
    busy = _busy(after) - _busy(before)
    if elapsed <= 0 or busy <= 0:
        return 0.0
    return round(min(100.0, busy / elapsed * 100.0), 1)


def shares(before: Times, after: Times) -> dict[str, float]:
    """Each counter's share of the CPU time between two samples, in percent (the trace)."""
    elapsed = _total(after) - _total(before)
    if elapsed <= 0:
        return {}
    return {name: (after[name] - before.get(name, 0.0)) / elapsed * 100.0 for name in after
            if name not in ("guest", "guest_nice")}


def _sample() -> Times:
    return psutil.cpu_times()._asdict()


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    limit: base.Limit = monitor.spec
    clock = base.Clock()
    now = time.monotonic()
    with _lock:
        previous = _samples.get(monitor.id)
    if previous is None or now - previous[0] > max(STALE_INTERVALS * monitor.interval,
                                                   MIN_SPAN):
        # Nothing to average since: a window of its own, leaving half the time budget.
        since, before = now, _sample()
        wait = min(FIRST_WINDOW, deadline.remaining() / 2)
        how = "measured now (no recent previous check)"
    else:
        # Since this monitor's previous check; right after it (a short interval), first
        # until the counters have moved enough to say something.
        since, before = previous
        wait = min(since + MIN_SPAN - now, deadline.remaining() / 2)
        how = "since the previous check"
    if wait > 0 and not base.pause(wait, deadline):
        return base.failed(monitor, clock, "timeout", "the monitor is stopping")
    now, sample = time.monotonic(), _sample()
    with _lock:
        _samples[monitor.id] = (now, sample)
    value = busy_percent(before, sample)
    if trace is not None:
        cores = psutil.cpu_count() or 1
        trace.append(f"cpu times of {cores} core(s) over {now - since:.2f} s, {how}")
        parts = shares(before, sample)
        trace.append("  " + ", ".join(f"{name} {share:.1f}%" for name, share in parts.items()
                                      if share >= 0.05 or name in ("user", "system", "idle")))
        trace.append(f"busy: {value:.1f}% (all but idle and iowait)")
    return base.judged(monitor, clock, value, f"cpu {value:.1f}% busy", limit,
                       {base.METRIC: value})


KIND = base.kind("cpu", KEYS, parse, REASONS, check)
