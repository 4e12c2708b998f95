"""The heartbeat: while the monitor runs, it calls `heartbeatUrl` every `heartbeatInterval`
seconds, so that an outside dead man's switch (Healthchecks and the like) notices when the
monitor dies, hangs or loses its network.

One daemon thread, timed on the monotonic clock: a beat at start, then one per interval;
a beat that overran its next slots skips them rather than catching up in a burst. A
failure is reported once, and once more when the URL answers again: a switch that is
down for an hour must not print sixty lines. The URL is a secret: messages show it
masked (`shown`) and say why in words of their own, never the library's text that quotes
the URL.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable

import requests

from monitor.config.notify import heartbeat_secrets
from monitor.core.secrets import redact

__all__ = ["Heartbeat", "Schedule", "Status"]

MAX_TIMEOUT = 10.0
# stop() waits at most this long for the thread to end. It does not wait for a beat in
# flight at all: a URL that hangs must not hold up the monitor's exit; the daemon thread
# ends alone when the request does, and reports nothing.
JOIN_TIMEOUT = 0.5
_CERT = re.compile(r"certificate verify failed: ([A-Za-z0-9 ,.'-]+)")


class Schedule:
    """The beats' slots: `start`, then every `interval` seconds (monotonic)."""

    def __init__(self, interval: float, start: float) -> None:
        self.interval = interval
        self.next_at = start

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def wait(self, now: float) -> float:
        """Seconds until the next slot (0 when due)."""
        return max(0.0, self.next_at - now)

    def done(self, now: float) -> None:
        """A beat of the current slot ended at `now`: on to the first slot after it."""
        self.next_at += self.interval
        if self.next_at <= now:  # the beat took longer than an interval: skip those slots
            self.next_at += ((now - self.next_at) // self.interval + 1) * self.interval


class Status:
    """What to report of each beat's outcome: a failure when it starts, a line when the
    URL answers again, nothing in between."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.failing = False

    def update(self, why: str | None) -> str | None:
        """`why`: None if the beat worked, else why not; the line to report, if any."""
        if why is None:
            if not self.failing:
                return None
            self.failing = False
            return f"heartbeat: {self.shown} answers again"
        if self.failing:
            return None
        self.failing = True
        return f"heartbeat: {self.shown} failed: {why}"


class Heartbeat:
    """GETs `url` every `interval` seconds from start() to stop(); reports failures and
    recoveries through `on_error(text)`, called on the heartbeat's thread."""

    def __init__(self, url: str, interval: float, on_error: Callable[[str], None], shown: str,
                 *, timeout: float | None = None) -> None:
        self.url = url
        self.interval = interval
        self.timeout = min(MAX_TIMEOUT, interval) if timeout is None else timeout
        self.on_error = on_error
        self.status = Status(shown)
        self.secrets = heartbeat_secrets(url)
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc from the environment
        self._stop = threading.Event()
        self._busy = threading.Event()  # a beat is in flight
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the heartbeat is already started")
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating: at once while a beat is in flight, else once the thread has ended
        (within JOIN_TIMEOUT)."""
        self._stop.set()
        if self._thread is not None and not self._busy.is_set():
            self._thread.join(JOIN_TIMEOUT)

    def _run(self) -> None:
        schedule = Schedule(self.interval, time.monotonic())
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if not schedule.due(now):
                    self._stop.wait(schedule.wait(now))
                    continue
                self._busy.set()
                try:
                    # Set busy, then look at stop; stop() sets stop, then looks at busy: a
                    # beat about to start is either not started or not waited for.
                    if self._stop.is_set():
                        break
                    why = self.beat()
                finally:
                    self._busy.clear()
                if self._stop.is_set():
                    break  # a beat cut short by the exit says nothing about the switch
                line = self.status.update(why)
                if line is not None:
                    self._report(line)
                schedule.done(time.monotonic())
        finally:
            self.session.close()

    def beat(self) -> str | None:
        """One call of the URL: None if it answered with a success, else why not."""
        try:
            # stream: the status is all a beat needs; a large body is not read.
            with self.session.get(self.url, timeout=self.timeout, stream=True) as response:
                status = response.status_code
        except Exception as exc:  # whatever it is, the beat failed
            return redact(_why(exc, self.timeout), self.secrets)
        return None if status < 400 else f"HTTP {status}"

    def _report(self, line: str) -> None:
        # A reporter that fails (stderr closed) must not stop the beats: they are the point.
        with contextlib.suppress(Exception):
            self.on_error(line)


def _why(exc: Exception, timeout: float) -> str:
    """Why a request failed, in words that quote nothing of the URL (requests' own text
    holds its path and query)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        found = _CERT.search(text)
        return f"TLS error: certificate verify failed: {found.group(1).strip()}" if found \
            else "TLS error"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects"
    for needle, why in (("Connection refused", "connection refused"),
                        ("NameResolutionError", "cannot resolve the host"),
                        ("Name or service not known", "cannot resolve the host"),
                        ("RemoteDisconnected", "connection closed without an answer"),
                        ("Connection reset", "connection reset"),
                        ("Network is unreachable", "network unreachable"),
                        ("No route to host", "no route to host")):
        if needle in text:
            return why
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    return type(exc).__name__
