"""Times and durations as every message writes them: UTC ISO-8601 to the second, and
`3m08s`, `1h02m05s`, `1d01h01m`; and durations as a user gives them, in the config and on
the command line alike: a number of seconds, or `90s`, `5m`, `1h`, `7d`."""

from __future__ import annotations

import math
import re
import time

__all__ = ["DURATION_FORMS", "format_duration", "format_seconds", "format_time",
           "parse_duration"]

# What parse_duration accepts, as error messages say it.
DURATION_FORMS = 'a number of seconds, or a number with s, m, h or d ("90s", "5m", "1h", "7d")'
# ASCII digits, as the config's JSON Schema says (float() also reads "١٢٣").
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([smhd]?)", re.ASCII)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def format_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def format_duration(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_seconds(seconds: float) -> str:
    """A duration as a config may give it: `7d`, `1h`, `5m` when whole, else `90s`, `2.5s`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def parse_duration(value: object) -> float | None:
    """Seconds, from a number (JSON's 90 or 1.5) or a text (`90`, `90s`, `5m`, `1.5h`,
    `7d`); None when `value` is neither, or not finite. Bounds are the caller's."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            return None
        return seconds if math.isfinite(seconds) else None
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        return None
    seconds = float(match[1]) * _UNIT[match[2]]  # "999...9s" (400 digits) is inf
    return seconds if math.isfinite(seconds) else None
