"""Turning stats and alert history into text for the terminal.

A window's table lists every monitor when they are few (up to ROWS); of more, it leads with
a summary (the counts by state, the checks, the availability) and lists the worst (down
now, lowest availability, slowest p99), read without every monitor's full stats: the report
of 100,000 monitors costs about what their counts cost to read (render.summary).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from monitor.core.secrets import display_url
from monitor.core.timefmt import format_duration
from monitor.render.display import ROWS
from monitor.render.summary import Summary, summaries, summary_of, worst_sections
from monitor.render.view import (
    DOWN,
    GAP,
    IDLE,
    MAINTENANCE,
    UNSTABLE,
    UP,
    WARNING,
    Layout,
    fit,
    shorten,
)
from monitor.stats import MonitorStats, window_start, window_stats
from monitor.store.api import DeliveryState, Reader, WindowSummary

EACH = 10  # monitors listed by each measure of the worst (down, availability, p99)
# Monitors with the highest maxima read first for the slowest p99 (more when they do not
# settle it): at 60 s checks the p99 of a window is its maximum, and these are plenty.
CANDIDATES = 100


def table_lines(layout: Layout, rows: Iterable[list[str]]) -> list[str]:
    """The table as tabulate's "simple" format draws it (titles, dashes, the rows, each
    line without trailing spaces), in the layout's widths: a string join per row, where
    tabulate measured every cell again (seconds at 100,000 rows)."""
    widths = layout.widths
    separator = " " * GAP
    rights = [column.right for column in layout.columns]
    lines = [separator.join("-" * width for width in widths)]
    for cells in rows:
        lines.append(separator.join(
            cell.strip().rjust(width) if right else cell.strip().ljust(width)
            for cell, width, right in zip(cells, widths, rights, strict=True)).rstrip())
    # Titles aligned as their column; of an empty table, to the left (as tabulate did).
    title_rights = rights if len(lines) > 1 else [False] * len(rights)
    lines.insert(0, separator.join(
        column.title.rjust(width) if right else column.title.ljust(width)
        for column, width, right in zip(layout.columns, widths, title_rights,
                                        strict=True)).rstrip())
    return lines


def stats_table(stats: dict[str, MonitorStats], labels: dict[str, str], title: str,
                width: int | None = None) -> str:
    """The plain table of the stats, in the monitors' order: every column, or those that fit
    `width` characters (names shortened in the middle), chosen by view.fit."""
    rows = list(stats.values())
    names = {monitor_id: labels.get(monitor_id, display_url(monitor_id)) for monitor_id in stats}
    layout = fit(rows, names, width)
    lines = table_lines(layout, (layout.cells(s, names[s.monitor_id]) for s in rows))
    return "\n".join([shorten(title, width) if width else title, *lines])


def monitor_labels(reader: Reader, monitor_ids: Sequence[str] | None = None,
                   ) -> dict[str, str]:
    """Monitor id -> label of the monitors the writing process has configured (of
    `monitor_ids` only, if given: the few rows shown of many)."""
    infos = reader.active_monitors() if monitor_ids is None else reader.monitors_of(
        monitor_ids)
    # The target is stored masked: display_url (a parse, 10 us) only where it could mask.
    return {m.id: m.name or (display_url(m.target) if "@" in m.target or "?" in m.target
                             else m.target) for m in infos}


def window_report(reader: Reader, seconds: float, now: float | None = None,
                  labels: dict[str, str] | None = None, width: int | None = None,
                  rows: int | None = ROWS) -> str:
    """window_reports of one window."""
    return window_reports(reader, [seconds], now, labels, width, rows)[0]


def window_reports(reader: Reader, windows: Sequence[float], now: float | None = None,
                   labels: dict[str, str] | None = None, width: int | None = None,
                   rows: int | None = ROWS) -> list[str]:
    """The stats of each of the past `windows` seconds, from the start of the minute they
    begin in: so each window is read from per-minute and 10-minute aggregates only,
    however big the database (up to a minute more than asked for; the title says from
    when). The monitors of `labels` (else those configured), each in a row when they are
    at most `rows` (None: however many), else the summary and the worst, the windows read
    in one pass over the monitors."""
    now = time.time() if now is None else now
    spans = [(window_start(now, seconds), now) for seconds in windows]
    each = min(EACH, max(1, (rows or EACH) // 3))
    found = summaries(reader, spans, each, CANDIDATES, 0)
    texts = []
    for seconds, (start, _end), summary in zip(windows, spans, found, strict=True):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        since = time.strftime("%H:%M", time.gmtime(start))
        title = f"== {stamp} UTC: past {format_duration(seconds)} (since {since}) =="
        totals = summary_of(summary, start, now)
        if rows is None or totals.monitors <= rows or (
                labels is not None and len(labels) <= rows):
            known = monitor_labels(reader) if labels is None else labels
            stats = window_stats(reader, start, now, list(known) or None)
            texts.append(stats_table(stats, known, title, width))
        else:
            texts.append(_summary_report(reader, summary, totals, title, labels, width,
                                         each))
    return texts


def _summary_report(reader: Reader, found: WindowSummary, summary: Summary, title: str,
                    labels: dict[str, str] | None, width: int | None, each: int) -> str:
    """The summary of the window, then the worst by each measure in one table."""
    start, now = summary.start, summary.end
    sections = worst_sections(reader, found, start, now, each, CANDIDATES)
    shown = [monitor_id for section in sections for monitor_id in section.monitor_ids]
    stats = window_stats(reader, start, now, shown, narrow=True)
    known = labels if labels is not None else monitor_labels(reader, shown)
    names = {monitor_id: known.get(monitor_id) or display_url(monitor_id)
             for monitor_id in shown}
    layout = fit(list(stats.values()), names, width)
    table = table_lines(layout, (layout.cells(stats[m], names[m]) for m in shown))
    lines = [_clip(title, width), *summary_lines(summary, width), *table[:2]]
    row_lines = iter(table[2:])
    for section in sections:
        lines.append(_clip(f"{section.title} ({len(section.monitor_ids)} of {section.of}):"
                           if section.monitor_ids else f"{section.title}: {section.none}",
                           width))
        lines.extend(next(row_lines) for _ in section.monitor_ids)
    lines.append(_clip(f"({len(shown)} of {summary.monitors} monitors listed;"
                       " `report --all` lists every one)", width))
    return "\n".join(lines)


def _clip(text: str, width: int | None) -> str:
    return shorten(text, width) if width else text


def summary_lines(summary: Summary, width: int | None) -> list[str]:
    """The counts by state, then the checks: as many lines as `width` needs."""
    tally = summary.counts
    pieces = [f"{summary.monitors} monitors: {tally[DOWN]} down,", f"{tally[WARNING]} warning,",
              f"{tally[UNSTABLE]} unstable,", f"{tally[UP]} up"]
    if tally[MAINTENANCE]:
        pieces.append(f"({tally[MAINTENANCE]} in maintenance)")
    if tally[IDLE]:
        pieces.append(f"({tally[IDLE]} not checked yet)")
    figures = [f"{summary.checks} checks ({summary.checks_per_s:.1f}/s),"]
    availability = summary.availability
    figures.append("availability " + ("-" if availability is None else f"{availability:.1%}")
                   + ("," if summary.rt_avg is not None else ""))
    if summary.rt_avg is not None:
        figures.append(f"response time avg {summary.rt_avg:.1f} ms")
    return _packed(pieces, width) + _packed(figures, width)


def _packed(pieces: list[str], width: int | None) -> list[str]:
    """The pieces joined by spaces, on as many lines of at most `width` as they need."""
    if width is None:
        return [" ".join(pieces)]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(shorten(piece, width))
    return lines


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
