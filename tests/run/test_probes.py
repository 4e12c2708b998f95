
"""Probe processes: checks made in child processes over shards of the sites, results stored
and alerted on by the parent. Real processes, real loopback servers, real kills."""

import dataclasses
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from bench.soak import children_of
from monitor.checks.watchdog import Watchdog
from monitor.config import Config, parse_config
from monitor.engine import Engine
from monitor.run.probes import (
    AUTO_SPLIT_RATE,
    RESTART_STABLE_AFTER,
    LocalProbes,
    ProbeProcesses,
    probe_count,
)
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.support.app import APP, start, wait_for
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_auto_splits_only_under_load():
    light = Config(monitors=tuple(make_site(f"http://a.test/{i}", interval=10) for i in range(100)))
    assert probe_count(light) == 1
    cores = len(os.sched_getaffinity(0))
    sites = int(AUTO_SPLIT_RATE) + 1
    heavy = Config(monitors=tuple(make_site(f"http://a.test/{i}", interval=1)
                                  for i in range(sites)))
    assert probe_count(heavy) == 2  # two at least: one means "in this process"
    heavier = Config(monitors=tuple(make_site(f"http://a.test/{i}", interval=0.01)
                                 for i in range(sites)))
    assert probe_count(heavier) == max(2, cores)  # at most one per core
    # 25,000 sites at 10 s: 2,500 checks/s exactly, though the float sum is a hair more.
    tenth = Config(monitors=tuple(make_site(f"http://a.test/{i}", interval=10)
                               for i in range(25_000)))
    assert probe_count(tenth) == 2
    assert probe_count(Config(monitors=light.monitors, processes=3)) == 3
    assert probe_count(Config(monitors=heavy.monitors, processes=1)) == 1


@pytest.fixture()
def engine_of(tmp_path):
    engines = []

    def make(sites, processes=2, **kwargs):
        errors = []
        engine = Engine(Config(monitors=tuple(sites), processes=processes, **kwargs),
                        Store(tmp_path / "m.db"), on_error=errors.append)
        engine.errors = errors
        engines.append(engine)
        return engine.start()

    yield make
    for engine in engines:
        engine.stop()


def test_checks_from_every_process_are_stored_and_alerted_on(hostile, engine_of, tmp_path):
    # A timeout of 3 s: on a VM losing a fifth of its CPU to its host (measured), a 0.5 s
    # timeout on loopback failed an "ok" site now and then, with the code of before too.
    ok = [make_site(f"{hostile.base}/ok?{i}", interval=0.1, window=1.0, timeout=3.0)
          for i in range(8)]
    bad = [make_site(f"{hostile.base}/500?{i}", interval=0.1, window=1.0) for i in range(4)]
    engine = engine_of(ok + bad)
    events = []
    engine.hooks.append(events.append)
    assert isinstance(engine.probes, ProbeProcesses)
    assert len(engine.probes.pids) == 2
    wait_for(lambda: {e.monitor_id for e in events} == {s.id for s in bad}, 10,
             "an alert per bad site")
    wait_for(lambda: all(c.dispatched > 0 for c in engine.probes._live()), 5,
             "both processes checking")
    db = tmp_path / "m.db"

    def every_site_checked():
        engine.store.flush()
        return all(count_checks(db, site.id) >= 5 for site in ok + bad)

    wait_for(every_site_checked, 10, "5 checks of every site")
    assert not query(db, "SELECT 1 FROM website_monitoring WHERE available = 0 AND host LIKE ?",
                     f"{hostile.base}/ok%")
    assert engine.errors == []


def test_stop_ends_every_process_and_keeps_every_result(hostile, tmp_path):
    sites = [make_site(f"{hostile.base}/ok?{i}", interval=0.05) for i in range(20)]
    engine = Engine(Config(monitors=tuple(sites), processes=2), Store(tmp_path / "m.db")).start()
    wait_for(lambda: engine.checks_done > 200, 10, "checks")
    children = [c.process for c in engine.probes._live()]
    started = time.monotonic()
    engine.stop()
    assert time.monotonic() - started < 2.0
    assert all(p.poll() is not None for p in children)
    # Every result received was stored: nothing was lost between the processes and disk.
    # Rows: the checks that ran and the slots they made skip (which share their verdict).
    assert count_checks(tmp_path / "m.db") == engine.checks_done + engine.slots_skipped
    assert engine.probes.dispatched >= engine.checks_done


def test_a_killed_probe_process_is_restarted(hostile, engine_of, tmp_path):
    sites = [make_site(f"{hostile.base}/ok?{i}", interval=0.1) for i in range(10)]
    engine = engine_of(sites)
    wait_for(lambda: engine.checks_done > 50, 10, "checks")
    victim = engine.probes._live()[0]
    os.kill(victim.process.pid, signal.SIGKILL)
    wait_for(lambda: any("ended with exit code -9; restarting" in e for e in engine.errors), 5,
             "the restart message", lambda: f": {engine.errors}")
    wait_for(lambda: victim not in engine.probes._live(), 5, "a new process")
    shard = engine.probes._shards[victim.index]
    assert shard
    engine.store.flush()
    before = {s.id: count_checks(tmp_path / "m.db", s.id) for s in shard}

    def checked_again():
        engine.store.flush()
        return all(count_checks(tmp_path / "m.db", s.id) > before[s.id] + 3 for s in shard)

    wait_for(checked_again, 10, "the restarted process's sites checked again")


def test_restart_backoff_doubles_in_a_crash_loop_and_resets_after_a_healthy_run(
        hostile, engine_of):
    engine = engine_of([make_site(f"{hostile.base}/ok?{i}", interval=0.1) for i in range(4)])
    fleet = engine.probes
    offset = 0.0
    fleet.clock = lambda: time.monotonic() + offset

    def kill_and_read_delay() -> str:
        victim = fleet._live()[0]
        seen = len(engine.errors)
        os.kill(victim.process.pid, signal.SIGKILL)
        wait_for(lambda: len(engine.errors) > seen, 5, "the restart message")
        wait_for(lambda: victim not in fleet._live(), 10, "a new process")
        return engine.errors[seen].rsplit("restarting it in ", 1)[1]

    assert kill_and_read_delay() == "0.5 s"
    assert kill_and_read_delay() == "1 s"  # died again at once: a crash loop
    offset += RESTART_STABLE_AFTER  # the new process then ran for 5 minutes
    assert kill_and_read_delay() == "0.5 s"


def test_reload_adds_sites_and_changes_the_process_count(hostile, engine_of, tmp_path):
    first = [make_site(f"{hostile.base}/ok?{i}", interval=0.1) for i in range(4)]
    engine = engine_of(first)
    wait_for(lambda: engine.checks_done > 20, 10, "checks")
    added = make_site(f"{hostile.base}/ok?added", interval=0.1)
    engine.reload(Config(monitors=(*first, added), processes=2))

    def added_checked():
        engine.store.flush()
        return count_checks(tmp_path / "m.db", added.id) >= 3

    wait_for(added_checked, 10, "the added site checked")
    old = [c.process for c in engine.probes._live()]
    engine.reload(Config(monitors=(*first, added), processes=1))
    assert all(p.poll() is not None for p in old)
    assert not isinstance(engine.probes, ProbeProcesses)
    done = engine.checks_done
    wait_for(lambda: engine.checks_done > done + 20, 10, "checks in this process")


def start_monitor_with_two_probes(hostile, tmp_path, silent=True, **popen):
    """`-m -s` (or `-m`, its stdout piped) on 6 sites in 2 probe processes; (process, its
    children) once checks are stored."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"processes": 2, "websites": [
        {"URL": f"{hostile.base}/ok?{i}", "checkInterval": 0.2} for i in range(6)]}))
    db = tmp_path / "m.db"
    proc = start(["-m", *(["-s"] if silent else []), "-c", str(config), "-db", str(db)], None,
                 stdout=subprocess.DEVNULL if silent else subprocess.PIPE, text=False, **popen)
    try:
        children = wait_for(lambda: len(children_of(proc.pid)) == 2 and children_of(proc.pid),
                            10, "two probe processes")
        wait_for(lambda: count_checks(db) > 10, 10, "checks stored")
    except BaseException:
        stderr_of(proc)
        raise
    return proc, children


def stderr_of(proc):
    """Kill the process if it still runs; what it wrote on stderr."""
    proc.kill()
    proc.wait()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return err


def test_kill_9_of_the_monitor_leaves_no_probe_process_behind(hostile, tmp_path):
    proc, children = start_monitor_with_two_probes(hostile, tmp_path)
    try:
        proc.kill()
        proc.wait(5)
        wait_for(lambda: not any(alive(pid) for pid in children), 3,
                 "the probe processes to exit")
    finally:
        err = stderr_of(proc)
    assert "Traceback" not in err


def test_ctrl_c_stops_the_monitor_and_its_probe_processes(hostile, tmp_path):
    # Its own process group, as a terminal makes: Ctrl-C signals the parent and the
    # children alike, and only the parent may act on it.
    proc, children = start_monitor_with_two_probes(hostile, tmp_path, start_new_session=True)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(5) == 0
        assert not any(alive(pid) for pid in children)
    finally:
        err = stderr_of(proc)
    assert err == ""


def test_sigterm_to_the_process_group_stops_the_monitor_and_its_probe_processes(
        hostile, tmp_path):
    # What `systemctl stop` and `kill -TERM -PGID` do: every process gets SIGTERM. The
    # parent stops its probe processes itself; none of them is a crash to restart.
    proc, children = start_monitor_with_two_probes(hostile, tmp_path, silent=False,
                                                   start_new_session=True)
    try:
        # The children first, the parent acting on its SIGTERM a moment later, as when its
        # main thread is busy (printing the stats) or the machine is loaded: on an idle
        # machine the parent usually, not always, stops its children before they die.
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.3)
        assert all(alive(pid) for pid in children)  # they wait for the parent's word
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(5) == 0
        assert not any(alive(pid) for pid in children)
        out = proc.stdout.read().decode()
    finally:
        proc.stdout.close()
        err = stderr_of(proc)
    assert err == ""
    # Every check received was committed, the last ones made by the probe processes too.
    recorded = int(re.search(r"Stopped; (\d+) checks recorded", out).group(1))
    assert recorded == count_checks(tmp_path / "m.db") > 10


def test_a_probe_process_killed_by_the_stop_signal_as_it_starts_is_not_restarted(hostile):
    # SIGTERM to the process group while a probe process is still starting (before it can
    # ignore the signal) kills it; the monitor's own stop follows within a moment.
    errors = []
    fleet = ProbeProcesses(1, lambda results: None, errors.append)
    fleet.start([make_site(f"{hostile.base}/ok", interval=0.1)], 4)
    child = fleet._live()[0]
    os.kill(child.process.pid, signal.SIGTERM)
    time.sleep(0.3)
    fleet.stop()
    assert child.process.wait(1) == -signal.SIGTERM
    fleet._receiver.join(3)
    time.sleep(0.6)  # a restart would come 0.5 s after the death
    assert errors == []
    assert fleet._live() == [child]


def test_many_network_failures_wait_for_one_canary_check_per_hand_over(hostile, engine_of):
    # 800 connection failures a second, each to be confirmed by the canary (which answers:
    # the failures are real). One canary answer serves every result received together;
    # a canary wait per result would leave the results piling up behind it.
    sites = [make_site(f"{refused_url()}?{i}", interval=0.05) for i in range(40)]
    canary = make_site(hostile.base + "/ok", interval=60, timeout=0.5)
    engine = engine_of(sites, canary=canary)
    wait_for(lambda: engine.probes.dispatched > 2000, 10, "checks dispatched")
    time.sleep(0.5)  # what is received by now was finished at least this long ago
    dispatched, recorded = engine.probes.dispatched, engine.checks_done
    assert recorded >= 0.75 * dispatched - 200, (recorded, dispatched)
    assert engine.canary.online
    engine.store.flush()
    assert not query(engine.store.path, "SELECT 1 FROM website_monitoring WHERE available"
                     " IS NULL LIMIT 1")  # the canary answered: every failure counts


@pytest.mark.parametrize("processes", [1, 2])
def test_a_crashing_check_is_recorded_and_reported_from_any_process(
        hostile, engine_of, tmp_path, processes):
    # A check kind the process does not know stands in for a bug in a check: the site gets
    # an "other" failure, the error reaches the parent's error line, and the rest go on.
    broken = dataclasses.replace(make_site(f"{hostile.base}/ok?broken", interval=0.1),
                                 kind="nonexistent")
    fine = make_site(f"{hostile.base}/ok?fine", interval=0.1)
    engine = engine_of([broken, fine], processes=processes)

    def both_recorded():
        engine.store.flush()
        return count_checks(tmp_path / "m.db", broken.id) >= 3 and \
            count_checks(tmp_path / "m.db", fine.id) >= 3

    wait_for(both_recorded, 10, "checks of both sites")
    assert query(tmp_path / "m.db", "SELECT DISTINCT available, reason, detail FROM"
                 " website_monitoring WHERE host = ?", broken.id) == [
        (0, "other", "KeyError: 'nonexistent'")]
    assert any(e.startswith("check crashed: Traceback") for e in engine.errors), engine.errors


def test_a_fatal_error_of_a_probe_process_never_shows_a_site_secret(monkeypatch):
    # Nothing known makes a probe process fail while it holds the sites; a fault injected
    # where it starts them stands in for one, in the real probe process's main.
    monkeypatch.setenv("MON_PASS", "pw-Zq81-secret")
    config = parse_config(json.dumps({"websites": [
        {"URL": "http://ops:${MON_PASS}@127.0.0.1:1/"}]}))
    script = ("import sys, monitor.run.probes as probes\n"
              "def start(self, sites, workers, in_flight=None):\n"
              "    raise RuntimeError(f'cannot schedule {sites[0].spec.url}')\n"
              "probes.LocalProbes.start = start\n"
              "probes.main(sys.argv)\n")
    ours, theirs = socket.socketpair()
    with theirs:
        proc = subprocess.Popen([sys.executable, "-c", script, str(theirs.fileno())],
                                pass_fds=(theirs.fileno(),), cwd=Path(APP).parent)
    conn = Connection(ours.detach())
    try:
        conn.send(("monitors", list(config.monitors), 4, None))
        assert conn.poll(10)
        message = conn.recv()
    finally:
        conn.close()
        code = proc.wait(10)
    assert message == ("fatal", "RuntimeError: cannot schedule http://ops:***@127.0.0.1:1/")
    assert code == 1


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    """Counts the requests it holds at once. Each is held 0.2 s, or, when the server has a
    `gather` count, until that many are held together (at most 5 s): then the count does
    not depend on how soon a loaded machine starts the checks."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        server = self.server
        with server.cond:  # type: ignore[attr-defined]
            server.now += 1  # type: ignore[attr-defined]
            server.most = max(server.most, server.now)  # type: ignore[attr-defined]
            server.cond.notify_all()  # type: ignore[attr-defined]
            gather = server.gather  # type: ignore[attr-defined]
            if gather is not None:
                server.cond.wait_for(  # type: ignore[attr-defined]
                    lambda: server.most >= gather, 5)  # type: ignore[attr-defined]
        if gather is None:
            time.sleep(0.2)
        with server.cond:  # type: ignore[attr-defined]
            server.now -= 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("in_flight", [3, None])
def test_max_in_flight_bounds_the_http_checks_a_loop_keeps_open(tmp_path, in_flight):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.cond, server.now, server.most = threading.Condition(), 0, 0  # type: ignore[attr-defined]
    # Unbounded: every request is held until all twelve are held at once.
    server.gather = 12 if in_flight is None else None  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    # Twelve sites whose first checks all start within 0.1 s.
    sites = tuple(make_site(f"{base}/{i}", interval=0.1, timeout=8) for i in range(12))
    results: list = []
    probes = LocalProbes(results.append, print, Watchdog())
    try:
        probes.start(sites, 256, in_flight)
        wait_for(lambda: len(results) >= 12, 10, "twelve checks")
    finally:
        probes.stop()
        server.shutdown()
        server.server_close()
    assert all(r.available for r in results), results
    # Bounded: never more at the server than allowed. Unbounded (the default): the twelve
    # are held at once, not queued behind a limit (a limit would hold them 5 s short).
    if in_flight is not None:
        assert server.most == in_flight  # type: ignore[attr-defined]
    else:
        assert server.most == 12  # type: ignore[attr-defined]
