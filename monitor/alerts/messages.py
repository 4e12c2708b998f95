"""The text of every alert row, as printed, stored and (by default) notified. Each names
its monitor by its subject: "Website <URL>" for an http monitor (the original wording),
"<kind> <target>" for the others ("disk /", "tcp db.example:5432", "cpu"), and ends with a
note in brackets: the monitor's name when it has one, and for an alert or a reminder the
cause, the reason and detail of its latest failed check:

    Website https://shop.example/ is down. availability=40.0%, time=2026-11-30T10:53:20Z
        (shop; http_status: HTTP 503 Service Unavailable)
    disk /var is down. availability=0.0%, time=2026-11-30T10:53:20Z
        (threshold: disk /var 93.1% used > maxPercent 90)

(each on one line). The http line starts as the original design's, byte for byte. A
monitor of several locations says which saw what at the end of the note, and has a warning
of its own for a failure below its quorum:

    Website https://shop.example/ is down. availability=33.3%, time=2026-11-30T10:53:20Z
        (shop; http_status: HTTP 503; down from eu, us; up from local)
    Website https://shop.example/ is down from eu only (1 of 3 locations, quorum 2).
        time=2026-11-30T10:53:20Z (shop; http_status: HTTP 503)
"""

from __future__ import annotations

from monitor.checks.trace import printable
from monitor.core.secrets import display_url
from monitor.core.timefmt import format_duration, format_time

MAX_CAUSE = 200  # characters of a cause in a line (an `expect` detail may be longer)


def subject(kind: str, target: str) -> str:
    """What messages call a monitor; an URL's password and secret values masked. A target
    that repeats its kind is not said twice: `disk:/var` is "disk /var", `cpu` is "cpu",
    `process~gunicorn` is "process ~gunicorn"."""
    if kind == "http":
        return f"Website {display_url(target)}"
    if target == kind:
        return kind
    if target.startswith(f"{kind}:"):
        return f"{kind} {target[len(kind) + 1:]}"
    if target.startswith(f"{kind}~"):
        return f"{kind} {target[len(kind):]}"
    return f"{kind} {target}"


def own_name(called: str, name: str) -> str:
    """The monitor's name, if it has one the subject does not already say ("process nginx"
    named "nginx")."""
    return "" if not name or called == name or called.endswith(f" {name}") else name


def cause(reason: str | None, detail: str) -> str:
    """A failed check's reason and detail, as a line says them: "http_status: HTTP 503"."""
    if not reason:
        return ""
    text = f"{reason}: {detail}" if detail else reason
    return text if len(text) <= MAX_CAUSE else printable(text, MAX_CAUSE - 1) + "…"


def note(*parts: str) -> str:
    """The bracketed end of a line: " (shop; http_status: HTTP 503)"; "" with nothing to say."""
    said = "; ".join(part for part in parts if part)
    return f" ({said})" if said else ""


def alert_message(subject: str, availability: float, at: float, about: str = "") -> str:
    """`about`: what `note` makes (the name, the cause), appended."""
    return (f"{subject} is down. availability={availability:.1%}, "
            f"time={format_time(at)}{about}")


def recovery_message(subject: str, availability: float, start: float, end: float,
                     down_for: float | None = None, about: str = "") -> str:
    """`down_for` is measured on the monotonic clock; `start` and `end` are wall-clock
    times, which a clock step may have moved."""
    down_for = end - start if down_for is None else down_for
    return (f"{subject} has recovered. availability={availability:.1%}, "
            f"time={format_time(end)}; down since {format_time(start)}, "
            f"for {format_duration(down_for)}{about}")


def reminder_message(subject: str, availability: float, start: float, at: float,
                     down_for: float, about: str = "") -> str:
    return (f"{subject} is still down. availability={availability:.1%}, "
            f"time={format_time(at)}; down since {format_time(start)}, "
            f"for {format_duration(down_for)}{about}")


def warning_message(subject: str, why: str, at: float, about: str = "") -> str:
    return f"{subject} warns: {why}. time={format_time(at)}{about}"


def cleared_message(subject: str, start: float, at: float, lasted: float,
                    about: str = "") -> str:
    return (f"{subject} no longer warns. time={format_time(at)}; warning"
            f" since {format_time(start)}, for {format_duration(lasted)}{about}")


def flapping_message(subject: str, changes: int, window: float, at: float,
                     about: str = "") -> str:
    return (f"{subject} is flapping: {changes} changes between up and down"
            f" in {format_duration(window)}; its alerts are held until it settles."
            f" time={format_time(at)}{about}")


def settled_message(subject: str, state: str, start: float, at: float, lasted: float,
                    about: str = "") -> str:
    return (f"{subject} has settled ({state}). time={format_time(at)};"
            f" flapping since {format_time(start)}, for {format_duration(lasted)}{about}")


# -- a monitor checked from several locations (`locations`, `quorum`) ---------------------
# Its alert, reminder and recovery are the lines above with the locations at the end of the
# note: "(shop; http_status: HTTP 503; down from eu, us; up from local)". A location failing
# with fewer than `quorum` is a warning of its own words, below.

def names(locations: list[str]) -> str:
    return ", ".join(locations)


def where(first: str, firsts: list[str], second: str, seconds: list[str],
          unheard: list[str]) -> str:
    """The locations part of a note, the verdict's own first: "down from eu, us; up from
    local; no checks from ap" (a location lost, or silent for a whole window, is unheard)."""
    parts = [f"{first} from {names(firsts)}" if firsts else "",
             f"{second} from {names(seconds)}" if seconds else "",
             f"no checks from {names(unheard)}" if unheard else ""]
    return "; ".join(part for part in parts if part)


def location_warning_message(subject: str, down: list[str], total: int, quorum: int,
                             at: float, about: str = "") -> str:
    return (f"{subject} is down from {names(down)} only ({len(down)} of {total} location"
            f"{'' if total == 1 else 's'}, quorum {quorum}). time={format_time(at)}{about}")


def location_cleared_message(subject: str, total: int, start: float, at: float,
                             lasted: float, about: str = "") -> str:
    """The location warning ended because every location sees the monitor up again."""
    return (f"{subject} is up again from all {total} locations. time={format_time(at)};"
            f" warning since {format_time(start)}, for {format_duration(lasted)}{about}")


def location_escalated_message(subject: str, down: list[str], start: float, at: float,
                               lasted: float, about: str = "") -> str:
    """The location warning ended because enough locations fail for an alert, which
    follows it."""
    return (f"{subject} is down from {names(down)}: the warning becomes an alert."
            f" time={format_time(at)}; warning since {format_time(start)},"
            f" for {format_duration(lasted)}{about}")


def is_location_warning(message: str) -> bool:
    """Whether a stored warning row is a location warning (not a check's own warning):
    "... is down from eu only (1 of 3 locations, quorum 2). time=..." against "... warns:
    ...". Whichever phrase comes first decides: a check's detail may say anything later."""
    down = message.find(" is down from ")
    warns = message.find(" warns: ")
    return down >= 0 and (warns < 0 or down < warns)
