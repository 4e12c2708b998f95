"""What one check of each kind costs, against servers on loopback started here.

    python -m bench.kinds [--seconds 3]

Each case runs its kind's blocking `run` back to back for --seconds, one check at a time,
and prints checks per second and the CPU time per check of the thread that runs them (the
servers the cases start run in threads of this process, or in processes of their own: not
counted; no case resolves a name, so libcurl starts no resolver thread). The cases live
in `bench/kind_*.py`, each a list `CASES` of Case(name, setup), where `setup()` is a context
manager that starts what the kind checks and yields the monitor and the state its checks
must end in; a case whose verdicts are not all that state fails the benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import bench
from bench.run import figure
from monitor.checks import registry
from monitor.core.deadline import Deadline
from monitor.core.model import Monitor


@dataclass(frozen=True)
class Case:
    name: str
    # Starts what the kind checks; yields (monitor, the state every check must end in).
    setup: Callable[[], AbstractContextManager[tuple[Monitor, str]]]


def cases() -> Iterator[Case]:
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name.startswith("kind_"):
            yield from importlib.import_module(f"bench.{info.name}").CASES


def measure(monitor: Monitor, state: str, seconds: float) -> dict:
    run = registry.get(monitor.kind).run
    count, wrong, cpu0, start = 0, {}, time.thread_time(), time.monotonic()
    while time.monotonic() - start < seconds or count < 3:
        deadline = Deadline(time.monotonic() + monitor.timeout, monitor.timeout)
        result = run(monitor, deadline)
        count += 1
        if result.state != state:
            wrong[result.state] = wrong.get(result.state, 0) + 1
            last = result
    elapsed = time.monotonic() - start
    if wrong:
        raise SystemExit(f"bench.kinds: {monitor.id}: expected {state}, got {wrong}"
                         f" ({last.reason}: {last.detail})")
    return {"rate": count / elapsed, "cpu_us": (time.thread_time() - cpu0) / count * 1e6,
            "checks": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--only", default="", help="cases whose name contains this")
    args = parser.parse_args()
    print(f"{'case':<34} {'checks/s':>10} {'CPU us/check':>13}")
    for case in cases():
        if args.only not in case.name:
            continue
        with case.setup() as (monitor, state):
            found = measure(monitor, state, args.seconds)
        print(f"{case.name:<34} {found['rate']:>10.0f} {found['cpu_us']:>13.0f}")
        figure(f"kind {case.name}", found["cpu_us"], "us CPU/check", rate=found["rate"])


if __name__ == "__main__":
    main()
