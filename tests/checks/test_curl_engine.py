"""The libcurl engine's life: its multi handle is closed by the code that owns it, never
left to the garbage collector (pycurl's teardown of a multi handle with a socket callback
can free memory twice: a rare abort at the exit of `check`)."""

import gc
import threading
import time

from monitor.checks.http import curl
from monitor.checks.http.spec import http_monitor
from monitor.core.deadline import Deadline
from tests.support.pages import PageServer


def test_a_threads_engine_is_closed_when_the_thread_ends_without_the_gc():
    with PageServer() as pages:
        monitor = http_monitor(pages.set("/", "ok"))
        seen: list = []

        def check() -> None:
            result = curl.run(monitor, Deadline(time.monotonic() + 10, 10))
            seen.append((result.state, curl._local.engine.multi))

        gc.disable()  # the close must come from the thread's end, not from a collection
        try:
            thread = threading.Thread(target=check)
            thread.start()
            thread.join(15)
            (state, multi), = seen
            assert state == "up"
            assert multi.closed
        finally:
            gc.enable()


def test_an_engine_let_go_of_closes_its_multi_at_once():
    gc.disable()
    try:
        engine = curl._Engine()
        multi = engine.multi
        del engine
        assert multi.closed
    finally:
        gc.enable()
