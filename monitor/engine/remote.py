"""What the engine keeps of the agents' batches: each (agent, instance)'s `upto`, the
highest local row id stored, read from the database once and kept in step with what is
queued; and one lock per (agent, instance), so that two posts of the same rows (a resend
racing its original) are taken one after the other and the second finds them duplicates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from monitor.store.api import Reader

Key = tuple[str, str]  # (agent name, instance)


@dataclass(frozen=True)
class Received:
    """What became of an agent's batch: rows stored (queued and then committed), rows
    already stored (id <= upto), rows of monitors not assigned to its location, and the
    highest id now stored for its instance."""

    stored: int
    duplicates: int
    ignored: int
    upto: int


class RemoteRefused(Exception):
    """The database cannot take an agent's batch now (a full disk, a writer far behind):
    nothing of it is counted as stored; the agent sends it again later."""


class Marks:
    """Each (agent, instance)'s upto: the database's at the first call, then this
    process's own (it is the only writer of its agents' rows)."""

    def __init__(self, open_reader: Callable[[], Reader]) -> None:
        self._open_reader = open_reader
        self._lock = threading.Lock()
        self._uptos: dict[Key, int] | None = None
        self._locks: dict[Key, threading.Lock] = {}

    def lock(self, key: Key) -> threading.Lock:
        with self._lock:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def upto(self, key: Key) -> int:
        """The highest id stored or queued of the instance; 0 for none. Raises StoreError
        when the database cannot be read the first time."""
        with self._lock:
            if self._uptos is None:
                reader = self._open_reader()
                try:
                    self._uptos = dict(reader.agent_marks())
                finally:
                    reader.close()
            return self._uptos.get(key, 0)

    def set(self, key: Key, upto: int) -> None:
        with self._lock:
            if self._uptos is not None:
                self._uptos[key] = max(upto, self._uptos.get(key, 0))
