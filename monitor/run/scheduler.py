"""One scheduler on the monotonic clock, feeding a bounded pool of worker threads.

Each monitor runs at a fixed rate: its next check is due `interval` after the previous *due
time*, not after the previous check finished, so schedules do not drift. A monitor whose
check is still running when its next slot comes skips that slot (never two checks of one
monitor at once, even across a reload that removes it and adds it back): `done` hands the
skipped slots to the check that covered them, whose verdict they share, so that a target
that hangs does not look available for its slow stretch. `run_due(now)` is the one
testable step: it needs no thread and no sleep.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.core.model import Monitor
from monitor.core.secrets import redact_known

Dispatch = Callable[[Monitor, float], None]


@dataclass(slots=True)
class _Entry:
    monitor: Monitor
    due: float
    generation: int


class Scheduler:
    def __init__(self, dispatch: Dispatch, clock: Callable[[], float] = time.monotonic) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self._entries: dict[str, _Entry] = {}  # by monitor id
        # Monitor id -> due times of the slots skipped while its check runs. By id, not
        # entry: a monitor removed and added back while its check runs is still running.
        self._running: dict[str, list[float]] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._generation = itertools.count()
        self._cond = threading.Condition()
        self.dispatched = 0
        self.skipped = 0

    def set_monitors(self, monitors: Iterable[Monitor]) -> None:
        """Add, change and remove monitors. Unchanged ones keep their phase; new ones are
        spread over their first interval so that a thousand monitors do not fire together."""
        monitors = list(monitors)
        now = self._clock()
        with self._cond:
            wanted = {monitor.id: monitor for monitor in monitors}
            for monitor_id in list(self._entries):
                if monitor_id not in wanted:
                    del self._entries[monitor_id]
            new = [m for m in monitors if m.id not in self._entries]
            for index, monitor in enumerate(new):
                self._push(monitor, now + monitor.interval * index / max(1, len(new)))
            for monitor in monitors:
                entry = self._entries[monitor.id]
                if entry.monitor != monitor:
                    interval_changed = entry.monitor.interval != monitor.interval
                    entry.monitor = monitor
                    if interval_changed and monitor.id not in self._running:
                        self._push(monitor, min(entry.due, now + monitor.interval))
            self._cond.notify()

    def _push(self, monitor: Monitor, due: float) -> None:
        generation = next(self._generation)
        self._entries[monitor.id] = _Entry(monitor, due, generation)
        heapq.heappush(self._heap, (due, next(self._seq), monitor.id, generation))

    def run_due(self, now: float) -> int:
        """Dispatch every check due at `now`; return how many were dispatched."""
        ready = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                due, _, monitor_id, generation = heapq.heappop(self._heap)
                entry = self._entries.get(monitor_id)
                if entry is None or entry.generation != generation:
                    continue  # removed or rescheduled since it was queued
                interval = entry.monitor.interval
                next_due = due + interval
                if next_due <= now:
                    # Fell behind by whole intervals (a stalled process): skip them rather
                    # than fire a burst of catch-up checks.
                    missed = int((now - next_due) // interval) + 1
                    self.skipped += missed
                    next_due += missed * interval
                entry.due = next_due
                heapq.heappush(self._heap, (next_due, next(self._seq), monitor_id, generation))
                skipped = self._running.get(monitor_id)
                if skipped is not None:
                    self.skipped += 1
                    skipped.append(due)
                    continue
                self._running[monitor_id] = []
                ready.append((entry.monitor, due))
            self.dispatched += len(ready)
        for monitor, due in ready:
            self._dispatch(monitor, due)
        return len(ready)

    def done(self, monitor_id: str) -> list[float]:
        """The check of the monitor has ended: the due times of the slots it made skip."""
        with self._cond:
            return self._running.pop(monitor_id, [])

    def next_due(self) -> float | None:
        with self._cond:
            return self._heap[0][0] if self._heap else None

    def run(self, stop: threading.Event) -> None:
        """The scheduler thread: dispatch due checks until `stop` is set."""
        while not stop.is_set():
            self.run_due(self._clock())
            with self._cond:
                wait = self._heap[0][0] - self._clock() if self._heap else 0.5
                if wait > 0:
                    self._cond.wait(min(wait, 0.5))

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()


class WorkerPool:
    """A bounded pool of daemon threads, started on demand.

    Not concurrent.futures: its workers are joined at interpreter exit, and a worker stuck
    in name resolution (which no timeout interrupts) would hold up a Ctrl-C.
    """

    def __init__(self, max_workers: int, name: str = "check") -> None:
        self.max_workers = max_workers
        self._name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        # Workers blocked waiting for a task, each not yet promised to a submitted one. An
        # exact count: a semaphore released after every task (as ThreadPoolExecutor does)
        # over-counts, and then hung checks would queue healthy ones behind them.
        self._idle = 0
        self._closed = False

    @property
    def size(self) -> int:
        return self._threads

    def submit(self, function: Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._closed:
                return
            self._tasks.put((function, args))
            if self._idle:
                self._idle -= 1
            elif self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}",
                                 daemon=True).start()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            for _ in range(self._threads):
                self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            function, args = task
            try:
                function(*args)
            except Exception:  # noqa: BLE001 - a dead worker would shrink the pool for good
                # The frames' text can quote a URL with its credentials.
                print(redact_known(traceback.format_exc()), end="", file=sys.stderr)
            with self._lock:
                self._idle += 1
