"""What one check of each host kind costs: cpu, memory, disk (/), load, and process (by
name and by command line, against a copy of sleep started here under a name of its own).
The process kind lists every process of the machine: its cost grows with their number."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.kinds import Case
from monitor.config import parse_config
from monitor.core.model import Monitor


def host_monitor(entry: dict) -> Monitor:
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


def simple(entry: dict):
    @contextmanager
    def setup() -> Iterator[tuple[Monitor, str]]:
        yield host_monitor(entry), "up"

    return setup


@contextmanager
def sleeper() -> Iterator[tuple[str, str]]:
    """A copy of sleep running under a name no other process has: (name, its argument)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench-sleeper"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", path)
        proc = subprocess.Popen([str(path), "3600"])
        try:
            yield path.name, "3600"
        finally:
            proc.kill()
            proc.wait()


def by_name():
    @contextmanager
    def setup() -> Iterator[tuple[Monitor, str]]:
        with sleeper() as (name, _):
            yield host_monitor({"type": "process", "name": name}), "up"

    return setup


def by_command_line():
    @contextmanager
    def setup() -> Iterator[tuple[Monitor, str]]:
        with sleeper() as (name, argument):
            yield host_monitor({"type": "process", "match": f"{name} {argument}$"}), "up"

    return setup


CASES = [
    # Back to back, each cpu check waits until 0.2 s after the previous (MIN_SPAN): the
    # rate says nothing, the CPU per check is the figure.
    Case("host cpu", simple({"type": "cpu", "maxPercent": 100})),
    Case("host memory", simple({"type": "memory", "maxPercent": 100})),
    Case("host disk /", simple({"type": "disk", "path": "/", "maxPercent": 100})),
    Case("host load", simple({"type": "load", "max": 1000})),
    Case("host process name", by_name()),
    Case("host process match", by_command_line()),
]
