"""The `memory` kind: the share of the host's memory in use, as psutil reports it
((total - available) / total: what programs cannot get without swapping, page cache not
counted as used); `maxPercent` fails above, `warnPercent` warns above."""

from __future__ import annotations

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
MB = 1024 * 1024


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    # Its limit is all its spec.
    limit = base.limit(fields, entry, path, base.DEFAULT_MAX_PERCENT)
    return Parsed(spec=limit, target="memory", id="memory")


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    limit: base.Limit = monitor.spec
    clock = base.Clock()
    memory = psutil.virtual_memory()
    value = float(memory.percent)
    available = memory.available / MB
    if trace is not None:
        trace.append(f"memory: total {memory.total / MB:.0f} MiB, available"
                     f" {available:.0f} MiB")
        swap = psutil.swap_memory()
        if swap.total:
            trace.append(f"swap: total {swap.total / MB:.0f} MiB, used {swap.used / MB:.0f}"
                         f" MiB ({swap.percent:.1f}%)")
        trace.append(f"used: {value:.1f}% (total - available, of total)")
    return base.judged(monitor, clock, value, f"memory {value:.1f}% used", limit,
                       {base.METRIC: value, "available_mb": round(available, 1)})


KIND = base.kind("memory", KEYS, parse, REASONS, check)
