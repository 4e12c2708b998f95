"""The store's interface, apart from any database: what the writer is sent (typed
commands), what readers return, and the Reader protocol that the engine, the stats, the
reports and the self-test call. A SQLite implementation is in monitor.store.sqlite; another
database would implement the same."""

from __future__ import annotations

import calendar
import math
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from monitor.core.model import CheckResult
from monitor.core.push import Latest, Push

if TYPE_CHECKING:
    from monitor.metrics.paths import Pattern
    from monitor.store.dashboard import Dashboard
    from monitor.store.events import Position, Tail
    from monitor.store.figures import Figures
    from monitor.store.history import AlertEntry, CheckPage
    from monitor.store.located import LocatedChecks
    from monitor.store.scrape import DayCounts
    from monitor.store.summaries import MonitorSummary, TrendRow, UptimeDays

# The aggregate levels: seconds per row.
SPANS = (60, 600)


# In a Delivery's title and body, replaced by the outbox key when the row is written: a
# control character no template or message can hold (the config refuses them there).
KEY_FIELD = "\x00key\x00"


class Rows(NamedTuple):
    """A count of rows by what they hold: written, purged, left to write, not written."""

    checks: int = 0
    alerts: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification to send about an alert row: to one provider (by its name: its URL,
    a secret, is never stored), with its rendered title and body (KEY_FIELD in them
    becomes the outbox key)."""

    provider: str
    event: str  # "alert", "recovery", "warning", "reminder"
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert or recovery of a monitor, as stored; its `deliveries` go to the outbox in
    the same transaction."""

    timestamp: str
    monitor_id: str
    type: str
    start: str
    end: str | None
    availability: float
    message: str
    id: int | None = None
    event: object = field(default=None, compare=False, repr=False)  # handed to on_alert
    deliveries: tuple[Delivery, ...] = ()
    # What the row's `host` says, when it is not a configured monitor's target (an agent's
    # alerts: "agent eu-1 (eu)"); None: the monitor's target as the store knows it.
    host: str | None = None


@dataclass(frozen=True, slots=True)
class MonitorRow:
    """What the store keeps of a configured monitor: `target` (masked, as shown) is stored
    as each check's `host`, the id as its `monitor`."""

    id: str
    kind: str
    target: str
    name: str = ""
    interval: float = 0.0


# -- commands to the writer: a check is sent as its CheckResult, an alert as AlertRecord --

@dataclass(frozen=True, slots=True)
class SetMonitors:
    """The monitors configured now; those not in it are marked inactive."""

    monitors: tuple[MonitorRow, ...]


@dataclass(frozen=True, slots=True)
class Purge:
    """Delete checks, aggregates and alerts older than `before` (each monitor's latest alert
    rows stay: the state a restart restores), in short transactions readers get between;
    aggregates of a span in `tiers` older than its cutoff there instead (None: kept)."""

    before: float  # epoch seconds
    tiers: tuple[tuple[int, float | None], ...] = ()  # (span, before)


@dataclass(frozen=True, slots=True, eq=False)
class Flush:
    """A barrier: set once everything queued before it is written (`written`) or held."""

    done: threading.Event = field(default_factory=threading.Event)
    written: list[bool] = field(default_factory=lambda: [False])
    # False: written now if the disk takes it, but rows held by a refusing disk are not
    # retried before their time (a sender's per-message flush must not retry them all).
    urgent: bool = True


@dataclass(frozen=True, slots=True)
class Stop:
    """The last command: write what is queued, then end the writer."""


@dataclass(frozen=True, slots=True)
class DeliveryDone:
    """How one attempt at an outbox row went: sent (`error` None), to be tried again at
    `retry_at` (epoch seconds), or failed for good (`retry_at` None)."""

    id: int  # the outbox row
    at: float  # epoch seconds
    error: str | None = None  # without secrets: stored and shown by -a
    retry_at: float | None = None
    attempted: bool = True  # False: given up unsent (expired), no attempt counted


@dataclass(frozen=True, slots=True)
class SetMaintenance:
    """Put a monitor in maintenance from `since` until `until` (None: until taken out), or
    take it out (`since` None)."""

    monitor_id: str
    since: float | None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class RecordPush:
    """A push to a push monitor, as the web server received it (monitor.core.push): its
    `message` is the job's text, bounded, without secrets."""

    monitor_id: str
    timestamp: float  # epoch seconds
    event: str  # "ping", "start" or "fail"
    status: str | None = None  # "up", "down", or None: not said
    message: str = ""
    value: float | None = None


@dataclass(frozen=True, slots=True)
class RecordSeries:
    """Values pushed to metric series, as the web server took them: (path, timestamp,
    value) each, the path valid (monitor.metrics.paths), the value finite. A series is
    created on its first value."""

    points: tuple[tuple[str, float, float], ...]


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledge an open alert (its 'alert' row): no reminders for it. The first ack of
    an alert stays."""

    alert: int  # website_alerts.id
    monitor_id: str
    at: float  # epoch seconds
    by: str  # an API token's name, or "local"


@dataclass(frozen=True, slots=True)
class AgentMark:
    """What an agent's batch of checks says of where its sender stands: the agent `name`,
    its `instance` (the uuid of its local database), `upto` (the highest local row id of
    the batch) and the agent's `location`. Written in the same transaction as the batch's
    rows (table `agents`, upto = max(stored, upto)), so that a crash can never leave rows
    without their mark nor the reverse.

    `ids`, when given, is each row's local id, in the rows' order (increasing): the writer
    then skips, in that transaction, every row whose id is <= the stored upto, so that two
    posts of overlapping rows racing each other store nothing twice. Without `ids`, a batch
    whose upto is <= the stored one is skipped whole (a resend of the same batch)."""

    name: str
    instance: str
    upto: int
    location: str
    ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentSeen:
    """A request of the agent `name` heard by this process `at` (epoch seconds): the
    table `agent_seen` keeps per agent the latest heard by any process sharing the
    database (seen = max(seen, at)), what the one process that judges agents reads."""

    name: str
    location: str
    at: float


class CheckBatch(list[CheckResult]):
    """Checks handed over together, in order (`put_checks`): one command in the queue.
    With a `mark` (an agent's batch), written whole in one transaction with the mark; a
    batch with a mark and no rows writes the mark alone."""

    def __init__(self, rows: Iterable[CheckResult] = (), mark: AgentMark | None = None,
                 ) -> None:
        super().__init__(rows)
        self.mark = mark


Command = (CheckResult | CheckBatch | AlertRecord | SetMonitors | Purge | Flush | Stop
           | DeliveryDone | SetMaintenance | RecordPush | RecordSeries | Ack | AgentSeen)


# -- what readers return -------------------------------------------------------------------

class Range(NamedTuple):
    """Aggregate rows of `span` seconds with lo <= start < hi."""

    span: int
    lo: int
    hi: int


class RawPiece(NamedTuple):
    """Raw checks with lo <= timestamp < hi (<= hi when `closed`)."""

    lo: float
    hi: float
    closed: bool


class WindowRow(NamedTuple):
    """One monitor's summed aggregates over a window's pieces. The texts are bytes: numpy
    parses bytes as well, and decoding megabytes of them into str cost as much as the read."""

    monitor_id: str
    checks: int
    up: int
    rt_count: int
    rt_sum: float
    rt_min: float | None
    rt_max: float | None
    hist: bytes | None  # codec histogram entries
    outcomes: bytes | None  # "code:count,...,reason:count"


class WindowTotal(NamedTuple):
    """One monitor's counts over a window and its state now: what a summary of many
    monitors needs, without the texts (histograms, outcomes) that cost most to read."""

    monitor_id: str
    checks: int
    up: int
    rt_count: int
    rt_sum: float
    rt_max: float | None
    last_failure: float | None
    down_since: float | None
    warning: bool  # warning now
    maintenance: bool  # in maintenance now
    rt_min: float | None = None


class WindowSummary(NamedTuple):
    """Many monitors over one window, in one read: their counts summed by state (the view's
    names: down, warning, unstable, up, maintenance, idle) as (monitors, checks, up,
    timed checks, their response times' sum, monitors with a failure, monitors timed),
    and the few that a summary lists."""

    counts: dict[str, tuple[int, int, int, int, float, int, int]]
    down: list[WindowTotal]  # down now (not in maintenance), longest down first
    lowest: list[WindowTotal]  # warning or unstable with failures: lowest availability first
    slowest: list[WindowTotal]  # not down, in maintenance or idle, timed: highest max first
    worst: list[WindowTotal]  # every state, worst first: the view's order
    special: list[WindowTotal]  # down, warning or in maintenance when read: every one
    # (last_failure is read for those only: the others' is None)


class MetricRow(NamedTuple):
    """One metric of one monitor summed over a window's pieces."""

    monitor_id: str
    metric: str
    samples: int  # not `count`: a named tuple's own method
    total: float
    low: float | None
    high: float | None
    hist: bytes | None


class MetricSums(NamedTuple):
    """One monitor's metrics summed over stored ranges (the access-logs page's figures):
    each metric's (values, sum), and one metric's (values, sum) per step start."""

    totals: dict[str, tuple[int, float]]
    steps: dict[int, tuple[int, float]]


class OutboxRow(NamedTuple):
    """A notification waiting to be sent (or sent again)."""

    id: int
    key: str  # "<alert id>:<provider>": the same for every attempt, across restarts
    alert: int  # the website_alerts row
    provider: str
    event: str
    title: str
    body: str
    created: float  # epoch seconds
    attempts: int
    error: str | None = None  # the last attempt's, if any


class DeliveryState(NamedTuple):
    """Where a notification of an alert row stands, for -a."""

    provider: str
    state: str  # "sent", "pending", "failed"
    attempts: int
    error: str | None


class AlertRow(NamedTuple):
    """A monitor's latest stored row of a group of types, for the alert state a restart
    restores."""

    id: int
    type: str
    start: str  # ISO-8601, as stored
    timestamp: str
    message: str = ""


class MonitorInfo(NamedTuple):
    id: str
    kind: str
    target: str
    name: str


class SeriesInfo(NamedTuple):
    """A metric series: its first and latest value's time (epoch seconds), its latest."""

    id: int
    path: str
    first: float
    last: float
    last_value: float | None


class SeriesNode(NamedTuple):
    """A child in the metrics tree: its segment, its path, how many series are at or below
    it, and whether it is a series itself."""

    name: str
    path: str
    series: int
    leaf: bool


class Reader(Protocol):
    """Read-only queries, for one reading thread."""

    def close(self) -> None: ...

    def checks_after(self, when: float) -> bool:
        """Whether any check is stored after `when` (a window ending at `when` is not live)."""

    def blocks_since(self) -> float:
        """The first 10-minute block (a number of 600 s) the writer filled whole."""

    def window_rows(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                    only: Sequence[str] | None = None) -> list[WindowRow]:
        """Per monitor (of `only`, if given), in id order, the sums of the aggregate ranges
        and raw pieces."""

    def metric_rows(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                    only: Sequence[str] | None = None) -> list[MetricRow]:
        """Per monitor (of `only`, if given) and metric, the sums of the metric aggregates
        and raw pieces."""

    def window_totals(self, ranges: Sequence[Range], raws: Sequence[RawPiece],
                      ) -> list[WindowTotal]:
        """The counts of the aggregate ranges and raw pieces, and the state now, of every
        monitor the writing process configured, in its order (every monitor with
        aggregates, by id, when it listed none): one read for all, however many."""

    def window_summaries(self, windows: Sequence[Sequence[Range]], each: int, slowest: int,
                         worst: int, special: bool = False) -> list[WindowSummary]:
        """For each window (its aggregate ranges: no raw piece), the summary of every
        monitor the writing process configured (every monitor with aggregates when it
        listed none): `each` down and lowest, `slowest` highest maxima, the `worst`
        first, and with `special` every one down, warning or in maintenance. One pass
        over the monitors for all the windows."""

    def monitor_states(self, only: Sequence[str] | None = None,
                       ) -> dict[str, tuple[float | None, float | None]]:
        """Each monitor's (last failure, down since), as the writer keeps them; of `only`
        (a few of many), if given."""

    def monitors_of(self, monitor_ids: Sequence[str]) -> list[MonitorInfo]:
        """The monitors of `monitor_ids` the writing process configured or had, in their
        order: the labels of a few rows shown of many."""

    def down_now(self) -> dict[str, float]:
        """Each monitor down now -> since when."""

    def warnings(self) -> dict[str, str]:
        """Each monitor warning now: "reason: detail"."""

    def in_maintenance(self) -> dict[str, float]:
        """Each monitor whose latest check was made in maintenance -> since when."""

    def ever_up(self) -> set[str]:
        """The monitors with a check up recorded, however long ago."""

    def active_monitors(self) -> list[MonitorInfo]:
        """The monitors the writing process has configured, in their order."""

    def alerts_after(self, after_id: int = 0, limit: int | None = None,
                     ) -> list[tuple[int, str]]:
        """(id, message) of alerts and recoveries after `after_id`, oldest first; with
        `limit`, the latest that many."""

    def alert_types(self, monitor_id: str) -> list[str]:
        """The types ('alert', 'recovery') of a monitor's stored alerts, oldest first."""

    def recent_lateness(self, since: float) -> tuple[list[float], float | None]:
        """The lateness (ms) of this machine's checks (agents' aside) since `since`
        (skipped slots aside), and the time of the newest stored check."""

    def last_check_time(self, other_clocks: Collection[str] = ()) -> float | None:
        """The timestamp of the check written last (by insertion, not by date), of a
        monitor of none of the kinds `other_clocks` (kinds whose results are dated by
        another clock than this machine's: an access log's lines), made here (an agent's
        are dated by its machine's clock)."""

    def failure_causes(self, since: float, until: float, location: str | None = None,
                       ) -> dict[str, tuple[str, str]]:
        """Each monitor's latest failed check in [since, until] (skipped slots aside):
        (reason, detail); of one `location`'s checks, if given."""

    def recent_verdicts(self, since: float, until: float, location: str | None = None,
                        ) -> dict[str, list[tuple[float, bool]]]:
        """Each monitor's (timestamp, up) of known checks in [since, until], by time, from
        after its latest check in maintenance; of one `location`'s checks, if given."""

    def open_alerts(self) -> dict[str, str]:
        """Each monitor with an alert open (its latest alert, reminder or recovery row is
        not a recovery) -> the alert's start."""

    def latest_alerts(self, monitor_id: str, limit: int) -> list[tuple[str, str, str]]:
        """A monitor's latest `limit` alert rows, oldest first: (type, start, message)."""

    def latest_alert_rows(self) -> dict[str, dict[str, AlertRow]]:
        """Each monitor's latest row of each group: "alert" (alert, reminder, recovery),
        "warning" (warning, cleared), "flapping" (flapping, settled)."""

    def maintenance(self) -> dict[str, tuple[float, float | None]]:
        """The monitors put in maintenance from the command line: id -> (since, until)."""

    def pending_deliveries(self, provider: str, now: float, limit: int = 100,
                           ) -> list[OutboxRow]:
        """The provider's notifications neither sent nor failed whose time has come
        (`retry_at` <= now, or never tried), oldest first, up to the first that waits for
        its retry: a later one is never due before an earlier one."""

    def deliveries(self, alert_ids: Sequence[int]) -> dict[int, list[DeliveryState]]:
        """Each alert row's notifications, by provider name."""

    def rolled_until(self) -> float:
        """Every hour before this is in the hour tier of the aggregates, every day before
        it rounded down to a day in the day tier (0: none yet; store.tiers)."""

    def monitor_summaries(self, monitor_ids: Collection[str] | None = None,
                          ) -> list[MonitorSummary]:
        """Every monitor of the list (configured now or once; or those of `monitor_ids`),
        in its order, with its state and last result: one query."""

    def uptime_by_day(self, monitor_ids: Collection[str] | None, days: int, now: float,
                      ) -> dict[str, UptimeDays]:
        """Each monitor's (None: every one's) checks and checks up of each of the last
        `days` UTC days up to `now`, oldest first, from the rollups."""

    def uptime_totals(self, monitor_ids: Collection[str] | None, days: int, now: float,
                      ) -> dict[str, tuple[int, int]]:
        """Each monitor's (checks, checks up) over the last `days` UTC days: the sums of
        uptime_by_day's, without its lists of days."""

    def trend_rows(self, monitor_id: str, ranges: Sequence[Range], step: int,
                   metric: str | None = None) -> list[TrendRow]:
        """A monitor's aggregate rows of `ranges` summed by bucket of `step` seconds:
        response times, or a metric's values (stats.trend plans and computes)."""

    def pushes_after(self, after_id: int, monitor_id: str | None = None,
                     limit: int = 1000) -> list[Push]:
        """The pushes after `after_id`, oldest first, at most `limit`: of one monitor, or
        of all."""

    def latest_pushes(self, monitor_ids: Collection[str], upto: int | None = None,
                      ) -> dict[str, Latest]:
        """Each monitor's latest run end (ping or fail) and latest start, of the pushes
        up to id `upto` (None: all); monitors with no push are left out."""

    def last_push_id(self) -> int:
        """The id of the newest push, 0 when there is none."""

    def event_span(self) -> tuple[int, Position]:
        """The oldest stored check's id and the newest check's and alert's (0: none)."""

    def events_after(self, start: Position, upto: Position | None, limit: int) -> Tail:
        """The checks and alerts after `start` (up to `upto`), oldest first, at most
        `limit` of each, in one snapshot: a range of ids, whatever the tables' size."""

    def event_states(self) -> tuple[Position, dict[str, str]]:
        """The newest position and each monitor's known state then ("up", "warning",
        "down"; unknown checks leave it), in one snapshot."""

    def series_matching(self, pattern: Pattern, limit: int) -> list[SeriesInfo]:
        """The metric series whose path `pattern` matches, by path, at most `limit`."""

    def series_tree(self, prefix: str, limit: int) -> list[SeriesNode]:
        """The children of `prefix` in the metrics tree ("" for the top), by name, at most
        `limit`."""

    def series_info(self, path: str) -> SeriesInfo | None:
        """The metric series of this path, if there is one."""

    def series_steps(self, ids: Sequence[int], first: int, last: int, step: int,
                     now: float) -> dict[int, dict[int, Figures]]:
        """Per series id, the figures of each step in [first, last) that has values (step
        n starts at n * step): from the rollups, and the raw points of the minutes not yet
        rolled up at `now`."""

    def series_window(self, series_id: int, since: float, until: float) -> Figures:
        """A series' raw points in [since, until], summed."""

    def series_raw_count(self, ids: Sequence[int], since: float, until: float) -> int:
        """How many raw points of these series lie in [since, until) (from the index)."""

    def checks_page(self, monitor_id: str, since: float, until: float,
                    limit: int, location: str | None = None) -> CheckPage:
        """The monitor's checks with since <= timestamp < until, newest first, at most
        `limit`, a bounded read (monitor.store.history.SCAN_ROWS); of one `location`
        ("local" or an agent's), if given. Each carries its location."""

    def agent_marks(self) -> dict[tuple[str, str], int]:
        """(agent name, instance) -> upto: the highest local row id of that agent's
        database stored, 0 for none (absent from the dict)."""

    def agents_seen(self) -> dict[str, float]:
        """Agent name -> the latest request of it any process sharing the database heard
        (epoch seconds); an agent never heard is absent."""

    def knows_monitor(self, monitor_id: str) -> bool:
        """Whether the monitor is in the database's list (configured now or once)."""

    def alert_entries(self, monitor_id: str | None, kind: str | None, after: int,
                      before: int | None, limit: int) -> list[AlertEntry]:
        """Alert rows with after < id < before, newest first (with `after`, the `limit`
        just after it), with whether open and their ack."""

    def alert_entry(self, alert_id: int) -> AlertEntry | None:
        """One alert row, with whether open and its ack."""

    def acked_starts(self, monitor_ids: Collection[str]) -> dict[str, set[str]]:
        """Each monitor's acknowledged alerts, by their start as stored."""

    def day_counts(self, day: int) -> dict[str, DayCounts]:
        """Each monitor's checks from `day` (the start of a UTC day) on, by reason."""

    def notifications_waiting(self) -> dict[str, int]:
        """Provider -> its notifications neither sent nor given up."""

    def metric_sums(self, monitor_id: str, ranges: Sequence[Range], step: int,
                    metric: str) -> MetricSums:
        """The monitor's metrics summed over the aggregate rows of `ranges`, and `metric`
        per `step` (a multiple of the ranges' spans)."""

    def dashboard(self, starts: Sequence[int], end: float) -> Dashboard:
        """Every monitor with its state, its (checks, up) over each window [start, end]
        (starts on minutes: the stats' figures), sparkline and last failure, and the event
        position then, in one snapshot (the dashboard's one read)."""

    def located_checks(self, monitor_ids: Collection[str], since: float, until: float,
                       scan: int = ...) -> LocatedChecks:
        """The checks of these monitors with since <= timestamp <= until, by time, each
        with its location; a bounded read of at most about `scan` rows of the table
        (default monitor.store.located.LOCATED_SCAN_ROWS), whose `since` says from when
        they are all there."""


def iso_utc(epoch: float) -> str:
    """UTC time as ISO-8601 with milliseconds and Z: fixed width, so text order is time order."""
    seconds = math.floor(epoch)  # not int(): before 1970 that would leave negative millis
    millis = int(round((epoch - seconds) * 1000))
    if millis == 1000:
        seconds, millis = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_iso(text: str) -> float:
    """Inverse of iso_utc."""
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (int(frac) / 10 ** len(frac) if frac else 0.0)
