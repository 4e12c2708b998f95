"""One blocking check of any kind, bounded by its timeout."""

from __future__ import annotations

import dataclasses
import time

from monitor.checks import registry
from monitor.checks.watchdog import Watchdog
from monitor.core.model import CheckAborted, CheckResult, Monitor


def run_check(monitor: Monitor, watchdog: Watchdog, lateness_ms: float = 0.0) -> CheckResult:
    """Run one check of `monitor` within its timeout, blocking; raise CheckAborted if the
    monitor stops midway."""
    function = registry.get(monitor.kind).run
    started = time.monotonic()
    deadline = watchdog.arm(monitor.timeout)
    if deadline.aborted:
        raise CheckAborted(monitor.id)
    try:
        result = function(monitor, deadline)
    finally:
        watchdog.disarm(deadline)
    if deadline.aborted:
        raise CheckAborted(monitor.id)
    return dataclasses.replace(result, lateness_ms=lateness_ms, mono=started)
