"""Which monitor each of several `-m` processes on one PostgreSQL database checks: a lease
per monitor, a PostgreSQL advisory lock held by a session (a connection of its own, kept
for the process's life) and keyed by a stable hash of the monitor's id.

Why advisory locks rather than a table of leases with expiry: the server ends a session's
locks the moment the session ends (a stop, a crash, kill -9, a lost network once the
server sees it), with no clock to agree on, no row to renew every few seconds and no
expiry to wait out; a lock cannot be held twice, so two processes can never both hold one
monitor. The cost: a lease lives exactly as long as that one connection; when it breaks,
this process has lost every lease at once and must stop checking (`step` says so).

Every LEASE_EVERY seconds (`step(now)`, on an injected clock in the tests) a process:
- gives back the leases it was told to stop checking at the previous step (a monitor the
  config no longer has, or more than its share);
- counts the processes present (each holds a presence lock) and takes the leases nobody
  holds, up to its share (the monitors divided among the processes, rounded up), so that a
  second process gets half of the monitors and a survivor all of them;
- takes the database's own lease (rollups, purges, notifications, the heartbeat) if free.
Two monitors whose ids hash alike share one lock: one process then checks both."""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from monitor.core.errors import StoreError
from monitor.store.postgres.connection import connect, say_error, shown

LEASE_EVERY = 3.0  # seconds between steps: a takeover happens within this (and a step)
_MONITOR = 0x6D6F6E  # the lock space of monitors' leases ("mon")
_PRESENT = 0x707273  # a process's presence ("prs"), keyed by its session's pid
_MAIN = 0x6D61696E  # the database's own lease ("main")


def lease_key(monitor_id: str) -> int:
    """The monitor's lock key: a stable hash as a signed 32-bit number (pg_locks shows it
    unsigned)."""
    value = int.from_bytes(hashlib.blake2b(monitor_id.encode(), digest_size=4).digest(),
                           "big")
    return value - (1 << 32) if value >= 1 << 31 else value


def _one(conn: psycopg.Connection, sql: str, args: tuple) -> Any:
    row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


def _signed(objid: int) -> int:
    return objid - (1 << 32) if objid >= 1 << 31 else objid


@dataclass(frozen=True)
class Held:
    """What this process holds after a step."""

    monitors: frozenset[str]
    main: bool  # the database's own lease
    processes: int  # processes present, this one included (0: connection lost)


class Leases:
    def __init__(self, url: str, every: float = LEASE_EVERY,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[str], None] | None = None) -> None:
        self._url = url
        self._every = every
        self._clock = clock
        self._on_error = on_error or (lambda text: None)
        self._conn: psycopg.Connection | None = None
        self._keys: set[int] = set()  # locked by this session
        self._release: set[int] = set()  # to unlock at the next step (checks stopped)
        self._main = False
        self._next = -math.inf
        self._lost_said = False
        self.held = Held(frozenset(), False, 0)

    def step(self, monitor_ids: Iterable[str], now: float | None = None) -> Held | None:
        """Give back and take leases when a step is due; the new holding when it changed,
        else None. The caller stops checking what it no longer holds at once."""
        now = self._clock() if now is None else now
        if now < self._next:
            return None
        self._next = now + self._every
        wanted: dict[int, list[str]] = {}
        for monitor_id in monitor_ids:
            wanted.setdefault(lease_key(monitor_id), []).append(monitor_id)
        try:
            held = self._step(wanted)
        except (psycopg.Error, StoreError) as exc:
            self._lost(exc)
            held = Held(frozenset(), False, 0)
        if held == self.held:
            return None
        self.held = held
        return held

    def _step(self, wanted: dict[int, list[str]]) -> Held:
        conn = self._connected()
        if self._release:
            self._unlock(conn, self._release)
            self._release = set()
        processes = max(1, int(_one(conn, (
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s::int8::oid AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())"), (_PRESENT,))))
        share = math.ceil(len(wanted) / processes)
        # Kept: what is still wanted, up to the share (the rest is given back next step,
        # once the caller has stopped checking it).
        keep = sorted(k for k in self._keys if k in wanted)
        drop = set(keep[share:]) | (self._keys - wanted.keys())
        self._release = drop
        kept = set(keep[:share])
        if len(kept) < share:
            taken = {_signed(int(objid)) for (objid,) in conn.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = %s::int8::oid AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())", (_MONITOR,))}
            free = sorted(wanted.keys() - taken - self._keys)[:share - len(kept)]
            if free:
                got = [k for k, ok in conn.execute(
                    "SELECT k, pg_try_advisory_lock(%s, k) FROM unnest(%s::int4[]) AS k",
                    (_MONITOR, free)) if ok]
                self._keys.update(got)
                kept.update(got)
        if not self._main:
            self._main = bool(_one(conn, "SELECT pg_try_advisory_lock(%s, 0)", (_MAIN,)))
        if self._lost_said:
            self._lost_said = False
            self._on_error(f"{shown(self._url)}: the leases' connection is back")
        return Held(frozenset(m for k in kept for m in wanted[k]), self._main, processes)

    def _connected(self) -> psycopg.Connection:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._forget()
        conn = self._conn = connect(self._url, application="uptime-monitor leases")
        conn.execute("SELECT pg_advisory_lock(%s, pg_backend_pid())", (_PRESENT,))
        return conn

    def _unlock(self, conn: psycopg.Connection, keys: set[int]) -> None:
        conn.execute("SELECT pg_advisory_unlock(%s, k) FROM unnest(%s::int4[]) AS k",
                     (_MONITOR, sorted(keys)))
        self._keys -= keys

    def _lost(self, exc: BaseException) -> None:
        """The session is gone, or failing: every lease with it (the server ends its
        locks when it sees the session end; this one's are given up now)."""
        if not self._lost_said:
            self._lost_said = True
            text = str(exc) if isinstance(exc, StoreError) else say_error(self._url, exc)
            self._on_error(f"{shown(self._url)}: the leases' connection failed ({text}):"
                           " checking nothing until it is back")
        self._forget()

    def _forget(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # its locks go with it
        self._conn = None
        self._keys.clear()
        self._release.clear()
        self._main = False

    def close(self) -> None:
        """Give every lease back (the session ends): another process takes them at its
        next step. The caller has stopped checking and written its rows first."""
        self._forget()
        self.held = Held(frozenset(), False, 0)
