"""What every kind's results and traces share: a result's detail as one short printable
line without secrets, a value quoted for a detail or a trace line, and the verdict lines
that end the trace `check NAME` prints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from monitor.core.deadline import Deadline
from monitor.core.model import CheckResult, Monitor
from monitor.core.secrets import redact

# A kind's check that appends to a trace when given one: its `run` passes None.
TracedCheck = Callable[[Monitor, Deadline, "list[str] | None"], CheckResult]

DETAIL_CHARS = 200  # a detail is stored with every failed check and shown in one table cell


def printable(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text` on one line (runs of white space, line breaks too, made one space), every
    character that is not printable made "?", cut to `limit` characters: what a server
    sends must not garble a terminal or a table."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


def detail(text: str, secrets: Iterable[str] = (), limit: int = DETAIL_CHARS) -> str:
    """A result's detail, whatever the kind: the monitor's `secrets` masked, then
    `printable` (at most `limit`: DETAIL_CHARS but for a detail that bounds itself)."""
    if not text:
        return ""
    return printable(redact(text, secrets), limit)


def quoted(text: str, limit: int = 60) -> str:
    """`text` as a short JSON string, as a config writes it: control characters escaped
    ("\\r\\n"), other text as it is, cut to `limit` characters (then "..." follows the
    closing quote)."""
    shown = json.dumps(text[:limit], ensure_ascii=False)
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return shown + ("..." if len(text) > limit else "")


def verdict_lines(result: CheckResult) -> list[str]:
    """The last lines of every kind's trace: "verdict: up", "verdict: warning: REASON
    (DETAIL)" or "verdict: down: REASON (DETAIL)" (the detail when there is one, an up
    check's too), then "response time: X ms"."""
    state = result.state
    verdict = state if state == "up" else f"{state}: {result.reason}"
    return [f"verdict: {verdict}" + (f" ({result.detail})" if result.detail else ""),
            f"response time: {result.response_ms:.1f} ms"]


def debugger(check: TracedCheck) -> Callable[[Monitor], tuple[CheckResult, list[str]]]:
    """A kind's `debug`: one check of it within its timeout, with its trace, ending with
    the verdict lines."""

    def debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
        trace: list[str] = []
        deadline = Deadline(time.monotonic() + monitor.timeout, monitor.timeout)
        result = check(monitor, deadline, trace)
        return result, trace + verdict_lines(result)

    return debug
