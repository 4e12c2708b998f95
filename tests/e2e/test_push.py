"""Push monitors as users run them: `serve` beside `-m` on one database, real processes. A
job's pushes, sent to the server with no bearer token (the config has apiTokens), are
judged by the monitor within seconds: a ping is up, a failure alerts with the job's
message; `check NAME` shows what came last; the token is in no output of either."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import requests

from tests.support import app
from tests.support.app import Output
from tests.support.db import query
from tests.support.web import TOKENS

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")
TOKEN = "nightly-backup-0123456789"


def _results(db: Path) -> list[tuple]:
    try:
        return query(db, "SELECT available, reason, detail FROM website_monitoring WHERE"
                         " monitor = 'push:backup' AND reason IS NOT 'new' ORDER BY id")
    except Exception:  # noqa: BLE001 - the monitor has not made its tables yet
        return []


def test_pushes_to_serve_are_judged_by_the_monitor_beside_it(tmp_path: Path) -> None:
    app.write(tmp_path / "config.json", {
        "monitors": [{"type": "push", "name": "backup", "token": "${BACKUP_PUSH}",
                      "checkInterval": 86400, "grace": 3600}],
        "apiTokens": TOKENS})
    env = {"BACKUP_PUSH": TOKEN}
    db = tmp_path / "monitoring.db"
    monitor = app.start(["-m", "--plain"], tmp_path, env=env)
    monitor_output = Output(monitor, stderr=True)
    app.wait_for(db.exists, timeout=20, what="the database", detail=monitor_output.dump)
    server = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path, env=env)
    server_output = Output(server, stderr=True)
    try:
        line = app.wait_for(lambda: next((text for text in server_output.lines
                                          if SERVING.search(text)), None), timeout=20,
                            what="the Serving line", detail=server_output.dump)
        url = SERVING.search(line).group(1)  # type: ignore[union-attr]
        with requests.Session() as session:
            answer = session.get(f"{url}api/v1/push/{TOKEN}?msg=42%20files", timeout=5)
            assert answer.status_code == 200, answer.text
            app.wait_for(lambda: _results(db), timeout=20, what="the push's result",
                         detail=monitor_output.dump)
            assert _results(db) == [(1, None, "42 files")]
            assert session.post(f"{url}api/v1/push/{TOKEN}/fail", data="disk full",
                                headers={"Content-Type": "text/plain"}, timeout=5
                                ).status_code == 200
            alert = app.wait_for(lambda: monitor_output.starting("ALERT:"), timeout=20,
                                 what="the alert", detail=monitor_output.dump)
        assert "push backup is down" in alert[0] and "failed: disk full" in alert[0]
        assert _results(db)[-1] == (0, "failed", "disk full")
        checked = app.run_app(["check", "backup"], tmp_path, env=env)
        block = [line.strip() for line in app.blocks(checked.stdout)["== backup [push] =="]]
        assert block[0] == "push URL: /api/v1/push/*** (the token of the config)"
        assert block[2].startswith("last run ended: ") and block[2].endswith(
            "fail: 'disk full'"), block
        assert checked.stdout.splitlines()[-1] == 'DOWN reason=failed detail="disk full"' \
                                                  " duration=0.0ms"
    finally:
        _, server_out, server_err = app.stop(server, signal.SIGINT)
        _, monitor_out, monitor_err = app.stop(monitor, signal.SIGTERM)
        server_output.join()
        monitor_output.join()
    everything = "\n".join([server_output.dump(), monitor_output.dump(), server_out,
                            server_err, monitor_out, monitor_err, checked.stdout,
                            checked.stderr])
    assert TOKEN not in everything
    assert monitor.returncode == 0 and server.returncode == 0, everything
    assert json.loads((tmp_path / "config.json").read_text())["monitors"][0]["token"] \
        == "${BACKUP_PUSH}"
