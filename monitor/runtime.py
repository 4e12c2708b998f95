"""The running monitor: one object that every front end (`-m`, `-t`, later the web
server) starts, steps and stops.

Built from a loaded config and a store, a `Runtime` owns the engine (checks, store, alert
rules), the notifier (one sender per provider, from the outbox), the heartbeat, the
maintenance set from the command line, the config reload and the purge. It prints nothing:
status lines go to `on_line`, warnings and errors to `on_problem`. The front end's loop
calls `step(now)` a few times a second; tests call it with the time they choose.

A runtime `beside` the monitor that owns the database (the `logs` command's, which may run
while a `-m` writes the same file) runs none of the config's monitors and leaves what is
the whole database's to that owner: the list of monitors, the purge, the heartbeat. The
alerts its front end raises (`emit`) go the same way as the monitor's: stored with the
notifications they make to the config's providers, and sent by its notifier.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.alerts import AlertEvent
from monitor.config import Config, load_config
from monitor.config.edit import file_etag
from monitor.core.errors import ConfigError, StoreError
from monitor.core.model import Monitor
from monitor.engine import Engine
from monitor.engine.agents import AgentWatch
from monitor.notify.heartbeat import Heartbeat
from monitor.notify.sender import Notifier
from monitor.run.overload import Counts, Overload, cores, machine_busy
from monitor.store.api import AgentSeen, Reader
from monitor.store.open import AnyStore as Store
from monitor.store.open import database_of, open_leases, open_reader

if TYPE_CHECKING:
    from monitor.store.postgres.leases import Held

Echo = Callable[[str], None]
AlertHook = Callable[[AlertEvent], None]
NOTIFIER_STOP_WAIT = 0.2  # seconds the stop gives the senders' sends in flight
JUDGE_RETRY = 3.0  # seconds between tries to read the agents' open alerts at a takeover


class Runtime:
    """The engine, notifier, heartbeat, maintenance poll, reload and purge of one running
    monitor. `start()`, then `step(now)` at once and every fraction of a second, then
    `stop()`."""

    def __init__(self, config: Config, store: Store, *, config_path: str | Path | None = None,
                 on_line: Echo | None = None, on_problem: Echo | None = None,
                 wall: Callable[[], float] = time.time, beside: bool = False) -> None:
        self._beside = beside
        config = self._own_part(config)
        self._config = config
        self._path = Path(config_path) if config_path is not None else None
        self._on_line = on_line
        self._on_problem = on_problem or (lambda text: None)
        # Said on stderr even when silent: the one way to learn that checks are skipped.
        self.overload = Overload(self._on_problem, cores())
        self._wall = wall
        self.store = store
        # On a PostgreSQL database several monitors share: the leases of the monitors
        # this one checks, and of what is the whole database's (rollups, purge, the
        # senders, the heartbeat); nothing is held before the first step.
        self._leases = None if beside else open_leases(store, self._warn)
        self._held: Held | None = None
        if self._leases is not None:
            store.rolls = False
        part = self._part(config)
        self.engine = Engine(part, store, wall_clock=wall, on_error=self._warn,
                             on_status=on_line,
                             records_monitors=not beside and self._leases is None)
        # One sender per notification provider, from the outbox; woken by each alert.
        self.notifier = Notifier(part.providers, store, database_of(store),
                                 config.notify_retry_for, on_error=self._warn)
        self.engine.hooks.append(lambda _event: self.notifier.wake())
        self._beat = _Beat(self._warn)
        # The remote agents: alive or lost (their own alerts), their locations counted or
        # not; told of every request of theirs by the web server. What this process hears
        # is shared through the database with the others on it (each agent talks to one);
        # the holder of the main lease alone (on SQLite: this one) raises their alerts.
        self._seen = _Seen(store, self._warn)
        self._judge_retry = -math.inf  # monotonic: when to try again to take the judging
        self._judge_failing: str | None = None
        self.agents = AgentWatch(self.engine.emit, self._location, record=self._record_seen,
                                 read=self._seen.read, judge=self._leases is None)
        self._maintenance = _Poll(self.engine.poll_maintenance,
                                  "the maintenance set from the command line", self._warn)
        self._acks = _Poll(self.engine.poll_acks, "the acknowledged alerts", self._warn)
        self._reload_requested = threading.Event()
        # Configs parsed by the writer of the file (the web server's editor), by the ETag
        # of the bytes each was parsed from: the one the file still is, if any, is taken
        # without a parse. Edits' reloads may come in any order: the file's bytes decide.
        self._handed: dict[str, Config] = {}
        self._handed_lock = threading.Lock()
        self._stamp = file_stamp(self._path) if self._path is not None else None
        self._running = False

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> Runtime:
        """Start the engine (its store, checks and watches), the senders and the heartbeat.
        Raises StoreError when the database cannot be used. The first `step` (at once,
        once the front end can show what it says) reads the maintenance set."""
        self._running = True  # a start that fails half-way is stopped all the same
        if self._leases is not None:  # every monitor listed, whoever checks it
            self.store.set_monitors(self._config.monitors)
        self.engine.start()
        self.notifier.start()  # after the store: the outbox exists
        self._beat.configure(self._part(self._config))
        self._watch_agents()
        # What the start made (the config's monitors, their schedules and rules) lives as
        # long as the run: out of the collector's sight, whose full passes over 100,000
        # monitors' objects held every thread for a second or more.
        gc.freeze()
        return self

    def step(self, now: float | None = None) -> None:
        """What the running monitor does between checks, at wall time `now`: reload the
        config when its file changed or a reload was requested, purge when due, read the
        maintenance set and the acknowledged alerts. Does nothing once the database failed
        for good (`fatal`)."""
        if not self._running or self.fatal is not None:
            return
        now = self._wall() if now is None else now
        if self._path is not None:
            current = file_stamp(self._path)
            if self._reload_requested.is_set() or (current is not None
                                                   and current != self._stamp):
                self._reload_requested.clear()
                self._stamp = current  # before the bytes are read: a later write, seen
                with self._handed_lock:
                    handed, self._handed = self._handed, {}
                config = handed.get(file_etag(self._path) or "") if handed else None
                if config is not None and not config.warnings:
                    self._take(config, self._path)
                else:  # its warnings are said by load_config, once
                    self._reload_file(self._path)
        self._step_leases()
        self.engine.maybe_purge(now)
        self.agents.step(now)
        self._maintenance()
        self._acks()
        if self.store.refusing:  # a refusing disk is said as such, and slows everything
            self.overload.reset()
        else:
            engine = self.engine
            self.overload.step(time.monotonic(), Counts(
                engine.checks_done, engine.slots_skipped, engine.slots_shed,
                self.store.dropped, self.store.lag(), machine_busy()))

    def stop(self, force: threading.Event | None = None,
             progress: Echo | None = None) -> None:
        """Stop the heartbeat, the senders (a send in flight is not waited for: its row,
        not marked sent, goes again at the next start) and the engine, which commits all
        that is queued (saying so through `progress`, unless `force` is set)."""
        self._beat.configure(None)
        self.notifier.stop(NOTIFIER_STOP_WAIT)
        if self._running:
            self._running = False
            self.engine.stop(force=force, progress=progress)
        if self._leases is not None:  # once all is written: another monitor takes over
            self._leases.close()
        self._seen.close()

    def request_reload(self, config: Config | None = None, etag: str | None = None) -> None:
        """Reload the config file at the next step (from a signal handler: SIGHUP). With
        `config` and `etag`, the file as its writer just parsed and wrote it, and the ETag
        of those bytes (edit.py's, taken inside the editor's lock): taken as it is while
        the file is still those bytes (a parse of 5,000 monitors takes ~0.15 s)."""
        if config is not None and etag is not None and self._path is not None:
            with self._handed_lock:
                self._handed[etag] = config
        self._reload_requested.set()

    def reload(self, config: Config) -> None:
        """Run `config` from now on: the engine's monitors, the providers, the heartbeat."""
        config = self._own_part(config)
        if config == self._config:
            return
        if self._leases is not None:
            self.store.set_monitors(config.monitors)
        self._run_part(config)
        self.agents.configure(config.agents, config.agent_timeout, self._wall())
        self._config = config

    def _run_part(self, config: Config) -> None:
        part = self._part(config)
        self.engine.reload(part)
        self.notifier.configure(part.providers, part.notify_retry_for,
                                stop_timeout=NOTIFIER_STOP_WAIT)
        self._beat.configure(part)

    def emit(self, event: AlertEvent, monitor: Monitor | None = None) -> None:
        """Store an alert or recovery the front end raised (of `monitor`, when it is not
        one of the config's: the `logs` command's log) with the notifications it makes,
        as the engine does its own: the hooks and the senders hear of it once written."""
        self.engine.emit(event, monitor)

    def add_alert_hook(self, hook: AlertHook) -> None:
        """Call `hook` with each alert and recovery once it is written (on a thread of the
        engine's: a hook must not block long)."""
        self.engine.hooks.append(hook)

    # -- what front ends read -------------------------------------------------------
    @property
    def config(self) -> Config:
        return self._config

    @property
    def fatal(self) -> StoreError | None:
        """Why the database can record nothing more (damaged), else None."""
        return self.store.fatal

    @property
    def checks_recorded(self) -> int:
        """Checks written to the database by this run."""
        return self.store.written.checks

    @property
    def checks_done(self) -> int:
        """Checks that ran and were recorded (written or queued)."""
        return self.engine.checks_done

    # -- inside ---------------------------------------------------------------------
    def _own_part(self, config: Config) -> Config:
        """What this runtime runs of `config`: all of it, or beside the monitor only its
        notification providers (its monitors, canary, heartbeat and purge are the
        owner's)."""
        if not self._beside:
            return config
        return dataclasses.replace(config, monitors=(), canary=None, heartbeat_url=None,
                                   retention_days=None, retention=None, agents=())

    def _part(self, config: Config) -> Config:
        """What this runtime runs of its `config` on a shared database: the monitors whose
        lease it holds, and the whole database's work only with the database's lease."""
        if self._leases is None:
            return config
        held = self._held
        part = dataclasses.replace(
            config, monitors=tuple(m for m in config.monitors
                                   if held is not None and m.id in held.monitors))
        if held is not None and held.main:
            return part
        return dataclasses.replace(part, providers=(), heartbeat_url=None,
                                   retention_days=None, retention=None)

    def _step_leases(self) -> None:
        """Take and give back leases when due; run what is held now (a monitor taken
        over: its alert state read back from the database, as at a restart)."""
        if self._leases is None:
            return
        held = self._leases.step([m.id for m in self._config.monitors])
        main = (self._held is not None and self._held.main) if held is None else held.main
        if main != self.agents.judging and (held is not None
                                            or time.monotonic() >= self._judge_retry):
            self._judge_agents(main)
        if held is None:
            return
        before, self._held = self._held, held
        self.store.rolls = held.main
        self._run_part(self._config)
        if self._on_line is not None and (before is None or before.monitors != held.monitors
                                          or before.main != held.main):
            self._on_line(f"LEASES: checking {len(held.monitors)} of"
                          f" {len(self._config.monitors)} monitor(s) with"
                          f" {max(held.processes - 1, 0)} other monitor process(es)"
                          + ("; rolling up, purging and notifying" if held.main else ""))

    def _watch_agents(self) -> None:
        """Start the agents' clocks, and read back which were lost when the monitor last
        stopped (their alerts open): lost still, not said again."""
        self.agents.configure(self._config.agents, self._config.agent_timeout, self._wall())
        if not self._config.agents:
            return
        try:
            reader = open_reader(self.store)
            try:
                rows = reader.latest_alert_rows()
            finally:
                reader.close()
        except StoreError as exc:
            self._warn(f"cannot read which agents were lost: {exc}")
            return
        self.agents.restore(rows)

    def _judge_agents(self, main: bool) -> None:
        """The main lease taken: raise the agents' alerts from now on, their open ones read
        back as at a restart (unreadable: judged at the next lease step); lost: no more."""
        if not main:
            self.agents.judge(False)
            return
        rows: dict = {}
        if self._config.agents:
            try:
                reader = open_reader(self.store)
                try:
                    rows = reader.latest_alert_rows()
                finally:
                    reader.close()
            except StoreError as exc:
                if str(exc) != self._judge_failing:
                    self._warn(f"cannot read which agents were lost: {exc}")
                self._judge_failing = str(exc)
                self._judge_retry = time.monotonic() + JUDGE_RETRY  # not judging till then
                return
        self._judge_failing = None
        self.agents.judge(True, rows)

    def _record_seen(self, name: str, location: str, at: float) -> None:
        """An agent heard by this process: for the others on the database (throttled)."""
        self.store.put_agent_seen(AgentSeen(name, location, at))

    def _location(self, location: str, lost: bool) -> None:
        """Every agent of `location` lost, or one back: its results count no more, or
        again."""
        if lost:
            self.engine.alerts.location_lost(location)
        else:
            self.engine.alerts.location_back(location)
        if self._on_line is not None:
            self._on_line(f"LOCATION {'LOST' if lost else 'BACK'}: {location}: its results"
                          f" {'no longer count' if lost else 'count again'}")

    def _warn(self, message: str) -> None:
        self._on_problem(f"Warning: {message}")

    def _reload_file(self, path: Path) -> None:
        try:
            new = load_config(path, warn=self._warn)
        except ConfigError as exc:
            self._on_problem(f"Error: {exc} (still running the previous configuration)")
            return
        self._take(new, path)

    def _take(self, new: Config, path: Path) -> None:
        if new == self._config:
            return
        self.reload(new)
        if self._on_line is not None:
            self._on_line(f"Reloaded {path}: {len(new.monitors)} monitor(s).")


def file_stamp(path: Path) -> tuple[float, int, int] | None:
    """What says a file changed: its time, size and inode (an editor or the API replaces
    the file by a rename: a new inode, maybe the same time and size)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size, st.st_ino


class _Poll:
    """Reads what other processes set into the engine (`maintenance on|off`, alerts
    acknowledged through the API); a read that fails leaves the engine with what it knew,
    and says so once per distinct error."""

    def __init__(self, poll: Callable[[], None], what: str, warn: Echo) -> None:
        self._poll = poll
        self._what = what
        self._warn = warn
        self._failing: str | None = None

    def __call__(self) -> None:
        try:
            self._poll()
        except StoreError as exc:
            if str(exc) != self._failing:
                self._warn(f"cannot read {self._what}: {exc}")
            self._failing = str(exc)
        else:
            self._failing = None


class _Seen:
    """When each agent was last heard by any process on the database (agents_seen), read
    on the runtime's loop through a reader of its own; a read that fails gives None and is
    said once per distinct error."""

    def __init__(self, store: Store, warn: Echo) -> None:
        self._store = store
        self._warn = warn
        self._reader: Reader | None = None
        self._failing: str | None = None

    def read(self) -> dict[str, float] | None:
        try:
            if self._reader is None:
                self._reader = open_reader(self._store)
            seen = self._reader.agents_seen()
        except StoreError as exc:
            if str(exc) != self._failing:
                self._warn(f"cannot read when the agents were last heard: {exc}")
            self._failing = str(exc)
            self.close()
            return None
        self._failing = None
        return seen

    def close(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(StoreError):
                self._reader.close()
            self._reader = None


class _Beat:
    """The heartbeat (`heartbeatUrl`) of the running config: started, changed with a
    reload, stopped with the monitor."""

    def __init__(self, on_error: Echo) -> None:
        self._on_error = on_error
        self._running: Heartbeat | None = None
        self._key: tuple[str, float] | None = None

    def configure(self, config: Config | None) -> None:
        url = None if config is None else config.heartbeat_url
        key = None if config is None or url is None else (url, config.heartbeat_interval)
        if key == self._key:
            return
        if self._running is not None:
            self._running.stop()
            self._running = None
        self._key = key
        if config is not None and url is not None:
            self._running = Heartbeat(url, config.heartbeat_interval, self._on_error,
                                      config.heartbeat_shown or "heartbeatUrl")
            self._running.start()
