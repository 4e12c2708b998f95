"""The time budget of a blocking check, and the watchdog that enforces it."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time


class Deadline:
    """The end of one check's time budget. At expiry the watchdog shuts down every socket
    the check opened, which wakes a read blocked on a server that drips or hangs: socket
    timeouts alone bound each read, not the whole check."""

    __slots__ = ("at", "timeout", "expired", "aborted", "_sockets", "_lock")

    def __init__(self, at: float, timeout: float) -> None:
        self.at = at
        self.timeout = timeout
        self.expired = False
        self.aborted = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                _shutdown(sock)
                raise TimeoutError("check deadline passed")
            self._sockets.append(sock)

    def expire(self, abort: bool = False) -> None:
        with self._lock:
            if abort:
                self.aborted = True
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its owner
        sock.shutdown(socket.SHUT_RDWR)


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
