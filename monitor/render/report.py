"""Turning stats and alert history into text for the terminal."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from tabulate import tabulate

from monitor.core.secrets import display_url
from monitor.core.timefmt import format_duration
from monitor.render.view import fit, shorten
from monitor.stats import MonitorStats, window_start, window_stats
from monitor.store.api import DeliveryState, Reader


def stats_table(stats: dict[str, MonitorStats], labels: dict[str, str], title: str,
                width: int | None = None) -> str:
    """The plain table of the stats, in the monitors' order: every column, or those that fit
    `width` characters (names shortened in the middle), chosen by view.fit."""
    rows = list(stats.values())
    names = {monitor_id: labels.get(monitor_id, display_url(monitor_id)) for monitor_id in stats}
    layout = fit(rows, names, width)
    cells = [layout.cells(s, names[s.monitor_id]) for s in rows]
    table = tabulate(cells, headers=[c.title for c in layout.columns], tablefmt="simple",
                     disable_numparse=True,
                     colalign=["right" if c.right else "left" for c in layout.columns])
    return f"{shorten(title, width) if width else title}\n{table}"


def monitor_labels(reader: Reader) -> dict[str, str]:
    """Monitor id -> label of the monitors the writing process has configured."""
    return {m.id: m.name or display_url(m.target) for m in reader.active_monitors()}


def window_report(reader: Reader, seconds: float, now: float | None = None,
                  labels: dict[str, str] | None = None, width: int | None = None) -> str:
    """The stats of the past `seconds`, from the start of the minute they begin in: so the
    window is read from per-minute and 10-minute aggregates only, however big the database
    (up to a minute more than asked for; the title says from when)."""
    now = time.time() if now is None else now
    labels = monitor_labels(reader) if labels is None else labels
    start = window_start(now, seconds)
    stats = window_stats(reader, start, now, list(labels) or None)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    since = time.strftime("%H:%M", time.gmtime(start))
    title = f"== {stamp} UTC: past {format_duration(seconds)} (since {since}) =="
    return stats_table(stats, labels, title, width)


def alert_rows(reader: Reader, after_id: int = 0,
               limit: int | None = None) -> list[tuple[int, str]]:
    """(id, message) of stored alerts and recoveries after `after_id`, oldest first."""
    return reader.alerts_after(after_id, limit)


def delivery_line(states: Sequence[DeliveryState]) -> str:
    """Where an alert's notifications stand: "sent to ops, pager; failed: sms (HTTP 500);
    pending: mail (2 attempts, last: timed out)"."""
    sent = [s.provider for s in states if s.state == "sent"]
    failed = [f"{s.provider} ({s.error})" for s in states if s.state == "failed"]
    pending = [s.provider + (f" ({s.attempts} attempt{'s' if s.attempts > 1 else ''}, last:"
                             f" {s.error})" if s.attempts else "")
               for s in states if s.state == "pending"]
    parts = ([f"sent to {', '.join(sent)}"] if sent else []) + (
        [f"failed: {', '.join(failed)}"] if failed else []) + (
        [f"pending: {', '.join(pending)}"] if pending else [])
    return "; ".join(parts)


def recent_messages_block(messages: Sequence[str]) -> str:
    if not messages:
        return "Recent alerts: none"
    return "Recent alerts:\n" + "\n".join(f"  {m}" for m in messages)


def messages_of(rows: Iterable[tuple[int, str]]) -> list[str]:
    return [message for _id, message in rows]
