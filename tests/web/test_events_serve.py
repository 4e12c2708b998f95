"""GET /api/v1/events from the real `serve` process beside a real writer on the same
database: what is written reaches an open stream, and SIGINT ends the streams and the
process at once."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.sqlite.writer import Store
from tests.support import app
from tests.support.app import Output
from tests.support.sse import Blocks

MONITOR = "http://127.0.0.1:9/"
SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")


class Served:
    def __init__(self, folder: Path) -> None:
        app.write(folder / "config.json", {"monitors": [{"URL": MONITOR}]})
        # The writer, as a running monitor would be: the database is its.
        self.store = Store(folder / "monitoring.db").start()
        self.store.put_check(CheckResult(MONITOR, time.time(), True, 200, 5.0))
        assert self.store.flush()
        self.proc = app.start(["serve", "--listen", "127.0.0.1:0"], folder)
        self.output = Output(self.proc, stderr=True)
        line = app.wait_for(lambda: next((text for text in self.output.lines
                                          if SERVING.search(text)), None),
                            timeout=20, what="the Serving line", detail=self.output.dump)
        self.url = SERVING.search(line).group(1)  # type: ignore[union-attr]
        self.answers: list[requests.Response] = []

    def stream(self, query: str = "") -> Blocks:
        answer = requests.get(f"{self.url}api/v1/events{query}", stream=True, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        self.answers.append(answer)
        blocks = Blocks(answer.iter_content(chunk_size=None))
        assert [block.retry for block in _take(blocks, 2)] == [3000, None]  # retry, id
        return blocks

    def close(self) -> None:
        for answer in self.answers:
            answer.close()
        if self.proc.poll() is None:
            app.stop(self.proc, signal.SIGINT)
        self.store.close()


def _take(blocks: Blocks, count: int) -> list:
    taken = []
    for block in blocks:
        taken.append(block)
        if len(taken) == count:
            break
    return taken


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    served = Served(tmp_path)
    yield served
    served.close()


def test_an_alert_written_beside_appears_on_an_open_stream(served: Served) -> None:
    everything = served.stream()
    alerts = served.stream("?types=alert")
    at = iso_utc(time.time())
    served.store.put_check(CheckResult(MONITOR, time.time(), False, None, 3.0,
                                       reason="connect", detail="refused"))
    served.store.put_alert(AlertRecord(at, MONITOR, "alert", at, None, 0.5,
                                       "Website http://127.0.0.1:9/ is down"))
    assert served.store.flush()
    assert [(e.id, e.event) for e in everything.events(3, timeout=20)] == [
        ("2.0", "check"), ("2.0", "state"), ("2.1", "alert")]
    alert = alerts.events(1, timeout=20)[0]
    assert alert.event == "alert" and alert.id == "2.1"
    assert alert.json()["message"] == "Website http://127.0.0.1:9/ is down"
    assert alert.json()["monitor"] == MONITOR and alert.json()["type"] == "alert"


def test_sigint_ends_the_open_streams_and_the_server_at_once(served: Served) -> None:
    opened = [served.stream(), served.stream("?types=alert"), served.stream()]
    took, out, _err = app.stop(served.proc, signal.SIGINT)
    served.output.join()
    assert served.proc.returncode == 0, served.output.dump()
    # The last line, read by the Output's thread or by stop()'s communicate.
    assert (served.output.lines + out.splitlines())[-1] == "Stopped."
    assert took < 2.0, took
    for blocks in opened:
        # Ended: the server closes its connections as it stops, the last chunk or not.
        with contextlib.suppress(requests.exceptions.ChunkedEncodingError):
            assert list(blocks) == []
