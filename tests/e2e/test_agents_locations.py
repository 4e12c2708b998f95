"""Issue 26's "Must show", with real processes on loopback: a server (`monitoringApp.py -m
-s --web`) and two agents (`monitoringApp.py agent`) in locations eu and us, checking one
site of a target HTTP server that answers each location as the test says (it tells them
apart by the User-Agent the agents send). Shown: a site down from eu only is a warning,
no alert; down from both is ONE alert naming both, then its recovery; the server killed
(-9) and started again while the agents check: every check of each agent is at the server
once; an agent killed (-9): its lost-agent alert after agentTimeout, and no alert of its
monitors. Alerts are read from the server's database (website_alerts) and from a real
notification receiver (json:// to a local webhook).

The tests share one setup (the processes run for the whole module) and each starts from
wherever the one before left it: each waits for what it needs (rows counted after a
marker), never for a duration, so that a loaded machine makes them slower, not wrong.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor import __version__
from tests.support.app import Output, start, stop, wait_for, write
from tests.support.db import query
from tests.support.receivers import WebhookReceiver

TOKENS = {"eu": "agent-token-eu-e2e-0123456789", "us": "agent-token-us-e2e-0123456789"}
NAMES = {"eu": "eu-1", "us": "us-1"}
AGENT_TIMEOUT = 10  # seconds: small for a quick test, not so small that a busy agent
# (a loaded machine) is taken for lost while the other tests need both locations
INTERVAL = 1.0  # each agent checks the site every second
WINDOW = 3  # alertWindow: about 3 checks of each location
LONG = 60.0  # a bound for what takes a few seconds on an idle machine


class Target:
    """The site checked: an HTTP server on 127.0.0.1 that answers 200, or 503 to the
    locations in `down`, which it reads from the User-Agent ("... location eu)"); it
    records every User-Agent it was sent, by path."""

    LOCATION = re.compile(r"; location ([A-Za-z0-9._-]+)\)$")

    def __init__(self) -> None:
        self.down: frozenset[str] = frozenset()
        self.seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                agent = self.headers.get("User-Agent", "")
                with target._lock:
                    target.seen.setdefault(self.path, set()).add(agent)
                    down = target.down
                found = target.LOCATION.search(agent)
                status = 503 if found and found.group(1) in down else 200
                body = b"down" if status == 503 else b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def agents(self, path: str) -> set[str]:
        with self._lock:
            return set(self.seen.get(path, ()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """The running processes, their folder and what they said."""

    folder: Path
    target: Target
    receiver: WebhookReceiver
    port: int
    server: subprocess.Popen | None = None
    server_out: Output | None = None
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    killed: list[Output] = field(default_factory=list)  # earlier runs' outputs, for dumps

    @property
    def db(self) -> Path:
        return self.folder / "monitoring.db"

    def agent_db(self, location: str) -> Path:
        return self.folder / f"agent-{location}.db"

    def start_server(self) -> None:
        env = {f"AGENT_{loc.upper()}": token for loc, token in TOKENS.items()}
        proc = start(["-m", "-s", "--web", f"127.0.0.1:{self.port}"], self.folder, env=env)
        self.server, self.server_out = proc, Output(proc, stderr=True)

        def listening() -> bool:
            assert proc.poll() is None, "the server exited" + self.dump()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_for(listening, LONG, "the server listening", self.dump)

    def start_agent(self, location: str) -> None:
        proc = start(["agent", "--server", f"http://127.0.0.1:{self.port}", "--location",
                      location, "-db", str(self.agent_db(location))], self.folder,
                     env={"MONITOR_AGENT_TOKEN": TOKENS[location]})
        self.agents[location], self.outputs[location] = proc, Output(proc, stderr=True)

    def kill(self, proc: subprocess.Popen) -> None:
        proc.kill()
        proc.wait(10)

    def dump(self) -> str:
        text = "".join("\n== an earlier server, killed" + out.dump() for out in self.killed)
        if self.server_out is not None:
            text += "\n== server" + self.server_out.dump()
        for location, output in self.outputs.items():
            text += f"\n== agent {location}" + output.dump()
        return text + "\n== alerts\n" + "\n".join(map(str, alerts(self.db)))

    def close(self) -> None:
        for proc in [*self.agents.values(), self.server]:
            if proc is not None and proc.poll() is None:
                stop(proc, signal.SIGTERM, limit=15)


def alerts(db: Path, after: int = 0) -> list[tuple[int, str, str, str]]:
    """(id, monitor, type, message) of the alert rows after id `after`."""
    try:
        return [(row[0], row[1], row[2], row[3]) for row in query(
            db, "SELECT id, monitor, type, message FROM website_alerts WHERE id > ?"
                " ORDER BY id", after)]
    except sqlite3.Error:  # not made yet
        return []


def last_alert_id(db: Path) -> int:
    rows = alerts(db)
    return rows[-1][0] if rows else 0


Check = tuple[str, float, int | None, int | None, str | None]


def server_checks(db: Path, location: str) -> list[Check]:
    """(monitor, timestamp, available, status, reason) of the server's checks from
    `location`, sorted."""
    try:
        return sorted(query(db, "SELECT monitor, timestamp, available, status, reason FROM"
                                " website_monitoring WHERE location = ?", location))
    except sqlite3.Error:
        return []


def agent_checks(db: Path, upto: int | None = None) -> list[Check]:
    """The same of the checks in an agent's database (all local to it), those of id <=
    `upto` when given."""
    try:
        return sorted(query(db, "SELECT monitor, timestamp, available, status, reason FROM"
                                " website_monitoring WHERE id <= ?",
                            upto if upto is not None else 2**62))
    except sqlite3.Error:
        return []


def agent_max_id(db: Path) -> int:
    return query(db, "SELECT coalesce(max(id), 0) FROM website_monitoring")[0][0]


def server_upto(db: Path, name: str) -> int:
    """The highest row id of the agent `name` the server has stored (its one instance)."""
    try:
        rows = query(db, "SELECT upto FROM agents WHERE name = ?", name)
    except sqlite3.Error:
        return 0
    return max((row[0] for row in rows), default=0)


def count_after(db: Path, location: str, since: float, monitor: str = "site") -> int:
    try:
        return query(db, "SELECT count(*) FROM website_monitoring WHERE location = ? AND"
                         " monitor = ? AND timestamp > ?", location, monitor, since)[0][0]
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("agents")
    target = Target()
    receiver = WebhookReceiver().start()
    write(folder / "config.json", {
        "monitors": [
            {"id": "site", "name": "site", "URL": target.url, "locations": ["eu", "us"],
             "checkInterval": INTERVAL, "timeout": INTERVAL},
            # Its own User-Agent wins over the agent's.
            {"id": "own", "URL": target.url + "own", "locations": ["eu"],
             "checkInterval": 2, "timeout": 1, "headers": {"user-agent": "their-probe/1"}}],
        "agents": [{"name": NAMES[loc], "token": f"${{AGENT_{loc.upper()}}}", "location": loc}
                   for loc in TOKENS],
        "agentTimeout": AGENT_TIMEOUT,
        "alertWindow": WINDOW, "alertAfter": 2, "recoverAfter": 2,
        "notify": [{"name": "hook", "url": receiver.url()}],
        "notifyOn": ["alert", "recovery"]})
    running = Cluster(folder, target, receiver, free_port())
    try:
        running.start_server()
        for location in TOKENS:
            running.start_agent(location)
        for location in TOKENS:
            wait_for(lambda loc=location: count_after(running.db, loc, 0) >= 2, LONG,  # type: ignore[misc]
                     f"checks from {location} at the server", running.dump)
        yield running
    finally:
        running.close()
        receiver.close()
        target.close()


def notified(cluster: Cluster, after: int) -> list[str]:
    """The messages the receiver got, from the `after`th on."""
    return [str(r.body.get("message", "")) for r in cluster.receiver.requests[after:]]


def site_rows(cluster: Cluster, after: int) -> list[tuple[int, str, str, str]]:
    return [row for row in alerts(cluster.db, after) if row[1] == "site"]


def settle(cluster: Cluster, checks: int) -> None:
    """Wait until both locations have made `checks` more checks of the site at the server."""
    since = time.time()
    for location in TOKENS:
        wait_for(lambda loc=location: count_after(cluster.db, loc, since) >= checks,  # type: ignore[misc]
                 LONG, f"{checks} more checks from {location}", cluster.dump)


def all_up(cluster: Cluster) -> None:
    """The target up for all, and whatever was open for the site closed."""
    cluster.target.down = frozenset()
    settle(cluster, WINDOW + 2)

    def closed() -> bool:
        kinds = [kind for _, _, kind, _ in site_rows(cluster, 0)]
        alert = [kind for kind in kinds if kind in ("alert", "recovery")]
        warning = [kind for kind in kinds if kind in ("warning", "cleared")]
        return alert[-1:] in ([], ["recovery"]) and warning[-1:] in ([], ["cleared"])

    wait_for(closed, LONG, "the site's alert and warning closed", cluster.dump)


# -- the tests ---------------------------------------------------------------------------

def test_a_check_made_by_an_agent_names_its_agent_and_location_in_its_user_agent(
        cluster: Cluster) -> None:
    settle(cluster, 1)
    assert cluster.target.agents("/") == {
        f"uptime-monitor/{__version__} (agent eu-1; location eu)",
        f"uptime-monitor/{__version__} (agent us-1; location us)"}
    wait_for(lambda: cluster.target.agents("/own"), LONG, "a check of own", cluster.dump)
    assert cluster.target.agents("/own") == {"their-probe/1"}  # a monitor's own header wins


def test_down_from_one_location_is_a_warning_naming_it_and_no_alert(cluster: Cluster) -> None:
    all_up(cluster)
    mark, sent = last_alert_id(cluster.db), len(cluster.receiver.requests)
    cluster.target.down = frozenset({"eu"})
    warning = f"Website {cluster.target.url} is down from eu only (1 of 2 locations, quorum 2)."
    wait_for(lambda: any(row[2] == "warning" and row[3].startswith(warning)
                         for row in site_rows(cluster, mark)),
             LONG, "the warning naming eu", cluster.dump)
    settle(cluster, 2 * WINDOW)  # eu down for two windows more: still no alert
    rows = site_rows(cluster, mark)
    assert [kind for _, _, kind, _ in rows] == ["warning"], cluster.dump()
    cluster.target.down = frozenset()
    wait_for(lambda: [r[2] for r in site_rows(cluster, mark)] == ["warning", "cleared"],
             LONG, "the warning cleared", cluster.dump)
    assert notified(cluster, sent) == []  # a warning is not sent by this config's notifyOn


def test_down_from_both_locations_is_one_alert_naming_both_then_its_recovery(
        cluster: Cluster) -> None:
    all_up(cluster)
    mark, sent = last_alert_id(cluster.db), len(cluster.receiver.requests)
    cluster.target.down = frozenset({"eu", "us"})
    down = f"Website {cluster.target.url} is down. availability="
    wait_for(lambda: any(row[2] == "alert" for row in site_rows(cluster, mark)), LONG,
             "the alert", cluster.dump)
    settle(cluster, 2 * WINDOW)  # down for two windows more: no second alert
    cluster.target.down = frozenset()
    wait_for(lambda: any(row[2] == "recovery" for row in site_rows(cluster, mark)), LONG,
             "the recovery", cluster.dump)
    settle(cluster, 2)
    rows = site_rows(cluster, mark)
    opened = [message for _, _, kind, message in rows if kind == "alert"]
    assert len(opened) == 1, cluster.dump()
    assert opened[0].startswith(down) and "down from eu, us)" in opened[0], opened
    assert [kind for _, _, kind, _ in rows if kind in ("alert", "recovery")] == [
        "alert", "recovery"]
    messages = cluster.receiver.wait_for(sent + 2, LONG)[sent:]
    texts = [str(m.body.get("message", "")) for m in messages]
    assert len([t for t in texts if t.startswith(down)]) == 1, texts
    assert any("has recovered" in t for t in texts), texts


def test_the_server_killed_and_restarted_mid_run_loses_no_check_and_stores_none_twice(
        cluster: Cluster) -> None:
    assert cluster.server is not None and cluster.server_out is not None
    cluster.kill(cluster.server)
    cluster.killed.append(cluster.server_out)
    for location, output in cluster.outputs.items():
        wait_for(lambda out=output: out.find(out.err, "lost the server"), LONG,  # type: ignore[misc]
                 f"agent {location}'s lost line", cluster.dump)
    # Checks made while the server is away: they wait in each agent's database.
    away = {loc: agent_max_id(cluster.agent_db(loc)) for loc in TOKENS}
    for location in TOKENS:
        wait_for(lambda loc=location: agent_max_id(cluster.agent_db(loc)) >= away[loc] + 3,  # type: ignore[misc]
                 LONG, f"checks of agent {location} while the server is away", cluster.dump)
    cluster.start_server()
    for location, output in cluster.outputs.items():
        wait_for(lambda out=output: out.find(out.err, "is back after"), LONG,  # type: ignore[misc]
                 f"agent {location}'s back line", cluster.dump)
    # The final drain: every check each agent has made by now reaches the server, the
    # agents checking on. Then the rows up to the server's upto, on both sides, are the
    # same rows: read from both files at rest (the agent's rows up to upto never change).
    made = {loc: agent_max_id(cluster.agent_db(loc)) for loc in TOKENS}
    for location in TOKENS:
        wait_for(lambda loc=location: server_upto(cluster.db, NAMES[loc]) >= made[loc],  # type: ignore[misc]
                 LONG, f"the checks of agent {location} sent", cluster.dump)
    for location in TOKENS:
        db = cluster.agent_db(location)
        # One read of the server's database: its rows and upto of one moment.
        conn = sqlite3.connect(cluster.db.absolute().as_uri() + "?mode=ro", uri=True,
                               timeout=10)
        try:
            with conn:
                conn.execute("BEGIN")
                upto = max(r[0] for r in conn.execute(
                    "SELECT upto FROM agents WHERE name = ?", (NAMES[location],)))
                at_server = sorted(conn.execute(
                    "SELECT monitor, timestamp, available, status, reason FROM"
                    " website_monitoring WHERE location = ?", (location,)))
        finally:
            conn.close()
        at_agent = agent_checks(db, upto)
        assert upto >= made[location] > away[location]
        assert len(at_server) == len(set(at_server)), "a check stored twice"
        missing = sorted(set(at_agent) - set(at_server))
        extra = sorted(set(at_server) - set(at_agent))
        assert (missing, extra) == ([], []), (location, missing[:5], extra[:5])
        assert at_server == at_agent
        assert {row[0] for row in at_agent} >= {"site"}
        print(f"{location}: {len(at_server)} checks at the server, the same as the agent's"
              f" {upto} first; {made[location] - away[location]} made while the server was"
              " away or just back")


def kill_us(cluster: Cluster) -> tuple[int, int, float]:
    """us-1 killed (-9), the site up from both locations: the last alert's id and the
    receiver's count before it, and when."""
    all_up(cluster)
    mark, sent = last_alert_id(cluster.db), len(cluster.receiver.requests)
    killed_at = time.time()
    cluster.kill(cluster.agents["us"])
    return mark, sent, killed_at


def lost_alert(cluster: Cluster, mark: int) -> tuple[int, str, str, str]:
    """The lost-agent alert of us-1 after the alert `mark`, once raised."""
    row = wait_for(lambda: next((r for r in alerts(cluster.db, mark)
                                 if r[1] == "agent:us-1" and r[2] == "alert"), None),
                   LONG, "the lost-agent alert", cluster.dump)
    message = f"Agent us-1 in location us lost: no heartbeat for {AGENT_TIMEOUT} s, time="
    assert row[3].startswith(message), row
    return row


def test_a_lost_agent_s_location_is_missing_from_the_quorum_across_a_server_restart(
        cluster: Cluster) -> None:
    """us lost: eu alone sees the site down, a warning and no alert; the server killed and
    started again restores the lost-agent alert and the warning, raises neither again; us
    back is its recovery. (How soon the lost-agent alert comes is the next test's, alone.)"""
    mark, _sent, _killed_at = kill_us(cluster)
    lost_alert(cluster, mark)
    # us is lost; eu sees the site down: a warning (quorum 2 does not shrink), no alert.
    cluster.target.down = frozenset({"eu"})
    since = time.time()
    wait_for(lambda: count_after(cluster.db, "eu", since) >= 3 * WINDOW, LONG,
             "eu's checks of the site while us is lost", cluster.dump)
    assert [r[2] for r in site_rows(cluster, mark)] == ["warning"], cluster.dump()
    assert site_rows(cluster, mark)[0][3].endswith("; no checks from us)")
    # The server killed and started again while us-1 is still lost: its alert and the
    # site's warning are restored, not raised again, also once a fresh clock would have
    # found it lost (agentTimeout of eu's checks after the start).
    assert cluster.server is not None and cluster.server_out is not None
    cluster.kill(cluster.server)
    cluster.killed.append(cluster.server_out)
    cluster.start_server()
    restarted = time.time()
    wait_for(lambda: count_after(cluster.db, "eu", restarted) >= AGENT_TIMEOUT / INTERVAL + 2,
             LONG, "eu's checks after the restart", cluster.dump)
    rows = alerts(cluster.db, mark)
    assert [(r[1], r[2]) for r in rows] == [("agent:us-1", "alert"), ("site", "warning")], (
        cluster.dump())
    cluster.target.down = frozenset()
    cluster.start_agent("us")
    wait_for(lambda: any(r[1] == "agent:us-1" and r[2] == "recovery"
                         and r[3].startswith("Agent us-1 in location us is back after")
                         for r in alerts(cluster.db, mark)),
             LONG, "the agent back", cluster.dump)
    all_up(cluster)
    assert not any(r[1] == "site" and r[2] == "alert" for r in alerts(cluster.db, mark))


def test_an_agent_killed_raises_its_lost_alert_and_no_alert_of_its_monitors(
        cluster: Cluster) -> None:
    """How soon: the lost-agent alert within agentTimeout of the agent's last request and
    of the kill (tests/serial.py runs it alone). What follows the loss is the test
    before."""
    mark, sent, killed_at = kill_us(cluster)
    row = lost_alert(cluster, mark)
    # When it was raised, and since when the agent was silent (its last request), to the ms.
    raised, silent = (datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
                      for value in query(cluster.db, "SELECT timestamp, startDate FROM"
                                         " website_alerts WHERE id = ?", row[0])[0])
    print(f"lost-agent alert {raised - killed_at:.2f} s after the kill, {raised - silent:.2f} s"
          f" after its last request (agentTimeout {AGENT_TIMEOUT} s)")
    assert raised - silent >= AGENT_TIMEOUT  # the rule: silent for agentTimeout at least
    # Its last request before the kill: it posts every second, so not long before either
    # (a request in flight at the kill may be read just after it).
    assert killed_at - 3 <= silent <= killed_at + 2, (killed_at, silent)
    # Within agentTimeout of the kill, plus the server's step and a generous margin for a
    # loaded machine.
    assert raised - killed_at <= AGENT_TIMEOUT + 10, raised - killed_at
    messages = cluster.receiver.wait_for(sent + 1, LONG)[sent:]
    assert any(str(m.body.get("message", "")).startswith("Agent us-1 in location us lost")
               for m in messages)
    # The site, up from both locations, raised no alert with its agent lost.
    assert not any(r[1] == "site" and r[2] == "alert" for r in alerts(cluster.db, mark)), (
        cluster.dump())
    cluster.start_agent("us")  # back for whatever runs after it


def test_probe_processes_inherit_the_identity_the_agent_sets(tmp_path: Path) -> None:
    """The checks of probe processes (an agent of many monitors runs them in several) say
    the same: the identity is in the environment they are started with. A value that
    would break the header (a line break, brackets) is cleaned, not sent as is."""
    target = Target()
    write(tmp_path / "config.json", {
        "processes": 2, "monitors": [
            {"id": f"m{i}", "URL": f"{target.url}{i}", "checkInterval": 0.5, "timeout": 0.5}
            for i in range(4)]})
    proc = start(["-m", "-s"], tmp_path, env={
        "MONITOR_AGENT_IDENTITY": "agent eu-1; location eu\r\nX-Injected: (1)"})
    try:
        wait_for(lambda: all(target.agents(f"/{i}") for i in range(4)), LONG,
                 "a check of each monitor")
    finally:
        stop(proc, signal.SIGTERM, limit=15)
        target.close()
    seen = set().union(*(target.agents(f"/{i}") for i in range(4)))
    assert seen == {f"uptime-monitor/{__version__} (agent eu-1; location euX-Injected: 1)"}
