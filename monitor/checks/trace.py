"""What every kind's results and traces share: a result's detail as one short printable
line without secrets, a value quoted for a detail or a trace line, and the verdict lines
that end the trace `check NAME` prints."""

from __future__ import annotations

import json
from collections.abc import Iterable

from monitor.checks.model import CheckResult
from monitor.secrets import redact

DETAIL_CHARS = 200  # a detail is stored with every failed check and shown in one table cell


def printable(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text` on one line (runs of white space, line breaks too, made one space), every
    character that is not printable made "?", cut to `limit` characters: what a server
    sends must not garble a terminal or a table."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


def detail(text: str, secrets: Iterable[str] = ()) -> str:
    """A result's detail, whatever the kind: the monitor's `secrets` masked, then
    `printable` (at most DETAIL_CHARS)."""
    if not text:
        return ""
    return printable(redact(text, secrets))


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
