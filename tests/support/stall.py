"""How late the machine itself runs a process that does nothing but sleep, measured beside a
timing test: the allowance that test makes for a host that stalls (CPU steal on a VM,
throttling), from the same run.

The meter is its own process, idle but for its 5 ms wake-ups: a busy monitor or test next
to it delays it by a few ms at most (the kernel runs a waking sleeper promptly); a host that
stops the machine's CPUs delays it by as long as it does. So a scheduling bug in the monitor
still fails the test, while a 60 ms freeze of the whole VM is told apart, and named in the
failure message.
"""

from __future__ import annotations

import subprocess
import sys

_METER = """
import select, sys, time
end = time.monotonic() + float(sys.argv[1])
worst = 0.0
while time.monotonic() < end:
    began = time.monotonic()
    if select.select([sys.stdin], [], [], 0.005)[0]:
        break
    worst = max(worst, time.monotonic() - began - 0.005)
print(worst * 1000.0, flush=True)
"""


class StallMeter:
    """`with StallMeter() as meter: ...`, then `meter.worst_ms`: the longest a 5 ms sleep
    overran while the block ran (the meter stops by itself after `lifetime` seconds)."""

    def __init__(self, lifetime: float = 300.0) -> None:
        self.lifetime = lifetime
        self.worst_ms = 0.0

    def __enter__(self) -> StallMeter:
        self._proc = subprocess.Popen([sys.executable, "-c", _METER, str(self.lifetime)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._proc.communicate("stop\n", timeout=30)
        self.worst_ms = float(out.strip() or "nan")
