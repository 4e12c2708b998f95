"""CPU and memory of a process and all its descendants, read from /proc as `top` would.

A bench measures the real program from outside: the monitor process and the probe
processes it starts are one tree, found through /proc/PID/task/*/children (every thread's
children, recursively), so nothing has to be told by the program itself.

- CPU: user + system seconds of each process of the tree, plus what its children that
  already ended were charged (cutime + cstime): a probe process restarted in the middle of
  a measure still counts.
- USS: the pages only that process maps (Private_Clean + Private_Dirty of
  /proc/PID/smaps_rollup), summed over the tree: what stopping the tree would give back.
  RSS would count the shared libraries once per process; PSS would share them out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """The direct children of `pid` (of each of its threads); none if it has ended."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(word) for word in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, parents first."""
    pids, index = [pid], 0
    while index < len(pids):
        pids += [child for child in children(pids[index]) if child not in pids]
        index += 1
    return pids


def cpu_seconds(pid: int, reaped: bool = True) -> float:
    """CPU seconds (user + system) `pid` has used so far, with those of its children it
    has waited for (`reaped`); 0 once it has ended."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces and parentheses: the fields follow the last ")".
    fields = text.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def uss_bytes(pid: int) -> int:
    """The unique set size of `pid`: bytes of the pages no other process maps."""
    total = 0
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024  # in kB
    return total


@dataclass(frozen=True)
class TreeUsage:
    pids: tuple[int, ...]
    cpu: float  # seconds, user + system, of the whole tree since each process started
    uss: int  # bytes


def usage(pid: int, memory: bool = True) -> TreeUsage:
    """CPU seconds and USS (when `memory`: reading smaps costs more than stat) of `pid`'s
    tree now."""
    pids = tree(pid)
    return TreeUsage(tuple(pids), sum(cpu_seconds(p) for p in pids),
                     sum(uss_bytes(p) for p in pids) if memory else 0)


def machine_busy() -> float:
    """CPU seconds every core of the machine has been busy so far (all processes): beside
    a tree's own, it says how much else ran during a measure."""
    fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS
