"""The watchdog: one thread that expires the deadlines of all blocking checks in flight."""

from __future__ import annotations

import heapq
import itertools
import threading
import time

from monitor.core.deadline import Deadline


class Watchdog:
    """One thread that expires the deadlines of all checks in flight."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._live: set[Deadline] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def arm(self, timeout: float) -> Deadline:
        deadline = Deadline(time.monotonic() + timeout, timeout)
        with self._cond:
            if self._stopped:  # a check still queued when the monitor stopped: don't run it
                deadline.expire(abort=True)
                return deadline
            # Wake the watchdog only when this deadline comes before all others: deadlines
            # mostly arrive in order, and a wake-up per check costs a thread switch.
            earliest = not self._heap or deadline.at < self._heap[0][0]
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            self._live.add(deadline)
            if earliest:
                self._cond.notify()
        return deadline

    def disarm(self, deadline: Deadline) -> None:
        with self._cond:
            self._live.discard(deadline)

    def abort_all(self) -> None:
        """Cut every check in flight short (on shutdown)."""
        with self._cond:
            live, self._live = list(self._live), set()
        for deadline in live:
            deadline.expire(abort=True)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self.abort_all()
        self._thread.join(timeout=1)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, deadline = heapq.heappop(self._heap)
                    if deadline in self._live:
                        self._live.discard(deadline)
                        deadline.expire()
                wait = self._heap[0][0] - now if self._heap else None
                self._cond.wait(wait)
