"""The access-log monitor's 10-second table, as `logs` prints it: a heading line with the
period's totals, then the top sections (hits in the period and in total) and the top
clients, side by side."""

from __future__ import annotations

import time
from itertools import zip_longest

from monitor.logs.window import Report

STATUS_ORDER = ("2xx", "3xx", "4xx", "5xx", "1xx", "other")


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def report_text(report: Report) -> str:
    """The table of one period."""
    day = time.strftime("%Y-%m-%d", time.gmtime(report.start))
    statuses = ", ".join(f"{name} {report.statuses[name]}" for name in STATUS_ORDER
                         if report.statuses.get(name))
    heading = (f"== {day} {_clock(report.start)}-{_clock(report.end)} UTC: {report.hits}"
               f" hits, {report.rate:.1f} req/s, {_size(report.bytes)}"
               + (f"; {statuses}" if statuses else "") + f" ({report.total} in total"
               + (f", {report.late} late" if report.late else "") + ") ==")
    if not report.hits:
        return heading
    rows = [[*(map(str, section) if section else ("", "", "")), "",
             *(map(str, client) if client else ("", ""))]
            for section, client in zip_longest(report.sections, report.clients)]
    return f"{heading}\n{_table(HEADERS, rows)}"


HEADERS = ("section", "hits", "total", "", "client", "hits")
RIGHT = (False, True, True, False, False, True)  # numbers to the right


def _table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    """Columns as tabulate's "simple" format draws them, without its cost: a period's
    table is drawn for every 10 s of a log replayed at hundreds of thousands of lines a
    second, and tabulate took a third of the time."""
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in
              range(len(headers))]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(width) if right else cell.ljust(width)
                         for cell, width, right in zip(cells, widths, RIGHT,
                                                       strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]),
                      *(line(row) for row in rows)])
