"""The monitors that watch a source as it comes (kinds with `watch`: an access log), polled
on one thread of their own, four times a second, beside the scheduled checks. A poll
never blocks (a log is read as far as it has been written), so one slow source delays no
check, and a watch that raises is reported once and polled again. A reload swaps the
watches between two rounds (one lock around each round and each swap): a watch is never
closed while it is polled, and the events of a round are handed over before a new watch
of the same monitor is told what is open.

What a watch says comes in two kinds: warnings (`poll`'s third item: malformed lines, an
unreadable file), printed as warnings; and notes (its `notes` list, if it has one: the
format told), information printed plainly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from monitor.checks import registry
from monitor.core.kind import Watch, WatchEvent, WatchState
from monitor.core.model import CheckResult, Monitor

POLL = 0.25  # seconds between two polls of every watch

OnResults = Callable[[list[CheckResult]], None]
OnEvent = Callable[[Monitor, WatchEvent], None]
# What a new watch of a monitor (by id) is told.
StateOf = Callable[[str], WatchState]
Quiet = Callable[[str, float], bool]  # (monitor id, wall): in maintenance


def watched(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors of kinds that watch rather than check, but not the paused ones."""
    return [m for m in monitors if not m.paused and (kind := registry.find(m.kind)) is not None
            and kind.watch is not None]


def scheduled(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors the scheduler checks: all but the watched ones and the paused ones
    (kept in the config, listed, never checked)."""
    return [m for m in monitors if not m.paused and ((kind := registry.find(m.kind)) is None
                                                      or kind.watch is None)]


def judged(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors the alert rules judge: the scheduled ones, and the watched ones of
    kinds whose results are judged as checks are (push), not raising their own alerts."""
    monitors = list(monitors)
    return scheduled(monitors) + [m for m in watched(monitors)
                                  if registry.get(m.kind).judged]


class Watches:
    def __init__(self, on_results: OnResults, on_event: OnEvent,
                 on_error: Callable[[str], None],
                 wall: Callable[[], float] = time.time,
                 quiet: Quiet = lambda _id, _wall: False,
                 on_note: Callable[[str], None] | None = None) -> None:
        self._quiet = quiet
        self._on_results = on_results
        self._on_event = on_event
        self._on_error = on_error
        # Without a channel of their own, notes go with the warnings rather than nowhere.
        self._on_note = on_note or on_error
        self._wall = wall
        self._open: dict[str, tuple[Monitor, Watch]] = {}
        self._failing: dict[str, str] = {}  # monitor id -> the error said
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set(self, monitors: Iterable[Monitor],
            state_of: StateOf = lambda _id: WatchState()) -> None:
        """Watch these monitors: a new or changed one is opened (told what came before),
        an unchanged one kept, a removed one closed."""
        wanted = {m.id: m for m in watched(monitors)}
        with self._lock:
            for key, (monitor, watch) in list(self._open.items()):
                if wanted.get(key) != monitor:
                    watch.close()
                    del self._open[key]
            for key, monitor in wanted.items():
                if key not in self._open:
                    opener = registry.get(monitor.kind).watch
                    assert opener is not None
                    try:
                        self._open[key] = (monitor, opener(monitor, state_of(key)))
                    except Exception as exc:  # noqa: BLE001 - one bad source stops no other
                        self._on_error(f"{monitor.label}: cannot watch: {exc}")

    def start(self) -> None:
        """Poll on a thread of its own from now on."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="watches", daemon=True)
            self._thread.start()

    def poll_all(self) -> None:
        """One round: every watch polled once (the thread's step; tests call it)."""
        with self._lock:
            self._round()

    def _round(self) -> None:
        wall = self._wall()
        for monitor, watch in list(self._open.values()):
            try:
                results, events, warnings = watch.poll(wall, self._quiet(monitor.id, wall))
            except Exception as exc:  # noqa: BLE001 - reported once, polled again
                text = f"{monitor.label}: {type(exc).__name__}: {exc}"
                if self._failing.get(monitor.id) != text:
                    self._on_error(text)
                self._failing[monitor.id] = text
                continue
            self._failing.pop(monitor.id, None)
            notes: list[str] | None = getattr(watch, "notes", None)
            if notes:
                for text in notes:
                    self._on_note(f"{monitor.label}: {text}")
                notes.clear()
            for text in warnings:
                self._on_error(f"{monitor.label}: {text}")
            if results:
                self._on_results(results)
            for event in events:
                self._on_event(monitor, event)

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            self.poll_all()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for _, watch in self._open.values():
                watch.close()
            self._open.clear()
