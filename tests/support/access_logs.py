"""Access-log lines for the tests: Combined Log Format, from (time, client, path, status,
size), and a deterministic stream of traffic with a spike."""

from __future__ import annotations

import random
import time

T0 = 1_800_000_000  # 2027-01-15T08:00:00Z: a time for the lines of a test

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return (f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:"
            f"{t.tm_min:02d}:{t.tm_sec:02d} +0000")


def combined(epoch: float, client: str, path: str, status: int = 200, size: int = 512) -> str:
    return (f'{client} - - [{clf_time(epoch)}] "GET {path} HTTP/1.1" {status} {size}'
            f' "-" "test-agent/1.0"')


def traffic(start: int, seconds: int, base: int = 3, spike: tuple[int, int, int] = (0, 0, 0),
            seed: int = 1) -> list[str]:
    """Combined lines for `seconds` seconds from `start`: about `base` requests a second,
    and `spike` = (from, to, rate): `rate` a second in [from, to) (seconds after start)."""
    rng = random.Random(seed)
    lines = []
    sections = ["/api/user", "/api/order", "/img/logo.png", "/", "/blog/post/1", "/login"]
    for second in range(seconds):
        rate = spike[2] if spike[0] <= second < spike[1] else rng.randint(0, 2 * base)
        for k in range(rate):
            status = rng.choice([200, 200, 200, 200, 301, 404, 500])
            lines.append(combined(start + second + k / max(rate, 1),
                                  f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 30)}",
                                  rng.choice(sections), status, rng.randint(0, 9000)))
    return lines
