"""The agent running: the same `Runtime` as `-m`, on the monitors its server assigns to its
location, into a local database that is its outbox; the link posting what it checks.

The main thread waits for a signal, and a few times a second applies the monitors the
link fetched (`Runtime.reload`), steps the runtime and, now and then, purges the checks
the server has had for an hour (never one it has not acknowledged, never the newest row:
the next ids follow it). The agent notifies nothing and serves nothing: its server does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.agent.client import Assignment, Client
from monitor.agent.link import Link
from monitor.checks.http.curl import IDENTITY_ENV
from monitor.config import Config, parse_config
from monitor.core.errors import ConfigError, StoreError
from monitor.runtime import Runtime
from monitor.store.sqlite.outbox_rows import OutboxReader, instance
from monitor.store.sqlite.owner import DatabaseOwner
from monitor.store.sqlite.writer import Store

Echo = Callable[[str], None]
STEP = 0.25  # seconds between two steps of the main thread
KEEP_SENT = 3600.0  # seconds a check the server acknowledged stays in the local database
PURGE_EVERY = 600.0
STOP_FLUSH = 2.0
SWITCH_INTERVAL = 0.001  # seconds the stop gives the last checks to reach the server


@dataclass(frozen=True)
class AgentOptions:
    server: str  # the base URL of the server's web server, no trailing slash
    token: str = field(repr=False)  # secret: never in a repr, a message or the database
    location: str
    db_path: str


@dataclass
class Signals:
    """What the front end's signal handlers set: stop (SIGINT, SIGTERM), force (a second
    one), repoll (SIGHUP)."""

    stop: threading.Event = field(default_factory=threading.Event)
    force: threading.Event = field(default_factory=threading.Event)
    repoll: threading.Event = field(default_factory=threading.Event)


def run_agent(options: AgentOptions, echo: Echo, err: Echo, signals: Signals | None = None,
              wall: Callable[[], float] = time.time) -> None:
    """Run until stopped. Raises StoreError when the database cannot be used, Refused
    (a ConfigError) when the server refuses the token or the location."""
    # As in -m: the one writer thread must win the interpreter's lock back quickly from
    # busy check threads (at the default 5 ms a batch could wait seconds).
    sys.setswitchinterval(SWITCH_INTERVAL)
    owner = DatabaseOwner(options.db_path)  # a second agent on this database stops here
    if not owner.held:
        err(f"Warning: cannot lock {owner.path}: a second agent on this database would not"
            " be refused")
    try:
        _run(options, echo, err, signals or Signals(), wall)
    finally:
        owner.release()


def _run(options: AgentOptions, echo: Echo, err: Echo, signals: Signals,
         wall: Callable[[], float]) -> None:
    db = options.db_path
    store = Store(db, on_error=lambda message: err(f"Warning: {message}"))
    instance_id = instance(db)
    sender = OutboxReader(db)  # the link's
    purger = OutboxReader(db)  # the main thread's
    client = Client(options.server, options.token, options.location)
    source = f"{options.server} (the monitors of location {options.location})"
    runtime = Runtime(Config(monitors=(), source=source), store, on_problem=err, wall=wall)
    link = Link(client, sender, instance_id, say=err,
                running=lambda: len(runtime.config.monitors), where=db)
    applied = False
    last_purge = time.monotonic()
    try:
        runtime.start()
        link.start()
        echo(f"Agent of location {options.location}: checks from {options.server},"
             f" kept in {db} until sent. Ctrl-C stops.")
        runtime.step()
        while not signals.stop.wait(STEP):
            if runtime.fatal is not None or link.fatal is not None:
                break
            if signals.repoll.is_set():
                signals.repoll.clear()
                link.request_poll()
            assignment = link.take_assignment()
            if assignment is not None:
                applied = _apply(assignment, runtime, source, echo, err, applied)
            runtime.step()
            if time.monotonic() - last_purge >= PURGE_EVERY:
                last_purge = time.monotonic()
                _purge(purger, store, link.upto, wall(), err)
    finally:
        link.stop(wait=0)  # its request in flight ends while the runtime stops
        runtime.stop(force=signals.force, progress=err)
        end = time.monotonic() + STOP_FLUSH
        if not signals.force.is_set() and link.stop(wait=STOP_FLUSH):
            link.flush(end - time.monotonic())  # all is committed now: the last checks too
        waiting = link.waiting()
        for reader in (sender, purger):
            reader.close()
        client.close()
    if link.fatal is not None:
        raise link.fatal
    if runtime.fatal is not None:
        raise StoreError(f"{runtime.fatal}; the agent stopped")
    if link.synced or link.answered:
        echo(f"Stopped; {link.sent} check(s) sent to {options.server} by this run,"
             f" {waiting} waiting in {db}.")
    else:  # what the server has is not known
        echo(f"Stopped; {options.server} was not reached: the checks wait in {db} for the"
             " next start.")


def _apply(assignment: Assignment, runtime: Runtime, source: str, echo: Echo, err: Echo,
           applied: bool) -> bool:
    """Run the monitors fetched; a document the loader refuses leaves the previous ones
    running (as a bad config file does `-m`). True once some were applied."""
    try:
        config = parse_config(json.dumps(assignment.config), source)
    except ConfigError as exc:
        err(f"Error: {exc} (still running the previous monitors)")
        return applied
    # Only checks: the server notifies, beats, purges and serves.
    config = dataclasses.replace(config, providers=(), heartbeat_url=None, retention=None,
                                 retention_days=None, api_tokens=(), status_pages=())
    if not applied:
        # Before the first monitors run: the http checks' User-Agent names the agent (read
        # at the first check), and probe processes, started from here on, inherit it.
        os.environ[IDENTITY_ENV] = f"agent {assignment.agent}; location {assignment.location}"
    runtime.reload(config)
    count = len(config.monitors)
    if not applied:
        echo(f"Agent {assignment.agent} in location {assignment.location}: running"
             f" {count} monitor(s); polling every {assignment.poll:g} s.")
    else:
        echo(f"The monitors changed on the server: running {count} monitor(s).")
    return True


def _purge(reader: OutboxReader, store: Store, upto: int, now: float, err: Echo) -> None:
    """Delete what the server has had for KEEP_SENT: checks, their aggregates, old alerts."""
    try:
        before = reader.purge_before(upto, now - KEEP_SENT)
    except StoreError as exc:
        err(f"Warning: {exc}; not purged")
        return
    if before is not None:
        store.purge(before, {span: before for span in (60, 600, 3600, 86400)})
