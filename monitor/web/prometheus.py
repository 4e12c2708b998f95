"""`GET /metrics`: every monitor's state and latest result, and the monitor's own health, for
Prometheus (text format 0.0.4, or OpenMetrics 1.0 when the scraper asks for it).

Read from the store on each scrape, a few queries for all monitors at once: the monitors
with their state and last result (monitor_state, kept by the writer), the day's checks by
reason (the day's rollup and the 10-minute blocks since), the open alerts, the outbox.
Nothing is cached. Under `serve`, which runs beside the monitor, the monitor's pace is read
from the database as `-r`'s live view reads it (the checks stored in the past 10 s); under
`-m --web` from the running monitor itself, which also tells its writer's queue, lag and
dropped rows.

Every sample of a monitor is labelled by its `id` only (and its family's own label: state,
phase, reason); its name, kind and target are in one `uptime_monitor_info` sample each (the
id and target as stored: passwords and secret query values masked by the config), which
queries join on the id: `uptime_monitor_up * on(id) group_left(name, target)
uptime_monitor_info`. As kube-state-metrics and node_exporter do it: the series stay small,
and a renamed monitor keeps its series. The per-monitor families are written by
monitor.web.exposition; the server's own (a few dozen samples) by prometheus_client, which
also picks the format from the Accept header.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

from monitor import __version__
from monitor.checks.certs import METRIC as CERT_DAYS
from monitor.core.errors import StoreError
from monitor.engine.locations import quorum_of, several, verdict
from monitor.runtime import Runtime
from monitor.store.api import Reader
from monitor.store.summaries import MonitorSummary
from monitor.web.api.monitors import located
from monitor.web.auth import require
from monitor.web.context import EXTENSION, WebContext, current
from monitor.web.exposition import Family, render
from monitor.web.problems import Problem

bp = Blueprint("prometheus", __name__)

DAY = 86400
PHASES = ("dns", "connect", "tls", "ttfb", "total")  # the http kind's, in its order
# The states a monitor can be in, as the `state` label says them.
STATES = ("up", "warning", "down", "maintenance", "paused", "pending")
RECENT = 10.0  # seconds of stored checks the pace is read from under `serve` (as -r's)
QUANTILES = (0.5, 0.99)
# Above this many bytes an answer is compressed when the scraper accepts gzip (Prometheus
# does); level 1: most of the gain (tens of times smaller) for a small part of the time.
GZIP_ABOVE = 4096
GZIP_LEVEL = 1
_EXTENSION = "prometheus"  # the app's Pace, in app.extensions


@bp.get("/metrics")
@require("read")
def metrics() -> Response:
    """Every monitor's state and latest result, and the monitor's own health, for
    Prometheus (text format or OpenMetrics)."""
    context = current()
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    openmetrics = content_type.startswith("application/openmetrics-text")
    now = context.clock()
    paused = {m.id for m in context.config.monitors if m.paused}
    try:
        with _collector_held(), context.reader() as reader:
            body = _exposition(context, reader, now, paused, encoder, openmetrics)
    except StoreError as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None
    answer = Response(body, content_type=content_type)
    answer.vary.update(("Accept", "Accept-Encoding"))
    if len(body) > GZIP_ABOVE and "gzip" in request.headers.get("Accept-Encoding", ""):
        answer.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL))
        answer.headers["Content-Encoding"] = "gzip"
    return answer


def _exposition(context: WebContext, reader: Reader, now: float, paused: set[str],
                encoder: Callable[[Health], bytes], openmetrics: bool) -> bytes:
    """The scrape's text. A function of its own: its objects are gone when it returns,
    before the cycle collector is turned on again (it would pass over them all)."""
    open_alerts = reader.open_alerts()  # read once: the rules' verdicts and the alert family
    ids, families = monitor_families(reader, now, paused,
                                     _ruled(context, reader, open_alerts), open_alerts)
    own = encoder(Health(context, reader, now, _pace(context)))
    return "".join(render(families, ids, openmetrics)).encode() + own


def _ruled(context: WebContext, reader: Reader, open_alerts: Mapping[str, str],
           ) -> dict[str, str]:
    """Of the monitors checked from several locations: the alert rules' verdict on them
    (down, warning, up), by id; none where no location counts."""
    several_ = {m.id: m for m in context.config.monitors if several(m)}
    if not several_:
        return {}
    states = located(context, reader, list(several_.values()))
    open_ = set(open_alerts).intersection(states)  # as `alerting` finds them
    ruled = {monitor_id: verdict(found, quorum_of(several_[monitor_id]), monitor_id in open_)
             for monitor_id, found in states.items()}
    return {monitor_id: state for monitor_id, state in ruled.items() if state is not None}


@contextlib.contextmanager
def _collector_held() -> Iterator[None]:
    """Python's cycle collector held off during a scrape: at 5,000 monitors a scrape makes
    some 200,000 short-lived objects, none in a cycle, and the collector's passes over the
    process's objects took 15% of its CPU (bench.metrics). Turned on again after, unless it
    was off: a scrape running beside may turn it on before this one ends, which is harmless."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


# The per-monitor families: name, type, help, extra labels (beside id).
FAMILIES = {
    "info": ("uptime_monitor", "info",
             "1 for each monitor, with its name, kind and target (as stored: secrets masked);"
             " join on id for them: * on(id) group_left(name, target) uptime_monitor_info",
             ("kind", "name", "target")),
    "up": ("uptime_monitor_up", "gauge",
           "1 if the monitor's latest known check was up (warning included), 0 if down"),
    "state": ("uptime_monitor_state", "gauge",
              "1, with the monitor's state now in the state label: up, warning, down,"
              " maintenance, paused, or pending (no check yet)", ("state",)),
    "last": ("uptime_monitor_last_check_timestamp_seconds", "gauge",
             "When the monitor's latest check started (Unix time)"),
    "response": ("uptime_monitor_response_seconds", "gauge",
                 "The duration of the monitor's latest check"),
    "phase": ("uptime_monitor_phase_seconds", "gauge",
              "The phase times of the monitor's latest check (http: dns, connect, tls, ttfb,"
              " total; tcp and tls: those they have)", ("phase",)),
    "cert": ("uptime_monitor_certificate_days_left", "gauge",
             "Days until the certificate the latest check saw expires (tls, https)"),
    "checks": ("uptime_monitor_checks", "counter",
               "Checks since 00:00 UTC by reason (ok: up without a warning; failures,"
               " warnings, skipped slots, offline and maintenance by theirs); starts again"
               " at 0 each day", ("reason",)),
    "checks_up": ("uptime_monitor_checks_up", "counter",
                  "Checks up (warnings included) since 00:00 UTC; starts again at 0 each day"),
    "alert": ("uptime_monitor_alert_open", "gauge",
              "1 while the monitor has an alert open (raised, not yet recovered)"),
}
_UNKNOWN = ("offline", "maintenance")  # reasons of unknown rows: not checks of the monitor
# Each label value's tuple made once, not once per sample: some 30,000 fewer objects made
# in a scrape (the phases' samples were made in half the time), and found at once when
# written.
_ONE = {value: (value,) for value in (*STATES, *PHASES, "ok")}
_OK = _ONE["ok"]


def monitor_families(reader: Reader, now: float, paused: Iterable[str] = (),
                     ruled: Mapping[str, str] | None = None,
                     open_alerts: Mapping[str, str] | None = None,
                     ) -> tuple[list[str], list[Family]]:
    """The id of each monitor (in the config's order) and the per-monitor families.
    `ruled`: of monitors checked from several locations, the rules' verdict (their state
    and `up`, unless paused, in maintenance or never checked).
    A comprehension per family: at 5,000 monitors this loop is a good part of a scrape."""
    rows = list(enumerate(s for s in reader.monitor_summaries() if s.active))
    counts = reader.day_counts(int(now // DAY) * DAY)
    if open_alerts is None:
        open_alerts = reader.open_alerts()
    paused = set(paused)
    made = {key: Family(*spec) for key, spec in FAMILIES.items()}  # type: ignore[arg-type]
    made["info"].samples = [(i, (s.kind, s.name, s.target), 1.0) for i, s in rows]
    ruled = ruled or {}
    made["state"].samples = [(i, _ONE[_state(s, s.id in paused, ruled)], 1.0) for i, s in rows]
    # A paused monitor's latest result is history, not its state: only the state says it.
    checked = [(i, s) for i, s in rows if s.last_check is not None and s.id not in paused]
    made["up"].samples = [(i, (), 0.0 if ruled.get(s.id, "down" if s.down_since is not None
                                                   else "up") == "down" else 1.0)
                          for i, s in checked if s.last_available is not None]
    made["last"].samples = [(i, (), s.last_check) for i, s in checked
                            if s.last_check is not None]  # (for mypy: it is)
    made["response"].samples = [(i, (), s.last_response / 1000.0)
                                for i, s in checked if s.last_response is not None]
    measured = [(i, s.last_metrics) for i, s in checked if s.last_metrics]
    made["phase"].samples = [(i, _ONE[name], m[name] / 1000.0)
                             for i, m in measured for name in PHASES if name in m]
    made["cert"].samples = [(i, (), float(m[CERT_DAYS])) for i, m in measured
                            if CERT_DAYS in m]
    made["alert"].samples = [(i, (), 1.0 if s.id in open_alerts else 0.0) for i, s in rows]
    today = [(i, found) for i, s in rows if (found := counts.get(s.id)) is not None]
    made["checks_up"].samples = [(i, (), float(found.up)) for i, found in today]
    checks = made["checks"].samples
    for i, found in today:
        if not found.reasons:  # most monitors: every check ok
            checks.append((i, _OK, float(found.checks)))
            continue
        reasons = _by_reason(found.reasons)
        reasons["ok"] = max(0, found.checks - sum(
            n for reason, n in reasons.items() if reason not in _UNKNOWN))
        checks += [(i, (reason,), float(reasons[reason])) for reason in sorted(reasons)]
    return [s.id for _, s in rows], list(made.values())


def state_of(summary: MonitorSummary, paused: bool) -> str:
    """The monitor's state now, as the `state` label says it (STATES)."""
    if paused:
        return "paused"
    if summary.maintenance is not None:
        return "maintenance"
    if summary.last_available is None:
        return "pending"
    if summary.down_since is not None:
        return "down"
    return "warning" if summary.warning is not None else "up"


def _state(summary: MonitorSummary, paused: bool, ruled: Mapping[str, str]) -> str:
    """`state_of`, with the rules' verdict for a monitor of several locations."""
    own = state_of(summary, paused)
    return ruled.get(summary.id, own) if own in ("up", "warning", "down") else own


def _by_reason(stored: dict[str, int]) -> dict[str, int]:
    """Rows by reason as website_monitoring's column has them (a warning's reason is stored
    after a "~" in the aggregates, to count it apart from failures)."""
    found: dict[str, int] = {}
    for reason, count in stored.items():
        reason = reason.removeprefix("~")
        found[reason] = found.get(reason, 0) + count
    return found


class Pace:
    """Checks per second under `-m --web`, from the running monitor's count of checks done:
    against the latest earlier scrape at least MIN_SPAN ago (first: the server's start)."""

    MIN_SPAN = 1.0
    # Scrapes remembered, MIN_SPAN apart at least: however often scrapers ask, the latest
    # sample old enough is kept.
    KEEP = 32

    def __init__(self, done: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._done = done
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: deque[tuple[float, int]] = deque([(clock(), done())], maxlen=self.KEEP)

    def rate(self) -> float | None:
        now, done = self._clock(), self._done()
        with self._lock:
            base = next(((at, count) for at, count in reversed(self._seen)
                         if now - at >= self.MIN_SPAN), None)
            if now - self._seen[-1][0] >= self.MIN_SPAN:
                self._seen.append((now, done))
        if base is None:
            return None
        return (done - base[1]) / (now - base[0])


@bp.record_once
def _start_pace(state: BlueprintSetupState) -> None:
    """Under `-m --web`, the pace counts from the server's start: the first scrape has one."""
    context: WebContext = state.app.extensions[EXTENSION]
    runtime = context.runtime
    if runtime is not None:
        state.app.extensions[_EXTENSION] = Pace(lambda: runtime.checks_done)


def _pace(context: WebContext) -> Pace | None:
    runtime = context.runtime
    if runtime is None:
        return None
    extensions = current_app.extensions
    with _PACE_LOCK:
        pace = extensions.get(_EXTENSION)
        if pace is None:  # a runtime given to the context after the app was made
            pace = extensions[_EXTENSION] = Pace(lambda: runtime.checks_done)
    return pace


_PACE_LOCK = threading.Lock()


class Health:
    """The monitor's own figures, a prometheus_client collector for one scrape: its pace,
    lateness, how far behind its writer is, and the notifications waiting; the server
    process's CPU and memory (prometheus_client's process collector)."""

    def __init__(self, context: WebContext, reader: Reader, now: float,
                 pace: Pace | None) -> None:
        self._context = context
        self._reader = reader
        self._now = now
        self._pace = pace

    def collect(self) -> Iterator[Metric]:
        runtime = self._context.runtime
        mode = "serve" if runtime is None else "monitor"
        info = GaugeMetricFamily("uptime_info", "The server: its version, and whether it runs"
                                 " in the monitor (monitor) or beside it (serve)",
                                 labels=("mode", "version"))
        info.add_metric((mode, __version__), 1.0)
        yield info
        rate: float | None
        if runtime is None:
            lateness, newest = self._reader.recent_lateness(self._now - RECENT)
            rate = len(lateness) / RECENT
        else:
            rate = self._pace.rate() if self._pace is not None else None
            lateness = list(runtime.engine.recent_lateness)
            newest = self._reader.last_check_time()
        yield from _gauge("uptime_checks_per_second", "Checks a second: under serve, those"
                          f" stored in the past {RECENT:g} s; under -m --web, those the"
                          " monitor ran since the previous scrape", rate)
        late = GaugeMetricFamily("uptime_check_lateness_seconds", "How late the recent checks"
                                 " started after their schedule (quantiles of the past"
                                 f" {RECENT:g} s under serve, of the latest 4096 checks under"
                                 " -m --web)", labels=("quantile",))
        ordered = sorted(lateness)
        for q in QUANTILES:
            if ordered:
                late.add_metric((str(q),), ordered[min(len(ordered) - 1,
                                                       int(len(ordered) * q))] / 1000.0)
        yield late
        yield from _gauge("uptime_newest_check_age_seconds", "Seconds since the newest stored"
                          " check started", None if newest is None else
                          max(0.0, self._now - newest))
        waiting = GaugeMetricFamily("uptime_notifications_waiting", "Notifications neither"
                                    " sent nor given up, by provider", labels=("provider",))
        for provider, count in sorted(self._reader.notifications_waiting().items()):
            waiting.add_metric((provider,), float(count))
        yield waiting
        if runtime is not None:
            yield from _runtime(runtime)
        yield from ProcessCollector(registry=None).collect()


def _runtime(runtime: Runtime) -> Iterator[Metric]:
    """What only the running monitor knows: its count of checks, its writer's queue."""
    store = runtime.store
    done = CounterMetricFamily("uptime_checks_run", "Checks run by this monitor since it"
                               " started")
    done.add_metric((), float(runtime.checks_done))
    yield done
    left, written = store.left(), store.written
    queue = GaugeMetricFamily("uptime_writer_queue_rows", "Rows queued for the database"
                              " writer and not yet written", labels=("table",))
    rows = CounterMetricFamily("uptime_rows_written", "Rows written to the database since"
                               " the monitor started", labels=("table",))
    for table, queued, done_rows in (("checks", left.checks, written.checks),
                                     ("alerts", left.alerts, written.alerts)):
        queue.add_metric((table,), float(queued))
        rows.add_metric((table,), float(done_rows))
    yield queue
    yield rows
    yield from _gauge("uptime_writer_lag_seconds", "How long the oldest row not yet written"
                      " has waited", store.lag())
    dropped = CounterMetricFamily("uptime_rows_dropped", "Checks dropped since the monitor"
                                  " started (the writer too far behind, or rows the database"
                                  " cannot take)")
    dropped.add_metric((), float(store.dropped))
    yield dropped


def _gauge(name: str, documentation: str, value: float | None) -> Iterator[Metric]:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric((), value)
    yield family

