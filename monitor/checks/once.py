"""One check of a monitor, now, with how it went: what `check NAME` prints and what the
API's check now (POST /monitors/{id}/check) returns. Nothing is recorded."""

from __future__ import annotations

import json
import traceback

from monitor.checks import registry
from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.core import secrets
from monitor.core.model import CheckResult, Monitor


def trace(monitor: Monitor, watchdog: Watchdog, debug: bool = False
          ) -> tuple[CheckResult | None, list[str]]:
    """One check of `monitor`: its result (None when the check itself failed) and the
    lines that tell how it went (secrets not yet masked: `shown` does)."""
    try:
        kind = registry.get(monitor.kind)
        if kind.debug is not None:
            result, lines = kind.debug(monitor)
            return result, list(lines)
        result = run_check(monitor, watchdog)
    except Exception as exc:  # noqa: BLE001 - one monitor's failure must not hide the others
        lines = [f"the check failed: {type(exc).__name__}: {exc}"]
        if debug:
            lines += "".join(traceback.format_exception(exc)).splitlines()
        return None, lines
    lines = [f"(kind {monitor.kind} has no trace: the result of one check)"]
    lines += [f"{name}: {value:g}" for name, value in sorted(result.metrics.items())]
    return result, lines


def verdict(result: CheckResult | None) -> str:
    """The last line of a trace: UP, DOWN or UNKNOWN, why, and how long it took."""
    if result is None:
        return "UNKNOWN reason=error"
    parts = [result.state.upper()]
    if result.reason:
        parts.append(f"reason={result.reason}")
    if result.detail:
        parts.append(f"detail={json.dumps(result.detail, ensure_ascii=False)}")
    if result.code is not None:
        parts.append(f"code={result.code}")
    parts.append(f"duration={result.response_ms:.1f}ms")
    return " ".join(parts)


def shown(text: str, monitor: Monitor) -> str:
    """A line as shown: the monitor's secrets masked, control characters (a server's
    garbage quoted in a trace) made harmless to a terminal."""
    text = secrets.redact(text, monitor.secrets)
    return "".join(ch if ch.isprintable() else "?" for ch in text)
