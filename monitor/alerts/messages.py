"""The text of every alert row, as printed, stored and (by default) notified. Each names
its monitor by its subject: "Website <URL>" for an http monitor (the original wording),
"<kind> <target>" for the others ("disk /", "tcp db.example:5432")."""

from __future__ import annotations

from monitor.secrets import display_url
from monitor.timefmt import format_duration, format_time


def subject(kind: str, target: str) -> str:
    """What messages call a monitor; an URL's password and secret values masked."""
    return f"Website {display_url(target)}" if kind == "http" else f"{kind} {target}"


def alert_message(subject: str, availability: float, at: float) -> str:
    return (f"{subject} is down. availability={availability:.1%}, "
            f"time={format_time(at)}")


def recovery_message(subject: str, availability: float, start: float, end: float,
                     down_for: float | None = None) -> str:
    """`down_for` is measured on the monotonic clock; `start` and `end` are wall-clock
    times, which a clock step may have moved."""
    down_for = end - start if down_for is None else down_for
    return (f"{subject} has recovered. availability={availability:.1%}, "
            f"time={format_time(end)}; down since {format_time(start)}, "
            f"for {format_duration(down_for)}")


def reminder_message(subject: str, availability: float, start: float, at: float,
                     down_for: float) -> str:
    return (f"{subject} is still down. availability={availability:.1%}, "
            f"time={format_time(at)}; down since {format_time(start)}, "
            f"for {format_duration(down_for)}")


def warning_message(subject: str, why: str, at: float) -> str:
    return f"{subject} warns: {why}. time={format_time(at)}"


def cleared_message(subject: str, start: float, at: float, lasted: float) -> str:
    return (f"{subject} no longer warns. time={format_time(at)}; warning"
            f" since {format_time(start)}, for {format_duration(lasted)}")


def flapping_message(subject: str, changes: int, window: float, at: float) -> str:
    return (f"{subject} is flapping: {changes} changes between up and down"
            f" in {format_duration(window)}; its alerts are held until it settles."
            f" time={format_time(at)}")


def settled_message(subject: str, state: str, start: float, at: float, lasted: float) -> str:
    return (f"{subject} has settled ({state}). time={format_time(at)};"
            f" flapping since {format_time(start)}, for {format_duration(lasted)}")
