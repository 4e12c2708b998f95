"""The `load` kind: the 1-minute load average per core (the run queue, over the number of
logical CPUs); `max` fails above, `warn` warns above."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import psutil

from monitor.checks.host import base
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import CheckResult, Monitor

KEYS = ("max", "warn")
REASONS = (base.REASON,)
# One runnable task per core on average: every core busy, nothing waiting yet.
DEFAULT_MAX = 1.0
MOST = 1000.0  # per core: far beyond any machine still answering
HELP = {
    "max": ("1.0", "above this 1-minute load average per logical core the check is down"
                   " (greater than 0, at most 1000)"),
    "warn": ("none", "above this load per core the check warns (up); below `max`"),
}

SCHEMA = {key: schemas.positive(MOST) for key in KEYS}


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    # Its limit is all its spec.
    limit = base.limit(fields, entry, path, DEFAULT_MAX, MOST, keys=KEYS)
    return Parsed(spec=limit, target="load", id="load")


def per_core(load1: float, cores: int | None) -> float:
    """The 1-minute load per logical core, to 0.01 (one core when the count is unknown)."""
    return round(load1 / max(1, cores or 1), 2)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    limit: base.Limit = monitor.spec
    clock = base.Clock()
    try:
        load1, load5, load15 = os.getloadavg()
    except OSError as exc:  # no /proc (a container without it), or a libc without it
        return base.failed(monitor, clock, "other", f"load average unobtainable: {exc}")
    cores = psutil.cpu_count() or 1
    value = per_core(load1, cores)
    if trace is not None:
        trace.append(f"load average: {load1:.2f} (1 min), {load5:.2f} (5 min),"
                     f" {load15:.2f} (15 min)")
        trace.append(f"per core: {value:.2f} (1-minute load over {cores} logical core(s))")
    shown = f"load {value:.2f} per core ({load1:.2f} on {cores} cores)"
    return base.judged(monitor, clock, value, shown, limit, {base.METRIC: value})


KIND = base.kind("load", KEYS, parse, REASONS, check, HELP, SCHEMA)
