"""Where checks run: a scheduler feeding a bounded pool of worker threads, either in this
process (`LocalProbes`) or in probe processes that each take a shard of the monitors
(`ProbeProcesses`).

The scheduler, the checks and the monitor's writer share one interpreter's GIL, and a
check's Python work holds it (docs/performance.md has the figures). So past a few hundred
checks a second the monitor runs one probe process per core (`python -m monitor.run.probes`),
each a `LocalProbes` over a stable shard of the monitors, and funnels their results over a
socket pair back to the parent, which alone stores them, evaluates alerts and prints. A
probe process exits as soon as its parent is gone (end of file on the socket: a kill -9 of
the monitor leaves no orphan checking on); the parent restarts a probe process that dies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path

from monitor.checks import registry
from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.config import Config
from monitor.core.kind import CheckLoop
from monitor.core.model import CheckAborted, CheckResult, Monitor
from monitor.core.secrets import redact, redact_known, remember
from monitor.run.scheduler import Scheduler, WorkerPool

OnResult = Callable[[CheckResult], None]
OnResults = Callable[[list[CheckResult]], None]
OnError = Callable[[str], None]

# Below this many checks a second one process keeps up with room to spare (a probe process
# costs memory and a hop per result). Above it, one probe process per PER_PROCESS_RATE
# checks a second, at least two, at most one per core: with one receiving thread for them
# all, two processes made 5,000 checks/s on 2 cores with 13% less CPU and 37 MB less memory
# than four (docs/performance.md).
AUTO_SPLIT_RATE = 300.0
PER_PROCESS_RATE = 2500.0
RESTART_BACKOFF_MAX = 30.0
MAX_OPEN_FILES = 65536
RESTART_STABLE_AFTER = 300.0  # a process that lived this long starts its backoff afresh
# A probe process killed by the signal that stops the whole monitor (SIGTERM or SIGINT to
# the process group) before it could ignore it, at its start: wait this long for the
# monitor's own stop before taking it for a crash. The monitor acts on it within 0.25 s.
STOP_SIGNAL_GRACE = 2.0
STOP_SIGNALS = (-signal.SIGTERM, -signal.SIGINT)
BATCH_MAX = 2000
SEND_DELAY = 0.02  # seconds results gather in a probe process before they are sent
RECEIVE_MAX = 1000  # messages handed over at once


def loop_limit() -> int:
    """Checks an event loop keeps in flight at once. maxWorkers bounds threads; a loop's
    checks cost no thread, only descriptors (a socket, and a resolver's pair while the
    name resolves): so as many as a quarter of the open-file limit allows, raised first
    to its hard limit, as a server does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # not allowed here: keep what we have
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return max(16, min(soft, MAX_OPEN_FILES) // 4)


def probe_count(config: Config) -> int:
    """How many probe processes `config` asks for; 1 means checks run in this process."""
    if config.processes is not None:
        return config.processes
    rate = sum(1.0 / monitor.interval for monitor in config.monitors)
    if rate < AUTO_SPLIT_RATE:
        return 1
    cores = len(os.sched_getaffinity(0))
    # Rounded first: 10,000 monitors at 10 s sum to 1000.0000000002 checks/s, not more.
    return max(2, min(cores, math.ceil(round(rate, 6) / PER_PROCESS_RATE)))


class LocalProbes:
    """The scheduler, the worker pool and the check loops of this process: a monitor whose
    kind has a loop is checked by that loop (one per kind, made on first use), any other
    in the pool. Each result goes to `on_result` on the thread that made it, except that
    with `on_results` the loops' results go to it in lists, from a thread of their own:
    handing a result over may wait (for the canary), and must not hold up a loop that
    drives every other check; one canary answer then serves a whole list."""

    def __init__(self, on_result: OnResult, on_error: OnError, watchdog: Watchdog,
                 wall_clock: Callable[[], float] = time.time,
                 on_results: OnResults | None = None) -> None:
        self._on_result = on_result
        self._on_results = on_results
        self._delivery: queue.SimpleQueue[CheckResult | None] = queue.SimpleQueue()
        self._deliverer: threading.Thread | None = None
        self._on_error = on_error
        self._wall = wall_clock
        self.watchdog = watchdog
        self.scheduler = Scheduler(self._dispatch)
        self.pool = WorkerPool(1)
        self._loops: dict[str, CheckLoop | None] = {}
        self._loops_lock = threading.Lock()
        self._in_flight: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, monitors: Sequence[Monitor], max_workers: int,
              max_in_flight: int | None = None) -> None:
        self.set_monitors(monitors, max_workers, max_in_flight)
        self._thread = threading.Thread(target=self.scheduler.run, args=(self._stop,),
                                        name="scheduler", daemon=True)
        self._thread.start()

    def set_monitors(self, monitors: Sequence[Monitor], max_workers: int,
                  max_in_flight: int | None = None) -> None:
        """`max_workers` bounds the threads of blocking kinds, `max_in_flight` the checks
        each event loop keeps in flight (None: as many as open files allow)."""
        self.pool.max_workers = max_workers
        self._in_flight = max_in_flight
        with self._loops_lock:
            for loop in self._loops.values():
                if loop is not None:
                    loop.limit = self._limit()
        self.scheduler.set_monitors(monitors)

    def stop(self, timeout: float = 1.5) -> None:
        """Stop dispatching; the loops' checks in flight are aborted here, the pool's are
        cut short by the watchdog's owner."""
        self._stop.set()
        self.scheduler.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._loops_lock:
            loops = [loop for loop in self._loops.values() if loop is not None]
            self._loops.clear()
        for loop in loops:
            loop.stop()
        if self._deliverer is not None:
            self._delivery.put(None)
            self._deliverer.join(timeout)
        self.pool.shutdown()

    @property
    def dispatched(self) -> int:
        return self.scheduler.dispatched

    @property
    def skipped(self) -> int:
        return self.scheduler.skipped

    @property
    def threads(self) -> int:
        return self.pool.size + sum(1 for loop in self._loops.values() if loop is not None)

    def _limit(self) -> int:
        return self._in_flight or loop_limit()

    def _loop(self, kind_name: str) -> CheckLoop | None:
        loop = self._loops.get(kind_name, False)
        if loop is not False:
            return loop  # type: ignore[return-value]
        with self._loops_lock:
            if kind_name not in self._loops:
                kind = registry.find(kind_name)
                made = kind.loop() if kind is not None and kind.loop is not None else None
                if made is not None:
                    made.limit = self._limit()
                    if self._on_results is not None and self._deliverer is None:
                        self._deliverer = threading.Thread(target=self._deliver,
                                                           name="results", daemon=True)
                        self._deliverer.start()
                self._loops[kind_name] = made
            return self._loops[kind_name]

    def _dispatch(self, monitor: Monitor, due: float) -> None:
        loop = self._loop(monitor.kind) if not self._stop.is_set() else None
        if loop is None:
            self.pool.submit(self._check, monitor, due)
            return
        lateness_ms = max(0.0, (time.monotonic() - due) * 1000.0)
        loop.submit(monitor, lateness_ms, lambda result: self._looped(monitor, result))

    def _looped(self, monitor: Monitor, result: CheckResult | None) -> None:
        """A loop's check has ended (None: aborted, the monitor is stopping)."""
        skipped = self.scheduler.done(monitor.id)
        if result is None:
            return
        if skipped:
            result = dataclasses.replace(result, skipped=tuple(skipped))
        if self._on_results is not None:
            self._delivery.put(result)
            return
        try:
            self._on_result(result)
        except Exception:  # noqa: BLE001 - the loop drives every other check
            self._on_error(redact("result handler failed: "
                                  + traceback.format_exc(limit=3).strip(), monitor.secrets))

    def _deliver(self) -> None:
        assert self._on_results is not None
        running = True
        while running:
            results = [self._delivery.get()]
            while len(results) < BATCH_MAX and not self._delivery.empty():
                results.append(self._delivery.get())
            running = None not in results
            batch = [r for r in results if r is not None]
            if not batch:
                continue
            try:
                self._on_results(batch)
            except Exception:  # noqa: BLE001 - later results must still be delivered
                self._on_error(redact_known("result handler failed: "
                                            + traceback.format_exc(limit=3).strip()))

    def _check(self, monitor: Monitor, due: float) -> None:
        lateness_ms = max(0.0, (time.monotonic() - due) * 1000.0)
        try:
            result = run_check(monitor, self.watchdog, lateness_ms)
        except CheckAborted:
            return  # stopping: a check cut short says nothing about the target
        except Exception as exc:  # noqa: BLE001 - a bug in a check kind must not stop others
            result = CheckResult(monitor.id, self._wall(), False, None, 0.0, "other",
                                 redact(f"{type(exc).__name__}: {exc}", monitor.secrets),
                                 lateness_ms, time.monotonic())
            self._on_error(redact("check crashed: " + traceback.format_exc(limit=3).strip(),
                                  monitor.secrets))
        finally:
            skipped = self.scheduler.done(monitor.id)
        if skipped:
            result = dataclasses.replace(result, skipped=tuple(skipped))
        self._on_result(result)


def _pack(result: CheckResult) -> tuple:
    # A plain tuple pickles in C and several times faster than the dataclass.
    return (result.monitor_id, result.timestamp, result.available, result.code, result.response_ms,
            result.reason, result.detail, result.lateness_ms, result.mono, result.skipped,
            result.metrics, result.warning)


class _Child:
    """One probe process, and what it said last of its counts."""

    def __init__(self, fleet: ProbeProcesses, index: int) -> None:
        self.fleet = fleet
        self.index = index
        self.dispatched = 0
        self.skipped = 0
        self.threads = 0
        self.stopped = False  # it said it stopped, as asked
        self.started = fleet.clock()
        self.ended = False  # its counts have gone to the fleet's retired ones
        self.closed = False  # its socket's end was seen (the receiver no longer reads it)
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The package's own folder first, so that the child imports this very code
        # whatever the working directory or how the monitor was installed.
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds monitor/
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor.run.probes", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    def send(self, message: tuple) -> None:
        with contextlib.suppress(OSError):  # it died: the receiver reports and restarts it
            self.conn.send(message)

    def take(self, results: list[CheckResult]) -> bool:
        """Read what it has sent (at least one message), its results into `results`;
        False once its socket has ended."""
        conn, on_error, make = self.conn, self.fleet.on_error, CheckResult
        try:
            messages = [conn.recv()]
            while len(messages) < RECEIVE_MAX and conn.poll(0):
                messages.append(conn.recv())
        except (EOFError, OSError):
            return False
        for message in messages:
            kind = message[0]
            if kind == "batch":
                _, packed, errors, self.dispatched, self.skipped, self.threads = message
                results.extend(make(*p) for p in packed)
                for error in errors:
                    on_error(error)
            elif kind == "stopped":
                _, self.dispatched, self.skipped = message
                self.stopped = True
            elif kind == "fatal":
                on_error(f"probe process {self.index}: {message[1]}")
        return not self.stopped


class ProbeProcesses:
    """`count` probe processes over shards of the monitors, results back to `on_results` in
    lists, from one receiving thread for them all: a thread per process made the threads
    of the monitor fight over the GIL, each handing over small lists."""

    def __init__(self, count: int, on_results: OnResults, on_error: OnError) -> None:
        self.count = count
        self.on_results = on_results
        self.on_error = on_error
        self._lock = threading.Lock()
        self._children: list[_Child] = []
        self._shards: list[list[Monitor]] = [[] for _ in range(count)]
        self._workers = 1
        self._in_flight: int | None = None
        self._stopping = threading.Event()
        self._failures = [0] * count
        self._retired = (0, 0)  # dispatched, skipped of probe processes that ended
        self.clock: Callable[[], float] = time.monotonic
        self._wake_r, self._wake_w = os.pipe()  # a new child for the receiver to read
        self._receiver: threading.Thread | None = None

    def start(self, monitors: Sequence[Monitor], max_workers: int,
              max_in_flight: int | None = None) -> None:
        self._reshard(monitors, max_workers, max_in_flight)
        with self._lock:
            self._children = [self._spawn(index) for index in range(self.count)]
        self._receiver = threading.Thread(target=self._receive, daemon=True,
                                          name="probe-results")
        self._receiver.start()

    def set_monitors(self, monitors: Sequence[Monitor], max_workers: int,
                  max_in_flight: int | None = None) -> None:
        self._reshard(monitors, max_workers, max_in_flight)
        with self._lock:
            children = list(self._children)
        for child in children:
            child.send(("monitors", self._shards[child.index], self._workers, self._in_flight))

    def _reshard(self, monitors: Sequence[Monitor], max_workers: int,
                 max_in_flight: int | None) -> None:
        shards: list[list[Monitor]] = [[] for _ in range(self.count)]
        for monitor in monitors:
            # A stable hash: a monitor stays in its shard across reloads, keeping its phase.
            shards[zlib.crc32(monitor.id.encode()) % self.count].append(monitor)
        self._shards = shards
        # maxWorkers bounds the checks in flight across all processes.
        self._workers = max(1, -(-max_workers // self.count))  # ints: maxWorkers may be huge
        self._in_flight = (None if max_in_flight is None
                           else max(1, -(-max_in_flight // self.count)))

    def _spawn(self, index: int) -> _Child:
        child = _Child(self, index)
        child.send(("monitors", self._shards[index], self._workers, self._in_flight))
        return child

    def _receive(self) -> None:
        """Everything the probe processes send, as it comes: their results handed over in
        one list per wake-up; a process whose socket ends is taken for stopped or dead."""
        while True:
            with self._lock:
                reading = {c.conn: c for c in self._children if not c.closed}
            if not reading and self._stopping.is_set():
                break
            ready = wait([*reading, self._wake_r], timeout=0.5)
            results: list[CheckResult] = []
            for conn in ready:
                if conn == self._wake_r:
                    os.read(self._wake_r, 512)
                    continue
                child = reading[conn]  # type: ignore[index]
                if not child.take(results):
                    child.closed = True
                    child.conn.close()
                    # Waits for its exit (and for a stop to show): not on this thread.
                    threading.Thread(target=self._ended, args=(child,), daemon=True,
                                     name=f"probe-{child.index}-ended").start()
            if results:
                self.on_results(results)

    def _ended(self, child: _Child) -> None:
        """A process's socket ended: expected on stop, else restart it."""
        code = child.process.wait()
        if code in STOP_SIGNALS:
            self._stopping.wait(STOP_SIGNAL_GRACE)
        with self._lock:
            dispatched, skipped = self._retired
            self._retired = (dispatched + child.dispatched, skipped + child.skipped)
            child.ended = True
            if self._stopping.is_set() or child.stopped:
                return
            if self.clock() - child.started >= RESTART_STABLE_AFTER:
                # A long healthy run since its last start: this death is not part of a
                # crash loop, and waits as little as a first one.
                self._failures[child.index] = 0
            self._failures[child.index] += 1
            delay = min(RESTART_BACKOFF_MAX, 0.5 * 2 ** (self._failures[child.index] - 1))
        self.on_error(f"probe process {child.index} (pid {child.process.pid}) ended with exit"
                      f" code {code}; restarting it in {delay:g} s")
        threading.Timer(delay, self._restart, args=(child,)).start()

    def _restart(self, old: _Child) -> None:
        with self._lock:
            if self._stopping.is_set() or old not in self._children:
                return
            try:
                new = self._spawn(old.index)
            except OSError as exc:
                self.on_error(f"cannot restart probe process {old.index}: {exc}")
                return
            self._children[self._children.index(old)] = new
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def stop(self, timeout: float = 1.5) -> None:
        """Stop every probe process: checks in flight are cut short, results made before
        the stop are received."""
        with self._lock:
            self._stopping.set()
            children = list(self._children)
        for child in children:
            child.send(("stop",))
        end = time.monotonic() + timeout
        if self._receiver is not None:
            self._receiver.join(max(0.0, end - time.monotonic()))
        for child in children:
            try:
                child.process.wait(max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self._receiver is None or not self._receiver.is_alive():
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _live(self) -> list[_Child]:
        with self._lock:
            return list(self._children)

    def _counts(self) -> tuple[int, int]:
        with self._lock:
            live = [c for c in self._children if not c.ended]
            dispatched, skipped = self._retired
        return (dispatched + sum(c.dispatched for c in live),
                skipped + sum(c.skipped for c in live))

    @property
    def dispatched(self) -> int:
        return self._counts()[0]

    @property
    def skipped(self) -> int:
        return self._counts()[1]

    @property
    def threads(self) -> int:
        return sum(c.threads for c in self._live())

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self._live()]


def _serve(conn: Connection) -> None:
    """A probe process: check the monitors of its shard until told to stop or orphaned."""
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    watchdog = Watchdog()
    # The outbox holds packed results (tuples), error messages (str) and, last, None.
    probes = LocalProbes(lambda result: outbox.put(_pack(result)), outbox.put, watchdog)

    def report() -> tuple:
        return probes.dispatched, probes.skipped, probes.threads

    def send_results() -> None:
        running = True
        while running:
            items = [outbox.get()]
            # Let a few results gather: a send per result would cost a wake-up of this
            # thread and of the parent's receiver for each check.
            time.sleep(SEND_DELAY)
            while len(items) < BATCH_MAX and not outbox.empty():
                items.append(outbox.get())
            running = None not in items
            results = [i for i in items if isinstance(i, tuple)]
            errors = [i for i in items if isinstance(i, str)]
            try:
                conn.send(("batch", results, errors, *report()))
            except OSError:
                os._exit(0)  # the monitor is gone: nobody to check for

    sender = threading.Thread(target=send_results, name="sender", daemon=True)
    sender.start()
    started = False
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the monitor is gone (even kill -9): stop checking at once
        if message[0] == "monitors":
            # So that a fatal error quoting one of them is masked too (see main).
            remember(value for monitor in message[1] for value in monitor.secrets)
            if started:
                probes.set_monitors(message[1], message[2], message[3])
            else:
                probes.start(message[1], message[2], message[3])
                started = True
        elif message[0] == "stop":
            break
    probes.stop()
    watchdog.stop()  # cuts the checks in flight short
    outbox.put(None)
    sender.join(2.0)
    with contextlib.suppress(OSError):
        conn.send(("stopped", probes.dispatched, probes.skipped))
    conn.close()


def main(argv: list[str]) -> None:
    # The monitor's terminal sends Ctrl-C and SIGHUP to the whole process group, and
    # `systemctl stop` or `kill -TERM -PGID` SIGTERM: only the parent acts on them, and stops
    # its probe processes itself, their last results received and stored.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    try:
        _serve(conn)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which restarts us
        with contextlib.suppress(OSError):
            conn.send(("fatal", redact_known(f"{type(exc).__name__}: {exc}")))
        os._exit(1)


if __name__ == "__main__":
    main(sys.argv)
