"""What a push monitor receives: a push (a job's ping, start or failure) as the web server
records it and the store reads it back, and the feed through which the engine hands a
push monitor's watch the pushes it has not seen yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

EVENTS = ("ping", "start", "fail")  # /push/TOKEN, /push/TOKEN/start, /push/TOKEN/fail
STATUSES = ("up", "down")
# Characters of a push's message kept: user text, shown as a result's detail and by the
# API; a job must not fill the database through it.
MAX_MESSAGE = 500


@dataclass(frozen=True, slots=True)
class Push:
    """One push, as stored: `id` orders them (0 until stored)."""

    monitor_id: str
    timestamp: float  # epoch seconds, when the server received it
    event: str  # "ping", "start" or "fail"
    status: str | None = None  # "up" or "down" as the job said it; None: not said
    message: str = ""
    value: float | None = None
    id: int = 0

    @property
    def done(self) -> bool:
        """A run's end (a ping or a failure), not its start."""
        return self.event != "start"

    @property
    def ok(self) -> bool:
        """A run that ended well: a ping not said down."""
        return self.event == "ping" and self.status != "down"


@dataclass(frozen=True, slots=True)
class Latest:
    """What came last from a monitor's job: its latest run's end (ping or fail) and its
    latest start, each None if none is stored."""

    done: Push | None = None
    start: Push | None = None


class PushFeed(Protocol):
    """The pushes of the monitors watched, read from the database beside."""

    def open(self, monitor_id: str) -> Latest:
        """Start handing this monitor's new pushes; what came before them."""

    def take(self, monitor_id: str, wall: float) -> tuple[list[Push], float]:
        """The monitor's pushes not taken yet, oldest first, and the wall time up to which
        they are complete (the feed's latest read, at most a few seconds before `wall`)."""

    def close(self, monitor_id: str) -> None:
        """Stop handing this monitor's pushes."""
