"""The real `monitoringApp.py agent` in a process of its own, against the fake server of the
agent protocol on loopback: everything sent in order, the server away and back, a config
change, a killed agent restarted; and its errors."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.agent.conftest import TOKEN, monitors_doc
from tests.agent.fake_server import FakeServer, State
from tests.support.app import Output, run_app, start, stop, wait_for


def agent(url: str, db: Path, location: str = "eu", token: str = TOKEN) -> subprocess.Popen:
    return start(["agent", "--server", url, "--location", location, "-db", str(db)],
                 db.parent, env={"MONITOR_AGENT_TOKEN": token})


def local_rows(db: Path) -> list[tuple[int, str, float]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, monitor, timestamp FROM website_monitoring"
                            " ORDER BY id").fetchall()
    finally:
        conn.close()


def server_rows(state: State) -> list[tuple[int, str, float]]:
    return [(row["id"], row["monitor"], row["timestamp"]) for row in state.rows()]


def test_everything_goes_in_order_and_a_server_away_loses_nothing_and_repeats_nothing(
        tmp_path: Path, server: FakeServer, state: State) -> None:
    state.config = monitors_doc("m1", "m2", "m3", "m4", interval=0.05)
    db = tmp_path / "agent-eu.db"
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: len(state.rows()) >= 50, 20, "the first checks at the server",
                 output.dump)
        server.stop()
        before = len(state.rows())
        wait_for(lambda: output.find(output.err, "lost the server"), 10, "the lost line",
                 output.dump)
        time.sleep(2.5)
        away = len(local_rows(db)) - before
        server.start()
        wait_for(lambda: output.find(output.err, "is back after"), 15, "the back line",
                 output.dump)
        wait_for(lambda: len(state.rows()) > before + away, 10, "the checks kept meanwhile",
                 output.dump)
    finally:
        _, out, err = stop(proc, signal.SIGTERM, limit=10)
    output.join()
    assert proc.returncode == 0, output.dump()
    assert away > 20  # checking went on while the server was away
    # Everything the agent recorded is at the server once, in order, after the stop too.
    assert server_rows(state) == local_rows(db)
    assert state.duplicates == 0
    ids = [row[0] for row in server_rows(state)]
    assert ids == list(range(1, len(ids) + 1))
    errors = [line for _, line in output.err]
    assert len([line for line in errors if "lost the server" in line]) == 1, errors
    assert len([line for line in errors if "is back after" in line]) == 1, errors
    lines = [line for _, line in output.out] + out.splitlines()  # what stop() read last
    assert lines[0] == (f"Agent of location eu: checks from {server.url}, kept in {db} until"
                        " sent. Ctrl-C stops.")
    assert lines[1] == "Agent eu-1 in location eu: running 4 monitor(s); polling every 1 s."
    assert lines[-1] == (f"Stopped; {len(ids)} check(s) sent to {server.url} by this run,"
                         f" 0 waiting in {db}.")
    assert TOKEN not in out + err + "\n".join(errors + lines)


def test_a_config_change_reaches_the_agent_at_its_next_poll(
        tmp_path: Path, server: FakeServer, state: State) -> None:
    state.heartbeat = 60  # only the polls (every 1 s) can bring the change
    db = tmp_path / "agent-eu.db"
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: {"m1", "m2"} <= {row["monitor"] for row in state.rows()}, 20,
                 "checks of m1 and m2", output.dump)
        changed = time.time()
        state.set_config(monitors_doc("m1", "m3"))
        wait_for(lambda: "m3" in {row["monitor"] for row in state.rows()}, 10,
                 "checks of m3", output.dump)
    finally:
        stop(proc, signal.SIGTERM, limit=10)
    output.join()
    after = [seen for seen in state.requests("monitors") if seen.at > changed]
    assert after[0].status == 200  # the first poll after the change brought it
    assert all(seen.status == 304 for seen in after[1:])
    fetched = after[0].at
    rows = state.rows()
    assert min(r["timestamp"] for r in rows if r["monitor"] == "m3") > fetched
    # m2 checks end with the reload (at most 0.25 s after the fetch on a quiet machine).
    assert max(r["timestamp"] for r in rows if r["monitor"] == "m2") < fetched + 2.0
    assert "The monitors changed on the server: running 2 monitor(s)." in output.lines


def test_sighup_fetches_the_monitors_at_once(
        tmp_path: Path, server: FakeServer, state: State) -> None:
    state.poll = state.heartbeat = 3600  # neither brings the change in this test's time
    db = tmp_path / "agent-eu.db"
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: "m2" in {row["monitor"] for row in state.rows()}, 20,
                 "checks of m2", output.dump)
        state.set_config(monitors_doc("m3"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "m3" in {row["monitor"] for row in state.rows()}, 10,
                 "checks of m3", output.dump)
    finally:
        stop(proc, signal.SIGTERM, limit=10)
    output.join()
    assert proc.returncode == 0
    assert [seen.status for seen in state.requests("monitors")] == [200, 200]
    assert "The monitors changed on the server: running 1 monitor(s)." in output.lines


def test_a_killed_agent_restarted_sends_only_what_was_not_acknowledged(
        tmp_path: Path, server: FakeServer, state: State) -> None:
    state.config = monitors_doc("m1", "m2", interval=0.05)
    db = tmp_path / "agent-eu.db"
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: len(state.rows()) >= 40, 20, "the first checks", output.dump)
        state.refuse_results = True  # the server's store refuses: nothing acknowledged
        acked = len(state.rows())
        wait_for(lambda: len(local_rows(db)) > acked + 60, 10, "checks kept locally",
                 output.dump)
    finally:
        proc.kill()
        proc.wait(10)
    output.join()
    lost = [line for _, line in output.err if "lost the server" in line]
    assert len(lost) == 1
    assert lost[0].startswith(
        f"Warning: lost the server {server.url}: POST /api/v1/agent/results answered 503"
        " Service Unavailable: the store refuses: disk full; checking goes on, the checks"
        f" wait in {db}")
    upto = state.upto[("eu-1", next(iter(state.stored))[1])]
    assert upto == len(state.rows())
    kept = local_rows(db)
    assert len(kept) > upto
    state.refuse_results = False
    restarted = time.time()
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: len(state.rows()) > len(kept), 20, "the kept checks sent",
                 output.dump)
    finally:
        stop(proc, signal.SIGTERM, limit=10)
    output.join()
    assert proc.returncode == 0, output.dump()
    posted = [seen.ids for seen in state.requests("results")
              if seen.at > restarted and seen.status == 200]
    assert posted[0][0] == upto + 1  # only what was not acknowledged
    assert state.duplicates == 0
    assert server_rows(state) == local_rows(db)  # nothing lost: one instance, all ids


def test_a_token_revoked_while_running_stops_the_agent_with_exit_2(
        tmp_path: Path, server: FakeServer, state: State) -> None:
    db = tmp_path / "agent-eu.db"
    proc = agent(server.url, db)
    output = Output(proc, stderr=True)
    wait_for(lambda: state.rows(), 20, "the first checks", output.dump)
    with state.lock:
        del state.agents[TOKEN]  # its entry removed from the server's config
    try:
        proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
    output.join()
    assert proc.returncode == 2
    assert [line for _, line in output.err] == [
        f"Error: {server.url} refused the agent's token (401 Unauthorized: unknown agent"
        " token): give the token of an entry of the server's `agents` with --token or"
        " MONITOR_AGENT_TOKEN"]


def test_bad_url_refused_token_and_wrong_location_are_errors_with_exit_2(
        tmp_path: Path, server: FakeServer) -> None:
    db = str(tmp_path / "a.db")
    secret = "http://user:s3cret-pass@127.0.0.1:9"
    for url, said in (("ftp://monitor", "must be an http:// or https:// URL"),
                      (secret, "must not hold a user or password"),
                      ("http://127.0.0.1:99999", "has a port that is not a number from 1"),
                      ("http://", "has no host name")):
        code, out, err = run_app(["agent", "--server", url, "--location", "eu", "-db", db],
                                 tmp_path, env={"MONITOR_AGENT_TOKEN": TOKEN})
        assert code == 2, err
        assert f"Error: Invalid value for '--server': {said}" in err
        assert "s3cret" not in out + err
    code, out, err = run_app(["agent", "--server", server.url, "--location", "eu", "-db", db],
                             tmp_path, env={"MONITOR_AGENT_TOKEN": "wrong-token-0123456789"})
    assert (code, out.splitlines()[-1:], err) == (
        2, [f"Agent of location eu: checks from {server.url}, kept in {db} until sent."
            " Ctrl-C stops."],
        f"Error: {server.url} refused the agent's token (401 Unauthorized: unknown agent"
        " token): give the token of an entry of the server's `agents` with --token or"
        " MONITOR_AGENT_TOKEN\n")
    code, out, err = run_app(["agent", "--server", server.url, "--location", "us", "-db", db,
                              "--token", TOKEN], tmp_path)
    assert code == 2
    assert err == (f"Error: {server.url} refused location 'us' for this agent's token (403"
                   " Forbidden: agent eu-1 is of location eu): give --location the location"
                   " of the token's entry in the server's `agents`\n")
    assert TOKEN not in out + err
    code, _, err = run_app(["agent", "--server", server.url, "--location", "eu"], tmp_path)
    assert code == 2
    assert "Error: give the agent's token with --token or MONITOR_AGENT_TOKEN" in err
    code, _, err = run_app(["agent", "--server", server.url, "--location", "local",
                            "--token", TOKEN], tmp_path)
    assert code == 2
    assert "Error: Invalid value for '--location': 'local' is the server's own location" in err
