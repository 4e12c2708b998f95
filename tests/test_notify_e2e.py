"""Notifications and the heartbeat under the real `-m`."""

import json
import subprocess
import sys
import time

from tests.pages import PageServer
from tests.test_e2e import APP, stop, wait_for


def test_the_heartbeat_beats_while_the_monitor_runs_and_stops_with_it(tmp_path):
    with PageServer() as pages:
        beats: list[float] = []
        pages.set("/ping/secret-token", "ok")
        original = pages.RequestHandlerClass.do_GET

        def counting(handler):  # type: ignore[no-untyped-def]
            if handler.path.endswith("?hb=1"):  # not the site's own check of the page
                beats.append(time.monotonic())
            original(handler)

        pages.RequestHandlerClass.do_GET = counting  # type: ignore[method-assign]
        try:
            config = tmp_path / "config.json"
            config.write_text(json.dumps({
                "websites": [{"URL": pages.url("/ping/secret-token"), "checkInterval": 60}],
                "heartbeatUrl": pages.url("/ping/secret-token") + "?hb=1",
                "heartbeatInterval": 1}))
            proc = subprocess.Popen([sys.executable, APP, "-m", "-c", str(config), "-db",
                                     str(tmp_path / "m.db")], cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: len(beats) >= 3, 15, "three beats")
            _, out, err = stop(proc)
            count = len(beats)
            time.sleep(1.5)  # more than an interval: a beat would have come
            assert len(beats) == count  # none after the stop
        finally:
            pages.RequestHandlerClass.do_GET = original  # type: ignore[method-assign]
    assert proc.returncode == 0, err
    assert "secret-token" not in out + err
