"""The real agent against the real server: `monitoringApp.py -m --web` and
`monitoringApp.py agent`, two processes on loopback. The server killed (-9) and started
again mid-run: every check the agent made is stored at the server once; a change of the
server's config file reaches the agent."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.agent.conftest import TOKEN
from tests.support.app import Output, start, stop, wait_for

ENV = {"AGENT_EU": TOKEN}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_config(path: Path, *monitors: str) -> None:
    """A config of tcp monitors on a closed port, checked from location eu only (and one
    from the server itself), with the agent eu-1."""
    entries = [{"id": "here", "type": "tcp", "host": "127.0.0.1", "port": 9,
                "checkInterval": 0.5}]
    entries += [{"id": ident, "type": "tcp", "host": "127.0.0.1", "port": 9,
                 "checkInterval": 0.1, "locations": ["eu"]} for ident in monitors]
    path.write_text(json.dumps({
        "monitors": entries, "agentTimeout": 3,
        "agents": [{"name": "eu-1", "token": "${AGENT_EU}", "location": "eu"}]}))


def monitor(cwd: Path, port: int) -> subprocess.Popen:
    """`-m --web` started, once it answers on `port`."""
    proc = start(["-m", "-s", "--web", f"127.0.0.1:{port}"], cwd, env=ENV)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            assert proc.poll() is None, proc.communicate()
            return False
        return True

    wait_for(listening, 30, "the server listening")
    return proc


def agent(cwd: Path, port: int) -> subprocess.Popen:
    return start(["agent", "--server", f"http://127.0.0.1:{port}", "--location", "eu"], cwd,
                 env={"MONITOR_AGENT_TOKEN": TOKEN})


def rows(db: Path, where: str = "") -> list[tuple[str, float]]:
    """(monitor, timestamp) of the checks in `db`, sorted."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute(f"SELECT monitor, timestamp FROM website_monitoring {where}"))
    except sqlite3.OperationalError:  # the process has not made its tables yet
        return []
    finally:
        conn.close()


def at_server(cwd: Path) -> list[tuple[str, float]]:
    return rows(cwd / "monitoring.db", "WHERE location = 'eu'")


def test_the_server_killed_and_restarted_loses_no_check_of_the_agent_and_stores_none_twice(
        tmp_path: Path) -> None:
    server_config(tmp_path / "config.json", "a", "b")
    port = free_port()
    server = monitor(tmp_path, port)
    proc = agent(tmp_path, port)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: len(at_server(tmp_path)) >= 30, 30, "the agent's checks stored",
                 output.dump)
        assert output.err == [], output.dump()  # nothing said while the server was up
        server.kill()
        server.wait(10)
        wait_for(lambda: output.find(output.err, "lost the server"), 15, "the lost line",
                 output.dump)
        server = monitor(tmp_path, port)
        wait_for(lambda: output.find(output.err, "is back after"), 45, "the back line",
                 output.dump)
        wait_for(lambda: len(at_server(tmp_path)) >= len(rows(tmp_path / "agent-eu.db")) - 5,
                 20, "the checks kept meanwhile", output.dump)
        time.sleep(1)  # the checks of a second more, sent by the stop
        _, _, agent_err = stop(proc, signal.SIGTERM, limit=10)
        output.join()
        assert proc.returncode == 0, output.dump() + agent_err
        made = rows(tmp_path / "agent-eu.db")
        wait_for(lambda: at_server(tmp_path) == made, 10, "every check of the agent, once",
                 lambda: f"\nagent {len(made)}, server {len(at_server(tmp_path))}"
                 + output.dump() + agent_err)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop(server, signal.SIGTERM, limit=10)
    assert {monitor_id for monitor_id, _ in made} == {"a", "b"}


def test_a_change_of_the_server_config_reaches_the_agent(tmp_path: Path) -> None:
    server_config(tmp_path / "config.json", "a", "b")
    port = free_port()
    server = monitor(tmp_path, port)
    proc = agent(tmp_path, port)
    output = Output(proc, stderr=True)
    try:
        wait_for(lambda: {"a", "b"} <= {m for m, _ in at_server(tmp_path)}, 30,
                 "checks of a and b", output.dump)
        server_config(tmp_path / "config.json", "a", "c")
        wait_for(lambda: "c" in {m for m, _ in at_server(tmp_path)}, 20, "checks of c",
                 output.dump)
        wait_for(lambda: "The monitors changed on the server: running 2 monitor(s)."
                 in output.lines, 5, "the agent's line", output.dump)
    finally:
        stop(proc, signal.SIGTERM, limit=10)
        stop(server, signal.SIGTERM, limit=10)
