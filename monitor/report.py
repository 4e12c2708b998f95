"""Turning stats and alert history into text for the terminal."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from tabulate import tabulate

from .alerts import format_duration
from .config import display_url
from .stats import SiteStats, window_stats

HEADERS = ("site", "avail", "checks", "skipped", "min ms", "avg ms", "max ms", "p50", "p90",
           "p99", "status codes", "failures", "down for", "last failure")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{key}:{value}" for key, value in counts.items()) or "-"


def _row(label: str, stats: SiteStats) -> tuple:
    availability = "-" if stats.availability is None else f"{stats.availability:.1%}"
    return (
        label, availability, stats.checks, stats.skipped, _ms(stats.rt_min), _ms(stats.rt_avg),
        _ms(stats.rt_max), _ms(stats.p50), _ms(stats.p90), _ms(stats.p99),
        _counts(stats.statuses), _counts(stats.reasons),
        format_duration(stats.down_for) if stats.down_for is not None else "-",
        f"{format_duration(stats.since_failure)} ago" if stats.since_failure is not None
        else "never",
    )


def stats_table(stats: dict[str, SiteStats], labels: dict[str, str], title: str) -> str:
    rows = [_row(labels.get(host, display_url(host)), s) for host, s in stats.items()]
    return f"{title}\n{tabulate(rows, headers=HEADERS, tablefmt='simple', disable_numparse=True)}"


def active_sites(conn: sqlite3.Connection) -> dict[str, str]:
    """URL -> label of the sites the writing monitor has configured."""
    return {
        host: name or display_url(host)
        for host, name in conn.execute("SELECT host, name FROM sites WHERE active=1 ORDER BY rowid")
    }


def window_report(conn: sqlite3.Connection, seconds: float, now: float | None = None,
                  labels: dict[str, str] | None = None) -> str:
    """The stats of the past `seconds`, from the start of the minute they begin in: so the
    window is read from per-minute and 10-minute aggregates only, however big the database
    (up to a minute more than asked for; the title says from when)."""
    now = time.time() if now is None else now
    labels = active_sites(conn) if labels is None else labels
    start = (now - seconds) // 60 * 60
    stats = window_stats(conn, start, now, list(labels) or None)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    since = time.strftime("%H:%M", time.gmtime(start))
    title = f"== {stamp} UTC: past {format_duration(seconds)} (since {since}) =="
    return stats_table(stats, labels, title)


def alert_rows(conn: sqlite3.Connection, after_id: int = 0,
               limit: int | None = None) -> list[tuple[int, str]]:
    """(id, message) of stored alerts and recoveries after `after_id`, oldest first."""
    if limit is None:
        return list(conn.execute(
            "SELECT id, message FROM website_alerts WHERE id > ? ORDER BY id", (after_id,)))
    rows = list(conn.execute(
        "SELECT id, message FROM website_alerts WHERE id > ? ORDER BY id DESC LIMIT ?",
        (after_id, limit)))
    return rows[::-1]


def recent_messages_block(messages: Sequence[str]) -> str:
    if not messages:
        return "Recent alerts: none"
    return "Recent alerts:\n" + "\n".join(f"  {m}" for m in messages)


def messages_of(rows: Iterable[tuple[int, str]]) -> list[str]:
    return [message for _id, message in rows]
