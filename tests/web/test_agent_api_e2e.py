"""The agent protocol against the real program: `monitoringApp.py -m --web` on loopback
receives real POSTs of results; the rows appear in its SQLite file at the agent's location,
a resend stores nothing twice, also after the server was killed (SIGKILL) and started
again; an agent that stops talking is alerted as lost, and back when it talks again."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.support import app
from tests.support.app import Output
from tests.support.db import query

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")
TOKEN = "eu-agent-token-0123456789"
ENV = {"AGENT_EU": TOKEN}


def _config(folder: Path, timeout: float = 60) -> None:
    app.write(folder / "config.json", {
        "monitors": [
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "db", "name": "db",
             "locations": ["eu"], "checkInterval": 5},
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "id": "here",
             "checkInterval": 60}],
        "agents": [{"name": "eu-1", "token": "${AGENT_EU}", "location": "eu"}],
        "agentTimeout": timeout})


def _serve(folder: Path) -> tuple[subprocess.Popen, Output, str]:
    proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0"], folder, env=ENV)
    output = Output(proc, stderr=True)
    line = app.wait_for(lambda: next((t for t in output.lines if SERVING.search(t)), None),
                        timeout=30, what="the Serving line", detail=output.dump)
    return proc, output, SERVING.search(line).group(1)  # type: ignore[union-attr]


def _results(first: int, last: int, start: float) -> list[dict[str, Any]]:
    return [{"id": i, "monitor": "db", "timestamp": start + i, "available": i % 2 == 0,
             "code": 0 if i % 2 == 0 else None, "response_ms": 0.5 + i,
             "reason": None if i % 2 == 0 else "connect",
             "detail": "" if i % 2 == 0 else "refused", "lateness_ms": 0.1,
             "warning": False, "metrics": {"connect": 0.4}}
            for i in range(first, last + 1)]


def _post(url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{url}api/v1/agent/results", json=body, timeout=15,
                         headers={"Authorization": f"Bearer {TOKEN}"})


def _rows(db: Path) -> list[tuple]:
    return query(db, "SELECT timestamp, available, location FROM website_monitoring"
                     " WHERE monitor='db' ORDER BY timestamp")


def test_posted_results_are_stored_once_across_a_killed_server(tmp_path: Path) -> None:
    _config(tmp_path)
    db = tmp_path / "monitoring.db"
    start = time.time() - 600
    proc, output, url = _serve(tmp_path)
    try:
        monitors = requests.get(f"{url}api/v1/agent/monitors?location=eu", timeout=10,
                                headers={"Authorization": f"Bearer {TOKEN}"})
        assert monitors.status_code == 200, monitors.text
        assert [m["id"] for m in monitors.json()["config"]["monitors"]] == ["db"]
        first = {"instance": "inst-1", "results": _results(1, 100, start)}
        answer = _post(url, first)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"stored": 100, "duplicates": 0, "ignored": 0, "upto": 100}
        # On disk when answered: read by another process's connection at once.
        rows = _rows(db)
        assert len(rows) == 100 and {r[2] for r in rows} == {"eu"}
        assert (rows[0][0], rows[0][1], rows[1][1]) == (start + 1, 0, 1)
        assert _post(url, first).json() == {"stored": 0, "duplicates": 100, "ignored": 0,
                                            "upto": 100}
        # The monitor checks its own location's monitor, not the agent's.
        app.wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE"
                                       " monitor='here'")[0][0] > 0, what="a local check")
    finally:
        proc.kill()  # a crash: nothing flushed at an exit
        proc.wait(10)
        output.join()
    assert len(_rows(db)) == 100
    proc, output, url = _serve(tmp_path)
    try:
        # The agent never heard the answer: it sends the batch again, with more.
        again = {"instance": "inst-1", "results": _results(1, 150, start)}
        answer = _post(url, again)
        assert answer.json() == {"stored": 50, "duplicates": 100, "ignored": 0, "upto": 150}
        beat = requests.post(f"{url}api/v1/agent/heartbeat", json={"instance": "inst-1"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert beat.json()["upto"] == 150
        checks = requests.get(f"{url}api/v1/monitors/db/checks?location=eu&limit=5",
                              timeout=10).json()["checks"]
        assert [c["location"] for c in checks] == ["eu"] * 5
    finally:
        app.stop(proc, signal.SIGTERM)
        output.join()
    rows = _rows(db)
    assert [r[0] for r in rows] == [start + i for i in range(1, 151)]
    assert TOKEN not in output.dump()
    assert not query(db, "SELECT count(*) FROM website_monitoring WHERE detail LIKE ?",
                     f"%{TOKEN}%")[0][0]


def test_a_silent_agent_is_alerted_lost_then_back(tmp_path: Path) -> None:
    _config(tmp_path, timeout=1)
    proc, output, url = _serve(tmp_path)
    try:
        app.wait_for(lambda: output.starting("ALERT: Agent eu-1"), timeout=20,
                     what="the lost agent's alert", detail=output.dump)
        beat = requests.post(f"{url}api/v1/agent/heartbeat", json={"instance": "inst-1"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert beat.status_code == 200
        app.wait_for(lambda: output.starting("RECOVERY: Agent eu-1"), timeout=20,
                     what="its recovery", detail=output.dump)
    finally:
        app.stop(proc, signal.SIGTERM)
        output.join()
    rows = query(tmp_path / "monitoring.db", "SELECT monitor, type, message FROM"
                                             " website_alerts WHERE monitor LIKE 'agent:%'"
                                             " ORDER BY id")
    assert [(r[0], r[1]) for r in rows[:2]] == [("agent:eu-1", "alert"),
                                                ("agent:eu-1", "recovery")]
    assert rows[0][2].startswith("Agent eu-1 in location eu lost: no heartbeat for 1 s,")
    assert rows[1][2].startswith("Agent eu-1 in location eu is back after ")
