"""The real program (monitoringApp.py) in a process of its own: run to its end, or started
and stopped by a signal, its output read as it comes; and waiting for what it does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "monitoringApp.py")


class Ran(NamedTuple):
    """How a run ended: read by name (`done.returncode`) or unpacked (`status, out, err`)."""
    returncode: int
    stdout: Any  # str, or bytes with text=False
    stderr: Any


def run_app(args: Sequence[str], cwd: str | Path | None = None, *, timeout: float = 60.0,
            env: dict[str, str] | None = None, input: str | bytes | None = None,
            text: bool = True) -> Ran:
    """The real program run to its end, its output captured (as text unless text=False).
    `env` is added to this process's environment."""
    done = subprocess.run([sys.executable, APP, *args], cwd=cwd, capture_output=True,
                          text=text, timeout=timeout, input=input,
                          env=None if env is None else {**os.environ, **env})
    return Ran(done.returncode, done.stdout, done.stderr)


def start(args: Sequence[str], cwd: str | Path | None, *, env: dict[str, str] | None = None,
          **popen: Any) -> subprocess.Popen:
    """The real program started: stdout and stderr piped as text unless `popen` says
    otherwise. `env` is added to this process's environment."""
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
                               "text": True, **popen}
    return subprocess.Popen([sys.executable, APP, *args], cwd=cwd,
                            env=None if env is None else {**os.environ, **env}, **options)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, limit: float = 2.0,
         ) -> tuple[float, str, str]:
    """Signal the process; return (seconds it took to exit, stdout, stderr)."""
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"did not stop within 10 s\n{out}\n{err}")
    return time.monotonic() - started, out, err


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
             detail: Callable[[], str] | None = None) -> Any:
    """Poll `condition` until it is true (returned) or fail; `detail()` adds to the failure
    message, e.g. what the process under test printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}"
                + (detail() if detail is not None else ""))


def write(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document))


def blocks(output: str) -> dict[str, list[str]]:
    """The traces `check` prints, by their header line ("== name (target) [kind] ==")."""
    found = {}
    for block in output.strip().split("\n\n"):
        lines = block.splitlines()
        if lines[0].startswith("== "):
            found[lines[0]] = lines[1:]
    return found


class Output:
    """The lines a running process writes to stdout, and to stderr with `stderr=True`, read
    by threads as they come, each with the time it was read. stderr is left to `stop()`
    otherwise, which reads what remains of both."""

    def __init__(self, proc: subprocess.Popen, stderr: bool = False) -> None:
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        streams = [(proc.stdout, self.out), *([(proc.stderr, self.err)] if stderr else [])]
        self._threads = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in streams]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(stream: Any, lines: list[tuple[float, str]]) -> None:
        for line in stream:
            lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def lines(self) -> list[str]:
        return [line for _, line in list(self.out)]

    def starting(self, prefix: str) -> list[str]:
        return [line for line in self.lines if line.startswith(prefix)]

    def dump(self) -> str:
        return ("\nstdout:\n" + "\n".join(line for _, line in self.out)
                + "\nstderr:\n" + "\n".join(line for _, line in self.err))

    def join(self, timeout: float = 10.0) -> None:
        for thread in self._threads:
            thread.join(timeout)

    @staticmethod
    def find(lines: list[tuple[float, str]], pattern: str) -> list[tuple[float, str]]:
        return [(at, line) for at, line in list(lines) if re.search(pattern, line)]


class Live:
    """`logs FILE --from-start` running, its stdout collected by a thread (--from-start:
    the lines written before it opened the file count too; from the end they would not).
    Stopped by SIGINT at the end of the `with`."""

    def __init__(self, log: Path, cwd: Path) -> None:
        self.proc = start(["logs", str(log), "--from-start"], cwd, text=False)
        self._out: list[bytes] = []
        self._reader = threading.Thread(target=lambda: self._out.extend(self.proc.stdout),
                                        daemon=True)
        self._reader.start()
        self._err: list[bytes] = []  # stderr as it comes
        self._err_reader = threading.Thread(
            target=lambda: self._err.extend(self.proc.stderr), daemon=True)
        self._err_reader.start()
        self.err = ""

    def text(self) -> str:
        return b"".join(self._out).decode()

    def printed(self) -> int:
        return len(self.text().splitlines())

    def __enter__(self) -> Live:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        self._reader.join(5)
        self._err_reader.join(5)
        self.err = b"".join(self._err).decode()
