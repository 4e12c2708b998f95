"""Monitors changed through the API as users run it: the real `serve` beside a real `-m`,
and `-m --web`; a monitor added is written to config.json and checked within its
interval, a monitor paused is no longer checked."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from urllib.parse import quote

import requests

from tests.support import app
from tests.support.app import Output
from tests.support.db import count_checks
from tests.support.pages import PageServer

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


def _url(output: Output) -> str:
    line = app.wait_for(lambda: next((text for text in output.lines if SERVING.search(text)),
                                     None), timeout=20, what="the Serving line",
                        detail=output.dump)
    return SERVING.search(line).group(1) + "api/v1"  # type: ignore[union-attr]


def _add(api: str, entry: dict) -> requests.Response:
    etag = requests.get(f"{api}/monitors", timeout=5).headers["ETag"]
    return requests.post(f"{api}/monitors", json=entry, headers={"If-Match": etag},
                         timeout=5)


def test_a_monitor_added_through_serve_is_checked_by_the_monitor_beside(tmp_path) -> None:
    with PageServer() as pages:
        app.write(tmp_path / "config.json", {"monitors": [
            {"type": "tcp", "host": "127.0.0.1", "port": 9, "checkInterval": 1}]})
        monitor = app.start(["-m", "--plain"], tmp_path)
        server = app.start(["serve", "--listen", "127.0.0.1:0"], tmp_path)
        watched, served = Output(monitor, stderr=True), Output(server, stderr=True)
        try:
            api = _url(served)
            url = pages.set("/new", "ok")
            answer = _add(api, {"URL": url, "name": "new", "checkInterval": 1})
            assert answer.status_code == 201, answer.text
            assert json.loads((tmp_path / "config.json").read_text())["monitors"][-1] == {
                "URL": url, "name": "new", "checkInterval": 1}
            # The -m beside re-reads the file it watches and checks the new monitor.
            app.wait_for(lambda: count_checks(tmp_path / "monitoring.db", url) >= 2,
                         timeout=15, what="checks of the monitor added",
                         detail=lambda: watched.dump() + served.dump())
            state = requests.get(f"{api}/monitors/{quote(url, safe='')}", timeout=5).json()
            assert state["state"] == "up" and state["lastCheck"] is not None
        finally:
            app.stop(server, signal.SIGINT)
            app.stop(monitor, signal.SIGINT)
        watched.join()
        assert any(line.startswith("Reloaded ") for line in watched.lines), watched.dump()


def test_a_monitor_paused_under_m_web_is_no_longer_checked(tmp_path) -> None:
    with PageServer() as pages:
        url = pages.set("/a", "ok")
        app.write(tmp_path / "config.json", {"monitors": [{"URL": url, "checkInterval": 0.2}]})
        proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0"], tmp_path)
        output = Output(proc, stderr=True)
        db = tmp_path / "monitoring.db"
        try:
            api = _url(output)
            app.wait_for(lambda: count_checks(db, url) >= 2, timeout=15,
                         what="the first checks", detail=output.dump)
            path = f"{api}/monitors/{quote(url, safe='')}"
            answer = requests.post(f"{path}/pause", headers={"If-Match": "*"}, timeout=5)
            assert (answer.status_code, answer.json()["state"]) == (200, "paused"), answer.text
            # Reloaded at the runtime's next step: no check after a last one in flight.
            settled = app.wait_for(lambda: _steady(db, url), timeout=15,
                                   what="the checks to stop", detail=output.dump)
            answer = requests.post(f"{path}/resume", headers={"If-Match": "*"}, timeout=5)
            assert answer.status_code == 200
            app.wait_for(lambda: count_checks(db, url) > settled, timeout=15,
                         what="checks after resume", detail=output.dump)
        finally:
            app.stop(proc, signal.SIGINT)


def _steady(db: Path, url: str) -> int | None:
    """The count of checks once it holds for a second (five intervals), else None."""
    before = count_checks(db, url)
    time.sleep(1.0)
    return before if count_checks(db, url) == before else None
