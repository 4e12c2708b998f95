"""The time budget of one blocking check: what a kind's `run` is given and bounds its own
waits by. The watchdog that expires it is monitor.checks.watchdog."""

from __future__ import annotations

import time


class Deadline:
    """The end of one blocking check's time budget: `expired` once it has passed (the
    watchdog sets it), `aborted` when the monitor is stopping. A kind's `run` bounds its
    own waits by `remaining()`; libcurl bounds the http kind's itself."""

    __slots__ = ("at", "timeout", "expired", "aborted")

    def __init__(self, at: float, timeout: float) -> None:
        self.at = at
        self.timeout = timeout
        self.expired = False
        self.aborted = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expire(self, abort: bool = False) -> None:
        if abort:
            self.aborted = True
        self.expired = True
