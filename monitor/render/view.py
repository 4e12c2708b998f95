"""What the stats views show, apart from how they are drawn: each monitor's state, the
order (worst first), the totals, and which columns fit a width. The live terminal view
(rich) uses all of it; the plain tables (tabulate) their columns and widths, in the
monitors' order. A monitor checked from several locations says each one's verdict in the
`locations` column ("eu down, us up"), which the live view fills (`fit(..., located=)`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitor.core.timefmt import format_duration
from monitor.stats import MonitorStats

DOWN, WARNING, UP, MAINTENANCE, IDLE = "down", "warning", "up", "maintenance", "idle"
# Up now, with failures in the window: not "warning", which is a result that warns.
UNSTABLE = "unstable"
# Warning and unstable rank alike: between them, the lower availability first.
RANK = {DOWN: 0, WARNING: 1, UNSTABLE: 1, UP: 2, MAINTENANCE: 3, IDLE: 4}
GAP = 2  # spaces between two columns
HEADER_PADDING = 2  # tabulate's: a column is at least its title and two spaces wide
ELLIPSIS = "…"


def state_of(stats: MonitorStats, down: bool | None = None, warning: bool = False,
             maintenance: bool = False) -> str:
    """maintenance: its checks are made in maintenance now; down: failing now (`down`,
    else its stats say so); warning: up now and warning (`warning`: a certificate close to
    expiry, a disk filling); unstable: up now, with failures in the window; up: none of
    these; idle: no check in the window yet."""
    if maintenance:
        return MAINTENANCE
    if stats.down_for is not None if down is None else down:
        return DOWN
    if stats.availability is None:
        return IDLE
    if warning:
        return WARNING
    return UNSTABLE if stats.availability < 1.0 else UP


Now = Callable[[str], bool]  # of a monitor id: is it down, warning, in maintenance now


def worst_first(stats: Iterable[MonitorStats], labels: dict[str, str],
                down: Now | None = None, warning: Now | None = None,
                maintenance: Now | None = None) -> list[MonitorStats]:
    """Down first, then the lowest availability, then the slowest on average, then by name
    (the average, not a percentile: the order of 100,000 monitors comes from their counts
    alone, render.summary).
    `down(monitor_id)`, `warning(monitor_id)` and `maintenance(monitor_id)` say which
    monitors fail, warn or are in maintenance now, when their stats are older than that."""
    def key(s: MonitorStats) -> tuple:
        state = state_of(s, None if down is None else down(s.monitor_id),
                         warning is not None and warning(s.monitor_id),
                         maintenance is not None and maintenance(s.monitor_id))
        return (RANK[state], 2.0 if s.availability is None else s.availability,
                -(s.rt_avg or 0.0), labels.get(s.monitor_id, s.monitor_id))
    return sorted(stats, key=key)


def counts(stats: Iterable[MonitorStats], down: Now | None = None, warning: Now | None = None,
           maintenance: Now | None = None) -> dict[str, int]:
    found = {DOWN: 0, WARNING: 0, UNSTABLE: 0, UP: 0, MAINTENANCE: 0, IDLE: 0}
    for s in stats:
        found[state_of(s, None if down is None else down(s.monitor_id),
                       warning is not None and warning(s.monitor_id),
                       maintenance is not None and maintenance(s.monitor_id))] += 1
    return found


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut in the middle: a URL keeps its host and its
    end, which tell URLs apart; other text keeps its start and its end."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    try:
        parts = urlsplit(text) if "://" in text else None
    except ValueError:  # a name that only looks like a URL ("x://[oops")
        parts = None
    if parts is not None and parts.netloc:
        # The scheme and a user name are the least telling parts.
        host = parts.netloc.rpartition("@")[2]
        rest = text.split("://", 1)[1].replace(parts.netloc, host, 1)
        if len(rest) <= width:
            return rest
        tail = width - len(host) - 1
        if tail >= min(8, len(rest) - len(host)):
            return host + ELLIPSIS + (rest[len(rest) - tail:] if tail else "")
        text = rest
    head = math.ceil((width - 1) / 2)
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[len(text) - tail:] if tail else "")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _counts_text(counted: dict[str, int]) -> str:
    return " ".join(f"{key}:{value}" for key, value in counted.items()) or "-"


def _availability(stats: MonitorStats) -> str:
    return "-" if stats.availability is None else f"{stats.availability:.1%}"


def _down_for(stats: MonitorStats) -> str:
    return format_duration(stats.down_for) if stats.down_for is not None else "-"


def _last_failure(stats: MonitorStats) -> str:
    if stats.since_failure is None:
        return "never"
    return f"{format_duration(stats.since_failure)} ago"


def _phase(name: str) -> Callable[[MonitorStats], str]:
    """A metric's "p50/p90" (http: a phase's times), "-" when the monitor reports none."""
    def cell(stats: MonitorStats) -> str:
        found = stats.phases.get(name)
        return "-" if found is None else f"{_ms(found[0])}/{_ms(found[1])}"
    return cell


def _cert_days(stats: MonitorStats) -> str:
    found = stats.phases.get("cert_days")
    return "-" if found is None or found[0] is None else f"{found[0]:.0f}"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    priority: int  # the order columns are given room in: 0 first
    cell: Callable[[MonitorStats], str]
    right: bool = True  # numbers align right
    most: int = 0  # a cell wider than this is shortened (0: never)
    optional: bool = False  # left out when no row has a value ("-" in every cell)


# The title of the column of the monitors' names (labels), as -r has always shown it.
NAME_COLUMN = "monitor"
# Each location's verdict of a monitor checked from several: given by the view (`located`).
LOCATIONS_COLUMN = "locations"
LOCATIONS_MOST = 32
# In the order they are shown; `priority` says which ones a narrow terminal keeps.
COLUMNS = (
    Column(NAME_COLUMN, 0, lambda s: s.monitor_id, right=False),
    Column("avail", 1, _availability),
    # Room after the availability's, before anything else: a monitor of several locations
    # is read by them. "-" unless the view says (no column when no row has one).
    Column(LOCATIONS_COLUMN, 1, lambda s: "-", right=False, most=LOCATIONS_MOST,
           optional=True),
    Column("checks", 6, lambda s: str(s.checks)),
    Column("skipped", 12, lambda s: str(s.skipped)),
    Column("min ms", 11, lambda s: _ms(s.rt_min)),
    Column("avg ms", 9, lambda s: _ms(s.rt_avg)),
    Column("max ms", 10, lambda s: _ms(s.rt_max)),
    Column("p50", 2, lambda s: _ms(s.p50)),
    Column("p90", 8, lambda s: _ms(s.p90)),
    Column("p99", 3, lambda s: _ms(s.p99)),
    # The http phases, p50/p90: detail for a wide terminal, the first to go when narrow.
    Column("dns p50/p90", 16, _phase("dns"), optional=True),
    Column("connect", 15, _phase("connect"), optional=True),
    Column("tls", 17, _phase("tls"), optional=True),
    Column("ttfb", 14, _phase("ttfb"), optional=True),
    Column("status codes", 7, lambda s: _counts_text(s.statuses), right=False, most=24),
    Column("failures", 4, lambda s: _counts_text(s.reasons), right=False, most=28),
    Column("warnings", 5, lambda s: _counts_text(s.warnings), right=False, most=24,
           optional=True),
    # What a host check measured (cpu, memory, disk: percent; load per core; processes).
    Column("value p50/p90", 6, _phase("value"), optional=True),
    Column("cert days", 12, _cert_days, optional=True),
    Column("down for", 5, _down_for),
    Column("last failure", 13, _last_failure),
)
NAME_MIN = 16  # the names' column never gets less than this, room permitting


def locations_text(verdicts: Sequence[tuple[str, str]], most: int = LOCATIONS_MOST) -> str:
    """Each location's verdict, (location, state), in their order: "eu down, us up"; when
    that is longer than `most`, those not up first and the others counted ("eu down, 4
    up")."""
    whole = ", ".join(f"{location} {state}" for location, state in verdicts)
    if len(whole) <= most:
        return whole
    up = sum(state == UP for _, state in verdicts)
    others = [f"{location} {state}" for location, state in verdicts if state != UP]
    return ", ".join(others + ([f"{up} up"] if up else []))


def _cell(column: Column, stats: MonitorStats, label: str, located: Mapping[str, str]) -> str:
    if column.title == NAME_COLUMN:
        return label
    if column.title == LOCATIONS_COLUMN:
        return located.get(stats.monitor_id, "-")
    return column.cell(stats)


@dataclass(frozen=True, slots=True)
class Layout:
    columns: tuple[Column, ...]
    widths: tuple[int, ...]
    # Monitor id -> its locations' verdicts (locations_text), of those of several.
    located: Mapping[str, str] = field(default_factory=dict)

    def cells(self, stats: MonitorStats, label: str) -> list[str]:
        return [shorten(_cell(column, stats, label, self.located), width)
                for column, width in zip(self.columns, self.widths, strict=True)]

    @property
    def width(self) -> int:
        return sum(self.widths) + GAP * (len(self.widths) - 1)


def fit(rows: Sequence[MonitorStats], labels: dict[str, str], width: int | None,
        located: Mapping[str, str] | None = None) -> Layout:
    """The columns that fit `width` characters (all of them when None), given room in
    priority order, each as wide as its widest cell among `rows` (within its `most`); the
    names' column takes what is left, down to NAME_MIN, and its names are shortened.
    `located`: the locations' verdicts of the monitors of several (locations_text)."""
    located = located or {}
    natural = []
    columns = []
    for column in COLUMNS:
        if column.title == NAME_COLUMN:
            cells = [labels.get(s.monitor_id, s.monitor_id) for s in rows]
        else:
            cells = [_cell(column, s, "", located) for s in rows]
        if column.optional and all(c == "-" for c in cells):
            continue  # monitors of kinds without these metrics: no column of dashes
        columns.append(column)
        wide = max([len(column.title) + HEADER_PADDING, *(len(c) for c in cells)])
        natural.append(min(wide, column.most) if column.most else wide)
    if width is None:
        return Layout(tuple(columns), tuple(natural), located)
    name = columns.index(next(c for c in columns if c.title == NAME_COLUMN))
    chosen = {name}
    # The names first get up to a quarter of the width: they are what the rows are about;
    # at 200 columns that still leaves room for every other column.
    reserved = min(natural[name], max(NAME_MIN, width // 4))
    used = reserved
    for index in sorted(range(len(columns)), key=lambda i: columns[i].priority):
        if index in chosen:
            continue
        if used + GAP + natural[index] <= width:
            chosen.add(index)
            used += GAP + natural[index]
    # The names' column takes what is left, up to its natural width.
    name_width = max(1, min(natural[name], width - (used - reserved)))
    keep = sorted(chosen)
    widths = tuple(name_width if i == name else natural[i] for i in keep)
    return Layout(tuple(columns[i] for i in keep), widths, located)
