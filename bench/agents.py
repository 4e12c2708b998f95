"""Agents posting into one server: the real programs, measured from outside.

    python -m bench.agents                 # drain and steady: a few minutes
    python -m bench.agents --only drain    # one of them
    python -m bench.agents --quick         # a smoke run: seconds

The server is `monitoringApp.py -m -s --web 127.0.0.1:PORT -c config.json -db
monitoring.db` with `agents` declared (two locations, eu and us, `--agents` agents spread
over them) and `--monitors` monitors assigned to those locations (half each), plus a few
local monitors of its own on nginx; the agents are `monitoringApp.py agent` processes, each
with its own database (its outbox). Everything runs in a temporary folder, nginx on
127.0.0.1 (Debian's, installed if missing; without it the steady scenario is skipped).

- drain: each agent starts with an outbox that already holds `--backlog` rows (a fast
  fill through the store's own writer, before anything starts: the rows an agent would
  have kept through an outage, 2% failing, with http phase times) and posts them as fast
  as the server takes them. Measured from outside: the rows of agents (location IS NOT
  NULL) in the server's database, read through a read-only connection every half second;
  the rate over the middle 80% of the backlog; the server's CPU per row from /proc.
  Their monitors run meanwhile, hourly (one check each at the start).
- steady: the agents check nginx every second (`--steady-monitors` per location) for
  `--seconds`; each row's lag is the time it was first seen in the server's database
  less its check time (the sampling period, 0.25 s, included); after the agents' stop,
  every agent's local rows are compared with the server's: none missing, none twice.

With `--postgresql` the server's database is one on a PostgreSQL server the bench starts
(Debian's, as the tests do: tests/support/postgres.py, 127.0.0.1, fsync off), `-db
postgresql://...`, a fresh database per scenario; the server's CPU is then the monitor's
process and the PostgreSQL server's, both (db_cores, db_cpu_us_per_check: the latter's).

Figures: one JSON line each (bench.figures), judged against their targets: the drain at
least 5,000 checks/s on this 2-core machine, the server's CPU per check, the lag p99, rows
lost and stored twice. The reference of the same run: the SQLite writer alone
(bench.writer, in a process of its own; the drain's ratio to it) and the load average;
each figure says how many cores the rest of the machine used meanwhile (others_cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procfs
from bench.figures import FIGURES, figure, judged, print_table
from bench.peers import ensure_packages, free_port, nginx, wait_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "monitoringApp.py"
LOCATIONS = ("eu", "us")
DRAIN_TARGET = 5_000.0  # checks/s into one server on 2 cores
CPU_TARGET = 200.0  # us of the server's CPU a check: 5,000/s in one core
LAG_TARGET = 2.5  # s: a check sent at least every second, committed, sampled every 0.25 s
SAMPLE = 0.25  # s between two reads of the server's database in the steady scenario
LOCAL_MONITORS = 20  # the server's own, on nginx at 1 s
SCENARIOS = ("drain", "steady")
Row = tuple[str, str, str, str]


def token(name: str) -> str:
    return f"bench-token-of-{name}-0123456789"


@dataclass(frozen=True)
class AgentSpec:
    name: str
    location: str


def agent_specs(count: int) -> list[AgentSpec]:
    """`count` agents over the two locations, alternately: eu-1, us-1, eu-2, us-2..."""
    return [AgentSpec(f"{LOCATIONS[i % 2]}-{i // 2 + 1}", LOCATIONS[i % 2])
            for i in range(count)]


def monitor_id(location: str, index: int) -> str:
    return f"{location}-{index:05d}"


def write_config(path: Path, agents: list[AgentSpec], per_location: int, interval: float,
                 base: str | None) -> None:
    """The server's config: the agents, `per_location` http monitors of each location
    (on nginx, or a closed port when there is none: the agents' checks then fail) and,
    with nginx, a few local monitors of the server's own."""
    target = base or f"http://127.0.0.1:{free_port()}"
    locations = sorted({a.location for a in agents})  # (one agent: one location)
    monitors: list[dict[str, Any]] = [
        {"id": monitor_id(location, i), "URL": f"{target}/{location}/{i}",
         "checkInterval": interval, "locations": [location]}
        for location in locations for i in range(per_location)]
    if base is not None:
        monitors += [{"id": f"local-{i}", "URL": f"{base}/local/{i}", "checkInterval": 1}
                     for i in range(LOCAL_MONITORS)]
    path.write_text(json.dumps({
        "agents": [{"name": a.name, "token": token(a.name), "location": a.location}
                   for a in agents],
        "monitors": monitors}))


def fill(db: Path, location: str, per_location: int, rows: int, end: float) -> float:
    """`rows` checks of the location's monitors, a round a second ending at `end`, written
    into the agent's database `db` by the store's own writer (imported here only: the rest
    of this bench reads the programs from outside). Returns the seconds it took."""
    from bench.run import synthetic_check
    from monitor.store.sqlite.writer import Store

    ids = [monitor_id(location, i) for i in range(per_location)]
    rounds = math.ceil(rows / per_location)
    start = end - rounds
    t0 = time.perf_counter()
    store = Store(db).start()
    written = 0
    for step in range(rounds):
        take = min(per_location, rows - written)
        store.put_checks([synthetic_check(ids[i], i, per_location, start + step, 1.0, True)
                          for i in range(take)])
        written += take
        if step % 20 == 19:
            store.flush(600)  # memory stays bounded
    assert store.flush(600), f"{db}: the fill was not written"
    store.close()
    return time.perf_counter() - t0


class Process:
    """One of the programs, started in its own session, its stderr in a file; SIGINT at
    the end (as Ctrl-C), SIGKILL if it does not exit."""

    def __init__(self, name: str, args: list[str], folder: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.err_path = folder / f"{name}.err"
        with self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(args, cwd=folder, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         env={**os.environ, **(env or {})},
                                         start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.err_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.stderr()}")

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGINT and wait; True when it exited by itself."""
        if not self.alive():
            return True
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            return False

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


class ServerRows:
    """The agents' rows in the server's database (an SQLite file, or a PostgreSQL URL), read
    as another program would: read-only, counted from the last id seen on."""

    def __init__(self, database: Path | str) -> None:
        self.database = database
        self.conn: Any = None  # sqlite3's or psycopg's
        self.last_id = 0
        self.count = 0
        self.postgresql = isinstance(database, str)

    def _connection(self) -> Any:
        if self.conn is None and self.postgresql:
            import psycopg

            with contextlib.suppress(psycopg.Error):
                self.conn = psycopg.connect(str(self.database), autocommit=True)
        elif self.conn is None and Path(self.database).exists():
            with contextlib.suppress(sqlite3.OperationalError):
                self.conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True,
                                            timeout=10)
        return self.conn

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self._connection()
        assert conn is not None
        if self.postgresql:
            sql = sql.replace("?", "%s")
        return list(conn.execute(sql, params).fetchall())

    def new(self) -> list[float]:
        """The check times of the agents' rows stored since the last call."""
        if self._connection() is None:
            return []
        try:
            rows = self._read("SELECT id, timestamp, location FROM website_monitoring"
                              " WHERE id > ? ORDER BY id", (self.last_id,))
        except Exception:  # noqa: BLE001 - no table yet, or busy past the timeout
            return []
        if rows:
            self.last_id = rows[-1][0]
        times = [ts for _id, ts, location in rows if location is not None]
        self.count += len(times)
        return times

    def keys(self, location: str) -> Counter[tuple[str, float]]:
        """(monitor, check time) of every row of `location`, counted."""
        return Counter(self._read("SELECT monitor, timestamp FROM website_monitoring"
                                  " WHERE location = ?", (location,)))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def marks(self) -> dict[tuple[str, str], int]:
        """Each (agent, instance)'s upto: the highest local id the server has stored."""
        return {(name, instance): upto for name, instance, upto
                in self._read("SELECT name, instance, upto FROM agents")}


def local_keys(db: Path, name: str, marks: dict[tuple[str, str], int],
               ) -> tuple[Counter[tuple[str, float]], int]:
    """(monitor, check time) of the agent's rows the server acknowledged (id <= its upto),
    counted, and how many more wait in its outbox (not sent at its stop)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as c:
        instance = c.execute("SELECT value FROM meta WHERE key = 'agent_instance'").fetchone()
        upto = marks.get((name, instance[0]), 0) if instance else 0
        sent = Counter(c.execute("SELECT monitor, timestamp FROM website_monitoring"
                                 " WHERE id <= ?", (upto,)))
        waiting = c.execute("SELECT count(*) FROM website_monitoring WHERE id > ?",
                            (upto,)).fetchone()[0]
    return sent, waiting


@dataclass
class Sample:
    at: float  # monotonic
    rows: int  # agents' rows in the server's database
    server_cpu: float
    agents_cpu: float
    machine: float
    db_cpu: float = 0.0  # the PostgreSQL server's (with --postgresql)


@dataclass
class Run:
    """The server and its agents, running in `folder`."""

    folder: Path
    agents: list[AgentSpec]
    database: Path | str  # the server's -db: an SQLite file, or a PostgreSQL URL
    db_pid: int | None = None  # the PostgreSQL server's postmaster
    server: Process | None = None
    clients: list[Process] = field(default_factory=list)
    rows: ServerRows | None = None
    url: str = ""
    samples: list[Sample] = field(default_factory=list)

    def start_server(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = Process("server", [
            sys.executable, str(APP), "-m", "-s", "--web", f"127.0.0.1:{port}",
            "-c", str(self.folder / "config.json"), "-db", str(self.database)],
            self.folder)
        try:
            wait_port(port, 60)
        except RuntimeError:
            self.server.check()
            raise
        self.rows = ServerRows(self.database)

    def agent_db(self, spec: AgentSpec) -> Path:
        return self.folder / f"agent-{spec.name}.db"

    def start_agents(self) -> None:
        for spec in self.agents:
            self.clients.append(Process(spec.name, [
                sys.executable, str(APP), "agent", "--server", self.url,
                "--location", spec.location, "-db", str(self.agent_db(spec))],
                self.folder, env={"MONITOR_AGENT_TOKEN": token(spec.name)}))

    def check(self) -> None:
        assert self.server is not None
        for proc in [self.server, *self.clients]:
            proc.check()

    def sample(self) -> tuple[Sample, list[float]]:
        assert self.server is not None and self.rows is not None
        times = self.rows.new()
        entry = Sample(time.monotonic(), self.rows.count,
                       procfs.usage(self.server.pid, memory=False).cpu,
                       sum(procfs.usage(c.pid, memory=False).cpu for c in self.clients),
                       procfs.machine_busy(),
                       procfs.usage(self.db_pid, memory=False).cpu if self.db_pid else 0.0)
        self.samples.append(entry)
        return entry, times

    def stop(self) -> None:
        for proc in self.clients:
            proc.stop()
        if self.server is not None:
            self.server.stop()

    def kill(self) -> None:
        for proc in [*self.clients, *([self.server] if self.server else [])]:
            proc.kill()
        if self.rows is not None:
            self.rows.close()


@contextlib.contextmanager
def running(ctx: Context, folder: Path, agents: list[AgentSpec]) -> Iterator[Run]:
    if ctx.postgres is None:
        run = Run(folder, agents, folder / "monitoring.db")
    else:
        run = Run(folder, agents, ctx.postgres.url(ctx.postgres.create_database()),
                  postmaster(ctx.postgres.data))
    try:
        yield run
    finally:
        run.kill()


def postmaster(data: Path) -> int:
    """The pid of the PostgreSQL server of `data` (the first line of its postmaster.pid)."""
    return int((data / "postmaster.pid").read_text().split()[0])


def cores(a: Sample, b: Sample) -> dict[str, float]:
    span = b.at - a.at
    server = (b.server_cpu - a.server_cpu) / span
    agents = (b.agents_cpu - a.agents_cpu) / span
    db = (b.db_cpu - a.db_cpu) / span
    machine = (b.machine - a.machine) / span
    return {"server_cores": round(server, 2), "db_cores": round(db, 2),
            "agents_cores": round(agents, 2), "machine_cores": round(machine, 2),
            "others_cores": round(machine - server - db - agents, 2)}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


# --- scenarios -----------------------------------------------------------------------------

@dataclass
class Context:
    args: argparse.Namespace
    folder: Path
    base: str | None  # nginx's base URL; None without nginx
    rows: list[Row]
    postgres: Any = None  # the PostgreSQL server (tests.support.postgres) with --postgresql
    writer: float | None = None  # checks/s the SQLite writer alone wrote, this run


def drain(ctx: Context) -> None:
    args = ctx.args
    folder = ctx.folder / "drain"
    folder.mkdir()
    agents = agent_specs(args.agents)
    per_location = args.monitors // len(LOCATIONS)
    write_config(folder / "config.json", agents, per_location, 3600, ctx.base)
    now = time.time()
    fill_s = 0.0
    for spec in agents:
        fill_s += fill(folder / f"agent-{spec.name}.db", spec.location, per_location,
                       args.backlog, now)
    total = args.backlog * len(agents)
    print(f"drain: {len(agents)} outboxes of {args.backlog} rows filled in {fill_s:.1f} s",
          file=sys.stderr, flush=True)
    with running(ctx, folder, agents) as run:
        run.start_server()
        run.start_agents()
        started = time.monotonic()
        low, high = total * 0.1, total * 0.9
        first = last = None
        while True:
            run.check()
            time.sleep(0.5)
            sample, _times = run.sample()
            if first is None and sample.rows >= low:
                first = sample
            if sample.rows >= high:
                last = sample
                break
            if time.monotonic() - started > args.drain_timeout:
                break
        end = run.samples[-1]
        run.stop()
        assert run.rows is not None
        run.rows.new()
        stored = run.rows.count
    if first is None or last is None or last is first:
        # Too slow to cross the middle of the backlog in time: the rate over what it did.
        first, last = run.samples[0], end
    span = last.at - first.at
    rate = (last.rows - first.rows) / span if span > 0 else float("nan")
    rows = last.rows - first.rows
    db_us = (last.db_cpu - first.db_cpu) / max(1, rows) * 1e6
    cpu_us = (last.server_cpu - first.server_cpu) / max(1, rows) * 1e6 + db_us
    agents_us = (last.agents_cpu - first.agents_cpu) / max(1, rows) * 1e6
    extra = {"agents": len(agents), "backlog_per_agent": args.backlog,
             "database": "postgresql" if ctx.postgres else "sqlite",
             "db_cpu_us_per_check": round(db_us, 1),
             "monitors": per_location * min(len(agents), len(LOCATIONS)),
             "window_s": round(span, 1),
             "window_rows": rows, "stored_after_stop": stored, "total_backlog": total,
             "agents_cpu_us_per_check": round(agents_us, 1), "load": load(),
             **cores(first, last)}
    judged("agents_drain_checks_per_s", rate, "checks/s", DRAIN_TARGET, most=False, **extra)
    judged("agents_drain_server_cpu_us_per_check", cpu_us, "us", CPU_TARGET, **extra)
    if ctx.writer:
        # The whole server against its own writer measured alone minutes before: a figure
        # that a machine busier or quieter than usual moves less than the rate itself.
        figure("agents_drain_ratio_to_writer", rate / ctx.writer, "x",
               writer_checks_per_s=ctx.writer, others_cores=extra["others_cores"])
    ctx.rows.append((f"drain: {len(agents)} agents x {args.backlog} rows waiting",
                     f"{rate:.0f} checks/s stored (>= {DRAIN_TARGET:.0f})",
                     f"server {cpu_us:.0f} us CPU/check, agents {agents_us:.0f} us",
                     f"{extra['server_cores']:.2f} + {extra['agents_cores']:.2f} cores"))


def steady(ctx: Context) -> None:
    args = ctx.args
    if ctx.base is None:
        print("steady: skipped: no nginx to check (install Debian's nginx-light)",
              file=sys.stderr, flush=True)
        figure("agents_steady_skipped", float("nan"), "", reason="no nginx")
        return
    folder = ctx.folder / "steady"
    folder.mkdir()
    agents = agent_specs(args.steady_agents)
    per_location = args.steady_monitors
    write_config(folder / "config.json", agents, per_location, 1, ctx.base)
    lags: list[float] = []
    with running(ctx, folder, agents) as run:
        run.start_server()
        run.start_agents()
        started = time.monotonic()
        # The window opens once every agent's rows arrive (their monitors fetched, started).
        while time.monotonic() - started < args.warmup + 60:
            run.check()
            time.sleep(SAMPLE)
            sample, _ = run.sample()
            if sample.rows and time.monotonic() - started >= args.warmup:
                break
        first = run.samples[-1]
        while time.monotonic() - first.at < args.seconds:
            run.check()
            time.sleep(SAMPLE)
            sample, times = run.sample()
            wall = time.time()
            lags += [wall - ts for ts in times]
        last = run.samples[-1]
        # Memory at the end of the window: each agent's tree (its probe processes too) and
        # the server's, as unique pages (USS) read from /proc.
        agent_uss = [procfs.usage(c.pid).uss for c in run.clients]
        assert run.server is not None
        server_uss = procfs.usage(run.server.pid).uss
        stopped = all(proc.stop() for proc in run.clients)
        time.sleep(1.0)  # their last batches committed
        assert run.server is not None and run.rows is not None
        run.server.stop()
        run.rows.close()
        server_rows = ServerRows(run.database)
        marks = server_rows.marks()
        lost = twice = waiting = made = 0
        for location in LOCATIONS:
            local: Counter[tuple[str, float]] = Counter()
            for spec in agents:
                if spec.location == location:
                    sent, left = local_keys(run.agent_db(spec), spec.name, marks)
                    local += sent
                    waiting += left
            stored = server_rows.keys(location)
            made += sum(local.values()) + waiting
            # Acknowledged but not stored; stored but made by no agent, or stored twice.
            lost += sum((local - stored).values())
            twice += sum((stored - local).values())
        server_rows.close()
    span = last.at - first.at
    rows = last.rows - first.rows
    rate = rows / span
    db_us = (last.db_cpu - first.db_cpu) / max(1, rows) * 1e6
    cpu_us = (last.server_cpu - first.server_cpu) / max(1, rows) * 1e6 + db_us
    p50, p99, top = percentile(lags, 50), percentile(lags, 99), max(lags, default=math.nan)
    extra = {"agents": len(agents), "monitors_per_location": per_location,
             "asked_per_s": per_location * len(agents), "stored_per_s": round(rate, 1),
             "window_s": round(span, 1), "server_cpu_us_per_check": round(cpu_us, 1),
             "database": "postgresql" if ctx.postgres else "sqlite",
             "db_cpu_us_per_check": round(db_us, 1),
             "load": load(), **cores(first, last)}
    judged("agents_steady_lag_p99_s", p99, "s", LAG_TARGET, p50_s=round(p50, 3),
           max_s=round(top, 3), rows=len(lags), sample_s=SAMPLE, **extra)
    judged("agents_steady_lost", lost, "checks", 0, made=made, waiting=waiting,
           agents_stopped=stopped)
    judged("agents_steady_waiting_after_stop", waiting, "checks", 0, made=made)
    judged("agents_steady_stored_twice", twice, "checks", 0, made=made)
    agent_mb = max(agent_uss, default=0) / 1e6
    figure("agents_steady_agent_memory_mb", round(agent_mb, 1), "MB",
           per_monitor_kb=round(agent_mb * 1000 / max(1, per_location), 1),
           monitors=per_location, server_mb=round(server_uss / 1e6, 1))
    ctx.rows.append((f"steady: {len(agents)} agents x {per_location} monitors at 1 s",
                     f"{rate:.0f} checks/s arriving, lag p50 {p50:.2f} s p99 {p99:.2f} s",
                     f"{lost} lost, {twice} twice, {waiting} waiting of {made}",
                     f"server {cpu_us:.0f} us CPU/check; memory: an agent of"
                     f" {per_location} monitors {agent_mb:.1f} MB, the server"
                     f" {server_uss / 1e6:.1f} MB"))


def reference(ctx: Context) -> None:
    """The SQLite writer alone on this machine now (bench.writer, its own process)."""
    args = ["--sites", "500" if ctx.args.quick else "2000", "--minutes", "1" if
            ctx.args.quick else "2", "--metrics"]
    done = subprocess.run([sys.executable, "-m", "bench.writer", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    line = next((json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"bench.writer printed no figure: {done.stderr[-500:]}")
    ctx.writer = float(line["value"])
    figure("reference_writer_checks_per_s", line["value"], "checks/s",
           checks=line["checks"], metrics=True, load=load())
    ctx.rows.append(("reference: the SQLite writer alone", f"{line['value']} checks/s",
                     f"load {' '.join(map(str, load()))}", ""))


RUNS = {"drain": drain, "steady": steady}
QUICK = {"agents": 2, "monitors": 200, "backlog": 4000, "drain_timeout": 60.0,
         "steady_agents": 2, "steady_monitors": 20, "seconds": 4.0, "warmup": 2.0}
FULL = {"agents": 4, "monitors": 5000, "backlog": 100_000, "drain_timeout": 300.0,
        "steady_agents": 2, "steady_monitors": 500, "seconds": 30.0, "warmup": 5.0}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="seconds, small sizes")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"scenarios, comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--agents", type=int, help="drain: agents over 2 locations (4)")
    parser.add_argument("--monitors", type=int, help="drain: monitors, half a location (5000)")
    parser.add_argument("--backlog", type=int, help="drain: rows in each outbox (100000)")
    parser.add_argument("--drain-timeout", type=float, help="drain: at most (300 s)")
    parser.add_argument("--steady-agents", type=int, help="steady: agents (2)")
    parser.add_argument("--steady-monitors", type=int,
                        help="steady: monitors of each location, at 1 s (500)")
    parser.add_argument("--seconds", type=float, help="steady: the window (30)")
    parser.add_argument("--warmup", type=float, help="steady: seconds before it (5)")
    parser.add_argument("--postgresql", action="store_true",
                        help="the server's database on a PostgreSQL server the bench starts"
                             " (Debian's), not an SQLite file")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the writer's own rate (bench.writer)")
    parser.add_argument("--folder", type=Path, help="work here (kept) instead of a temporary"
                                                    " folder")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.scenarios = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}: choose from "
                     f"{', '.join(SCENARIOS)}")
    if args.agents < 1 or args.steady_agents < 1:
        parser.error("--agents and --steady-agents: at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        ensure_packages(["nginx"])
    have_nginx = any(Path(d, "nginx").exists() for d in ("/usr/sbin", "/usr/bin"))
    rows: list[Row] = []
    failed: list[str] = []
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        tmp = Path(str(args.folder) if args.folder is not None else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="bench-agents-")))
        base = stack.enter_context(nginx(tmp))[0] if have_nginx else None
        ctx = Context(args, tmp, base, rows)
        if args.postgresql:
            from tests.support.postgres import running_server

            ctx.postgres = stack.enter_context(running_server())
        if not args.no_reference:
            reference(ctx)
        for name in SCENARIOS:
            if name not in args.scenarios:
                continue
            print(f"{name}...", file=sys.stderr, flush=True)
            try:
                RUNS[name](ctx)
            except (RuntimeError, OSError, sqlite3.Error, subprocess.SubprocessError) as exc:
                failed.append(name)
                print(f"{name}: failed: {exc}", file=sys.stderr, flush=True)
                figure(f"{name}_error", float("nan"), "", error=str(exc)[-2000:])
    print_table(rows)
    for entry in FIGURES:
        print(json.dumps(entry), flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
