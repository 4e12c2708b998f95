"""The monitoring pipeline: config -> scheduler -> workers -> checks -> store and alerts.

`Engine` is what `-m` and `-t` run. It owns no printing: alert events go to hooks (the CLI
prints them; notifications will plug in the same way) and stats are read back from the
database by the report.

Hooks run on an announcer thread, fed by the writer once an alert's batch has been written
(or, on a full disk, kept in memory for a later write): an alert is never announced before
it is on its way to disk, and a slow hook (a paused terminal, a notification service)
never holds up the writing. So a crash can lose the announcement of an alert (a restart
then raises it again, because the checks that caused it are stored first) but never
announce one twice.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from monitor.alerts import AlertEvaluator, AlertEvent, Restored, history_span, routing
from monitor.alerts.messages import note, subject
from monitor.checks import registry
from monitor.checks.watchdog import Watchdog
from monitor.config import Config
from monitor.core.kind import WatchEvent, WatchState
from monitor.core.model import LOCAL, CheckResult, Monitor
from monitor.core.timefmt import format_duration, format_time
from monitor.engine.acks import acknowledged
from monitor.engine.pushes import PushReader
from monitor.engine.remote import Key, Marks, Received, RemoteRefused
from monitor.engine.series import SeriesReader
from monitor.maintenance import Maintenance
from monitor.run.canary import Canary
from monitor.run.probes import LocalProbes, ProbeProcesses, probe_count
from monitor.run.watches import Watches, judged, scheduled, watched
from monitor.store.api import AgentMark, AlertRecord, Reader, iso_utc, parse_iso
from monitor.store.open import AnyStore as Store
from monitor.store.open import max_queued, open_reader

AlertHook = Callable[[AlertEvent], None]
PURGE_EVERY = 3600.0
WATCH_ROWS = 20  # the latest alert rows a new watch of a monitor is told
# How long an agent's post waits for its rows to be on disk before it is answered 503 (it
# is sent again: what was committed meanwhile is then a duplicate, skipped).
REMOTE_FLUSH_WAIT = 10.0


class Engine:
    def __init__(self, config: Config, store: Store, *,
                 wall_clock: Callable[[], float] = time.time,
                 on_error: Callable[[str], None] | None = None,
                 on_status: Callable[[str], None] | None = None,
                 records_monitors: bool = True) -> None:
        self.config = config
        self.store = store
        # False beside the monitor that owns the database (`logs`): the database's list
        # of monitors is the owner's, not to be marked inactive by this engine's.
        self._records_monitors = records_monitors
        self._on_status = on_status or (lambda message: None)
        self.canary: Canary | None = None
        store.on_alert = self._announce
        self.hooks: list[AlertHook] = []
        self._wall = wall_clock
        self._on_error = on_error or (lambda message: None)
        self.alerts = AlertEvaluator(clock=wall_clock)
        self._network_reasons: dict[str, frozenset[str]] = {}
        self._monitors: dict[str, Monitor] = {}
        # Config windows and the set from the command line: which checks are marked.
        self.maintenance = Maintenance(clock=wall_clock)
        # Watched monitors' latest alert rows (type, start, message), and those watched
        # before: what a new watch of them is told.
        self._watch_rows: dict[str, deque[tuple[str, float, str]]] = {}
        self._watch_resumed: set[str] = set()
        self._reader: Reader | None = None  # the main loop's, for poll_maintenance
        self.probes: LocalProbes | ProbeProcesses | None = None
        # Monitors that watch a source as it comes (access logs), beside the checks.
        self.watches = Watches(self._record_batch, self._watch_event, self._on_error,
                               wall=wall_clock, quiet=self._quiet,
                               on_note=self._on_status)
        # What the web server received for push monitors, read for their watches.
        self.pushes = PushReader(lambda: open_reader(store))
        # And the metric series, for metric monitors' watches.
        self.series = SeriesReader(lambda: open_reader(store))
        self.watchdog: Watchdog | None = None
        self._announcements: queue.SimpleQueue[AlertEvent | None] = queue.SimpleQueue()
        self._announcer: threading.Thread | None = None
        self._last_purge = 0.0
        self.checks_done = 0  # checks that ran and were recorded
        self.slots_skipped = 0  # rows recorded for the slots they made skip
        self.slots_shed = 0  # slots skipped before their check could begin: overload
        self._count_lock = threading.Lock()
        # Holds a check's store-and-evaluate together, so that its alert is queued behind
        # it and before the next check's: the database always holds a prefix of events.
        self._order_lock = threading.Lock()
        self.lateness_ms: deque[float] = deque(maxlen=1_000_000)  # recent samples, for bench
        # The agents' batches: what each (agent, instance) has stored so far.
        self._marks = Marks(lambda: open_reader(store))
        self.remote_done = 0  # results of agents recorded (not this process's checks)
        self.keep_lateness = False
        self.recent_lateness: deque[float] = deque(maxlen=4096)  # for the live view's header

    # -- life cycle ---------------------------------------------------------------
    def _configure(self, config: Config) -> None:
        kinds = {m.id: registry.find(m.kind) for m in config.monitors}
        self._network_reasons = {key: kind.network_reasons for key, kind in kinds.items()
                                 if kind is not None and kind.network}
        # The watched monitors raise their own alerts (access logs), unless judged (push).
        self.alerts.configure(judged(config.monitors))
        self._monitors = {m.id: m for m in config.monitors}
        self.maintenance.configure(config.monitors)

    def restore(self) -> Engine:
        """Ready the config's alert rules and watches, their state read back from the
        database (what a restart knows): what `start` does before it starts anything. A
        test or a tool that hands the engine results itself (`record`, `watches.poll_all`)
        calls this instead of `start`."""
        self._configure(self.config)
        if self.config.monitors:  # beside the monitor (`logs`): nothing to read back
            self._restore_alert_state()
        self.watches.set(self.config.monitors, self._watch_state)
        return self

    def start(self) -> Engine:
        self.restore()
        if self._records_monitors:
            self.store.set_monitors(self.config.monitors)
        self.store.start()
        self._announcer = threading.Thread(target=self._announce_loop, name="announcer",
                                           daemon=True)
        self._announcer.start()
        self.watchdog = Watchdog()
        self._set_canary(self.config.canary)
        self.probes = self._make_probes(self.config)
        self.probes.start(scheduled(local(self.config.monitors)), self.config.max_workers,
                          self.config.max_in_flight)
        self.watches.start()
        self.maybe_purge()
        return self

    def _make_probes(self, config: Config) -> LocalProbes | ProbeProcesses:
        count = probe_count(config)
        if count == 1:
            return LocalProbes(self.record, self._on_error, self.watchdog,  # type: ignore[arg-type]
                               self._wall, on_results=self._record_batch)
        return ProbeProcesses(count, self._record_batch, self._on_error)

    def stop(self, timeout: float = 1.5, force: threading.Event | None = None,
             progress: Callable[[str], None] | None = None) -> None:
        """Stop dispatching, cut checks in flight short, commit all that is queued (however
        long it takes, saying so through `progress`, unless `force` is set)."""
        self.watches.stop()
        self.pushes.shutdown()
        self.series.shutdown()
        if self.probes is not None:
            self.probes.stop(timeout)
        canary, self.canary = self.canary, None
        if canary is not None:
            canary.signal_stop()
        if self.watchdog is not None:
            self.watchdog.stop()  # also cuts a canary check in flight
        if canary is not None:
            canary.stop()
        self.store.close(force=force, progress=progress)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._announcer is not None:  # the last alerts the writer wrote, then the end
            self._announcements.put(None)
            self._announcer.join(timeout)

    def reload(self, config: Config) -> None:
        """Apply a new config: added, removed and changed monitors, history kept."""
        # A monitor resumed (paused no more) is added too: its alert state is read back.
        added = _running(config) - _running(self.config)
        old, self.config = self.config, config
        self._configure(config)
        if added:
            self._restore_alert_state(added)
        if self._records_monitors:
            self.store.set_monitors(config.monitors)
        if self.probes is not None:
            if probe_count(config) != probe_count(old):
                self.probes.stop()
                self.probes = self._make_probes(config)
                self.probes.start(scheduled(local(config.monitors)), config.max_workers,
                                  config.max_in_flight)
            else:
                self.probes.set_monitors(scheduled(local(config.monitors)),
                                         config.max_workers, config.max_in_flight)
        self.watches.set(config.monitors, self._watch_state)
        current = self.canary.monitor if self.canary else None
        if config.canary != current:
            self._set_canary(config.canary)

    def _set_canary(self, monitor: Monitor | None) -> None:
        old, self.canary = self.canary, None
        if old is not None:
            old.stop()
        if monitor is not None:
            self.canary = Canary(monitor, lambda: self.watchdog, self._canary_changed)
            self.canary.start()

    def _canary_changed(self, online: bool, result: CheckResult, offline_for: float) -> None:
        canary = self.config.canary.target if self.config.canary else result.monitor_id
        if online:
            self._on_status(f"ONLINE: the monitor's network is back (canary {canary} "
                            f"answers) after {format_duration(offline_for)} offline")
        else:
            self._on_status(f"OFFLINE: the monitor has lost its network: canary {canary}"
                            f" failed ({result.reason}: {result.detail}); site failures are"
                            " recorded as unknown and raise no alert")

    def maybe_purge(self, now: float | None = None) -> None:
        """Purge each tier of history past its `retention` when the last purge is an hour
        old."""
        retention = self.config.retention
        now = self._wall() if now is None else now
        if retention is not None and now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            self.store.purge(*retention.cutoffs(now))

    # -- the work -------------------------------------------------------------------
    def record(self, result: CheckResult, offline: bool | None = None) -> None:
        """A check's result, as the workers hand it in (from any thread): stored with the
        rows of the slots it made skip, counted, and given to the alert rules. `offline`:
        the canary's answer for it, if already asked."""
        self._record([result], offline)

    def _record_batch(self, results: list[CheckResult]) -> None:
        """Results received from a probe process, all finished before now: one canary
        answer serves them all (a wait per failure would hold up the whole process's
        results for a canary check each)."""
        canary = self.canary
        offline = False
        if canary is not None and any(r.available is False and self._network_failure(r)
                                      and not self.maintenance.covers(r) for r in results):
            offline = canary.is_offline(time.monotonic())
        self._record(results, offline)

    def _record(self, results: list[CheckResult], offline: bool | None) -> None:
        """Store and evaluate `results` in order: the checks go to the writer together,
        each alert after the checks before it (the database always holds a prefix)."""
        covers = self.maintenance.covers
        rows: list[CheckResult] = []
        shed = 0
        for result in results:
            # Asked about now, not the check's start: a loss of network that began during
            # the check is what made it fail, and only a canary check begun after it can
            # see it. Only a failure the network itself could cause is confirmed: an HTTP
            # answer, even a 500, proves the network works.
            if covers(result):
                result = in_maintenance(result)
            elif result.available is False and self._network_failure(result):
                if offline is None:
                    canary = self.canary
                    offline = canary is not None and canary.is_offline(time.monotonic())
                if offline:
                    result = dataclasses.replace(
                        result, available=None, reason="offline",
                        detail=f"monitor offline; {result.reason}: {result.detail}"[:200])
            rows.append(result)
            if result.skipped:
                slots = [in_maintenance(row) if covers(row) else row
                         for row in skipped_slots(result)]
                rows.extend(slots)
                # Slots skipped while the check still waited to begin: the monitor's own
                # overload, not the target's doing (no row: nothing was learnt of it).
                shed += len(result.skipped) - len(slots)
        self.recent_lateness.extend(r.lateness_ms for r in results)
        if self.keep_lateness:
            self.lateness_ms.extend(r.lateness_ms for r in results)
        with self._count_lock:
            self.checks_done += len(results)
            self.slots_skipped += len(rows) - len(results)
            self.slots_shed += shed
        record, store = self.alerts.record, self.store
        with self._order_lock:
            start = 0
            for index, row in enumerate(rows):
                events = record(row)
                if events:
                    store.put_checks(rows[start:index + 1])
                    start = index + 1
                    for event in events:
                        self.emit(event)
            if start < len(rows):
                store.put_checks(rows[start:] if start else rows)

    def record_remote(self, agent: str, location: str, instance: str,
                      rows: Sequence[tuple[int, CheckResult]],
                      flush_wait: float = REMOTE_FLUSH_WAIT) -> Received:
        """Results an agent posted, each with its local row id (increasing), recorded as
        this process's own checks are (maintenance, alert rules, store), at `location`.
        Rows of ids the instance has stored already are skipped; rows of monitors not
        (or no longer) checked from `location` are ignored. The instance's mark (its
        highest id) is committed in the same transaction as the last rows of each part
        written; returns once they are on disk. Raises RemoteRefused when the database
        cannot take them now (nothing of them is then counted as stored)."""
        key: Key = (agent, instance)
        with self._marks.lock(key):
            upto = self._marks.upto(key)
            fresh = [(ident, result) for ident, result in rows if ident > upto]
            duplicates = len(rows) - len(fresh)
            if not fresh:
                # A resend of rows queued by a post that was not answered in time: answered
                # once they are on disk, as that post would have been.
                if not self.store.flush(flush_wait, urgent=False):
                    raise RemoteRefused("the database has not written them yet")
                return Received(0, duplicates, 0, upto)
            self._refuse_when_full(len(fresh))
            last = fresh[-1][0]
            ids, results = self._located(location, fresh)
            queued = self._store_remote(AgentMark(agent, instance, last, location),
                                        ids, results)
            if queued < len(results):
                raise RemoteRefused("the database writer is too far behind")
            with self._count_lock:
                self.remote_done += len(results)
            if not self.store.flush(flush_wait, urgent=False):
                raise RemoteRefused("the database cannot write them now")
            return Received(len(results), duplicates, len(fresh) - len(results), last)

    def remote_upto(self, agent: str, instance: str) -> int:
        """The highest local row id of the agent's instance stored; 0 for none."""
        return self._marks.upto((agent, instance))

    def _refuse_when_full(self, count: int) -> None:
        store = self.store
        if store.fatal is not None or store.refusing:
            raise RemoteRefused("the database refuses to write (a full disk?)")
        if store.left().checks + count > max_queued(store) // 2:
            # Half the queue: this process's own checks keep the rest.
            raise RemoteRefused("the database writer is too far behind")

    def _located(self, location: str, fresh: list[tuple[int, CheckResult]],
                 ) -> tuple[list[int], list[CheckResult]]:
        """The rows of monitors checked from `location`, at `location`, with their ids;
        their monotonic time placed by their age (never ahead of now: an agent's clock
        may run ahead), and those run in maintenance marked so."""
        monitors, covers = self._monitors, self.maintenance.covers
        now, mono = self._wall(), time.monotonic()
        ids: list[int] = []
        results: list[CheckResult] = []
        for ident, result in fresh:
            monitor = monitors.get(result.monitor_id)
            if monitor is None or monitor.paused or location not in monitor.locations:
                continue
            # Made anew, not dataclasses.replace: a fifth of the cost, per row of thousands.
            result = CheckResult(
                result.monitor_id, result.timestamp, result.available, result.code,
                result.response_ms, result.reason, result.detail, result.lateness_ms,
                mono - max(0.0, now - result.timestamp), (), result.metrics, result.warning,
                location)
            ids.append(ident)
            results.append(in_maintenance(result) if covers(result) else result)
        return ids, results

    def _store_remote(self, mark: AgentMark, ids: list[int],
                      results: list[CheckResult]) -> int:
        """Evaluate and queue an agent's rows as `_record` does its own, each part written
        with the mark of its last row (the last part's: the batch's highest id, ignored
        rows included), so that no part is ever on disk without its mark. The rows queued;
        the mark moves with them."""
        record, store = self.alerts.record, self.store
        key = (mark.name, mark.instance)
        with self._order_lock:
            start = 0
            for index, row in enumerate(results):
                events = record(row)
                if not events:
                    continue
                end = index + 1
                upto = mark.upto if end == len(results) else ids[index]
                if not store.put_checks(results[start:end], dataclasses.replace(
                        mark, upto=upto, ids=tuple(ids[start:end]))):
                    return start
                self._marks.set(key, upto)
                start = end
                for event in events:
                    self.emit(event)
            if (start < len(results) or not results) and not store.put_checks(
                    results[start:], dataclasses.replace(mark, ids=tuple(ids[start:]))):
                return start
            self._marks.set(key, mark.upto)
        return len(results)

    def _watch_event(self, monitor: Monitor, event: WatchEvent) -> None:
        """An alert or recovery a watched monitor raised itself, in its own words (its
        watch raises none in maintenance), which name the monitor at their end: "High
        traffic generated an alert - hits = 1450, triggered at ... (log /var/log/x.log)"."""
        message = event.message + note(monitor.name, subject(monitor.kind, monitor.target))
        self._watch_rows.setdefault(monitor.id, deque(maxlen=WATCH_ROWS)).append(
            (event.type, event.start, message))
        self.emit(AlertEvent(event.type, monitor.id, 1.0, event.time, event.start,
                             event.end, message,
                             previous="up" if event.type == "alert" else "down"))

    def _watch_state(self, monitor_id: str) -> WatchState:
        """What a new watch of the monitor is told: its latest alert rows, and whether it
        was watched before (now, or by an earlier run: it has results)."""
        resumed = monitor_id in self._watch_resumed
        self._watch_resumed.add(monitor_id)
        return WatchState(tuple(self._watch_rows.get(monitor_id, ())), resumed,
                          pushes=self.pushes, series=self.series)

    def _network_failure(self, result: CheckResult) -> bool:
        """A failure the loss of the monitor's own network could cause (by its kind)."""
        return result.reason in self._network_reasons.get(result.monitor_id, ())

    def emit(self, event: AlertEvent, monitor: Monitor | None = None,
             host: str | None = None) -> None:
        """Store an alert or recovery with the notifications it makes (in one
        transaction); the hooks see it once it is written. `monitor`: the one it is of,
        when that is not one of the config's (the `logs` command's log); `host`: what its
        row's `host` says, when not the monitor's target as the store knows it (an agent)."""
        if monitor is None:
            monitor = self._monitors.get(event.monitor_id)
        self.store.put_alert(AlertRecord(
            timestamp=iso_utc(event.time), monitor_id=event.monitor_id, type=event.type,
            start=iso_utc(event.start), end=iso_utc(event.end) if event.end else None,
            availability=event.availability, message=event.message, event=event,
            deliveries=routing.deliveries(event, monitor, self.config.providers),
            host=host,
        ))

    def _announce(self, record: AlertRecord) -> None:
        """Called by the writer with each alert it has written: queue it for the hooks."""
        if isinstance(record.event, AlertEvent):
            self._announcements.put(record.event)

    def _announce_loop(self) -> None:
        while (event := self._announcements.get()) is not None:
            self._run_hooks(event)

    def _run_hooks(self, event: AlertEvent) -> None:
        """Hand a written alert to every hook (printing, notifications), in order."""
        for hook in self.hooks:
            try:
                hook(event)
            except Exception as exc:  # noqa: BLE001 - a failing hook must not stop checks
                self._on_error(f"alert hook failed: {exc}")

    def _restore_alert_state(self, monitor_ids: set[str] | None = None) -> None:
        """Rebuild the rules' state of each monitor (of `monitor_ids`, None: all) from what
        the database holds: its recent checks, what is open."""
        self.store.flush()
        reader = open_reader(self.store)
        # The watched monitors that raise their own alerts; the rules restore the others.
        watching = {m.id for m in watched(self.config.monitors)
                    if not registry.get(m.kind).judged}
        try:
            restored, now = self._read_alert_state(reader)
            self.maintenance.read(reader)
            if watching:
                with_results = reader.monitor_states()
                for monitor_id in watching if monitor_ids is None else watching & monitor_ids:
                    # Its watch raises its own alerts: told its latest rows.
                    self._watch_rows[monitor_id] = deque(
                        ((kind, parse_iso(start), message) for kind, start, message
                         in reader.latest_alerts(monitor_id, WATCH_ROWS)),
                        maxlen=WATCH_ROWS)
                    if monitor_id in with_results:
                        self._watch_resumed.add(monitor_id)
        finally:
            reader.close()
        for monitor in self.config.monitors:
            if monitor.id not in watching and (monitor_ids is None or monitor.id in monitor_ids):
                self.alerts.restore(monitor.id, restored.get(monitor.id, Restored()), now)

    def _read_alert_state(self, reader: Reader) -> tuple[dict[str, Restored], float]:
        """Each monitor's restored state, and the time it is as of."""
        # The last check written is the present, whatever its date: dated after the wall
        # clock's now, the clock stepped back since (and then rows dated still later, from
        # before a correction, are not the present either). Only a check this machine's
        # clock dated: an access log's results carry the log's own time, which may run
        # ahead or behind, and must not move the present of the others.
        other_clocks = registry.own_clocks()
        last = reader.last_check_time(other_clocks)
        now = max(self._wall(), last or 0.0)
        since = now - history_span(self.config.monitors)
        recent = reader.recent_verdicts(since, now)
        causes = reader.failure_causes(since, now)
        located = self._read_located(reader, since, now)
        rows = reader.latest_alert_rows()
        ever_up = reader.ever_up()  # also before the history read back
        acked = reader.acked_starts([m for m, groups in rows.items()
                                     if (row := groups.get("alert")) and row.type != "recovery"])
        restored = {}
        for monitor in {*recent, *rows, *ever_up}:
            groups = rows.get(monitor, {})
            alert, warning, flapping = (groups.get(k) for k in ("alert", "warning",
                                                                "flapping"))
            opened = alert is not None and alert.type != "recovery"
            checks = recent.get(monitor, [])
            restored[monitor] = Restored(
                alert_start=parse_iso(alert.start) if opened and alert else None,
                reminded=parse_iso(alert.timestamp) if opened and alert else None,
                warning_start=(parse_iso(warning.start) if warning and warning.type ==
                               "warning" else None),
                flapping_start=(parse_iso(flapping.start) if flapping and flapping.type ==
                                "flapping" else None),
                acknowledged=opened and alert is not None and alert.start in acked.get(
                    monitor, ()),
                checks=checks,
                cause=causes.get(monitor),
                # Up once: a check up, an alert recovered, a warning (up, warning).
                seen_up=(monitor in ever_up or any(ok for _, ok in checks)
                         or (alert is not None and alert.type == "recovery")
                         or warning is not None),
                located=located.get(monitor, {}),
                warning_message=warning.message if warning is not None else "")
        return restored, now

    def _read_located(self, reader: Reader, since: float, now: float,
                      ) -> dict[str, dict[str, list[tuple[float, bool]]]]:
        """Of the monitors checked from several locations: each location's recent checks,
        by monitor (one read per location named)."""
        several = [m for m in self.config.monitors if len(m.locations) > 1]
        out: dict[str, dict[str, list[tuple[float, bool]]]] = {}
        for location in sorted({place for m in several for place in m.locations}):
            verdicts = reader.recent_verdicts(since, now, location)
            for monitor in several:
                if location in monitor.locations and monitor.id in verdicts:
                    out.setdefault(monitor.id, {})[location] = verdicts[monitor.id]
        return out

    # -- maintenance ----------------------------------------------------------------
    def _quiet(self, monitor_id: str, at: float) -> bool:
        """Whether a watch's results at `at` (wall clock) fall in maintenance."""
        return self.maintenance.at(monitor_id, at) is not None

    def poll_acks(self) -> None:
        """Read the alerts acknowledged since (through the API): no more reminders."""
        if not self._monitors:
            return  # beside the monitor (`logs`): no reminders of its own
        if self._reader is None:
            self._reader = open_reader(self.store)
        for monitor_id in acknowledged(self.alerts, self._reader):
            monitor = self._monitors.get(monitor_id)
            label = monitor.label if monitor is not None else monitor_id
            self._on_status(f"ACKNOWLEDGED: {label}: no more reminders of its alert")

    def poll_maintenance(self) -> None:
        """Read the maintenance set from the command line, and say which monitors went
        into maintenance or came out of it (by the command line or their windows)."""
        if not self._monitors:
            return  # beside the monitor (`logs`): no monitor to put in maintenance
        if self._reader is None:
            self._reader = open_reader(self.store)
        entered, left = self.maintenance.poll(self._reader)
        for monitor, period in entered:
            until = "" if period.until is None else f" until {format_time(period.until)}"
            self._on_status(f"MAINTENANCE: {monitor.label}: checks recorded, no alerts{until}")
        for monitor in left:
            self._on_status(f"MAINTENANCE OVER: {monitor.label}")


def local(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors this process checks itself: those of its own location."""
    return [m for m in monitors if LOCAL in m.locations]


def _running(config: Config) -> set[str]:
    """The ids of the monitors that run: all but the paused ones."""
    return {m.id for m in config.monitors if not m.paused}


def in_maintenance(result: CheckResult) -> CheckResult:
    """A check run in a maintenance window: recorded, as unknown (in no availability and
    no alert), with what it found in its detail."""
    return dataclasses.replace(result, available=None, warning=False, reason="maintenance",
                               detail=f"in maintenance; {_outcome(result)}"[:200], skipped=())


def _outcome(result: CheckResult) -> str:
    """How a check ended, in a few words, for the detail of a row made from it."""
    # Of any kind: the answer's code is an HTTP status, a DNS rcode, or 0 for a port.
    if result.warning:
        return f"up with a warning, {result.reason}: {result.detail}"
    if result.reason:
        return f"{result.reason}: {result.detail}"
    return "up" if result.code is None else f"up, code {result.code}"


def skipped_slots(result: CheckResult) -> list[CheckResult]:
    """One row per slot that `result`'s check made skip, with its verdict: a target that
    hangs is not answering for those slots either, and a slow success was answering. Without
    them a hanging target's availability counted only the checks that ran, and was
    overstated.
    A slot skipped by a check that warns warns too (the rules would read a row without the
    warning as "no longer warns").

    Only the slots due once the check had begun: a slot skipped while the check still
    waited for a worker (an overloaded monitor) says nothing about the target."""
    if not result.skipped or result.available is None:
        return []  # unknown (the monitor was offline): no evidence for its slots either
    detail = f"the previous check was still running; it ended {_outcome(result)}"[:200]
    return [CheckResult(result.monitor_id, result.timestamp + (due - result.mono), result.available,
                        None, 0.0, "skipped", detail, 0.0, due, warning=result.warning)
            for due in result.skipped if due >= result.mono]

