"""The history routes in the real program: `serve` in its own process beside a real `-m`
on one database. An alert acknowledged through the server is reminded no more by the
monitor, maintenance set through the server is marked by it, and the server's history
and check now answer from the same files."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from urllib.parse import quote

import requests

from tests.support import app
from tests.support.app import Output

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")
CLOSED = "tcp:127.0.0.1:9"


def test_ack_and_maintenance_through_serve_reach_the_running_monitor(tmp_path: Path) -> None:
    app.write(tmp_path / "config.json", {"monitors": [
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "closed",
         "checkInterval": 0.2, "alertWindow": 1, "remindEvery": 1}]})
    monitor = app.start(["-m", "--plain"], tmp_path)
    monitor_out = Output(monitor)
    server = None
    try:
        app.wait_for(lambda: (tmp_path / "monitoring.db").exists(), 20, "the database")
        server = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
        server_out = Output(server, stderr=True)
        line = app.wait_for(lambda: next((text for text in server_out.lines
                                          if SERVING.search(text)), None), 20,
                            "the Serving line", server_out.dump)
        api = SERVING.search(line).group(1) + "api/v1"  # type: ignore[union-attr]
        app.wait_for(lambda: len(monitor_out.starting("REMINDER: ")) >= 2, 20,
                     "two reminders", monitor_out.dump)

        (alert,) = requests.get(f"{api}/alerts?type=alert", timeout=10).json()["alerts"]
        assert alert["monitor"] == CLOSED and alert["open"] is True
        acked = requests.post(f"{api}/alerts/{alert['id']}/ack", timeout=10)
        assert acked.status_code == 200 and acked.json()["acknowledged"]["by"] == "local"
        app.wait_for(lambda: monitor_out.starting(
            "ACKNOWLEDGED: closed: no more reminders of its alert"), 10, "the ack line",
            monitor_out.dump)
        said = monitor_out.lines.index(monitor_out.starting("ACKNOWLEDGED: ")[0])
        time.sleep(3)  # three reminder periods
        assert not [text for text in monitor_out.lines[said:]
                    if text.startswith("REMINDER: ")], monitor_out.dump()

        # Maintenance set through the server: the monitor marks its checks.
        on = requests.post(f"{api}/monitors/{quote(CLOSED, safe='')}/maintenance",
                           json={"for": "1h"}, timeout=10)
        assert on.status_code == 200
        assert on.json()["changes"][0]["message"].startswith("closed: maintenance on until ")
        app.wait_for(lambda: monitor_out.starting(
            "MAINTENANCE: closed: checks recorded, no alerts"), 10, "the maintenance line",
            monitor_out.dump)
        checks = requests.get(f"{api}/monitors/{quote(CLOSED, safe='')}/checks?limit=5",
                              timeout=10).json()["checks"]
        assert len(checks) == 5 and {c["reason"] for c in checks} <= {"connect",
                                                                      "maintenance"}
        stats = requests.get(f"{api}/monitors/{quote(CLOSED, safe='')}/stats?window=10m",
                             timeout=10).json()
        assert stats["checks"] > 0 and stats["availability"] == 0.0
        now = requests.post(f"{api}/monitors/{quote(CLOSED, safe='')}/check", timeout=10)
        assert now.status_code == 200 and now.json()["result"]["reason"] == "connect"
    finally:
        if server is not None:
            app.stop(server, signal.SIGINT)
        app.stop(monitor, signal.SIGTERM)
        monitor_out.join()
