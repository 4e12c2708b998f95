"""Times and durations as every message writes them: UTC ISO-8601 to the second, and
`3m08s`, `1h02m05s`, `1d01h01m`."""

from __future__ import annotations

import time

__all__ = ["format_duration", "format_time"]


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
